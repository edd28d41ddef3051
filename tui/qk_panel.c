#include <curses.h>
#include <math.h>
#include <stdio.h>

#include "graphics.h"
#include "headcal/colormap.h"
#include "ui.h"

/* A 3 x 3 heatmap: query embeddings down, key embeddings across, each
 * cell the mean self-attention score ± its standard error over the bags.
 * The scores of one head sit close together far from zero, so the
 * colours show each score against the mean of the nine, on a scale of
 * their own spread.  Cells shrink to fit the panel (80 x 24 included). */
void qk_panel_draw(ui *u, rect r)
{
    int i = u->cur_row * u->grid.cols + u->cur_col;
    char line[256];
    int is_mlp = u->grid.has_mlp && u->cur_col == u->grid.cols - 1;
    snprintf(line, sizeof line, r.w >= 44 ? "Bag-of-words QK of L%dH%d (b or Esc closes)" : "QK of L%dH%d (b, Esc close)",
             u->cur_row, u->cur_col);
    attron(A_BOLD);
    ui_text(r.y, r.x, r.w, is_mlp ? "QK: for heads only (b, Esc close)" : line);
    attroff(A_BOLD);
    if (is_mlp)
        return;
    if (u->qk_state[i] != QK_DONE) {
        ui_text(r.y + 2, r.x, r.w, u->qk_state[i] == QK_FAILED ? "not available (the status bar says why)" : "computing...");
        return;
    }
    const hc_qk_result *q = &u->qk[i];
    double mean = 0, spread = 0;
    int n = 0;
    for (int a = 0; a < HC_QK_SIDES; a++)
        for (int b = 0; b < HC_QK_SIDES; b++)
            if (isfinite(q->score[a][b]))
                mean += q->score[a][b], n++;
    mean = n ? mean / n : 0;
    for (int a = 0; a < HC_QK_SIDES; a++)
        for (int b = 0; b < HC_QK_SIDES; b++)
            if (isfinite(q->score[a][b]) && fabs(q->score[a][b] - mean) > spread)
                spread = fabs(q->score[a][b] - mean);
    snprintf(line, sizeof line, "self-attention score, %d bags of %d tokens", q->n_bags, q->bag_size);
    ui_text(r.y + 1, r.x, r.w, line);
    snprintf(line, sizeof line, "colour: score - mean (%.3f), \u00b1%.3g", mean, spread);
    ui_text(r.y + 2, r.x, r.w, line);
    /* query names down the left, then three cells of what is left */
    const int label_w = r.w >= 60 ? 11 : 5, cell_w = (r.w - label_w) / HC_QK_SIDES < 18 ? (r.w - label_w) / HC_QK_SIDES : 18;
    const int y = r.y + 4, cell_h = (r.h - 5) / HC_QK_SIDES < 3 ? (r.h - 5) / HC_QK_SIDES : 3;
    if (cell_w < 7 || cell_h < 1)
        return;
    for (int b = 0; b < HC_QK_SIDES; b++) {
        snprintf(line, sizeof line, "%s%s", cell_w >= 12 ? "key " : "k ", hc_qk_key_names[b]);
        ui_text(y - 1, r.x + label_w + b * cell_w, cell_w - 1, line);
    }
    for (int a = 0; a < HC_QK_SIDES; a++) {
        int top = y + cell_h * a;
        snprintf(line, sizeof line, "%s%s", label_w >= 11 ? "query " : "q ", hc_qk_query_names[a]);
        ui_text(top + (cell_h - 1) / 2, r.x, label_w, line);
        for (int b = 0; b < HC_QK_SIDES; b++) {
            hc_rgb bg = hc_colormap(q->score[a][b] - mean, spread > 0 ? spread : 1);
            double lum = 0.299 * bg.r + 0.587 * bg.g + 0.114 * bg.b;
            double t = spread > 0 ? (q->score[a][b] - mean) / spread : 0;
            if (gfx_mode() == GFX_256 || gfx_mode() == GFX_DIRECT)
                gfx_color(lum > 140 ? (hc_rgb){0, 0, 0} : (hc_rgb){255, 255, 255}, bg);
            else if (gfx_mode() == GFX_8 && fabs(t) > 1.0 / 3) /* the basic blue or red, never black */
                gfx_color((hc_rgb){255, 255, 255}, t < 0 ? (hc_rgb){0, 0, 255} : (hc_rgb){255, 0, 0});
            else /* no colours: the value says it, bold above the mean */
                attron(t > 0 ? A_BOLD : A_NORMAL);
            for (int k = 0; k < cell_h; k++)
                mvprintw(top + k, r.x + label_w + b * cell_w, "%*s", cell_w - 1, "");
            snprintf(line, sizeof line, " %.4f", q->score[a][b]);
            ui_text(top + (cell_h - 1) / 2, r.x + label_w + b * cell_w, cell_w - 1, line);
            if (isfinite(q->sem[a][b]) && cell_h >= 2) {
                snprintf(line, sizeof line, " \u00b1%.4f", q->sem[a][b]);
                ui_text(top + (cell_h - 1) / 2 + 1, r.x + label_w + b * cell_w, cell_w - 1, line);
            }
            attroff(A_BOLD);
            gfx_default();
        }
    }
}
