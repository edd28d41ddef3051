#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/colormap.h"
#include "headcal/error.h"
#include "headcal/plot.h"

static const hc_rgb WHITE = {255, 255, 255}, INK = {30, 30, 30}, FRAME = {90, 90, 90},
                    GRID = {228, 228, 228}, DIAGONAL = {120, 120, 120}, BAR = {150, 150, 150},
                    BAR_THIN = {215, 215, 215};

enum { MAX_SIDE = 16384, MAX_CELLS = 1 << 20, MAX_BINS = 1 << 16, LABEL_MAX = 256 };
/* colour bar labels on either side of 0 where the bar is tall enough */
enum { BAR_TICKS_PER_SIDE = 4 };

/* Font metrics and spacing at text scale s, shared by both layouts. */
typedef struct {
    int s;
    int pad;     /* general spacing                  */
    int text_h;  /* height of a line of text          */
    int line_h;  /* baseline-to-baseline distance     */
    int advance; /* width of one character            */
} metrics;

static int open_layout(const hc_plot_layout *lay, metrics *m)
{
    if (lay->width < 1 || lay->height < 1 || lay->width > MAX_SIDE || lay->height > MAX_SIDE)
        return hc_fail(HC_EBAD, "plot size %dx%d out of range (1..%d)", lay->width, lay->height,
                       MAX_SIDE);
    if (lay->text_scale < 0 || lay->text_scale > 16)
        return hc_fail(HC_EBAD, "text scale %d out of range (0..16)", lay->text_scale);
    int s = lay->text_scale;
    if (s == 0) {
        s = lay->width / 400 < lay->height / 300 ? lay->width / 400 : lay->height / 300;
        s = s < 1 ? 1 : s;
    }
    *m = (metrics){.s = s, .pad = 4 * s, .text_h = hc_text_height(s),
                   .line_h = hc_text_height(s) + 2 * s, .advance = hc_text_width("x", s) + s};
    return 0;
}

/* Copies len bytes of s into buf, newlines as spaces, shortened with an
 * ellipsis (at a UTF-8 character boundary) to fit max_px; "" when not
 * even that fits. */
static const char *fit(char buf[LABEL_MAX], const char *s, size_t len, double max_px,
                       const metrics *m)
{
    static const char ELLIPSIS[] = "\xe2\x80\xa6";
    size_t n = len < LABEL_MAX - sizeof ELLIPSIS ? len : LABEL_MAX - sizeof ELLIPSIS;
    for (size_t i = 0; i < n; i++)
        buf[i] = s[i] == '\n' ? ' ' : s[i];
    buf[n] = 0;
    if (n == len && hc_text_width(buf, m->s) <= max_px)
        return buf;
    while (n > 0) {
        do
            n--;
        while (n > 0 && ((unsigned char)buf[n] & 0xC0) == 0x80);
        memcpy(buf + n, ELLIPSIS, sizeof ELLIPSIS);
        if (hc_text_width(buf, m->s) <= max_px)
            return buf;
    }
    buf[0] = 0;
    return buf;
}

static const char *fits(char buf[LABEL_MAX], const char *s, double max_px, const metrics *m)
{
    return fit(buf, s ? s : "", s ? strlen(s) : 0, max_px, m);
}

static int has_text(const char *s) { return s && *s; }

/* Draws the title centred at the top, one line per '\n'; returns the y
 * below it. */
static int title_block(hc_draw *d, const char *title, const metrics *m)
{
    int y = m->pad, w = hc_draw_width(d);
    if (!has_text(title))
        return y;
    char buf[LABEL_MAX];
    hc_draw_group(d, "title", 0, 0, 0, 0);
    for (const char *p = title;;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        hc_draw_text(d, w / 2.0, y, HC_TEXT_CENTER | HC_TEXT_TOP, m->s, INK,
                     fit(buf, p, len, w - 2 * m->pad, m));
        y += m->line_h;
        if (!nl)
            break;
        p = nl + 1;
    }
    hc_draw_end(d);
    return y + m->pad;
}

static const char *label_at(const char *const *labels, int i, char buf[LABEL_MAX])
{
    if (labels && labels[i])
        return labels[i];
    snprintf(buf, LABEL_MAX, "%d", i);
    return buf;
}

/* Shows every k-th label, k the smallest step at which labels of extent
 * `need` fit cells of extent `cell`. */
static int label_step(double need, double cell)
{
    int k = 1;
    while (k * cell < need && k < MAX_CELLS)
        k++;
    return k;
}

/* ---------------------------------------------------------------- heatmap */

static double shown(const hc_heatmap *hm, double v)
{
    if (!isfinite(v))
        return NAN;
    return hm->clip_negative && v < 0 ? 0 : v;
}

/* The smallest tick step among 1, 2, 2.5 and 5 times a power of ten that
 * leaves at most max_ticks intervals over span, or (multiples) at most
 * max_ticks multiples of it in (0, span]. */
static double round_step(double span, int max_ticks, int multiples)
{
    static const double mult[] = {1, 2, 2.5, 5};
    /* from a step too small upwards */
    for (double base = pow(10, floor(log10(span / (max_ticks + 1))));; base *= 10)
        for (int i = 0; i < 4; i++) {
            const double step = base * mult[i], k = span / step;
            if ((multiples ? floor(k + 1e-9) : k - 1e-9) <= max_ticks)
                return step;
        }
}

int hc_plot_bar_ticks(double lo, double hi, int per_side, double *t)
{
    if (!(hi > 0) || !isfinite(hi) || per_side < 1)
        return 0;
    const double step = round_step(hi, per_side, 1);
    int n = 0;
    for (long k = lround(floor(hi / step + 1e-9)); k * step >= lo - 1e-9 * step; k--)
        t[n++] = k ? (double)k * step : 0.0;
    return n;
}

/* The largest |shown value| in columns [c0, c1), or 1 if there is none. */
static double max_abs(const hc_heatmap *hm, int c0, int c1)
{
    double vmax = 0;
    for (int r = 0; r < hm->rows; r++)
        for (int c = c0; c < c1; c++) {
            double v = shown(hm, hm->values[r * hm->cols + c]);
            if (isfinite(v) && fabs(v) > vmax)
                vmax = fabs(v);
        }
    return vmax > 0 ? vmax : 1;
}

/* Black or white, whichever reads on bg. */
static hc_rgb ink_on(hc_rgb bg)
{
    return 0.299 * bg.r + 0.587 * bg.g + 0.114 * bg.b > 140 ? INK : WHITE;
}

/* A tick label; a negative one with the minus sign U+2212, as typeset
 * figures (and matplotlib's) have it, not a hyphen. */
static void tick_text(char buf[LABEL_MAX], double v)
{
    snprintf(buf, LABEL_MAX, "%s%.3g", v < 0 ? "\u2212" : "", fabs(v)); /* no "-0" */
}

int hc_plot_heatmap(hc_draw **out, const hc_heatmap *hm, const hc_plot_layout *lay,
                    hc_heatmap_geom *geom)
{
    *out = NULL;
    metrics m;
    if (open_layout(lay, &m) != 0)
        return -1;
    if (hm->rows < 1 || hm->cols < 1 || !hm->values || (long)hm->rows * hm->cols > MAX_CELLS)
        return hc_fail(HC_EBAD, "heatmap of %dx%d cells out of range (1..%d cells)", hm->rows,
                       hm->cols, MAX_CELLS);
    const int R = hm->rows, C = hm->cols, s = m.s, pad = m.pad;
    char buf[LABEL_MAX], tb[LABEL_MAX];

    const int own = hm->own_scale_cols > 0 && hm->own_scale_cols < C ? hm->own_scale_cols : 0;
    double vmax = hm->vmax, own_vmax = 0;
    if (!isfinite(vmax) || !(vmax > 0))
        vmax = max_abs(hm, 0, C - own);
    if (own)
        own_vmax = max_abs(hm, C - own, C);
    const double lo = hm->clip_negative ? 0 : -vmax;

    /* Margins around the grid, from the widest labels. */
    int row_w = 0, col_w = 0, tick_w = 0;
    for (int r = 0; r < R; r++) {
        int w = hc_text_width(label_at(hm->row_labels, r, buf), s);
        row_w = w > row_w ? w : row_w;
    }
    for (int c = 0; c < C; c++) {
        int w = hc_text_width(label_at(hm->col_labels, c, buf), s);
        col_w = w > col_w ? w : col_w;
    }
    double ticks[2 * BAR_TICKS_PER_SIDE + 1];
    int nt = hc_plot_bar_ticks(lo, vmax, BAR_TICKS_PER_SIDE, ticks);
    for (int k = 0; k < nt; k++) {
        tick_text(tb, ticks[k]);
        int w = hc_text_width(tb, s);
        tick_w = w > tick_w ? w : tick_w;
    }
    const int bar_gap = 3 * pad, bar_w = 10 * s, tick_len = 2 * s;
    const int left = pad + (has_text(hm->y_label) ? m.text_h + pad : 0) + row_w + pad;
    const int right = bar_gap + bar_w + tick_len + s + tick_w + pad +
                      (has_text(hm->cbar_label) ? m.text_h + pad : 0);
    const int bottom = pad / 2 + m.text_h + pad + (has_text(hm->x_label) ? m.text_h + pad : 0);

    hc_draw *d;
    if (hc_draw_new(&d, lay->width, lay->height, WHITE) != 0)
        return -1;
    const int top = title_block(d, hm->title, &m);
    const int gw = lay->width - left - right, gh = lay->height - top - bottom;
    const int cw = gw > 0 ? gw / C : 0, ch = gh > 0 ? gh / R : 0;
    if (cw < 1 || ch < 1) {
        hc_draw_free(d);
        return hc_fail(HC_EBAD, "plot size %dx%d too small for a %dx%d heatmap", lay->width,
                       lay->height, R, C);
    }
    const int x0 = left + (gw - C * cw) / 2, y0 = top + (gh - R * ch) / 2;
    const int grid_w = C * cw, grid_h = R * ch;

    hc_draw_group(d, "cells", 0, 0, 0, 0);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            double v = shown(hm, hm->values[r * C + c]), se = hm->se ? hm->se[r * C + c] : NAN;
            hc_rgb bg = hc_colormap(v, c >= C - own ? own_vmax : vmax);
            hc_draw_rect(d, x0 + c * cw, y0 + r * ch, cw, ch, bg, 1);
            if (isfinite(v) && isfinite(se) && fabs(v) > 2 * se) {
                /* a dot: the change is more than two standard errors */
                double cx = x0 + (c + 0.5) * cw, cy = y0 + (r + 0.5) * ch;
                hc_draw_polyline(d, (const double[]){cx, cy}, 1, fmax(2, fmin(cw, ch) / 6.0), ink_on(bg), 0);
            }
        }
    if (own) /* a rule between the heads and the columns on their own scale */
        hc_draw_line(d, x0 + (C - own) * cw, y0, x0 + (C - own) * cw, y0 + grid_h, fmax(2, s), WHITE, 0);
    hc_draw_end(d);
    hc_draw_group(d, "frame", 0, 0, 0, 0);
    hc_draw_outline(d, x0, y0, grid_w, grid_h, 1, FRAME);
    hc_draw_end(d);

    hc_draw_group(d, "marks", 0, 0, 0, 0);
    const double lw = fmax(1, round((cw < ch ? cw : ch) / 8.0));
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++)
            if (hm->selected && hm->selected[r * C + c]) {
                /* black outside, white inside: reads on the darkest cells */
                hc_draw_outline(d, x0 + c * cw + lw / 2, y0 + r * ch + lw / 2, cw - lw, ch - lw,
                                lw, INK);
                hc_draw_outline(d, x0 + c * cw + 1.5 * lw, y0 + r * ch + 1.5 * lw, cw - 3 * lw,
                                ch - 3 * lw, lw, WHITE);
            }
    if (hm->cursor_row >= 0 && hm->cursor_row < R && hm->cursor_col >= 0 && hm->cursor_col < C) {
        /* A black and white ring just outside the cell: visible on any
         * colour, and distinct from (and combinable with) a selection. */
        double x = x0 + hm->cursor_col * cw, y = y0 + hm->cursor_row * ch;
        hc_draw_outline(d, x - 1.5 * lw, y - 1.5 * lw, cw + 3 * lw, ch + 3 * lw, lw, INK);
        hc_draw_outline(d, x - 0.5 * lw, y - 0.5 * lw, cw + lw, ch + lw, lw, WHITE);
    }
    hc_draw_end(d);

    hc_draw_group(d, "labels", 0, 0, 0, 0);
    int kr = label_step(m.text_h + s, ch), kc = label_step(col_w + m.advance, cw);
    for (int r = 0; r < R; r += kr)
        hc_draw_text(d, x0 - pad, y0 + (r + 0.5) * ch, HC_TEXT_RIGHT | HC_TEXT_MIDDLE, s, INK,
                     label_at(hm->row_labels, r, buf));
    for (int c = 0; c < C; c += kc)
        hc_draw_text(d, x0 + (c + 0.5) * cw, y0 + grid_h + pad / 2, HC_TEXT_CENTER | HC_TEXT_TOP,
                     s, INK, label_at(hm->col_labels, c, buf));
    if (has_text(hm->x_label))
        hc_draw_text(d, x0 + grid_w / 2.0, y0 + grid_h + pad / 2 + m.text_h + pad,
                     HC_TEXT_CENTER | HC_TEXT_TOP, s, INK, fits(buf, hm->x_label, grid_w, &m));
    if (has_text(hm->y_label))
        hc_draw_text(d, x0 - pad - row_w - pad, y0 + grid_h / 2.0,
                     HC_TEXT_RIGHT | HC_TEXT_MIDDLE | HC_TEXT_VERTICAL, s, INK,
                     fits(buf, hm->y_label, grid_h, &m));
    hc_draw_end(d);

    /* The colour bar spans the grid's height, top = vmax. */
    const int bx = x0 + grid_w + bar_gap;
    hc_draw_group(d, "colorbar", 0, 0, 0, 0);
    int steps = grid_h < 128 ? grid_h : 128;
    for (int i = 0; i < steps; i++) {
        double v = vmax - (i + 0.5) / steps * (vmax - lo);
        hc_draw_rect(d, bx, y0 + (double)i * grid_h / steps, bar_w, (double)grid_h / steps,
                     hc_colormap(v, vmax), 1);
    }
    hc_draw_outline(d, bx, y0, bar_w, grid_h, 1, FRAME);
    /* half a label's height between labels, or fewer labels */
    const int labels = lo < 0 ? 2 * BAR_TICKS_PER_SIDE + 1 : BAR_TICKS_PER_SIDE + 1;
    const int per_side = 2 * grid_h >= 3 * labels * m.line_h ? BAR_TICKS_PER_SIDE : 2;
    nt = hc_plot_bar_ticks(lo, vmax, per_side, ticks);
    for (int k = 0; k < nt; k++) {
        double y = y0 + (vmax - ticks[k]) / (vmax - lo) * grid_h;
        hc_draw_line(d, bx + bar_w, y, bx + bar_w + tick_len, y, 1, FRAME, 0);
        tick_text(tb, ticks[k]);
        hc_draw_text(d, bx + bar_w + tick_len + s, y, HC_TEXT_LEFT | HC_TEXT_MIDDLE, s, INK, tb);
    }
    if (hm->se) {
        /* the key to the dots, under the bar */
        double ky = y0 + grid_h + pad / 2 + m.text_h / 2.0;
        hc_draw_polyline(d, (const double[]){bx + bar_w / 2.0, ky}, 1, fmax(2, fmin(cw, ch) / 6.0), INK, 0);
        hc_draw_text(d, bx + bar_w + s, ky, HC_TEXT_LEFT | HC_TEXT_MIDDLE, s, INK,
                     fits(buf, "> 2 SE", right - bar_gap - bar_w - s, &m));
    }
    if (has_text(hm->cbar_label))
        hc_draw_text(d, bx + bar_w + tick_len + s + tick_w + pad, y0 + grid_h / 2.0,
                     HC_TEXT_LEFT | HC_TEXT_MIDDLE | HC_TEXT_VERTICAL, s, INK,
                     fits(buf, hm->cbar_label, grid_h, &m));
    hc_draw_end(d);

    if (hc_draw_ok(d) != 0) {
        hc_draw_free(d);
        return -1;
    }
    if (geom)
        *geom = (hc_heatmap_geom){.x = x0, .y = y0, .cell_w = cw, .cell_h = ch, .rows = R,
                                  .cols = C, .vmax = vmax, .own_vmax = own_vmax};
    *out = d;
    return 0;
}

int hc_heatmap_cell_at(const hc_heatmap_geom *g, int px, int py, int *row, int *col)
{
    if (g->cell_w < 1 || g->cell_h < 1 || px < g->x || py < g->y)
        return 0;
    int c = (px - g->x) / g->cell_w, r = (py - g->y) / g->cell_h;
    if (r >= g->rows || c >= g->cols)
        return 0;
    *row = r;
    *col = c;
    return 1;
}

/* ---------------------------------------------------------------- curves */

static double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

static double px_x(const hc_curves_geom *g, double p) { return g->x + (p - g->x_lo) / (g->x_hi - g->x_lo) * g->w; }
static double px_y(const hc_curves_geom *g, double a) { return g->y + (1 - a) * g->h; }

/* A bin is drawn in full when its accuracy is defined and it holds
 * enough predictions to mean something. */
static int solid(const hc_curves *cv, const hc_series *sr, int i)
{
    return isfinite(sr->acc[i]) && (!sr->count || sr->count[i] >= cv->min_count);
}

/* The end of the run of solid bins from i on. */
static int run_end(const hc_curves *cv, const hc_series *sr, int i)
{
    while (i < cv->n_bins && solid(cv, sr, i))
        i++;
    return i;
}

static hc_rgb faded(hc_rgb c)
{
    return (hc_rgb){(uint8_t)(c.r + (255 - c.r) * 0.6), (uint8_t)(c.g + (255 - c.g) * 0.6),
                    (uint8_t)(c.b + (255 - c.b) * 0.6)};
}

static void bands(hc_draw *d, const hc_curves *cv, const hc_curves_geom *g, double *xy, double lw)
{
    const int n = cv->n_bins;
    for (int k = 0; k < cv->n_series; k++) {
        const hc_series *sr = &cv->series[k];
        if (!sr->lo || !sr->hi)
            continue;
        for (int i = 0; i < n;) {
            int e = run_end(cv, sr, i);
            while (e > i && !(isfinite(sr->lo[e - 1]) && isfinite(sr->hi[e - 1])))
                e--;
            if (e == i) {
                i++;
                continue;
            }
            /* Upper edge left to right, lower edge back; a lone bin gets a
             * sliver as wide as the line so that it still shows. */
            int m = 0;
            double widen = e - i == 1 ? lw : 0;
            for (int j = i; j < e; j++) {
                double x = px_x(g, (j + 0.5) / n), y = px_y(g, clamp01(sr->hi[j]));
                xy[2 * m] = x - widen, xy[2 * m++ + 1] = y;
                if (widen > 0)
                    xy[2 * m] = x + widen, xy[2 * m++ + 1] = y;
            }
            for (int j = e - 1; j >= i; j--) {
                double x = px_x(g, (j + 0.5) / n), y = px_y(g, clamp01(sr->lo[j]));
                if (widen > 0)
                    xy[2 * m] = x + widen, xy[2 * m++ + 1] = y;
                xy[2 * m] = x - widen, xy[2 * m++ + 1] = y;
            }
            hc_draw_polygon(d, xy, m, hc_palette(sr->color), 0.2);
            i = e;
        }
    }
}

/* A point (a thin bin's pale dot, a one-bin run) is a round dot this many
 * line widths across. */
#define DOT_LW 2.5

static void lines(hc_draw *d, const hc_curves *cv, const hc_curves_geom *g, double *xy, double lw)
{
    const int n = cv->n_bins;
    for (int k = 0; k < cv->n_series; k++) {
        const hc_series *sr = &cv->series[k];
        hc_rgb col = hc_palette(sr->color);
        for (int i = 0; i < n; i++) /* thin bins: pale dots, off the line */
            if (isfinite(sr->acc[i]) && !solid(cv, sr, i))
                hc_draw_polyline(d, (const double[]){px_x(g, (i + 0.5) / n), px_y(g, sr->acc[i])}, 1, DOT_LW * lw,
                                 faded(col), 0);
        for (int i = 0; i < n;) {
            int e = run_end(cv, sr, i);
            if (e == i) {
                i++;
                continue;
            }
            int m = 0;
            for (int j = i; j < e; j++) {
                xy[2 * m] = px_x(g, (j + 0.5) / n);
                xy[2 * m++ + 1] = px_y(g, sr->acc[j]);
            }
            hc_draw_polyline(d, xy, m, m == 1 ? DOT_LW * lw : lw, col, 0);
            i = e;
        }
    }
}

/* Legend entries side by side in columns of col_w, starting at (x, y). */
static void legend(hc_draw *d, const hc_curves *cv, double x, double y, double col_w, int per_row,
                   const metrics *m, double lw)
{
    const int pad = m->pad, sample = 3 * m->advance;
    char buf[LABEL_MAX];
    hc_draw_group(d, "legend", 0, 0, 0, 0);
    int at = 0;
    for (int k = 0; k < cv->n_series; k++) {
        const hc_series *sr = &cv->series[k];
        if (!has_text(sr->name))
            continue;
        double ex = x + (at % per_row) * col_w, ey = y + (at / per_row) * m->line_h;
        double mid = ey + m->text_h / 2.0;
        hc_draw_line(d, ex, mid, ex + sample, mid, lw, hc_palette(sr->color), 0);
        hc_draw_text(d, ex + sample + pad, ey, HC_TEXT_LEFT | HC_TEXT_TOP, m->s, INK,
                     fits(buf, sr->name, col_w - sample - 2 * pad, m));
        at++;
    }
    hc_draw_end(d);
}

static void count_text(char *buf, size_t n, double v)
{
    if (v >= 1e6)
        snprintf(buf, n, "%gM", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, n, "%gk", v / 1e3);
    else
        snprintf(buf, n, "%g", v);
}

/* Predictions per bin of the first series on a log scale, in the strip
 * hg under the curves; bins under the minimum count pale, the minimum a
 * dashed rule. */
static void histogram(hc_draw *d, const hc_curves *cv, const hc_curves_geom *hg, const metrics *m)
{
    const hc_series *sr = &cv->series[0];
    double top = 1;
    for (int i = 0; i < cv->n_bins; i++)
        top = sr->count[i] > top ? sr->count[i] : top;
    const double decades = ceil(log10(top + 1e-9)) > 1 ? ceil(log10(top + 1e-9)) : 1;
    char buf[32];
    hc_draw_group(d, "histogram", hg->x, hg->y, hg->w, hg->h);
    for (int i = 0; i < cv->n_bins; i++) {
        if (!(sr->count[i] >= 1))
            continue;
        double h = log10(sr->count[i]) / decades * hg->h;
        double x0 = px_x(hg, (double)i / cv->n_bins), x1 = px_x(hg, (i + 1.0) / cv->n_bins);
        /* a count of 1 is log 0: give it a sliver so the bin still shows */
        h = h < 1 ? 1 : h;
        hc_draw_rect(d, x0, hg->y + hg->h - h, x1 - x0, h, sr->count[i] >= cv->min_count ? BAR : BAR_THIN, 1);
    }
    if (cv->min_count > 1) {
        double y = hg->y + hg->h - log10(cv->min_count) / decades * hg->h;
        hc_draw_line(d, hg->x, y, hg->x + hg->w, y, 1, DIAGONAL, 3 * m->s);
    }
    hc_draw_end(d);
    hc_draw_outline(d, hg->x - 0.5, hg->y - 0.5, hg->w + 1, hg->h + 1, 1, FRAME);
    /* ticks at 1 and the top decade (and the middle one when there is room) */
    int step = decades >= 4 && hg->h >= 3 * m->line_h ? (int)(decades / 2) : (int)decades;
    for (int k = 0; k <= decades; k += step) {
        double y = hg->y + hg->h - k / decades * hg->h;
        count_text(buf, sizeof buf, pow(10, k));
        hc_draw_line(d, hg->x - 2 * m->s, y, hg->x, y, 1, FRAME, 0);
        /* the end labels stay inside the strip, clear of the curves' "0" */
        int v = k == 0 ? HC_TEXT_BOTTOM : k + step > decades ? HC_TEXT_TOP : HC_TEXT_MIDDLE;
        hc_draw_text(d, hg->x - 3 * m->s, y, HC_TEXT_RIGHT | v, m->s, INK, buf);
    }
}

int hc_plot_curves(hc_draw **out, const hc_curves *cv, const hc_plot_layout *lay, hc_curves_geom *geom)
{
    *out = NULL;
    metrics m;
    if (open_layout(lay, &m) != 0)
        return -1;
    if (cv->n_bins < 1 || cv->n_bins > MAX_BINS || cv->n_series < 0 || (cv->n_series > 0 && !cv->series))
        return hc_fail(HC_EBAD, "calibration curves with %d bins, %d series out of range", cv->n_bins,
                       cv->n_series);
    for (int k = 0; k < cv->n_series; k++)
        if (!cv->series[k].acc)
            return hc_fail(HC_EBAD, "calibration curve %d has no accuracies", k);
    double x_lo = cv->x_lo, x_hi = cv->x_hi;
    if (!(x_hi > x_lo) || x_lo < 0 || x_hi > 1)
        x_lo = 0, x_hi = 1;
    const int s = m.s, pad = m.pad, tick_len = 2 * s;
    char buf[LABEL_MAX];

    /* The legend: beside the plot when it takes at most a third of the
     * width, else in rows below it; never over the data. */
    int named = 0, name_w = 0;
    for (int k = 0; k < cv->n_series; k++)
        if (has_text(cv->series[k].name)) {
            named++;
            int w = hc_text_width(cv->series[k].name, s);
            name_w = w > name_w ? w : name_w;
        }
    const double entry_w = 3 * m.advance + 2 * pad + name_w;
    const int beside = named > 0 && entry_w + 2 * pad <= lay->width / 3.0;
    int per_row = 1, legend_rows = 0;
    double col_w = entry_w;
    if (named > 0 && !beside) {
        per_row = (int)((lay->width - 2 * pad) / entry_w);
        per_row = per_row < 1 ? 1 : per_row > named ? named : per_row;
        col_w = (lay->width - 2.0 * pad) / per_row;
        legend_rows = (named + per_row - 1) / per_row;
        /* at most a quarter of the height; the rest is cut with the names */
        int most = (int)(lay->height / 4 / m.line_h);
        if (legend_rows > most) {
            per_row = (named + (most > 0 ? most : 1) - 1) / (most > 0 ? most : 1);
            col_w = (lay->width - 2.0 * pad) / per_row;
            legend_rows = (named + per_row - 1) / per_row;
        }
    }

    int has_counts = cv->histogram && cv->n_series > 0 && cv->series[0].count;
    const int ytick_w = hc_text_width(has_counts ? "100k" : "0.8", s);
    const int left = pad + (has_text(cv->y_label) ? m.text_h + pad : 0) + ytick_w + s + tick_len;
    const int bottom = tick_len + s + m.text_h + pad + (has_text(cv->x_label) ? m.text_h + pad : 0) +
                       legend_rows * m.line_h;
    const int right = beside ? (int)(entry_w + 2 * pad) : 2 * pad;

    hc_draw *d;
    if (hc_draw_new(&d, lay->width, lay->height, WHITE) != 0)
        return -1;
    int top = title_block(d, cv->title, &m);
    top = top > pad + m.text_h / 2 ? top : pad + m.text_h / 2; /* the "1" tick label */
    double total_h = lay->height - top - bottom;
    double hist_h = has_counts ? fmax(2.5 * m.line_h, 0.2 * total_h) : 0;
    if (has_counts && total_h - hist_h - pad < 4 * m.line_h)
        has_counts = 0, hist_h = 0; /* too small for both: the curves only */
    hc_curves_geom g = {left, top, lay->width - left - right, total_h - (has_counts ? hist_h + pad : 0), x_lo, x_hi};
    if (g.w < 16 || g.h < 16) {
        hc_draw_free(d);
        return hc_fail(HC_EBAD, "plot size %dx%d too small for calibration curves", lay->width, lay->height);
    }
    hc_curves_geom hg = {g.x, g.y + g.h + pad, g.w, hist_h, x_lo, x_hi};
    double *xy = hc_malloc(((size_t)cv->n_bins * 4 + 4) * sizeof *xy);
    if (!xy) {
        hc_draw_free(d);
        return -1;
    }

    /* Grid and ticks on whole pixels (+0.5 centres a 1-pixel line). */
    const double x_axis = has_counts ? hg.y + hg.h : g.y + g.h;
    const int fine = g.h >= 6 * m.line_h;
    const double ystep = fine ? 0.2 : 0.5;
    const double xstep = round_step(x_hi - x_lo, (int)fmax(2, fmin(10, g.w / (3.0 * hc_text_width("0.88", s)))), 0);
    hc_draw_group(d, "axes", 0, 0, 0, 0);
    for (double t = ceil(x_lo / xstep - 1e-9) * xstep; t <= x_hi + 1e-9; t += xstep) {
        double x = round(px_x(&g, t)) + 0.5;
        if (t > x_lo + 1e-9 && t < x_hi - 1e-9)
            hc_draw_line(d, x, g.y, x, g.y + g.h, 1, GRID, 0);
        hc_draw_line(d, x, x_axis, x, x_axis + tick_len, 1, FRAME, 0);
        snprintf(buf, sizeof buf, "%.3g", fabs(t) < 1e-12 ? 0.0 : t);
        hc_draw_text(d, x, x_axis + tick_len + s, HC_TEXT_CENTER | HC_TEXT_TOP, s, INK, buf);
    }
    for (double t = 0; t <= 1 + 1e-9; t += ystep) {
        double y = round(px_y(&g, t)) - 0.5;
        if (t > 1e-9 && t < 1 - 1e-9)
            hc_draw_line(d, g.x, y, g.x + g.w, y, 1, GRID, 0);
        hc_draw_line(d, g.x - tick_len, y, g.x, y, 1, FRAME, 0);
        snprintf(buf, sizeof buf, "%g", round(t * 10) / 10);
        hc_draw_text(d, g.x - tick_len - s, y, HC_TEXT_RIGHT | HC_TEXT_MIDDLE, s, INK, buf);
    }
    hc_draw_outline(d, g.x - 0.5, g.y - 0.5, g.w + 1, g.h + 1, 1, FRAME);
    if (has_text(cv->x_label))
        hc_draw_text(d, g.x + g.w / 2, x_axis + tick_len + s + m.text_h + pad, HC_TEXT_CENTER | HC_TEXT_TOP, s, INK,
                     fits(buf, cv->x_label, g.w, &m));
    if (has_text(cv->y_label))
        hc_draw_text(d, pad, g.y + g.h / 2, HC_TEXT_LEFT | HC_TEXT_MIDDLE | HC_TEXT_VERTICAL, s, INK,
                     fits(buf, cv->y_label, g.h, &m));
    if (has_counts && has_text(cv->y_label) && hg.h >= hc_text_width("count", s))
        hc_draw_text(d, pad, hg.y + hg.h / 2, HC_TEXT_LEFT | HC_TEXT_MIDDLE | HC_TEXT_VERTICAL, s, INK, "count");
    hc_draw_end(d);
    if (has_counts)
        histogram(d, cv, &hg, &m);

    const double lw = 1.5 * s;
    hc_draw_group(d, "diagonal", g.x, g.y, g.w, g.h);
    hc_draw_line(d, px_x(&g, 0), px_y(&g, 0), px_x(&g, 1), px_y(&g, 1), s, DIAGONAL, 4 * s);
    hc_draw_end(d);
    hc_draw_group(d, "bands", g.x, g.y, g.w, g.h);
    bands(d, cv, &g, xy, lw);
    hc_draw_end(d);
    /* room for a whole dot at accuracy 0 or 1 */
    const double r = DOT_LW * lw / 2;
    hc_draw_group(d, "lines", g.x - r, g.y - r, g.w + 2 * r, g.h + 2 * r);
    lines(d, cv, &g, xy, lw);
    hc_draw_end(d);
    if (beside)
        legend(d, cv, g.x + g.w + 2 * pad, g.y, entry_w, 1, &m, lw);
    else if (named)
        legend(d, cv, pad, lay->height - legend_rows * m.line_h - pad / 2.0, col_w, per_row, &m, lw);
    free(xy);

    if (hc_draw_ok(d) != 0) {
        hc_draw_free(d);
        return -1;
    }
    if (geom)
        *geom = g;
    *out = d;
    return 0;
}
