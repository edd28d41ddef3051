#include <stdlib.h>
#include <string.h>

#include "headcal/canvas.h"
#include "headcal/error.h"

/* Large enough for any export, small enough that w*h*4 cannot overflow. */
enum { MAX_SIDE = 16384 };

int hc_canvas_init(hc_canvas *c, int w, int h, hc_rgb bg)
{
    memset(c, 0, sizeof *c);
    if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE)
        return hc_fail(HC_EBAD, "canvas size %dx%d out of range (1..%d)", w, h, MAX_SIDE);
    size_t n = (size_t)w * (size_t)h;
    c->px = hc_malloc(n * 3);
    if (!c->px)
        return -1;
    c->w = w;
    c->h = h;
    for (size_t i = 0; i < n; i++) {
        c->px[3 * i] = bg.r;
        c->px[3 * i + 1] = bg.g;
        c->px[3 * i + 2] = bg.b;
    }
    return 0;
}

void hc_canvas_free(hc_canvas *c)
{
    free(c->px);
    memset(c, 0, sizeof *c);
}

hc_rgb hc_canvas_get(const hc_canvas *c, int x, int y)
{
    const uint8_t *p = c->px + 3 * ((size_t)y * (size_t)c->w + (size_t)x);
    return (hc_rgb){p[0], p[1], p[2]};
}
