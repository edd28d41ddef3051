#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphics.h"
#include "headcal/colormap.h"
#include "headcal/imgout.h"
#include "ui.h"

enum { YLAB_W = 5 };

static const hc_rgb WHITE = {255, 255, 255}, RULE = {225, 225, 225}, FRAME = {120, 120, 120},
                    DIAG = {150, 150, 150};

/* Points (x, y) of curve vals over the bins [b0, b1) into xy. */
static int points(const double *vals, int b0, int b1, int bins, double gx, double gy, double gw, double gh,
                  double *xy)
{
    int n = 0;
    for (int b = b0; b < b1; b++, n++) {
        xy[2 * n] = gx + hc_bin_centre(b, bins) * gw;
        xy[2 * n + 1] = gy + (1 - vals[b]) * gh;
    }
    return n;
}

/* The curves at the terminal's own resolution: the data (bands, lines,
 * diagonal) on a canvas of half-block pixels, the words in the terminal's
 * font around it. */
static void draw_text_mode(ui *u, rect r, const int *v, int n)
{
    int bins = u->r->params.bins;
    /* the legend: one line per series */
    for (int i = 0; i < n && i < r.h; i++) {
        hc_metrics m;
        char line[256];
        double oc = hc_results_metrics(u->r, v[i], &m) ? NAN : m.value[HC_OC];
        hc_rgb c = hc_palette(i);
        gfx_color(c, c);
        mvaddstr(r.y + i, r.x + YLAB_W, "  ");
        gfx_default();
        snprintf(line, sizeof line, " %s  OC %.4f", u->r->variants[v[i]].id, oc);
        ui_text(r.y + i, r.x + YLAB_W + 2, r.w - YLAB_W - 2, line);
    }
    int top = r.y + n + 1, rows = r.h - n - 2, cols = r.w - YLAB_W;
    if (rows < 4 || cols < 8)
        return;
    hc_draw *d;
    if (hc_draw_new(&d, cols, 2 * rows, WHITE))
        return;
    double gx = 0.5, gy = 0.5, gw = cols - 1.0, gh = 2 * rows - 1.0;
    for (int k = 1; k < 4; k++) {
        hc_draw_line(d, gx + k * gw / 4, gy, gx + k * gw / 4, gy + gh, 1, RULE, 0);
        hc_draw_line(d, gx, gy + k * gh / 4, gx + gw, gy + k * gh / 4, 1, RULE, 0);
    }
    hc_draw_line(d, gx, gy + gh, gx + gw, gy, 1, DIAG, 3);
    double *buf = malloc((size_t)bins * 3 * sizeof *buf), *xy = malloc((size_t)bins * 4 * sizeof *xy);
    for (int i = 0; i < n && buf && xy; i++) {
        double *acc = buf, *lo = acc + bins, *hi = lo + bins;
        if (hc_curve_of(u->r, v[i], acc, lo, hi, NULL))
            continue;
        /* each run of non-empty bins: its band, then its line */
        for (int b0 = 0; b0 < bins;) {
            if (!isfinite(acc[b0])) {
                b0++;
                continue;
            }
            int b1 = b0;
            while (b1 < bins && isfinite(acc[b1]))
                b1++;
            int k = points(hi, b0, b1, bins, gx, gy, gw, gh, xy);
            double *back = xy + 2 * k;
            for (int b = b1 - 1; b >= b0; b--, back += 2) {
                back[0] = gx + hc_bin_centre(b, bins) * gw;
                back[1] = gy + (1 - lo[b]) * gh;
            }
            hc_draw_polygon(d, xy, 2 * k, hc_palette(i), 0.2);
            k = points(acc, b0, b1, bins, gx, gy, gw, gh, xy);
            hc_draw_polyline(d, xy, k, 1.2, hc_palette(i));
            b0 = b1;
        }
    }
    free(buf);
    free(xy);
    hc_draw_outline(d, 0.5, 0.5, cols - 1, 2 * rows - 1, 1, FRAME);
    hc_canvas cv;
    if (!hc_draw_render(d, &cv))
        gfx_blit(&cv, top, r.x + YLAB_W);
    hc_canvas_free(&cv);
    hc_draw_free(d);
    ui_text(top, r.x, YLAB_W, " 1.0");
    ui_text(top + rows / 2, r.x, YLAB_W, " 0.5");
    ui_text(top + rows - 1, r.x, YLAB_W, " 0.0");
    char xl[256];
    snprintf(xl, sizeof xl, "0%*s%*s", cols / 2 + 1, "0.5", cols - cols / 2 - 3, "1");
    ui_text(top + rows, r.x + YLAB_W, cols, xl);
    ui_text(top - 1, r.x, YLAB_W, "acc");
    ui_text(top + rows, r.x, YLAB_W, "conf");
}

/* The plot as the renderer draws it for files, encoded once per change. */
static void make_sixel(ui *u, rect r, const int *v, int n)
{
    int cw, ch;
    gfx_cell_pixels(&cw, &ch);
    /* sixel rows come in bands of 6 pixels: stay inside the panel */
    hc_plot_layout lay = {.width = r.w * cw, .height = (r.h * ch) / 6 * 6};
    char key[1024];
    int at = snprintf(key, sizeof key, "%d:%dx%d", u->version, lay.width, lay.height);
    for (int i = 0; i < n && at < (int)sizeof key; i++)
        at += snprintf(key + at, sizeof key - (size_t)at, ",%d", v[i]);
    if (u->six && !strcmp(key, u->six_key))
        return;
    free(u->six);
    u->six = NULL;
    hc_draw *d = NULL;
    hc_canvas c = {0};
    if (!hc_report_curves(&d, u->r, v, n, &(hc_curves_view){.min_count = HC_MIN_COUNT_DEFAULT}, &lay) && !hc_draw_render(d, &c) && !hc_sixel_encode(&c, &u->six, &u->six_len))
        snprintf(u->six_key, sizeof u->six_key, "%s", key);
    hc_canvas_free(&c);
    hc_draw_free(d);
}

void curves_panel_draw(ui *u, rect r)
{
    int v[UI_MAX_SERIES], n = ui_series(u, v, UI_MAX_SERIES);
    char title[160];
    snprintf(title, sizeof title, "Calibration: top-%d, %d bins, \u00b11\u03c3 bands", u->r->params.top_k,
             u->r->params.bins);
    attron(A_BOLD);
    ui_text(r.y, r.x, r.w, title);
    attroff(A_BOLD);
    rect body = {r.y + 1, r.x, r.h - 1, r.w};
    if (u->sixel)
        make_sixel(u, body, v, n);
    else
        draw_text_mode(u, body, v, n);
}

void curves_panel_place(ui *u)
{
    if (u->six)
        gfx_place_sixel(u->curves_r.y + 1, u->curves_r.x, u->six, u->six_len);
}
