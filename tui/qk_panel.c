#include <curses.h>
#include <math.h>
#include <stdio.h>

#include "graphics.h"
#include "headcal/colormap.h"
#include "ui.h"

enum { LABEL_W = 12, CELL_W = 18 };

/* A 3 x 3 heatmap: query embeddings down, key embeddings across, each
 * cell the mean self-attention score ± its standard error over the bags,
 * on the diverging map. */
void qk_panel_draw(ui *u, rect r)
{
    int i = u->cur_row * u->grid.cols + u->cur_col;
    char line[256];
    int is_mlp = u->grid.has_mlp && u->cur_col == u->grid.cols - 1;
    snprintf(line, sizeof line, "Bag-of-words QK of L%dH%d (b or Esc closes)", u->cur_row, u->cur_col);
    attron(A_BOLD);
    ui_text(r.y, r.x, r.w, is_mlp ? "Bag-of-words QK: for heads only (b or Esc closes)" : line);
    attroff(A_BOLD);
    if (is_mlp)
        return;
    if (u->qk_state[i] != QK_DONE) {
        ui_text(r.y + 2, r.x, r.w, u->qk_state[i] == QK_FAILED ? "not available (the status bar says why)" : "computing...");
        return;
    }
    const hc_qk_result *q = &u->qk[i];
    snprintf(line, sizeof line, "mean self-attention score over %d bags of %d tokens", q->n_bags, q->bag_size);
    ui_text(r.y + 1, r.x, r.w, line);
    double vmax = 0;
    for (int a = 0; a < HC_QK_SIDES; a++)
        for (int b = 0; b < HC_QK_SIDES; b++)
            vmax = isfinite(q->score[a][b]) && fabs(q->score[a][b]) > vmax ? fabs(q->score[a][b]) : vmax;
    int y = r.y + 3;
    for (int b = 0; b < HC_QK_SIDES; b++) {
        snprintf(line, sizeof line, "key %s", hc_qk_key_names[b]);
        ui_text(y, r.x + LABEL_W + b * CELL_W, CELL_W, line);
    }
    for (int a = 0; a < HC_QK_SIDES; a++) {
        int top = y + 1 + 3 * a;
        snprintf(line, sizeof line, "query %s", hc_qk_query_names[a]);
        ui_text(top + 1, r.x, LABEL_W, line);
        for (int b = 0; b < HC_QK_SIDES; b++) {
            hc_rgb bg = hc_colormap(q->score[a][b], vmax > 0 ? vmax : 1);
            double lum = 0.299 * bg.r + 0.587 * bg.g + 0.114 * bg.b;
            gfx_color(lum > 140 ? (hc_rgb){0, 0, 0} : (hc_rgb){255, 255, 255}, bg);
            for (int k = 0; k < 3; k++)
                mvprintw(top + k, r.x + LABEL_W + b * CELL_W, "%*s", CELL_W - 1, "");
            snprintf(line, sizeof line, " %.4f", q->score[a][b]);
            ui_text(top + 1, r.x + LABEL_W + b * CELL_W, CELL_W - 1, line);
            if (isfinite(q->sem[a][b])) {
                snprintf(line, sizeof line, " \u00b1 %.4f", q->sem[a][b]);
                ui_text(top + 2, r.x + LABEL_W + b * CELL_W, CELL_W - 1, line);
            }
            gfx_default();
        }
    }
}
