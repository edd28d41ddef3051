#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "headcal/clock.h"
#include "ui.h"

/* The last path component: the bar has no room for whole paths. */
static const char *base(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    const char *s = path + n;
    while (s > path && s[-1] != '/')
        s--;
    return s;
}

/* Appends to the line, cut at its end. */
__attribute__((format(printf, 3, 4))) static void add(char *line, size_t n, const char *fmt, ...)
{
    size_t at = strlen(line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + at, n - at, fmt, ap);
    va_end(ap);
}

/* "[####------] sweep 2.4/9 batches 12s, ETA 30s": the bar moves inside
 * a batch; the ETA extrapolates this job's own pace. */
static void sweep_progress(char *line, size_t n, const job_progress *p)
{
    enum { BAR = 20 };
    double units = p->done + p->frac, el = hc_seconds() - p->start;
    int fill = p->total ? (int)(BAR * units / p->total) : 0;
    char bar[BAR + 1];
    for (int i = 0; i < BAR; i++)
        bar[i] = i < fill ? '#' : '-';
    bar[BAR] = 0;
    /* the mean-ablation pre-pass is named; the sweep is the job itself */
    int sweep = !strcmp(p->phase, "sweep");
    add(line, n, "[%s] %s%s%s %.1f/%d batches %.0fs", bar, p->label, sweep ? "" : " ", sweep ? "" : p->phase, units,
        p->total, el);
    if (units > 0.02 && units < p->total)
        add(line, n, ", ETA %.0fs", el * (p->total - units) / units);
}

void statusbar_draw(ui *u, int y, int w)
{
    char line[2048];
    size_t n = sizeof line;
    line[0] = 0;
    if (u->prompt) {
        add(line, n, "%c%s_   (Enter: %s, Esc: cancel)", u->prompt, u->input,
            u->prompt == ':' ? "go to 10.7, L10H7, MLP3 or L0H1+L1H1" : "search the ranked list");
    } else {
        const job_progress *s = &u->prog[LANE_SWEEP], *a = &u->prog[LANE_ASK];
        add(line, n, " model %s | data %s | %llu tokens scored | ", base(u->r->model.path),
            base(u->r->data.source), (unsigned long long)hc_results_positions(u->r));
        if (*u->notice)
            add(line, n, "%s | ", u->notice);
        if (s->busy)
            sweep_progress(line, n, s);
        if (s->busy && s->queued)
            add(line, n, " (+%d queued)", s->queued);
        if (a->busy)
            add(line, n, "%s%s running %.0fs", s->busy ? " | " : "", a->label, hc_seconds() - a->start);
        if (a->busy && a->queued)
            add(line, n, " (+%d queued)", a->queued);
        add(line, n, "%s%s", s->busy || a->busy ? " | " : "",
            *u->msg ? u->msg : s->busy || a->busy ? "" : "ready");
    }
    attron(A_REVERSE);
    move(y, 0);
    for (int x = 0; x < w; x++)
        addch(' ');
    /* never the last cell: writing it scrolls some terminals */
    ui_text(y, 0, w - 1, line);
    attroff(A_REVERSE);
}
