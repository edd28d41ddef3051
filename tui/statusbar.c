#include <curses.h>
#include <stdio.h>
#include <string.h>

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

void statusbar_draw(ui *u, int y, int w)
{
    char line[2048];
    int at = snprintf(line, sizeof line, " model %s | data %s | %llu tokens scored | ", base(u->r->model.path),
                      base(u->r->data.source), (unsigned long long)hc_results_positions(u->r));
    if (u->prog.busy) {
        enum { BAR = 20 };
        int fill = u->prog.total ? BAR * u->prog.done / u->prog.total : 0;
        char bar[BAR + 1];
        for (int i = 0; i < BAR; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[BAR] = 0;
        /* the mean-ablation pre-pass is named; the sweep is the job itself */
        at += snprintf(line + at, sizeof line - (size_t)at, "[%s] %s%s%s %d/%d batches", bar, u->prog.label,
                       strcmp(u->prog.phase, "sweep") ? " " : "", strcmp(u->prog.phase, "sweep") ? u->prog.phase : "",
                       u->prog.done, u->prog.total);
        if (u->prog.queued)
            at += snprintf(line + at, sizeof line - (size_t)at, " (+%d queued)", u->prog.queued);
        if (*u->msg)
            snprintf(line + at, sizeof line - (size_t)at, " | %s", u->msg);
    } else {
        snprintf(line + at, sizeof line - (size_t)at, "%s", *u->msg ? u->msg : "ready");
    }
    attron(A_REVERSE);
    move(y, 0);
    for (int x = 0; x < w; x++)
        addch(' ');
    /* never the last cell: writing it scrolls some terminals */
    ui_text(y, 0, w - 1, line);
    attroff(A_REVERSE);
}
