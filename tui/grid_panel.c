#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graphics.h"
#include "headcal/colormap.h"
#include "ui.h"

/* Layout inside the rectangle: a title line, the head numbers, one line
 * per layer ("L3  " then the cells), a blank, the colour bar and its
 * values. */
enum { LABEL_W = 5, TOP = 2, BAR_GAP = 1, BAR_LINES = 2 };

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
    return lum > 140 ? (hc_rgb){0, 0, 0} : (hc_rgb){255, 255, 255};
}

static void cell(const ui *u, int i, int y, int x)
{
    double vmax = ui_vmax(u), v = ui_shown(u, i);
    hc_rgb bg = hc_colormap(v, vmax);
    int row = i / u->grid.cols, col = i % u->grid.cols, w = u->cell_w;
    int cursor = row == u->cur_row && col == u->cur_col, sel = u->selected[i];
    char s[16];
    memset(s, ' ', (size_t)w);
    s[w] = 0;
    if (sel)
        s[w / 2] = '*';
    if (cursor) {
        s[0] = '[';
        s[w - 1] = ']';
    }
    if (!isfinite(u->grid.value[i]) && !sel)
        s[w / 2] = '.';
    gfx_color(ink_on(bg), bg);
    if (cursor)
        attron(A_BOLD);
    mvaddstr(y, x, s);
    attroff(A_BOLD);
}

static void fmt_value(char *buf, size_t n, double v)
{
    snprintf(buf, n, fabs(v) >= 1e-3 || v == 0 ? "%+.4f" : "%+.2e", v);
}

void grid_panel_draw(ui *u, rect r)
{
    const hc_grid *g = &u->grid;
    int done = ui_batches_done(u), total = u->r->params.batches;
    char title[256];
    snprintf(title, sizeof title, "Layer x head: %s%s", ui_metric_label(u->metric), u->clip ? ", clipped" : "");
    if (done < total)
        snprintf(title + strlen(title), sizeof title - strlen(title), "  (partial: %d/%d batches)", done, total);
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
    for (int l = 0; l < g->rows; l++) {
        char lab[16];
        snprintf(lab, sizeof lab, "L%d", l);
        gfx_default(); /* not the colour of the row above's last cell */
        ui_text(u->cells_y + l, r.x, LABEL_W, lab);
        for (int c = 0; c < g->cols; c++)
            cell(u, l * g->cols + c, u->cells_y + l, u->cells_x + c * u->cell_w);
    }
    gfx_default();
    /* the colour bar: from -vmax (0 when clipped) to +vmax */
    double vmax = ui_vmax(u), lo = u->clip ? 0 : -vmax;
    int by = u->cells_y + g->rows + BAR_GAP, bw = r.w - LABEL_W < 24 ? r.w - LABEL_W : 24;
    ui_text(by, r.x, LABEL_W, "");
    for (int i = 0; i < bw; i++) {
        hc_rgb c = hc_colormap(lo + (vmax - lo) * (i + 0.5) / bw, vmax);
        gfx_color(c, c);
        mvaddch(by, u->cells_x + i, ' ');
    }
    gfx_default();
    char a[32], b[32], line[128];
    fmt_value(a, sizeof a, lo);
    fmt_value(b, sizeof b, vmax);
    snprintf(line, sizeof line, "%-*s%s", bw - (int)strlen(b) > (int)strlen(a) ? bw - (int)strlen(b) : (int)strlen(a) + 1,
             a, b);
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
