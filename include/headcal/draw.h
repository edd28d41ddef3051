/* A display list of plot primitives -- rectangles, rectangle outlines,
 * (dashed) lines, polylines, translucent polygons, text and named groups
 * with an optional clip rectangle -- recorded once by the plot layouts
 * (plot.h) and played back by Cairo onto whichever surface is wanted: an
 * RGB image for the terminal, or a PNG, SVG or PDF stream.  One drawing
 * code for every output, so a PNG, an SVG and a PDF of one plot agree.
 * Text is set in DejaVu Sans (fonts-dejavu-core), anti-aliased.
 *
 * Recording never returns an error: a failed allocation marks the list
 * failed, and hc_draw_render / hc_draw_write / hc_draw_ok report it then. */
#ifndef HEADCAL_DRAW_H
#define HEADCAL_DRAW_H

#include <stdio.h>

#include "headcal/canvas.h"

typedef struct hc_draw hc_draw;

/* Text anchor: one horizontal and one vertical flag, or-ed; (x, y) names
 * that point of the text's box (for vertical text, of its rotated box). */
enum {
    HC_TEXT_LEFT = 0, HC_TEXT_CENTER = 1, HC_TEXT_RIGHT = 2,
    HC_TEXT_TOP = 0, HC_TEXT_MIDDLE = 4, HC_TEXT_BOTTOM = 8,
    HC_TEXT_VERTICAL = 16 /* reads bottom to top */
};

/* A w x h pixel drawing on a background colour. */
int hc_draw_new(hc_draw **d, int w, int h, hc_rgb bg);
void hc_draw_free(hc_draw *d);
int hc_draw_width(const hc_draw *d);
int hc_draw_height(const hc_draw *d);
/* 0, or -1 with the error recorded if recording failed. */
int hc_draw_ok(const hc_draw *d);

void hc_draw_rect(hc_draw *d, double x, double y, double w, double h, hc_rgb fill,
                  double alpha);
/* An outline stroked centred on the rectangle's edges. */
void hc_draw_outline(hc_draw *d, double x, double y, double w, double h, double width,
                     hc_rgb col);
/* dash > 0: dashes of that length with equal gaps. */
void hc_draw_line(hc_draw *d, double x0, double y0, double x1, double y1, double width,
                  hc_rgb col, double dash);
/* dash > 0 as for hc_draw_line; one point is a dot. */
void hc_draw_polyline(hc_draw *d, const double *xy, int n, double width, hc_rgb col, double dash);
void hc_draw_polygon(hc_draw *d, const double *xy, int n, hc_rgb fill, double alpha);
/* Text (UTF-8) at an integer scale: hc_text_height(scale) tall. */
void hc_draw_text(hc_draw *d, double x, double y, int anchor, int scale, hc_rgb col,
                  const char *s);
/* Opens a group (an SVG <g class="name">) whose content is clipped to the
 * rectangle when w > 0 and h > 0; groups nest and close with hc_draw_end. */
void hc_draw_group(hc_draw *d, const char *name, double x, double y, double w, double h);
void hc_draw_end(hc_draw *d);

/* Extent of s along the reading direction at a text scale, 0 for "". */
int hc_text_width(const char *s, int scale);
/* Extent across the reading direction: ascent plus descent. */
int hc_text_height(int scale);
/* Baseline offset from the top of the box. */
int hc_text_ascent(int scale);

/* Draws the list onto a new canvas of the drawing's size; the caller
 * frees it with hc_canvas_free. */
int hc_draw_render(const hc_draw *d, hc_canvas *out);

typedef enum { HC_IMAGE_PNG, HC_IMAGE_SVG, HC_IMAGE_PDF } hc_image_format;
/* Writes the drawing as a whole document of that format to f, checking
 * every write; -1 (error recorded) if any failed. */
int hc_draw_write(const hc_draw *d, hc_image_format fmt, FILE *f);

#endif
