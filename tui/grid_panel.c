#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphics.h"
#include "headcal/colormap.h"
#include "headcal/imgout.h"
#include "ui.h"

/* Layout inside the rectangle: a title line, the head numbers, one line
 * per layer ("L3  " then the cells), a blank, the colour bar and its
 * values.  In sixel mode the cells and the bar are pictures covering the
 * same character cells, so keys and clicks map to cells alike. */
enum { LABEL_W = 5, TOP = 2, BAR_GAP = 1, BAR_LINES = 2 };

static const hc_rgb BLACK = {0, 0, 0}, WHITE = {255, 255, 255};

int grid_panel_width(const hc_grid *g, int cell_w)
{
    return LABEL_W + g->cols * cell_w;
}

int grid_panel_height(const hc_grid *g)
{
    return TOP + g->rows + BAR_GAP + BAR_LINES;
}

/* Black or white, whichever reads on bg. */
static hc_rgb ink_on(hc_rgb bg)
{
    double lum = 0.299 * bg.r + 0.587 * bg.g + 0.114 * bg.b;
    return lum > 140 ? BLACK : WHITE;
}

static int is_mlp(const ui *u, int col)
{
    return u->grid.has_mlp && col == u->grid.cols - 1;
}

double ui_mlp_vmax(const ui *u)
{
    double m = 0;
    for (int l = 0; u->grid.has_mlp && l < u->grid.rows; l++) {
        double v = fabs(ui_shown(u, l * u->grid.cols + u->grid.cols - 1));
        m = isfinite(v) && v > m ? v : m;
    }
    return m > 0 ? m : 1;
}

static double scale_of(const ui *u, int col)
{
    return is_mlp(u, col) ? ui_mlp_vmax(u) : ui_vmax(u);
}

/* The change is more than two standard errors from zero. */
static int significant(const ui *u, int i)
{
    double v = ui_shown(u, i), se = u->grid.se[i];
    return isfinite(v) && isfinite(se) && fabs(v) > 2 * se;
}

/* Level of v on a seven-step scale, -3 (strong blue) .. 3 (strong red). */
static int level(double v, double vmax)
{
    double t = v / vmax;
    int k = (int)lrint(t * 3);
    return k < -3 ? -3 : k > 3 ? 3 : k;
}

/* A cell's characters and colours in each colour mode.  Colours that the
 * terminal has: the map itself.  Eight colours: blue or red shade
 * characters over white, denser for larger values, never black.  No
 * colours: the sign repeated by magnitude, the strongest in reverse.
 * Marks (cursor brackets, selection *, significance dot, ? for no value)
 * are ink on the cell's background, so the shade around them still says
 * the sign. */
static void cell(const ui *u, int i, int y, int x)
{
    static const char *const shade[4] = {" ", "\u2591", "\u2592", "\u2588"};
    int row = i / u->grid.cols, col = i % u->grid.cols, w = u->cell_w, mode = gfx_mode();
    double vmax = scale_of(u, col), v = ui_shown(u, i);
    int cursor = row == u->cur_row && col == u->cur_col, sel = u->selected[i], known = isfinite(v);
    int k = known ? level(v, vmax) : 0;
    hc_rgb bg = hc_colormap(v, vmax), fg = ink_on(bg), ink = fg;
    if (mode == GFX_8) {
        bg = WHITE;
        ink = BLACK;
        fg = k < 0 ? (hc_rgb){0, 0, 255} : (hc_rgb){255, 0, 0};
    }
    for (int c = 0; c < w; c++) {
        const char *ch = mode == GFX_8 && known ? shade[abs(k)] : " ";
        if (mode == GFX_MONO && known) {
            /* the sign, as many times as the magnitude, centred */
            int n = abs(k), from = (w - n) / 2;
            ch = k == 0 ? (c == w / 2 ? "\u00b7" : " ") : c >= from && c < from + n ? (k < 0 ? "-" : "+") : " ";
        }
        int mark = 1;
        if (cursor && c == 0)
            ch = "[";
        else if (cursor && c == w - 1)
            ch = "]";
        else if (c == w / 2 && sel)
            ch = "*";
        else if (c == w / 2 && significant(u, i) && w >= 3)
            ch = "\u2022";
        else if (c == w / 2 && !known)
            ch = "?";
        else
            mark = 0;
        if (mode == GFX_MONO) {
            gfx_default();
            attron(abs(k) == 3 && !mark ? A_REVERSE : A_NORMAL);
        } else {
            gfx_color(mark ? ink : fg, bg);
        }
        /* xterm shows bold black in eight colours as grey (boldColors):
         * there the brackets alone mark the cursor */
        attron(cursor && mode != GFX_8 ? A_BOLD : A_NORMAL);
        ui_text(y, x + c, 1, ch);
        attroff(A_REVERSE | A_BOLD);
    }
}

static void fmt_value(char *buf, size_t n, double v)
{
    snprintf(buf, n, fabs(v) >= 1e-3 || v == 0 ? "%+.4f" : "%+.2e", v);
}

/* The cells as one picture: each head a block of cell_w x 1 character
 * cells in the map's true colours, the cursor a black-and-white ring,
 * selected heads a folded corner, significant ones a dot. */
static void grid_picture(ui *u, int px_w, int px_h)
{
    const hc_grid *g = &u->grid;
    char key[256];
    snprintf(key, sizeof key, "%d:%d:%d:%d:%dx%d:%d,%d", u->version, u->metric, u->clip, g->cols, px_w, px_h,
             u->cur_row, u->cur_col);
    unsigned long sel_hash = 5381;
    for (int i = 0; i < g->rows * g->cols; i++)
        sel_hash = sel_hash * 33 + u->selected[i];
    snprintf(key + strlen(key), sizeof key - strlen(key), ":%lx", sel_hash);
    if (u->grid_six && !strcmp(key, u->grid_six_key))
        return;
    free(u->grid_six);
    u->grid_six = NULL;
    const gfx_limits *lim = gfx_get_limits();
    double cw = (double)px_w / g->cols, ch = lim->cell_h;
    hc_draw *d;
    if (hc_draw_new(&d, px_w, px_h, WHITE))
        return;
    for (int i = 0; i < g->rows * g->cols; i++) {
        int r = i / g->cols, c = i % g->cols;
        double x = c * cw, y = r * ch, m = fmax(1, round(fmin(cw, ch) / 10));
        hc_rgb bg = hc_colormap(ui_shown(u, i), scale_of(u, c));
        hc_draw_rect(d, x, y, cw, ch, bg, 1);
        if (significant(u, i))
            hc_draw_polyline(d, (const double[]){x + cw / 2, y + ch / 2}, 1, fmax(3, ch / 4), ink_on(bg), 0);
        if (r == u->cur_row && c == u->cur_col) {
            hc_draw_outline(d, x + m, y + m, cw - 2 * m, ch - 2 * m, 2 * m, BLACK);
            hc_draw_outline(d, x + 2.5 * m, y + 2.5 * m, cw - 5 * m, ch - 5 * m, m, WHITE);
        }
        if (u->selected[i]) {
            /* a folded corner, black edged in white: reads on any colour
             * and leaves the cell's colour and the cursor ring alone */
            double k = fmin(cw, ch) * 0.55;
            hc_draw_polygon(d, (const double[]){x, y, x + k + 2 * m, y, x, y + k + 2 * m}, 3, WHITE, 1);
            hc_draw_polygon(d, (const double[]){x, y, x + k, y, x, y + k}, 3, BLACK, 1);
        }
    }
    if (g->has_mlp) /* a white rule before the column on its own scale */
        hc_draw_line(d, (g->cols - 1) * cw, 0, (g->cols - 1) * cw, px_h, 2, WHITE, 0);
    hc_canvas cv;
    if (!hc_draw_render(d, &cv) && !hc_sixel_encode(&cv, &u->grid_six, &u->grid_six_len))
        snprintf(u->grid_six_key, sizeof u->grid_six_key, "%s", key);
    hc_canvas_free(&cv);
    hc_draw_free(d);
}

static void bar_picture(ui *u, int px_w, int px_h, double lo, double vmax)
{
    free(u->bar_six);
    u->bar_six = NULL;
    hc_draw *d;
    if (hc_draw_new(&d, px_w, px_h, WHITE))
        return;
    for (int x = 0; x < px_w; x++)
        hc_draw_rect(d, x, 0, 1, px_h, hc_colormap(lo + (vmax - lo) * (x + 0.5) / px_w, vmax), 1);
    hc_canvas cv;
    if (!hc_draw_render(d, &cv))
        hc_sixel_encode(&cv, &u->bar_six, &u->bar_six_len);
    hc_canvas_free(&cv);
    hc_draw_free(d);
}

/* Pictures of the cells and the bar when sixel is on and they fit;
 * 1 if they will be shown. */
static int pictures(ui *u, int bw, double lo, double vmax)
{
    const hc_grid *g = &u->grid;
    int w, h, bpw, bph;
    char why[200];
    if (!u->sixel)
        return 0;
    if (gfx_image_size(g->cols * u->cell_w, g->rows, g->cols, g->rows, &w, &h, why, sizeof why) ||
        gfx_image_size(bw, 1, 8, 6, &bpw, &bph, why, sizeof why)) {
        if (strcmp(u->gfx_note, why)) {
            snprintf(u->gfx_note, sizeof u->gfx_note, "%s", why);
            snprintf(u->msg, sizeof u->msg, "heatmap %s", why);
        }
        return 0;
    }
    /* each head keeps exactly its character cells, so that clicks and
     * keys land alike; only the last row may lose the few pixels that the
     * 6-pixel sixel bands cut off */
    const gfx_limits *lim = gfx_get_limits();
    if (w != g->cols * u->cell_w * lim->cell_w || h < g->rows * lim->cell_h - 5) {
        snprintf(why, sizeof why, "as text: it needs %dx%d px, past the sixel limit %dx%d",
                 g->cols * u->cell_w * lim->cell_w, g->rows * lim->cell_h, lim->max_w, lim->max_h);
        if (strcmp(u->gfx_note, why)) {
            snprintf(u->gfx_note, sizeof u->gfx_note, "%s", why);
            snprintf(u->msg, sizeof u->msg, "heatmap %s", why);
        }
        return 0;
    }
    grid_picture(u, w, h);
    bar_picture(u, bpw, bph, lo, vmax);
    if (!u->grid_six || !u->bar_six)
        return 0;
    gfx_queue_sixel(u->cells_y, u->cells_x, g->rows, g->cols * u->cell_w, u->grid_six, u->grid_six_len);
    gfx_queue_sixel(u->cells_y + g->rows + BAR_GAP, u->cells_x, 1, bw, u->bar_six, u->bar_six_len);
    return 1;
}

void grid_panel_draw(ui *u, rect r)
{
    const hc_grid *g = &u->grid;
    int done = ui_batches_done(u), total = u->r->params.batches;
    char title[256];
    hc_metrics bm;
    int b = hc_results_baseline(u->r);
    double base_oc = b >= 0 && !hc_results_metrics(u->r, b, &bm) ? bm.value[HC_OC] : NAN;
    /* what matters most first: the panel may be narrow */
    int at = snprintf(title, sizeof title, "%s%s%s", r.w >= 40 ? "Layer x head: " : "",
                      r.w >= 80 ? hc_metric_words(u->metric) : ui_metric_label(u->metric), u->clip ? " clipped" : "");
    if (done < total)
        at += snprintf(title + at, sizeof title - (size_t)at, "  partial %d/%d", done, total);
    /* the baseline's OC whole or not at all: cut, "-0.2115" would read "-" */
    char oc[64];
    snprintf(oc, sizeof oc, "  baseline OC %.4f", base_oc);
    if (mbstowcs(NULL, title, 0) + strlen(oc) <= (size_t)r.w)
        snprintf(title + at, sizeof title - (size_t)at, "%s", oc);
    attron(A_BOLD);
    ui_text(r.y, r.x, r.w, title);
    attroff(A_BOLD);
    u->cells_x = r.x + LABEL_W;
    u->cells_y = r.y + TOP;
    for (int c = 0; c < g->cols; c++) {
        char lab[16];
        snprintf(lab, sizeof lab, "%*s", u->cell_w - 1, g->col_labels[c] ? g->col_labels[c] : "?");
        ui_text(r.y + 1, u->cells_x + c * u->cell_w, u->cell_w, lab);
    }
    double vmax = ui_vmax(u), lo = u->clip ? 0 : -vmax;
    int by = u->cells_y + g->rows + BAR_GAP, bw = r.w - LABEL_W < 24 ? r.w - LABEL_W : 24;
    int pics = pictures(u, bw, lo, vmax);
    for (int l = 0; l < g->rows; l++) {
        char lab[16];
        snprintf(lab, sizeof lab, "L%d", l);
        gfx_default(); /* not the colour of the row above's last cell */
        ui_text(u->cells_y + l, r.x, LABEL_W, lab);
        for (int c = 0; c < g->cols && !pics; c++)
            cell(u, l * g->cols + c, u->cells_y + l, u->cells_x + c * u->cell_w);
    }
    gfx_default();
    /* the colour bar: from -vmax (0 when clipped) to +vmax */
    for (int i = 0; i < bw && !pics; i++) {
        double v = lo + (vmax - lo) * (i + 0.5) / bw;
        int mode = gfx_mode(), k = level(v, vmax);
        if (mode == GFX_8) {
            static const char *const shade[4] = {" ", "\u2591", "\u2592", "\u2588"};
            gfx_color(k < 0 ? (hc_rgb){0, 0, 255} : (hc_rgb){255, 0, 0}, WHITE);
            ui_text(by, u->cells_x + i, 1, shade[abs(k)]);
        } else if (mode == GFX_MONO) {
            attron(abs(k) == 3 ? A_REVERSE : A_NORMAL);
            ui_text(by, u->cells_x + i, 1, k < 0 ? "-" : k > 0 ? "+" : "\u00b7");
            attroff(A_REVERSE);
        } else {
            hc_rgb c = hc_colormap(v, vmax);
            gfx_color(c, c);
            mvaddch(by, u->cells_x + i, ' ');
        }
    }
    gfx_default();
    char a[32], bb[32], line[160];
    fmt_value(a, sizeof a, lo);
    fmt_value(bb, sizeof bb, vmax);
    snprintf(line, sizeof line, "%-*s%s", bw - (int)strlen(bb) > (int)strlen(a) ? bw - (int)strlen(bb) : (int)strlen(a) + 1,
             a, bb);
    if (g->has_mlp)
        snprintf(line + strlen(line), sizeof line - strlen(line), "  MLP \u00b1%.3g", ui_mlp_vmax(u));
    ui_text(by + 1, u->cells_x, r.w - LABEL_W, line);
}

int grid_panel_hit(const ui *u, int y, int x, int *row, int *col)
{
    if (!u->cell_w || y < u->cells_y || x < u->cells_x)
        return 0;
    int r = y - u->cells_y, c = (x - u->cells_x) / u->cell_w;
    if (r >= u->grid.rows || c >= u->grid.cols)
        return 0;
    *row = r;
    *col = c;
    return 1;
}
