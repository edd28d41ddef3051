/* An RGB8 raster canvas and the few anti-aliased primitives plots need:
 * filled rectangles, thick polylines (round caps and joins), dashed lines,
 * translucent filled polygons and text in a built-in 5x7 bitmap font with
 * integer scaling.  Coordinates are doubles in pixels, (0,0) the top-left
 * corner of the top-left pixel, so pixel (i, j) covers [i, i+1) x [j, j+1);
 * shapes are blended by the fraction of each pixel they cover, which keeps
 * integer-aligned rectangles crisp.  Every drawing call honours the clip
 * rectangle.  No terminal, no I/O: see imgout.h for files and sixel. */
#ifndef HEADCAL_CANVAS_H
#define HEADCAL_CANVAS_H

#include <stdint.h>

typedef struct {
    uint8_t r, g, b;
} hc_rgb;

typedef struct {
    int w, h;
    uint8_t *px;            /* [h, w, 3] row-major RGB */
    int cx0, cy0, cx1, cy1; /* clip rectangle, half-open, within the canvas */
    float *row;             /* scratch row of w + 2 coverage values, so that
                               drawing never allocates (and never fails) */
} hc_canvas;

/* Allocates a w x h canvas filled with bg (hc_fail on bad size or OOM). */
int hc_canvas_init(hc_canvas *c, int w, int h, hc_rgb bg);
void hc_canvas_free(hc_canvas *c);
hc_rgb hc_canvas_get(const hc_canvas *c, int x, int y);

/* Restricts drawing to the pixels inside the rectangle (rounded to whole
 * pixels, intersected with the canvas); hc_canvas_unclip lifts it. */
void hc_canvas_clip(hc_canvas *c, double x, double y, double w, double h);
void hc_canvas_unclip(hc_canvas *c);

/* alpha in [0, 1] scales every primitive's coverage (1 = opaque). */
void hc_canvas_rect(hc_canvas *c, double x, double y, double w, double h, hc_rgb col,
                    double alpha);
/* A stroke of the given width through n points xy[2n].  n == 1, or all
 * points equal, draws a dot of diameter width. */
void hc_canvas_polyline(hc_canvas *c, const double *xy, int n, double width, hc_rgb col,
                        double alpha);
/* A segment; dash > 0 draws dashes of that length separated by equal gaps. */
void hc_canvas_line(hc_canvas *c, double x0, double y0, double x1, double y1, double width,
                    hc_rgb col, double alpha, double dash);
/* Fills a polygon of n points xy[2n] (nonzero winding rule). */
void hc_canvas_polygon(hc_canvas *c, const double *xy, int n, hc_rgb col, double alpha);

/* Text in the built-in font: each glyph is 5x7 (plus 2 rows of descender)
 * in a 6-pixel advance, multiplied by scale.  Bytes outside printable ASCII
 * draw as '?'.  (x, y) is the top-left of the text box; vertical text reads
 * bottom to top (rotated a quarter turn counter-clockwise) and its box is
 * hc_text_height wide and hc_text_width tall. */
void hc_canvas_text(hc_canvas *c, double x, double y, const char *s, int scale, int vertical,
                    hc_rgb col);
/* Extent of s along the reading direction: no trailing gap after the last
 * glyph, 0 for "". */
int hc_text_width(const char *s, int scale);
/* Extent across the reading direction: cap height plus descenders. */
int hc_text_height(int scale);
/* Baseline offset from the top of the box (the cap height). */
int hc_text_ascent(int scale);

#endif
