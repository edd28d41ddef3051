#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ui.h"

/* "+0.01234 ± 0.00321", or "n/a" for an undefined value. */
static void pm(char *buf, size_t n, double v, double se)
{
    if (!isfinite(v))
        snprintf(buf, n, "n/a");
    else if (isfinite(se))
        snprintf(buf, n, "%+.5f \u00b1 %.5f", v, se);
    else
        snprintf(buf, n, "%+.5f", v);
}

/* Rank of cell i among the heads' finite values, largest first. */
static int rank_of(const ui *u, int i, int *of)
{
    int rank = 1;
    *of = 0;
    double v = u->grid.value[i];
    for (int k = 0; k < u->grid.rows * u->grid.cols; k++) {
        double w = u->grid.value[k];
        if (!isfinite(w))
            continue;
        ++*of;
        rank += w > v;
    }
    return rank;
}

void detail_panel_draw(ui *u, rect r)
{
    char line[512], a[96];
    int y = r.y, end = r.y + r.h;
    int i = u->cur_row * u->grid.cols + u->cur_col, v = u->grid.variant[i];
    int is_mlp = u->grid.has_mlp && u->cur_col == u->grid.cols - 1;
    if (is_mlp)
        snprintf(line, sizeof line, "MLP%d (layer %d's MLP)", u->cur_row, u->cur_row);
    else
        snprintf(line, sizeof line, "L%dH%d (layer %d, head %d)", u->cur_row, u->cur_col, u->cur_row, u->cur_col);
    attron(A_BOLD);
    ui_text(y++, r.x, r.w, line);
    attroff(A_BOLD);
    hc_metrics m;
    if (v < 0 || hc_results_metrics(u->r, v, &m)) {
        ui_text(y++, r.x, r.w, v < 0 ? "not in this analysis" : "no metrics yet");
    } else {
        pm(a, sizeof a, m.value[u->metric], m.se[u->metric]);
        snprintf(line, sizeof line, "%-10s %s", ui_metric_label(u->metric), a);
        ui_text(y++, r.x, r.w, line);
        static const struct {
            const char *name;
            int abs, delta;
        } rows[] = {{"OC", HC_OC, HC_DELTA_OC}, {"ECE", HC_ECE, HC_DELTA_ECE}, {"NLL", HC_NLL, HC_DELTA_NLL},
                    {"entropy", HC_ENTROPY, HC_DELTA_ENTROPY}};
        for (size_t k = 0; k < sizeof rows / sizeof rows[0] && y < end; k++) {
            pm(a, sizeof a, m.value[rows[k].delta], m.se[rows[k].delta]);
            snprintf(line, sizeof line, "%-10s %.5f  (\u0394 %s)", rows[k].name, m.value[rows[k].abs], a);
            ui_text(y++, r.x, r.w, line);
        }
        int of, rank = rank_of(u, i, &of);
        double val = m.value[u->metric], se = m.se[u->metric];
        if (y < end && isfinite(u->grid.value[i])) {
            /* a rank means little when the value is within its noise */
            snprintf(line, sizeof line, "%-10s %d of %d (%s)", "rank", rank, of,
                     !isfinite(se)             ? "largest first, no SE"
                     : fabs(val) > 2 * se ? "largest first"
                                          : "within 2 SE of 0");
            ui_text(y++, r.x, r.w, line);
        }
    }
    /* the selection and the joint ablations */
    int n = 0;
    snprintf(line, sizeof line, "%-10s", "selected");
    for (int k = 0; k < u->grid.rows * u->grid.cols; k++)
        if (u->selected[k]) {
            int l = k / u->grid.cols, c = k % u->grid.cols;
            size_t at = strlen(line);
            if (u->grid.has_mlp && c == u->grid.cols - 1)
                snprintf(line + at, sizeof line - at, " MLP%d", l);
            else
                snprintf(line + at, sizeof line - at, " L%dH%d", l, c);
            n++;
        }
    if (y < end)
        ui_text(y++, r.x, r.w, n ? line : "selected   none (space selects)");
    for (int v2 = 0; v2 < u->r->n_variants && y < end; v2++) {
        if (u->r->variants[v2].kind != HC_VARIANT_SET || hc_results_metrics(u->r, v2, &m))
            continue;
        pm(a, sizeof a, m.value[u->metric], m.se[u->metric]);
        snprintf(line, sizeof line, "joint      %s  %s %s", u->r->variants[v2].id, ui_metric_label(u->metric), a);
        ui_text(y++, r.x, r.w, line);
    }
    for (int k = 0; k < u->n_pending && y < end; k++) {
        const job_progress *p = &u->prog[LANE_ASK];
        int running = p->busy && !strcmp(p->label, u->pending[k]);
        if (running)
            snprintf(line, sizeof line, "joint      %s  running %d/%d", u->pending[k], p->done, p->total);
        else
            snprintf(line, sizeof line, "joint      %s  queued", u->pending[k]);
        ui_text(y++, r.x, r.w, line);
    }
}
