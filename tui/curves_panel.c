#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphics.h"
#include "headcal/colormap.h"
#include "headcal/error.h"
#include "headcal/imgout.h"
#include "ui.h"

enum { YLAB_W = 5, HIST_ROWS = 3, LEGEND_W = 30 };

static const hc_rgb WHITE = {255, 255, 255}, RULE = {225, 225, 225}, FRAME = {120, 120, 120},
                    DIAG = {150, 150, 150};

int ui_color_of(ui *u, int v)
{
    /* the baseline is the notebook's teal; the others take the next free
     * colour on first sight and keep it for the session */
    const int others = hc_palette_size() - 1, cap = (int)(sizeof u->color_var / sizeof u->color_var[0]);
    if (v == hc_results_baseline(u->r))
        return 0;
    for (int i = 0; i < u->n_colors; i++)
        if (u->color_var[i] == v)
            return i % others + 1;
    if (u->n_colors == cap)
        return v % others + 1;
    u->color_var[u->n_colors++] = v;
    return (u->n_colors - 1) % others + 1;
}

/* Without colours the series are told apart by their strokes: the
 * legend's k-th solid, dashed, dotted, long-dashed, in turn (dash lengths
 * in the half-block canvas's pixels, two to a cell's height). */
static const struct {
    double dash;
    const char *mark;
} mono_stroke[] = {{0, "\u2501\u2501"}, {4, "\u254d\u254d"}, {1.5, "\u2505\u2505"}, {8, "\u2501 "}};
enum { MONO_STROKES = sizeof mono_stroke / sizeof mono_stroke[0] };

static int hidden(const ui *u, int v)
{
    for (int i = 0; i < u->n_hidden; i++)
        if (u->hidden[i] == v)
            return 1;
    return 0;
}

/* The series of the legend (hidden ones too) and which are drawn. */
static int legend_series(const ui *u, int *all, int *shown, int *n_shown)
{
    int n = ui_series(u, all, UI_MAX_SERIES);
    *n_shown = 0;
    for (int i = 0; i < n; i++)
        if (!hidden(u, all[i]))
            shown[(*n_shown)++] = all[i];
    return n;
}

int curves_panel_key(ui *u, int ch)
{
    if (ch == 'z') {
        u->zoom = !u->zoom;
        snprintf(u->msg, sizeof u->msg, u->zoom ? "curves: zoomed to the busy confidences (z: whole axis)"
                                                 : "curves: whole confidence axis");
        return 1;
    }
    if (ch < '1' || ch > '9')
        return 0;
    int all[UI_MAX_SERIES], shown[UI_MAX_SERIES], n_shown, n = legend_series(u, all, shown, &n_shown);
    int k = ch - '1';
    if (k >= n) {
        snprintf(u->msg, sizeof u->msg, "no series %c in the legend", ch);
        return 1;
    }
    for (int i = 0; i < u->n_hidden; i++)
        if (u->hidden[i] == all[k]) {
            u->hidden[i] = u->hidden[--u->n_hidden];
            snprintf(u->msg, sizeof u->msg, "%s shown", u->r->variants[all[k]].id);
            return 1;
        }
    if (u->n_hidden < UI_MAX_SERIES)
        u->hidden[u->n_hidden++] = all[k];
    snprintf(u->msg, sizeof u->msg, "%s hidden (%c shows it again)", u->r->variants[all[k]].id, ch);
    return 1;
}

/* The confidence range shown: all of it, or where the baseline's
 * predictions are. */
static void x_range(ui *u, double *lo, double *hi)
{
    *lo = 0, *hi = 1;
    int b = hc_results_baseline(u->r);
    if (u->zoom && b >= 0 && hc_curves_busy_range(u->r, b, u->o->min_count, lo, hi))
        *lo = 0, *hi = 1;
}

/* The legend: "1 ━━ baseline OC -0.1702", hidden entries dim. */
static void legend(ui *u, const int *all, int n, int y, int x, int w, int per_row, int max_rows)
{
    int col_w = w / per_row;
    for (int i = 0; i < n && i / per_row < max_rows; i++) {
        hc_metrics m;
        char line[256];
        double oc = hc_results_metrics(u->r, all[i], &m) ? NAN : m.value[HC_OC];
        int ey = y + i / per_row, ex = x + (i % per_row) * col_w, off = hidden(u, all[i]);
        hc_rgb c = gfx_ink(hc_palette(ui_color_of(u, all[i])));
        snprintf(line, sizeof line, "%d", i + 1);
        ui_text(ey, ex, 2, line);
        if (!off && gfx_mode() != GFX_MONO)
            gfx_color(c, WHITE);
        const char *mark = gfx_mode() == GFX_MONO ? mono_stroke[i % MONO_STROKES].mark : "\u2501\u2501";
        ui_text(ey, ex + 2, 2, off ? "  " : mark);
        gfx_default();
        snprintf(line, sizeof line, " %s OC %.4f%s", u->r->variants[all[i]].id, oc, off ? " (hidden)" : "");
        if (off)
            attron(A_DIM);
        ui_text(ey, ex + 4, col_w - 5, line);
        attroff(A_DIM);
    }
}

/* Polyline points of vals over bins [b0, b1). */
static int points(const double *vals, int b0, int b1, int bins, double x0, double xw, double gy, double gh,
                  double lo, double hi, double *xy)
{
    int n = 0;
    for (int b = b0; b < b1; b++, n++) {
        xy[2 * n] = x0 + (hc_bin_centre(b, bins) - lo) / (hi - lo) * xw;
        xy[2 * n + 1] = gy + (1 - vals[b]) * gh;
    }
    return n;
}

/* The curves at the terminal's own resolution: the data (bands, lines,
 * diagonal) on a canvas of half-block pixels, a histogram of the
 * baseline's predictions in block characters under it, the words in the
 * terminal's font around them. */
static void draw_text_mode(ui *u, rect r, const int *all, int n_all, const int *v, int n)
{
    int bins = u->r->params.bins;
    double lo, hi;
    x_range(u, &lo, &hi);
    /* the legend beside the plot when it leaves the plot 40 columns, else
     * below it, two or three to a row */
    int beside = r.w - LEGEND_W >= YLAB_W + 40;
    int per_row = beside ? 1 : (r.w >= 3 * LEGEND_W ? 3 : r.w >= 2 * LEGEND_W ? 2 : 1);
    int legend_rows = beside ? 0 : (n_all + per_row - 1) / per_row;
    if (legend_rows > 3)
        legend_rows = 3;
    int hist = r.h >= 16 ? HIST_ROWS : 0;
    int rows = r.h - 2 - legend_rows - hist, cols = r.w - YLAB_W - (beside ? LEGEND_W : 0);
    if (rows < 4 || cols < 8)
        return;
    int top = r.y;
    if (beside)
        legend(u, all, n_all, r.y, r.x + YLAB_W + cols + 1, LEGEND_W - 1, 1, r.h);
    else
        legend(u, all, n_all, r.y + r.h - legend_rows, r.x, r.w, per_row, legend_rows);
    hc_draw *d;
    if (hc_draw_new(&d, cols, 2 * rows, WHITE))
        return;
    double gx = 0.5, gy = 0.5, gw = cols - 1.0, gh = 2 * rows - 1.0;
    for (int k = 1; k < 4; k++) {
        hc_draw_line(d, gx + k * gw / 4, gy, gx + k * gw / 4, gy + gh, 1, RULE, 0);
        hc_draw_line(d, gx, gy + k * gh / 4, gx + gw, gy + k * gh / 4, 1, RULE, 0);
    }
    hc_draw_group(d, "plot", 0, 0, cols, 2 * rows);
    hc_draw_line(d, gx + (0 - lo) / (hi - lo) * gw, gy + gh, gx + (1 - lo) / (hi - lo) * gw, gy, 1, DIAG, 3);
    double *buf = hc_malloc((size_t)bins * 4 * sizeof *buf), *xy = hc_malloc((size_t)bins * 4 * sizeof *xy);
    double *hist_count = hc_calloc((size_t)bins, sizeof *hist_count);
    for (int i = 0; i < n && buf && xy && hist_count; i++) {
        double *acc = buf, *blo = acc + bins, *bhi = blo + bins, *count = bhi + bins;
        if (hc_curve_of(u->r, v[i], acc, blo, bhi, count))
            continue;
        if (v[i] == hc_results_baseline(u->r))
            memcpy(hist_count, count, (size_t)bins * sizeof *count);
        hc_rgb col = hc_palette(ui_color_of(u, v[i]));
        int k = 0; /* its number in the legend */
        while (k < n_all && all[k] != v[i])
            k++;
        const double dash = gfx_mode() == GFX_MONO ? mono_stroke[k % MONO_STROKES].dash : 0;
        for (int b0 = 0; b0 < bins;) {
            /* a thin bin: a pale dot, off the line */
            if (isfinite(acc[b0]) && count[b0] < u->o->min_count) {
                points(acc, b0, b0 + 1, bins, gx, gw, gy, gh, lo, hi, xy);
                const hc_rgb pale = {(uint8_t)(col.r + (255 - col.r) * 0.6), (uint8_t)(col.g + (255 - col.g) * 0.6),
                                     (uint8_t)(col.b + (255 - col.b) * 0.6)};
                hc_draw_polyline(d, xy, 1, 1.5, pale, 0);
            }
            if (!(isfinite(acc[b0]) && count[b0] >= u->o->min_count)) {
                b0++;
                continue;
            }
            int b1 = b0;
            while (b1 < bins && isfinite(acc[b1]) && count[b1] >= u->o->min_count)
                b1++;
            int np = points(bhi, b0, b1, bins, gx, gw, gy, gh, lo, hi, xy);
            double *back = xy + 2 * np;
            for (int b = b1 - 1; b >= b0; b--, back += 2) {
                back[0] = gx + (hc_bin_centre(b, bins) - lo) / (hi - lo) * gw;
                back[1] = gy + (1 - blo[b]) * gh;
            }
            hc_draw_polygon(d, xy, 2 * np, col, 0.2);
            np = points(acc, b0, b1, bins, gx, gw, gy, gh, lo, hi, xy);
            hc_draw_polyline(d, xy, np, 1.2, col, dash);
            b0 = b1;
        }
    }
    hc_draw_end(d);
    hc_draw_outline(d, 0.5, 0.5, cols - 1, 2 * rows - 1, 1, FRAME);
    hc_canvas cv;
    if (!hc_draw_render(d, &cv))
        gfx_blit(&cv, top, r.x + YLAB_W);
    hc_canvas_free(&cv);
    hc_draw_free(d);
    ui_text(top, r.x, YLAB_W, " 1.0");
    ui_text(top + rows / 2, r.x, YLAB_W, " 0.5");
    ui_text(top + rows - 1, r.x, YLAB_W, " 0.0");
    if (hist && hist_count) {
        /* predictions per bin, log scale, in eighth blocks; thin bins dim */
        static const char *const blocks[9] = {" ", "\u2581", "\u2582", "\u2583", "\u2584",
                                              "\u2585", "\u2586", "\u2587", "\u2588"};
        double peak = 1;
        for (int b = 0; b < bins; b++)
            peak = hist_count[b] > peak ? hist_count[b] : peak;
        for (int c = 0; c < cols; c++) {
            double p = lo + (hi - lo) * (c + 0.5) / cols, cnt = hist_count[hc_calib_bin((float)p, bins)];
            int eighths = cnt >= 1 ? (int)lrint((1 + log10(cnt)) / (1 + log10(peak)) * 8 * HIST_ROWS) : 0;
            if (cnt < u->o->min_count)
                attron(A_DIM);
            for (int k = 0; k < HIST_ROWS; k++) {
                int e = eighths - 8 * k;
                ui_text(top + rows + HIST_ROWS - 1 - k, r.x + YLAB_W + c, 1, blocks[e < 0 ? 0 : e > 8 ? 8 : e]);
            }
            attroff(A_DIM);
        }
        ui_text(top + rows, r.x, YLAB_W, "n/bin");
        ui_text(top + rows + HIST_ROWS - 1, r.x, YLAB_W, "log");
    }
    free(hist_count);
    free(buf);
    free(xy);
    char xl[256], a[16], b[16];
    snprintf(a, sizeof a, "%g", lo);
    snprintf(b, sizeof b, "%g", hi);
    snprintf(xl, sizeof xl, "%s%*s%*s", a, cols / 2 - (int)strlen(a) + 2, "confidence", cols - cols / 2 - 2 - 8,
             b);
    ui_text(top + rows + hist, r.x + YLAB_W, cols, xl);
    ui_text(top + rows + hist, r.x, YLAB_W, "acc");
}

int curves_panel_view(ui *u, int *v, int *colors, hc_curves_view *cv)
{
    int all[UI_MAX_SERIES], n;
    legend_series(u, all, v, &n);
    for (int i = 0; i < n; i++)
        colors[i] = ui_color_of(u, v[i]);
    *cv = (hc_curves_view){.min_count = u->o->min_count, .colors = colors};
    x_range(u, &cv->x_lo, &cv->x_hi);
    return n;
}

/* The plot as the renderer draws it for files, encoded once per change;
 * -1 (and why) when the terminal's limits leave too little room. */
static int make_sixel(ui *u, rect r, char *why, size_t why_n)
{
    hc_plot_layout lay;
    if (gfx_image_size(r.w, r.h, 200, 120, &lay.width, &lay.height, why, why_n))
        return -1;
    /* words the size of the terminal's own, whatever the picture's size:
     * a monospace font fills about 0.75 of its cell's height, and the
     * figure's font is 11 px per step of scale */
    long scale = lrint(gfx_get_limits()->cell_h * 0.75 / 11);
    lay.text_scale = scale < 1 ? 1 : scale > 16 ? 16 : (int)scale;
    int colors[UI_MAX_SERIES], v[UI_MAX_SERIES];
    hc_curves_view cvw;
    int n = curves_panel_view(u, v, colors, &cvw);
    char key[1024];
    int at = snprintf(key, sizeof key, "%d:%dx%d:%g", u->version, lay.width, lay.height, cvw.x_lo + 2 * cvw.x_hi);
    for (int i = 0; i < n && at < (int)sizeof key; i++)
        at += snprintf(key + at, sizeof key - (size_t)at, ",%d", v[i]);
    if (u->six && !strcmp(key, u->six_key))
        return 0;
    free(u->six);
    u->six = NULL;
    hc_draw *d = NULL;
    hc_canvas c = {0};
    int rc = hc_report_curves(&d, u->r, v, n, &cvw, &lay) || hc_draw_render(d, &c) ||
             hc_sixel_encode(&c, &u->six, &u->six_len);
    if (!rc)
        snprintf(u->six_key, sizeof u->six_key, "%s", key);
    else
        snprintf(why, why_n, "%s", hc_errmsg());
    hc_canvas_free(&c);
    hc_draw_free(d);
    return rc ? -1 : 0;
}

void curves_panel_draw(ui *u, rect r)
{
    int all[UI_MAX_SERIES], v[UI_MAX_SERIES], n;
    int n_all = legend_series(u, all, v, &n);
    char title[160];
    snprintf(title, sizeof title, "Calibration: top-%d, %d bins, \u00b11\u03c3   z zoom  1-%d hide", u->r->params.top_k,
             u->r->params.bins, n_all < 9 ? n_all : 9);
    attron(A_BOLD);
    ui_text(r.y, r.x, r.w, title);
    attroff(A_BOLD);
    rect body = {r.y + 1, r.x, r.h - 1, r.w};
    char why[256] = "";
    if (u->sixel && !make_sixel(u, (rect){body.y, body.x, body.h - 1, body.w}, why, sizeof why)) {
        gfx_queue_sixel(body.y, body.x, body.h - 1, body.w, u->six, u->six_len);
        /* under the picture, the keys that hide and show its series */
        char keys[1024] = "";
        size_t at = 0;
        for (int i = 0; i < n_all && i < 9 && at < sizeof keys; i++)
            at += (size_t)snprintf(keys + at, sizeof keys - at, "%d %s%s  ", i + 1, u->r->variants[all[i]].id,
                                   hidden(u, all[i]) ? " (hidden)" : "");
        ui_text(r.y + r.h - 1, r.x, r.w, keys);
        return;
    }
    if (u->sixel && strcmp(u->gfx_note, why)) {
        snprintf(u->gfx_note, sizeof u->gfx_note, "%s", why);
        snprintf(u->msg, sizeof u->msg, "curves %s", why);
    }
    draw_text_mode(u, body, all, n_all, v, n);
}
