/* The explorer's session: what the user was looking at -- the cursor,
 * the selection, the joint ablations, the metric, clipping, the open
 * panels and the ranked list's order -- saved beside the cached analysis
 * when the explorer quits and restored when the same analysis is opened
 * again.  A small JSON file ("format": "headcal-session/1"); curses-free. */
#ifndef HEADCAL_TUI_SESSION_H
#define HEADCAL_TUI_SESSION_H

#include "headcal/component.h"

enum { SESSION_SORT_VALUE, SESSION_SORT_ABS, SESSION_SORT_SIGNIF, SESSION_N_SORTS };
enum { SESSION_MAX = 256 };

typedef struct {
    int metric, clip, ranked, qk, sort, focus_ranked;
    hc_component cursor;
    int n_selected, n_sets;
    hc_component selected[SESSION_MAX];
    char sets[SESSION_MAX][128]; /* joint ablations' ids ("L0H1+L1H1") */
} explorer_session;

/* Names of the orders, as the file and the ranked list's title spell them. */
extern const char *const session_sort_names[SESSION_N_SORTS];

int session_save(const explorer_session *s, const char *path);
/* 1 and *s filled, 0 when there is no session, -1 when the file is
 * unreadable or not a session (message). */
int session_load(explorer_session *s, const char *path);

#endif
