/* Colours for plots: a diverging blue-white-red map centred at 0 (the
 * notebook's RdBu_r: blue negative, white at 0, red positive), the colour
 * of missing values, and a palette of distinct colours for curve series. */
#ifndef HEADCAL_COLORMAP_H
#define HEADCAL_COLORMAP_H

#include "headcal/canvas.h"

/* Grey, off the diverging map, for NaN / undefined values. */
extern const hc_rgb HC_COLOR_MISSING;

/* Maps v in [-vmax, vmax] (clamped beyond) to the diverging map; 0 is pure
 * white.  A non-finite v, or vmax not > 0, gives HC_COLOR_MISSING. */
hc_rgb hc_colormap(double v, double vmax);

/* Distinct series colours; any index is valid (it wraps, negatives too). */
hc_rgb hc_palette(int i);
int hc_palette_size(void);

#endif
