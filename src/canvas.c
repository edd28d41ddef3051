#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "font.h"
#include "headcal/canvas.h"
#include "headcal/error.h"

/* Large enough for any export, small enough that w*h*3 cannot overflow. */
enum { MAX_SIDE = 16384, POLY_SUBROWS = 4 };

int hc_canvas_init(hc_canvas *c, int w, int h, hc_rgb bg)
{
    memset(c, 0, sizeof *c);
    if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE)
        return hc_fail(HC_EBAD, "canvas size %dx%d out of range (1..%d)", w, h, MAX_SIDE);
    size_t n = (size_t)w * (size_t)h;
    c->px = hc_malloc(n * 3);
    c->row = hc_malloc(((size_t)w + 2) * sizeof *c->row);
    if (!c->px || !c->row) {
        hc_canvas_free(c);
        return -1;
    }
    c->w = w;
    c->h = h;
    hc_canvas_unclip(c);
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
    free(c->row);
    memset(c, 0, sizeof *c);
}

hc_rgb hc_canvas_get(const hc_canvas *c, int x, int y)
{
    const uint8_t *p = c->px + 3 * ((size_t)y * (size_t)c->w + (size_t)x);
    return (hc_rgb){p[0], p[1], p[2]};
}

/* Rounds v into [lo, hi]; NaN goes to lo.  Keeps huge coordinates from
 * overflowing the int conversion. */
static int clampi(double v, int lo, int hi)
{
    if (!(v > lo))
        return lo;
    if (v > hi)
        return hi;
    return (int)v;
}

void hc_canvas_clip(hc_canvas *c, double x, double y, double w, double h)
{
    c->cx0 = clampi(round(x), 0, c->w);
    c->cy0 = clampi(round(y), 0, c->h);
    c->cx1 = clampi(round(x + w), c->cx0, c->w);
    c->cy1 = clampi(round(y + h), c->cy0, c->h);
}

void hc_canvas_unclip(hc_canvas *c)
{
    c->cx0 = c->cy0 = 0;
    c->cx1 = c->w;
    c->cy1 = c->h;
}

static uint8_t mix(uint8_t from, uint8_t to, double a)
{
    return (uint8_t)lrint(from + (to - from) * a);
}

/* Blends col over pixel (x, y), which the caller has clipped. */
static void blend(hc_canvas *c, int x, int y, hc_rgb col, double a)
{
    if (!(a > 0))
        return;
    uint8_t *p = c->px + 3 * ((size_t)y * (size_t)c->w + (size_t)x);
    if (a >= 1) {
        p[0] = col.r;
        p[1] = col.g;
        p[2] = col.b;
        return;
    }
    p[0] = mix(p[0], col.r, a);
    p[1] = mix(p[1], col.g, a);
    p[2] = mix(p[2], col.b, a);
}

/* Length of [i, i+1) ∩ [a, b). */
static double overlap(int i, double a, double b)
{
    double d = fmin(i + 1.0, b) - fmax((double)i, a);
    return d > 0 ? d : 0;
}

void hc_canvas_rect(hc_canvas *c, double x, double y, double w, double h, hc_rgb col,
                    double alpha)
{
    if (!(w > 0 && h > 0 && alpha > 0))
        return;
    int i0 = clampi(floor(x), c->cx0, c->cx1), i1 = clampi(ceil(x + w), c->cx0, c->cx1);
    int j0 = clampi(floor(y), c->cy0, c->cy1), j1 = clampi(ceil(y + h), c->cy0, c->cy1);
    for (int j = j0; j < j1; j++) {
        double cy = overlap(j, y, y + h) * alpha;
        for (int i = i0; i < i1; i++)
            blend(c, i, j, col, overlap(i, x, x + w) * cy);
    }
}

/* Distance from (px, py) to the segment (ax, ay)-(bx, by). */
static double seg_dist(double px, double py, double ax, double ay, double bx, double by)
{
    double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
    double t = l2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double ex = ax + t * dx - px, ey = ay + t * dy - py;
    return sqrt(ex * ex + ey * ey);
}

/* Coverage is 1 within width/2 of the centre line and falls to 0 over one
 * pixel; taking the max over segments (not their sum) keeps joins from
 * darkening.  Round caps and joins fall out of the distance. */
void hc_canvas_polyline(hc_canvas *c, const double *xy, int n, double width, hc_rgb col,
                        double alpha)
{
    if (n < 1 || !(width > 0 && alpha > 0))
        return;
    double r = width / 2, reach = r + 1, full = width < 1 ? width : 1;
    double xmin = xy[0], xmax = xy[0], ymin = xy[1], ymax = xy[1];
    for (int k = 0; k < n; k++) {
        if (!isfinite(xy[2 * k]) || !isfinite(xy[2 * k + 1]))
            return;
        xmin = fmin(xmin, xy[2 * k]);
        xmax = fmax(xmax, xy[2 * k]);
        ymin = fmin(ymin, xy[2 * k + 1]);
        ymax = fmax(ymax, xy[2 * k + 1]);
    }
    int j0 = clampi(floor(ymin - reach), c->cy0, c->cy1);
    int j1 = clampi(ceil(ymax + reach), c->cy0, c->cy1);
    int i0 = clampi(floor(xmin - reach), c->cx0, c->cx1);
    int i1 = clampi(ceil(xmax + reach), c->cx0, c->cx1);
    float *cov = c->row;
    if (i0 >= i1)
        return;
    memset(cov + i0, 0, (size_t)(i1 - i0) * sizeof *cov);
    int nseg = n > 1 ? n - 1 : 1;
    for (int j = j0; j < j1; j++) {
        double py = j + 0.5;
        int lo = i1, hi = i0; /* the span this row touched */
        for (int k = 0; k < nseg; k++) {
            const double *a = xy + 2 * k, *b = n > 1 ? a + 2 : a;
            if (py < fmin(a[1], b[1]) - reach || py > fmax(a[1], b[1]) + reach)
                continue;
            int xa = clampi(floor(fmin(a[0], b[0]) - reach), i0, i1);
            int xb = clampi(ceil(fmax(a[0], b[0]) + reach), i0, i1);
            lo = xa < lo ? xa : lo;
            hi = xb > hi ? xb : hi;
            for (int i = xa; i < xb; i++) {
                double v = r + 0.5 - seg_dist(i + 0.5, py, a[0], a[1], b[0], b[1]);
                v = v > full ? full : v;
                if (v > cov[i])
                    cov[i] = (float)v;
            }
        }
        for (int i = lo; i < hi; i++) {
            blend(c, i, j, col, cov[i] * alpha);
            cov[i] = 0;
        }
    }
}

void hc_canvas_line(hc_canvas *c, double x0, double y0, double x1, double y1, double width,
                    hc_rgb col, double alpha, double dash)
{
    double len = hypot(x1 - x0, y1 - y0);
    if (!(dash > 0) || !(len > dash)) {
        double xy[4] = {x0, y0, x1, y1};
        hc_canvas_polyline(c, xy, 2, width, col, alpha);
        return;
    }
    double ux = (x1 - x0) / len, uy = (y1 - y0) / len;
    for (double t = 0; t < len; t += 2 * dash) {
        double e = fmin(t + dash, len);
        double xy[4] = {x0 + ux * t, y0 + uy * t, x0 + ux * e, y0 + uy * e};
        hc_canvas_polyline(c, xy, 2, width, col, alpha);
    }
}

/* Scanline fill with POLY_SUBROWS sample rows per pixel row and exact
 * horizontal coverage: each edge crossing adds its direction (+1 downward,
 * -1 upward) from its x onward, split between the two pixels it falls
 * across; a running sum then gives the winding number's coverage. */
void hc_canvas_polygon(hc_canvas *c, const double *xy, int n, hc_rgb col, double alpha)
{
    if (n < 3 || !(alpha > 0))
        return;
    double ymin = xy[1], ymax = xy[1];
    for (int k = 0; k < n; k++) {
        if (!isfinite(xy[2 * k]) || !isfinite(xy[2 * k + 1]))
            return;
        ymin = fmin(ymin, xy[2 * k + 1]);
        ymax = fmax(ymax, xy[2 * k + 1]);
    }
    int j0 = clampi(floor(ymin), c->cy0, c->cy1), j1 = clampi(ceil(ymax), c->cy0, c->cy1);
    int i0 = c->cx0, i1 = c->cx1;
    if (i0 >= i1)
        return;
    float *acc = c->row; /* acc[i - i0], one spare slot for the split */
    memset(acc, 0, (size_t)(i1 - i0 + 1) * sizeof *acc);
    const int last = i1 - i0;
    const double w = 1.0 / POLY_SUBROWS;
    for (int j = j0; j < j1; j++) {
        /* Coverage is 0 left of the first crossing; right of the last one
         * it is 0 again unless a crossing lay beyond the clip. */
        int lo = last, hi = 0;
        for (int s = 0; s < POLY_SUBROWS; s++) {
            double sy = j + (s + 0.5) * w;
            for (int k = 0; k < n; k++) {
                const double *a = xy + 2 * k, *b = xy + 2 * ((k + 1) % n);
                if (a[1] == b[1] || sy < fmin(a[1], b[1]) || sy >= fmax(a[1], b[1]))
                    continue;
                double x = a[0] + (sy - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
                double d = b[1] > a[1] ? w : -w;
                if (x <= i0) {
                    acc[0] += (float)d;
                    lo = 0;
                } else if (x < i1) {
                    int t = (int)x - i0;
                    double f = x - (int)x;
                    acc[t] += (float)(d * (1 - f));
                    acc[t + 1] += (float)(d * f);
                    lo = t < lo ? t : lo;
                    hi = t + 1 > hi ? t + 1 : hi;
                } else {
                    hi = last;
                }
            }
        }
        double run = 0;
        for (int t = lo; t <= hi; t++) {
            run += acc[t];
            acc[t] = 0;
            double v = fabs(run);
            if (t < last)
                blend(c, i0 + t, j, col, (v > 1 ? 1 : v) * alpha);
        }
    }
}

int hc_text_width(const char *s, int scale)
{
    size_t n = strlen(s);
    return n ? (int)(n * HC_GLYPH_ADVANCE - 1) * scale : 0;
}

int hc_text_height(int scale) { return HC_GLYPH_H * scale; }

int hc_text_ascent(int scale) { return HC_GLYPH_ASCENT * scale; }

static void block(hc_canvas *c, long x, long y, int s, hc_rgb col)
{
    for (long j = y < c->cy0 ? c->cy0 : y; j < y + s && j < c->cy1; j++)
        for (long i = x < c->cx0 ? c->cx0 : x; i < x + s && i < c->cx1; i++)
            blend(c, (int)i, (int)j, col, 1);
}

void hc_canvas_text(hc_canvas *c, double x, double y, const char *s, int scale, int vertical,
                    hc_rgb col)
{
    if (scale < 1 || !isfinite(x) || !isfinite(y) || fabs(x) > 1e6 || fabs(y) > 1e6)
        return;
    long x0 = lround(x), y0 = lround(y), len = hc_text_width(s, scale);
    for (long k = 0; s[k]; k++) {
        unsigned char ch = (unsigned char)s[k];
        if (ch < HC_GLYPH_FIRST || ch > HC_GLYPH_LAST)
            ch = '?';
        const char(*g)[HC_GLYPH_W + 1] = hc_font[ch - HC_GLYPH_FIRST];
        for (int gy = 0; gy < HC_GLYPH_H; gy++)
            for (int gx = 0; gx < HC_GLYPH_W; gx++) {
                if (g[gy][gx] != '#')
                    continue;
                long u = (k * HC_GLYPH_ADVANCE + gx) * scale, v = (long)gy * scale;
                if (vertical)
                    block(c, x0 + v, y0 + len - u - scale, scale, col);
                else
                    block(c, x0 + u, y0 + v, scale, col);
            }
    }
}
