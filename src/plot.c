#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/colormap.h"
#include "headcal/error.h"
#include "headcal/plot.h"

static const hc_rgb WHITE = {255, 255, 255}, INK = {30, 30, 30}, FRAME = {90, 90, 90},
                    GRID = {228, 228, 228}, DIAGONAL = {120, 120, 120};

enum { MAX_SIDE = 16384, MAX_CELLS = 1 << 20, MAX_BINS = 1 << 16, LABEL_MAX = 256 };

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

/* Copies len bytes of s into buf, newlines as spaces, shortened with "..."
 * to fit max_px; "" when not even that fits. */
static const char *fit(char buf[LABEL_MAX], const char *s, size_t len, double max_px,
                       const metrics *m)
{
    size_t max_chars = max_px > 0 ? (size_t)((max_px + m->s) / m->advance) : 0;
    if (max_chars > LABEL_MAX - 1)
        max_chars = LABEL_MAX - 1;
    size_t n = len;
    if (n > max_chars)
        n = max_chars >= 4 ? max_chars - 3 : 0;
    for (size_t i = 0; i < n; i++)
        buf[i] = s[i] == '\n' ? ' ' : s[i];
    if (n < len && n > 0)
        memcpy(buf + n, "...", 3), n += 3;
    buf[n] = 0;
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

/* Colour bar ticks from the top: vmax, vmax/2, 0 and (unclipped) the
 * negatives; the halves go when the bar is short. */
static int bar_ticks(const hc_heatmap *hm, double vmax, int room_for_five, double t[5])
{
    int n = 0;
    t[n++] = vmax;
    if (room_for_five)
        t[n++] = vmax / 2;
    t[n++] = 0;
    if (!hm->clip_negative) {
        if (room_for_five)
            t[n++] = -vmax / 2;
        t[n++] = -vmax;
    }
    return n;
}

static void tick_text(char buf[LABEL_MAX], double v)
{
    snprintf(buf, LABEL_MAX, "%.3g", v == 0 ? 0.0 : v); /* no "-0" */
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

    double vmax = hm->vmax;
    if (!isfinite(vmax) || !(vmax > 0)) {
        vmax = 0;
        for (int i = 0; i < R * C; i++) {
            double v = shown(hm, hm->values[i]);
            if (isfinite(v) && fabs(v) > vmax)
                vmax = fabs(v);
        }
        if (!(vmax > 0))
            vmax = 1;
    }
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
    double ticks[5];
    int nt = bar_ticks(hm, vmax, 1, ticks);
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
        for (int c = 0; c < C; c++)
            hc_draw_rect(d, x0 + c * cw, y0 + r * ch, cw, ch,
                         hc_colormap(shown(hm, hm->values[r * C + c]), vmax), 1);
    hc_draw_end(d);
    hc_draw_group(d, "frame", 0, 0, 0, 0);
    hc_draw_outline(d, x0, y0, grid_w, grid_h, 1, FRAME);
    hc_draw_end(d);

    hc_draw_group(d, "marks", 0, 0, 0, 0);
    const double lw = fmax(1, round((cw < ch ? cw : ch) / 8.0));
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++)
            if (hm->selected && hm->selected[r * C + c])
                hc_draw_outline(d, x0 + c * cw + lw / 2, y0 + r * ch + lw / 2, cw - lw, ch - lw,
                                lw, INK);
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
    nt = bar_ticks(hm, vmax, grid_h >= 5 * m.line_h, ticks);
    for (int k = 0; k < nt; k++) {
        double y = y0 + (vmax - ticks[k]) / (vmax - lo) * grid_h;
        hc_draw_line(d, bx + bar_w, y, bx + bar_w + tick_len, y, 1, FRAME, 0);
        tick_text(tb, ticks[k]);
        hc_draw_text(d, bx + bar_w + tick_len + s, y, HC_TEXT_LEFT | HC_TEXT_MIDDLE, s, INK, tb);
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
                                  .cols = C, .vmax = vmax};
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

/* The end of the run from i on where every given array is finite. */
static int run_end(const double *a, const double *b, const double *c, int i, int n)
{
    while (i < n && isfinite(a[i]) && (!b || isfinite(b[i])) && (!c || isfinite(c[i])))
        i++;
    return i;
}

static void bands(hc_draw *d, const hc_curves *cv, const hc_curves_geom *g, double *xy,
                  double lw)
{
    const int n = cv->n_bins;
    for (int k = 0; k < cv->n_series; k++) {
        const hc_series *sr = &cv->series[k];
        if (!sr->lo || !sr->hi)
            continue;
        for (int i = 0; i < n;) {
            int e = run_end(sr->acc, sr->lo, sr->hi, i, n);
            if (e == i) {
                i++;
                continue;
            }
            /* Upper edge left to right, lower edge back; a lone bin gets a
             * sliver as wide as the line so that it still shows. */
            int m = 0;
            double widen = e - i == 1 ? lw : 0;
            for (int j = i; j < e; j++) {
                double x = g->x + (j + 0.5) / n * g->w;
                xy[2 * m] = x - widen;
                xy[2 * m++ + 1] = g->y + (1 - sr->hi[j]) * g->h;
                if (widen > 0) {
                    xy[2 * m] = x + widen;
                    xy[2 * m++ + 1] = g->y + (1 - sr->hi[j]) * g->h;
                }
            }
            for (int j = e - 1; j >= i; j--) {
                double x = g->x + (j + 0.5) / n * g->w;
                if (widen > 0) {
                    xy[2 * m] = x + widen;
                    xy[2 * m++ + 1] = g->y + (1 - sr->lo[j]) * g->h;
                }
                xy[2 * m] = x - widen;
                xy[2 * m++ + 1] = g->y + (1 - sr->lo[j]) * g->h;
            }
            hc_draw_polygon(d, xy, m, hc_palette(sr->color), 0.2);
            i = e;
        }
    }
}

static void lines(hc_draw *d, const hc_curves *cv, const hc_curves_geom *g, double *xy,
                  double lw)
{
    const int n = cv->n_bins;
    for (int k = 0; k < cv->n_series; k++) {
        const hc_series *sr = &cv->series[k];
        for (int i = 0; i < n;) {
            int e = run_end(sr->acc, NULL, NULL, i, n);
            if (e == i) {
                i++;
                continue;
            }
            int m = 0;
            for (int j = i; j < e; j++) {
                xy[2 * m] = g->x + (j + 0.5) / n * g->w;
                xy[2 * m++ + 1] = g->y + (1 - sr->acc[j]) * g->h;
            }
            if (m == 1) { /* a lone bin: a dot (SVG draws no 1-point line) */
                xy[2] = xy[0];
                xy[3] = xy[1];
                m = 2;
            }
            hc_draw_polyline(d, xy, m, lw, hc_palette(sr->color));
            i = e;
        }
    }
}

static void legend(hc_draw *d, const hc_curves *cv, const hc_curves_geom *g, const metrics *m,
                   double lw)
{
    int named = 0, name_w = 0;
    for (int k = 0; k < cv->n_series; k++)
        if (has_text(cv->series[k].name)) {
            named++;
            int w = hc_text_width(cv->series[k].name, m->s);
            name_w = w > name_w ? w : name_w;
        }
    const int pad = m->pad, sample = 3 * m->advance;
    int rows = (int)((g->h - 4 * pad) / m->line_h);
    if (named == 0 || rows < 1)
        return;
    if (rows > named)
        rows = named;
    double box_w = fmin(pad + sample + pad + name_w + pad, g->w - 2 * pad);
    double text_w = box_w - (pad + sample + pad + pad);
    if (text_w < m->advance)
        return;
    double bx = g->x + pad, by = g->y + pad, box_h = rows * m->line_h + 2 * pad - 2 * m->s;
    hc_draw_group(d, "legend", 0, 0, 0, 0);
    hc_draw_rect(d, bx, by, box_w, box_h, WHITE, 0.85);
    hc_draw_outline(d, bx, by, box_w, box_h, 1, GRID);
    char buf[LABEL_MAX];
    int row = 0;
    for (int k = 0; k < cv->n_series && row < rows; k++) {
        const hc_series *sr = &cv->series[k];
        if (!has_text(sr->name))
            continue;
        double y = by + pad + row * m->line_h, mid = y + m->text_h / 2.0 - m->s;
        if (row == rows - 1 && named > rows) {
            char more[32];
            snprintf(more, sizeof more, "+%d more", named - row);
            hc_draw_text(d, bx + pad, y, HC_TEXT_LEFT | HC_TEXT_TOP, m->s, INK,
                         fits(buf, more, box_w - 2 * pad, m));
            break;
        }
        hc_draw_line(d, bx + pad, mid, bx + pad + sample, mid, lw, hc_palette(sr->color), 0);
        hc_draw_text(d, bx + pad + sample + pad, y, HC_TEXT_LEFT | HC_TEXT_TOP, m->s, INK,
                     fits(buf, sr->name, text_w, m));
        row++;
    }
    hc_draw_end(d);
}

int hc_plot_curves(hc_draw **out, const hc_curves *cv, const hc_plot_layout *lay,
                   hc_curves_geom *geom)
{
    *out = NULL;
    metrics m;
    if (open_layout(lay, &m) != 0)
        return -1;
    if (cv->n_bins < 1 || cv->n_bins > MAX_BINS || cv->n_series < 0 ||
        (cv->n_series > 0 && !cv->series))
        return hc_fail(HC_EBAD, "calibration curves with %d bins, %d series out of range",
                       cv->n_bins, cv->n_series);
    for (int k = 0; k < cv->n_series; k++)
        if (!cv->series[k].acc)
            return hc_fail(HC_EBAD, "calibration curve %d has no accuracies", k);
    const int s = m.s, pad = m.pad, tick_len = 2 * s;
    char buf[LABEL_MAX];

    const int left = pad + (has_text(cv->y_label) ? m.text_h + pad : 0) +
                     hc_text_width("0.8", s) + s + tick_len;
    const int bottom = tick_len + s + m.text_h + pad + (has_text(cv->x_label) ? m.text_h + pad : 0);
    const int right = 2 * pad;

    hc_draw *d;
    if (hc_draw_new(&d, lay->width, lay->height, WHITE) != 0)
        return -1;
    int top = title_block(d, cv->title, &m);
    top = top > pad + m.text_h / 2 ? top : pad + m.text_h / 2; /* the "1" tick label */
    hc_curves_geom g = {left, top, lay->width - left - right, lay->height - top - bottom};
    if (g.w < 16 || g.h < 16) {
        hc_draw_free(d);
        return hc_fail(HC_EBAD, "plot size %dx%d too small for calibration curves", lay->width,
                       lay->height);
    }
    double *xy = hc_malloc(((size_t)cv->n_bins * 4 + 4) * sizeof *xy);
    if (!xy) {
        hc_draw_free(d);
        return -1;
    }

    /* Grid and ticks on whole pixels (+0.5 centres a 1-pixel line). */
    const int fine = g.h >= 6 * m.line_h && g.w >= 6 * hc_text_width("0.8  ", s);
    const int nt = fine ? 5 : 2;
    hc_draw_group(d, "axes", 0, 0, 0, 0);
    for (int k = 0; k <= nt; k++) {
        double t = (double)k / nt;
        double x = round(g.x + t * g.w) + 0.5, y = round(g.y + (1 - t) * g.h) - 0.5;
        snprintf(buf, sizeof buf, "%g", t);
        if (k > 0 && k < nt) {
            hc_draw_line(d, x, g.y, x, g.y + g.h, 1, GRID, 0);
            hc_draw_line(d, g.x, y, g.x + g.w, y, 1, GRID, 0);
        }
        hc_draw_line(d, x, g.y + g.h, x, g.y + g.h + tick_len, 1, FRAME, 0);
        hc_draw_line(d, g.x - tick_len, y, g.x, y, 1, FRAME, 0);
        hc_draw_text(d, x, g.y + g.h + tick_len + s, HC_TEXT_CENTER | HC_TEXT_TOP, s, INK, buf);
        hc_draw_text(d, g.x - tick_len - s, y, HC_TEXT_RIGHT | HC_TEXT_MIDDLE, s, INK, buf);
    }
    hc_draw_outline(d, g.x - 0.5, g.y - 0.5, g.w + 1, g.h + 1, 1, FRAME);
    if (has_text(cv->x_label))
        hc_draw_text(d, g.x + g.w / 2, g.y + g.h + tick_len + s + m.text_h + pad,
                     HC_TEXT_CENTER | HC_TEXT_TOP, s, INK, fits(buf, cv->x_label, g.w, &m));
    if (has_text(cv->y_label))
        hc_draw_text(d, pad, g.y + g.h / 2, HC_TEXT_LEFT | HC_TEXT_MIDDLE | HC_TEXT_VERTICAL, s,
                     INK, fits(buf, cv->y_label, g.h, &m));
    hc_draw_end(d);

    const double lw = 1.5 * s;
    hc_draw_group(d, "diagonal", g.x, g.y, g.w, g.h);
    hc_draw_line(d, g.x, g.y + g.h, g.x + g.w, g.y, s, DIAGONAL, 4 * s);
    hc_draw_end(d);
    hc_draw_group(d, "bands", g.x, g.y, g.w, g.h);
    bands(d, cv, &g, xy, lw);
    hc_draw_end(d);
    hc_draw_group(d, "lines", g.x, g.y, g.w, g.h);
    lines(d, cv, &g, xy, lw);
    hc_draw_end(d);
    legend(d, cv, &g, &m, lw);
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
