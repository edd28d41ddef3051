#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ui.h"

/* "+0.01234", "n/a" for an undefined value; widths fixed for the columns. */
static void num(char *buf, size_t n, double v, const char *fmt)
{
    if (isfinite(v))
        snprintf(buf, n, fmt, v);
    else
        snprintf(buf, n, "%s", "n/a");
}

void ranked_panel_draw(ui *u, rect r)
{
    ui_rank(u);
    char line[256], v[32], se[32];
    snprintf(line, sizeof line, "Ranked by %s: %s (o)", ui_metric_label(u->metric),
             u->sort == SESSION_SORT_ABS ? "|value|" : u->sort == SESSION_SORT_SIGNIF ? "|value|/SE" : "value");
    attron(A_BOLD);
    ui_text(r.y, r.x, r.w, line);
    attroff(A_BOLD);
    /* 5 decimals when there is room, 4 in a narrow terminal */
    int wide = r.w >= RANKED_W;
    ui_text(r.y + 1, r.x, r.w, wide ? "  # component          value       SE" : "  # component     value     SE");
    ui_text(r.y + r.h - 1, r.x, r.w, wide ? "* |value| > 2 SE   Enter: go there" : "* |value| > 2 SE");
    int rows = r.h - 3;
    if (rows < 1)
        return;
    /* keep the cursor's entry in view */
    if (u->rank_cur < u->rank_top)
        u->rank_top = u->rank_cur;
    if (u->rank_cur >= u->rank_top + rows)
        u->rank_top = u->rank_cur - rows + 1;
    if (u->rank_top > u->n_rank - rows)
        u->rank_top = u->n_rank - rows > 0 ? u->n_rank - rows : 0;
    for (int k = 0; k < rows && u->rank_top + k < u->n_rank; k++) {
        int i = u->rank_top + k;
        const ranked_entry *e = &u->rank[i];
        num(v, sizeof v, e->value, wide ? "%+.5f" : "%+.4f");
        num(se, sizeof se, e->se, wide ? "%.5f" : "%.4f");
        int mark = isfinite(e->value) && isfinite(e->se) && fabs(e->value) > 2 * e->se;
        snprintf(line, sizeof line, wide ? "%3d %-14.14s %9s %8s %s" : "%3d %-10.10s %8s %6s %s", i + 1,
                 u->r->variants[e->variant].id, v, se, mark ? "*" : " ");
        int cur = i == u->rank_cur;
        if (cur)
            attron(u->focus == FOCUS_RANKED ? A_REVERSE : A_BOLD);
        move(r.y + 2 + k, r.x);
        for (int x = 0; cur && x < r.w; x++)
            addch(' ');
        ui_text(r.y + 2 + k, r.x, r.w, line);
        attroff(A_REVERSE | A_BOLD);
    }
}
