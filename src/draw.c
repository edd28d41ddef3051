#include <math.h>
#include <stdlib.h>
#include <string.h>

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

enum { MAX_GROUP_DEPTH = 16 };

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
        prim *p = realloc(d->p, cap * sizeof *p);
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
    p->pts = malloc((size_t)n * 2 * sizeof *p->pts);
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

void hc_draw_polyline(hc_draw *d, const double *xy, int n, double width, hc_rgb col)
{
    if (n < 1)
        return;
    prim *p = push(d, P_POLYLINE);
    if (!p)
        return;
    p->col = col;
    p->width = width;
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

/* ---------------------------------------------------------------- raster */

typedef struct {
    int x0, y0, x1, y1;
} box;

int hc_draw_render(const hc_draw *d, hc_canvas *c)
{
    if (hc_draw_ok(d) != 0 || hc_canvas_init(c, d->w, d->h, d->bg) != 0)
        return -1;
    box stack[MAX_GROUP_DEPTH + 1] = {{0, 0, d->w, d->h}};
    int depth = 0, skipped = 0; /* groups nested deeper than the stack */
    for (size_t i = 0; i < d->n; i++) {
        const prim *p = &d->p[i];
        double hw = p->width / 2;
        switch (p->kind) {
        case P_RECT:
            hc_canvas_rect(c, p->x, p->y, p->w, p->h, p->col, p->alpha);
            break;
        case P_OUTLINE:
            hc_canvas_rect(c, p->x - hw, p->y - hw, p->w + p->width, p->width, p->col, 1);
            hc_canvas_rect(c, p->x - hw, p->y + p->h - hw, p->w + p->width, p->width, p->col, 1);
            hc_canvas_rect(c, p->x - hw, p->y + hw, p->width, p->h - p->width, p->col, 1);
            hc_canvas_rect(c, p->x + p->w - hw, p->y + hw, p->width, p->h - p->width, p->col, 1);
            break;
        case P_LINE:
            hc_canvas_line(c, p->pts[0], p->pts[1], p->pts[2], p->pts[3], p->width, p->col, 1,
                           p->dash);
            break;
        case P_POLYLINE:
            hc_canvas_polyline(c, p->pts, p->n, p->width, p->col, 1);
            break;
        case P_POLYGON:
            hc_canvas_polygon(c, p->pts, p->n, p->col, p->alpha);
            break;
        case P_TEXT:
            hc_canvas_text(c, p->x, p->y, p->str, p->scale, p->vertical, p->col);
            break;
        case P_GROUP:
            if (depth == MAX_GROUP_DEPTH) {
                skipped++;
                break;
            }
            stack[depth + 1] = stack[depth];
            depth++;
            if (p->w > 0) {
                box *b = &stack[depth];
                b->x0 = (int)fmax(b->x0, p->x);
                b->y0 = (int)fmax(b->y0, p->y);
                b->x1 = (int)fmin(b->x1, p->x + p->w);
                b->y1 = (int)fmin(b->y1, p->y + p->h);
            }
            break;
        case P_END:
            if (skipped)
                skipped--;
            else if (depth > 0)
                depth--;
            break;
        }
        const box *b = &stack[depth];
        hc_canvas_clip(c, b->x0, b->y0, b->x1 - b->x0, b->y1 - b->y0);
    }
    hc_canvas_unclip(c);
    return 0;
}

/* ---------------------------------------------------------------- SVG */

/* Coordinates to 1/100 pixel without trailing zeros. */
static void num(FILE *f, double v)
{
    char b[64];
    snprintf(b, sizeof b, "%.2f", fabs(v) < 5e-3 ? 0.0 : v);
    char *e = b + strlen(b);
    while (e[-1] == '0')
        *--e = 0;
    if (e[-1] == '.')
        e[-1] = 0;
    fputs(b, f);
}

static void attr(FILE *f, const char *name, double v)
{
    fprintf(f, " %s=\"", name);
    num(f, v);
    fputc('"', f);
}

static void color(FILE *f, const char *name, hc_rgb c)
{
    fprintf(f, " %s=\"#%02x%02x%02x\"", name, c.r, c.g, c.b);
}

/* Escapes for text and attribute values; bytes the font cannot draw become
 * '?' as on the raster, which also keeps the document valid XML. */
static void text(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(ch >= 32 && ch <= 126 ? ch : '?', f);
        }
    }
}

static void points(FILE *f, const prim *p)
{
    fputs(" points=\"", f);
    for (int k = 0; k < p->n; k++) {
        if (k)
            fputc(' ', f);
        num(f, p->pts[2 * k]);
        fputc(',', f);
        num(f, p->pts[2 * k + 1]);
    }
    fputc('"', f);
}

static void stroke(FILE *f, const prim *p)
{
    color(f, "stroke", p->col);
    attr(f, "stroke-width", p->width);
    fputs(" stroke-linecap=\"round\" stroke-linejoin=\"round\"", f);
}

int hc_draw_svg(const hc_draw *d, FILE *f)
{
    if (hc_draw_ok(d) != 0)
        return -1;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans Mono, monospace\">\n"
            "<style>rect { shape-rendering: crispEdges }</style>\n",
            d->w, d->h, d->w, d->h);
    fputs("<rect width=\"100%\" height=\"100%\"", f);
    color(f, "fill", d->bg);
    fputs("/>\n", f);
    int clips = 0, depth = 0;
    for (size_t i = 0; i < d->n; i++) {
        const prim *p = &d->p[i];
        switch (p->kind) {
        case P_RECT:
        case P_OUTLINE:
            fputs("<rect", f);
            attr(f, "x", p->x);
            attr(f, "y", p->y);
            attr(f, "width", p->w);
            attr(f, "height", p->h);
            if (p->kind == P_RECT) {
                color(f, "fill", p->col);
                if (p->alpha < 1)
                    attr(f, "fill-opacity", p->alpha);
            } else {
                fputs(" fill=\"none\"", f);
                color(f, "stroke", p->col);
                attr(f, "stroke-width", p->width);
            }
            fputs("/>\n", f);
            break;
        case P_LINE:
            fputs("<line", f);
            attr(f, "x1", p->pts[0]);
            attr(f, "y1", p->pts[1]);
            attr(f, "x2", p->pts[2]);
            attr(f, "y2", p->pts[3]);
            stroke(f, p);
            if (p->dash > 0) {
                fputs(" stroke-dasharray=\"", f);
                num(f, p->dash);
                fputc(' ', f);
                num(f, p->dash);
                fputc('"', f);
            }
            fputs("/>\n", f);
            break;
        case P_POLYLINE:
            fputs("<polyline fill=\"none\"", f);
            stroke(f, p);
            points(f, p);
            fputs("/>\n", f);
            break;
        case P_POLYGON:
            fputs("<polygon", f);
            color(f, "fill", p->col);
            if (p->alpha < 1)
                attr(f, "fill-opacity", p->alpha);
            points(f, p);
            fputs("/>\n", f);
            break;
        case P_TEXT: {
            int along = hc_text_width(p->str, p->scale);
            fputs("<text", f);
            if (p->vertical) {
                fputs(" transform=\"translate(", f);
                num(f, p->x);
                fputc(' ', f);
                num(f, p->y + along);
                fputs(") rotate(-90)\" x=\"0\"", f);
                attr(f, "y", hc_text_ascent(p->scale));
            } else {
                attr(f, "x", p->x);
                attr(f, "y", p->y + hc_text_ascent(p->scale));
            }
            /* The font's advance is 0.6 em; textLength pins the width the
             * layout reserved, whatever monospace font the viewer has. */
            attr(f, "font-size", 10.0 * p->scale);
            attr(f, "textLength", along);
            fputs(" lengthAdjust=\"spacingAndGlyphs\"", f);
            color(f, "fill", p->col);
            fputc('>', f);
            text(f, p->str);
            fputs("</text>\n", f);
            break;
        }
        case P_GROUP:
            depth++;
            if (p->w > 0) {
                fprintf(f, "<clipPath id=\"clip%d\"><rect", clips);
                attr(f, "x", p->x);
                attr(f, "y", p->y);
                attr(f, "width", p->w);
                attr(f, "height", p->h);
                fputs("/></clipPath>\n", f);
            }
            fputs("<g class=\"", f);
            text(f, p->str);
            fputc('"', f);
            if (p->w > 0)
                fprintf(f, " clip-path=\"url(#clip%d)\"", clips++);
            fputs(">\n", f);
            break;
        case P_END:
            if (depth > 0) {
                depth--;
                fputs("</g>\n", f);
            }
            break;
        }
    }
    for (; depth > 0; depth--)
        fputs("</g>\n", f);
    fputs("</svg>\n", f);
    return 0;
}
