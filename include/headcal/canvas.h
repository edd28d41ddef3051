/* An RGB8 image in memory: what a plot looks like once Cairo has drawn it
 * (draw.h, hc_draw_render), ready for the terminal (sixel, half blocks)
 * and for tests that look at pixels.  It draws nothing itself. */
#ifndef HEADCAL_CANVAS_H
#define HEADCAL_CANVAS_H

#include <stdint.h>

typedef struct {
    uint8_t r, g, b;
} hc_rgb;

typedef struct {
    int w, h;
    uint8_t *px; /* [h, w, 3] row-major RGB */
} hc_canvas;

/* Allocates a w x h canvas filled with bg (hc_fail on bad size or OOM). */
int hc_canvas_init(hc_canvas *c, int w, int h, hc_rgb bg);
void hc_canvas_free(hc_canvas *c);
hc_rgb hc_canvas_get(const hc_canvas *c, int x, int y);

#endif
