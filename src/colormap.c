#include <math.h>

#include "headcal/colormap.h"

const hc_rgb HC_COLOR_MISSING = {150, 150, 150};

/* Anchors from -1 (deep blue) through white to +1 (deep red), evenly spaced:
 * ColorBrewer's RdBu hues with the centre made pure white so that 0 reads
 * as "no change". */
static const hc_rgb anchors[] = {
    {5, 48, 97},    {33, 102, 172}, {67, 147, 195}, {146, 197, 222},
    {209, 229, 240}, {255, 255, 255}, {253, 219, 199}, {244, 165, 130},
    {214, 96, 77},   {178, 24, 43},   {103, 0, 31},
};
enum { N_ANCHORS = sizeof anchors / sizeof anchors[0] };

hc_rgb hc_colormap(double v, double vmax)
{
    if (!isfinite(v) || !isfinite(vmax) || !(vmax > 0))
        return HC_COLOR_MISSING;
    double t = v / vmax;
    t = t < -1 ? -1 : t > 1 ? 1 : t;
    double pos = (t + 1) / 2 * (N_ANCHORS - 1);
    int k = (int)pos;
    if (k >= N_ANCHORS - 1)
        return anchors[N_ANCHORS - 1];
    double f = pos - k;
    const hc_rgb a = anchors[k], b = anchors[k + 1];
    return (hc_rgb){(uint8_t)lrint(a.r + (b.r - a.r) * f), (uint8_t)lrint(a.g + (b.g - a.g) * f),
                    (uint8_t)lrint(a.b + (b.b - a.b) * f)};
}

/* The first entry is the notebook's calibration-curve teal (the baseline). */
static const hc_rgb palette[] = {
    {0, 100, 80},   {214, 39, 40},  {31, 119, 180}, {255, 127, 14}, {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {23, 190, 207}, {188, 189, 34}, {60, 60, 60},
};
enum { N_PALETTE = sizeof palette / sizeof palette[0] };

hc_rgb hc_palette(int i)
{
    int k = i % N_PALETTE;
    return palette[k < 0 ? k + N_PALETTE : k];
}

int hc_palette_size(void) { return N_PALETTE; }
