#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <cairo-pdf.h>
#include <cairo-svg.h>

#include "headcal/draw.h"
#include "headcal/error.h"

typedef enum { P_RECT, P_OUTLINE, P_LINE, P_POLYLINE, P_POLYGON, P_TEXT, P_GROUP, P_END } pkind;

typedef struct {
    pkind kind;
    hc_rgb col;
    double alpha, width, dash;
    double x, y, w, h; /* rect, outline, group clip (w = 0: none), text box */
    int n;             /* points in pts (a line has 2) */
    double *pts;
    char *str;         /* text, or group name */
    int scale, vertical;
} prim;

struct hc_draw {
    int w, h;
    hc_rgb bg;
    prim *p;
    size_t n, cap;
    int failed;
};


int hc_draw_new(hc_draw **d, int w, int h, hc_rgb bg)
{
    *d = NULL;
    if (w < 1 || h < 1)
        return hc_fail(HC_EBAD, "drawing size %dx%d is empty", w, h);
    hc_draw *n = hc_calloc(1, sizeof *n);
    if (!n)
        return -1;
    n->w = w;
    n->h = h;
    n->bg = bg;
    *d = n;
    return 0;
}

void hc_draw_free(hc_draw *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->p[i].pts);
        free(d->p[i].str);
    }
    free(d->p);
    free(d);
}

int hc_draw_width(const hc_draw *d) { return d->w; }
int hc_draw_height(const hc_draw *d) { return d->h; }

int hc_draw_ok(const hc_draw *d)
{
    return d->failed ? hc_fail(HC_EBAD, "out of memory while laying out a plot") : 0;
}

/* A new zeroed primitive, or NULL (and the list marked failed). */
static prim *push(hc_draw *d, pkind kind)
{
    if (d->failed)
        return NULL;
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 64;
        prim *p = hc_realloc(d->p, cap * sizeof *p);
        if (!p) {
            d->failed = 1;
            return NULL;
        }
        d->p = p;
        d->cap = cap;
    }
    prim *p = &d->p[d->n++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->alpha = 1;
    return p;
}

static void set_points(hc_draw *d, prim *p, const double *xy, int n)
{
    p->pts = hc_malloc((size_t)n * 2 * sizeof *p->pts);
    if (!p->pts) {
        d->failed = 1;
        d->n--;
        return;
    }
    memcpy(p->pts, xy, (size_t)n * 2 * sizeof *xy);
    p->n = n;
}

static void set_string(hc_draw *d, prim *p, const char *s)
{
    p->str = strdup(s);
    if (!p->str) {
        d->failed = 1;
        d->n--;
    }
}

void hc_draw_rect(hc_draw *d, double x, double y, double w, double h, hc_rgb fill, double alpha)
{
    if (!(w > 0 && h > 0 && alpha > 0))
        return;
    prim *p = push(d, P_RECT);
    if (!p)
        return;
    *p = (prim){.kind = P_RECT, .col = fill, .alpha = alpha, .x = x, .y = y, .w = w, .h = h};
}

void hc_draw_outline(hc_draw *d, double x, double y, double w, double h, double width,
                     hc_rgb col)
{
    if (!(width > 0))
        return;
    prim *p = push(d, P_OUTLINE);
    if (!p)
        return;
    *p = (prim){.kind = P_OUTLINE, .col = col, .alpha = 1, .width = width,
                .x = x, .y = y, .w = w, .h = h};
}

void hc_draw_line(hc_draw *d, double x0, double y0, double x1, double y1, double width,
                  hc_rgb col, double dash)
{
    prim *p = push(d, P_LINE);
    if (!p)
        return;
    p->col = col;
    p->width = width;
    p->dash = dash > 0 ? dash : 0;
    set_points(d, p, (const double[]){x0, y0, x1, y1}, 2);
}

void hc_draw_polyline(hc_draw *d, const double *xy, int n, double width, hc_rgb col, double dash)
{
    if (n < 1)
        return;
    prim *p = push(d, P_POLYLINE);
    if (!p)
        return;
    p->col = col;
    p->width = width;
    p->dash = dash > 0 ? dash : 0;
    set_points(d, p, xy, n);
}

void hc_draw_polygon(hc_draw *d, const double *xy, int n, hc_rgb fill, double alpha)
{
    if (n < 3 || !(alpha > 0))
        return;
    prim *p = push(d, P_POLYGON);
    if (!p)
        return;
    p->col = fill;
    p->alpha = alpha;
    set_points(d, p, xy, n);
}

void hc_draw_text(hc_draw *d, double x, double y, int anchor, int scale, hc_rgb col,
                  const char *s)
{
    if (!s || !*s || scale < 1)
        return;
    int vertical = (anchor & HC_TEXT_VERTICAL) != 0;
    double along = hc_text_width(s, scale), across = hc_text_height(scale);
    double bw = vertical ? across : along, bh = vertical ? along : across;
    if (anchor & HC_TEXT_CENTER)
        x -= bw / 2;
    else if (anchor & HC_TEXT_RIGHT)
        x -= bw;
    if (anchor & HC_TEXT_MIDDLE)
        y -= bh / 2;
    else if (anchor & HC_TEXT_BOTTOM)
        y -= bh;
    prim *p = push(d, P_TEXT);
    if (!p)
        return;
    /* Whole pixels, so that both backends place the glyphs alike. */
    p->x = round(x);
    p->y = round(y);
    p->w = bw;
    p->h = bh;
    p->col = col;
    p->scale = scale;
    p->vertical = vertical;
    set_string(d, p, s);
}

void hc_draw_group(hc_draw *d, const char *name, double x, double y, double w, double h)
{
    prim *p = push(d, P_GROUP);
    if (!p)
        return;
    if (w > 0 && h > 0) {
        /* The raster clip is in whole pixels; the SVG one says the same. */
        p->x = round(x);
        p->y = round(y);
        p->w = round(x + w) - p->x;
        p->h = round(y + h) - p->y;
    }
    set_string(d, p, name ? name : "");
}

void hc_draw_end(hc_draw *d) { push(d, P_END); }

/* ---------------------------------------------------------------- text */

/* Pixels of font size per text scale: the scale-1 size reads at a
 * terminal's cell height, scale 2 in a 1000-pixel figure. */
enum { FONT_PX = 11 };
static const char FONT[] = "DejaVu Sans";

/* Metrics come from the font, unhinted, so that every surface (image,
 * SVG, PDF) sets a string at the width the layout reserved. */
static void set_font(cairo_t *cr, int scale)
{
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, FONT_PX * scale);
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
    cairo_set_font_options(cr, fo);
    cairo_font_options_destroy(fo);
}

/* A context on a 1x1 surface for measuring, per call: plots are laid out
 * from worker threads too, and Cairo caches the font itself. */
static cairo_t *measurer(int scale)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
    cairo_t *cr = cairo_create(s);
    cairo_surface_destroy(s);
    set_font(cr, scale);
    return cr;
}

int hc_text_width(const char *s, int scale)
{
    if (!s || !*s || scale < 1)
        return 0;
    cairo_t *cr = measurer(scale);
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    cairo_destroy(cr);
    return (int)ceil(te.x_advance);
}

static void font_box(int scale, double *ascent, double *height)
{
    cairo_t *cr = measurer(scale);
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    cairo_destroy(cr);
    *ascent = fe.ascent;
    *height = fe.ascent + fe.descent;
}

int hc_text_height(int scale)
{
    double a, h;
    font_box(scale < 1 ? 1 : scale, &a, &h);
    return (int)ceil(h);
}

int hc_text_ascent(int scale)
{
    double a, h;
    font_box(scale < 1 ? 1 : scale, &a, &h);
    return (int)ceil(a);
}

/* ---------------------------------------------------------------- playback */

static void source(cairo_t *cr, hc_rgb c, double alpha)
{
    cairo_set_source_rgba(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0, alpha);
}

static void path(cairo_t *cr, const prim *p)
{
    cairo_move_to(cr, p->pts[0], p->pts[1]);
    if (p->n == 1) /* a dot: round caps of a zero-length segment */
        cairo_line_to(cr, p->pts[0], p->pts[1]);
    for (int k = 1; k < p->n; k++)
        cairo_line_to(cr, p->pts[2 * k], p->pts[2 * k + 1]);
}

static void stroke(cairo_t *cr, const prim *p)
{
    source(cr, p->col, p->alpha);
    cairo_set_line_width(cr, p->width);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    if (p->dash > 0)
        cairo_set_dash(cr, &p->dash, 1, 0);
    else
        cairo_set_dash(cr, NULL, 0, 0);
    cairo_stroke(cr);
}

static void text(cairo_t *cr, const prim *p)
{
    set_font(cr, p->scale);
    cairo_save(cr);
    if (p->vertical) {
        /* the box is h tall; the text reads upwards from its bottom */
        cairo_translate(cr, p->x, p->y + p->h);
        cairo_rotate(cr, -M_PI / 2);
    } else {
        cairo_translate(cr, p->x, p->y);
    }
    cairo_move_to(cr, 0, hc_text_ascent(p->scale));
    source(cr, p->col, 1);
    cairo_show_text(cr, p->str);
    cairo_restore(cr);
}

static void play(const hc_draw *d, cairo_t *cr)
{
    source(cr, d->bg, 1);
    cairo_paint(cr);
    int depth = 0;
    for (size_t i = 0; i < d->n; i++) {
        const prim *p = &d->p[i];
        switch (p->kind) {
        case P_RECT:
            cairo_rectangle(cr, p->x, p->y, p->w, p->h);
            source(cr, p->col, p->alpha);
            cairo_fill(cr);
            break;
        case P_OUTLINE:
            cairo_rectangle(cr, p->x, p->y, p->w, p->h);
            cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER);
            cairo_set_dash(cr, NULL, 0, 0);
            cairo_set_line_width(cr, p->width);
            source(cr, p->col, p->alpha);
            cairo_stroke(cr);
            break;
        case P_LINE:
        case P_POLYLINE:
            path(cr, p);
            stroke(cr, p);
            break;
        case P_POLYGON:
            path(cr, p);
            cairo_close_path(cr);
            cairo_set_fill_rule(cr, CAIRO_FILL_RULE_WINDING);
            source(cr, p->col, p->alpha);
            cairo_fill(cr);
            break;
        case P_TEXT:
            text(cr, p);
            break;
        case P_GROUP:
            cairo_save(cr);
            depth++;
            if (p->w > 0) {
                cairo_rectangle(cr, p->x, p->y, p->w, p->h);
                cairo_clip(cr);
            }
            break;
        case P_END:
            if (depth > 0) {
                cairo_restore(cr);
                depth--;
            }
            break;
        }
    }
    for (; depth > 0; depth--)
        cairo_restore(cr);
}

static int cairo_failed(cairo_status_t st, const char *what)
{
    return hc_fail(HC_EBAD, "%s: %s", what, cairo_status_to_string(st));
}

int hc_draw_render(const hc_draw *d, hc_canvas *c)
{
    memset(c, 0, sizeof *c);
    if (hc_draw_ok(d) != 0 || hc_canvas_init(c, d->w, d->h, d->bg) != 0)
        return -1;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, d->w, d->h);
    cairo_t *cr = cairo_create(s);
    play(d, cr);
    cairo_surface_flush(s);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_status(s);
    if (st != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        hc_canvas_free(c);
        return cairo_failed(st, "cannot draw a plot");
    }
    /* RGB24 keeps each pixel in a native-endian 32-bit word, 0x00RRGGBB */
    const unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < d->h; y++) {
        const uint32_t *row = (const uint32_t *)(data + (size_t)y * (size_t)stride);
        uint8_t *out = c->px + 3 * (size_t)y * (size_t)d->w;
        for (int x = 0; x < d->w; x++) {
            out[3 * x] = (uint8_t)(row[x] >> 16);
            out[3 * x + 1] = (uint8_t)(row[x] >> 8);
            out[3 * x + 2] = (uint8_t)row[x];
        }
    }
    cairo_surface_destroy(s);
    return 0;
}

static cairo_status_t to_file(void *closure, const unsigned char *data, unsigned int len)
{
    return fwrite(data, 1, len, closure) == len ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

int hc_draw_write(const hc_draw *d, hc_image_format fmt, FILE *f)
{
    if (hc_draw_ok(d) != 0)
        return -1;
    cairo_surface_t *s;
    switch (fmt) {
    case HC_IMAGE_SVG:
        s = cairo_svg_surface_create_for_stream(to_file, f, d->w, d->h);
        cairo_svg_surface_set_document_unit(s, CAIRO_SVG_UNIT_PX);
        break;
    case HC_IMAGE_PDF:
        /* a point per pixel: a 1000-pixel figure is a 35 cm page, which
         * scales down to a column without loss */
        s = cairo_pdf_surface_create_for_stream(to_file, f, d->w, d->h);
        cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "headcal");
        break;
    default:
        s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, d->w, d->h);
    }
    cairo_t *cr = cairo_create(s);
    play(d, cr);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (st == CAIRO_STATUS_SUCCESS && fmt == HC_IMAGE_PNG)
        st = cairo_surface_write_to_png_stream(s, to_file, f);
    cairo_surface_finish(s);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_status(s);
    cairo_surface_destroy(s);
    return st == CAIRO_STATUS_SUCCESS ? 0 : cairo_failed(st, "cannot write a plot");
}
