#include <curses.h>
#include <string.h>

#include "ui.h"

/* Every key the explorer knows; the man page lists the same. */
static const char *const lines[] = {
    "headcal explorer: keys",
    "",
    "arrows, h j k l   move the cursor (in the ranked list: up, down)",
    "g, Home / G, End  first / last layer (list: first / last entry)",
    "PgUp, PgDn        a page of layers (list: a page of entries)",
    "mouse click       put the cursor on a cell or a list entry",
    ": NAME            go to a head or MLP: 10.7, L10H7, MLP3; a joint",
    "                  ablation (L0H1+L1H1) selects its members",
    "r                 ranked list of heads, MLPs and joint ablations",
    "Tab               move the focus between the grid and the list",
    "Enter             (list) put the grid cursor on the entry",
    "o                 order the list by value, |value|, significance",
    "/ TEXT, n, N      search the list; next, previous match",
    "space             select or unselect the cursor's head",
    "a                 ablate the selected heads jointly",
    "u                 clear the selection",
    "m                 next metric: \u0394OC, relative, paper sign,",
    "                  \u0394ECE, \u0394NLL, \u0394entropy",
    "c                 clip negatives to 0 (the notebook's view)",
    "e                 export plots (PNG, SVG, PDF) and data (JSON, CSV)",
    "z                 zoom the curves to where the predictions are",
    "1 .. 9            hide or show that series of the curves",
    "b                 bag-of-words QK panel of the cursor's head",
    "s                 resume a stopped sweep",
    "x                 examples of the cursor's component: Tab list,",
    "                  \u2191\u2193 choose, Enter whole context, x/Esc close",
    "?                 this help",
    "Esc               close help, QK panel or list; with none open,",
    "                  cancel the work in progress",
    "q, Ctrl-C         quit (the session is kept for next time)",
    "",
    "grid: [ ] cursor   * selected   . not computed yet   colour: value",
    "list: * where |value| > 2 standard errors (jackknife over batches)",
};

int help_draw(int rows, int cols, int top)
{
    int n = (int)(sizeof lines / sizeof lines[0]), w = 0;
    for (int i = 0; i < n; i++)
        w = (int)strlen(lines[i]) > w ? (int)strlen(lines[i]) : w;
    int bw = w + 4, bh = n + 2;
    if (bw > cols)
        bw = cols;
    if (bh > rows - 1)
        bh = rows - 1;
    int y0 = (rows - 1 - bh) / 2, x0 = (cols - bw) / 2;
    for (int y = 0; y < bh; y++) {
        move(y0 + y, x0);
        for (int x = 0; x < bw; x++)
            addch(' ');
    }
    attron(A_BOLD);
    for (int x = 0; x < bw; x++) {
        mvaddch(y0, x0 + x, ACS_HLINE);
        mvaddch(y0 + bh - 1, x0 + x, ACS_HLINE);
    }
    for (int y = 0; y < bh; y++) {
        mvaddch(y0 + y, x0, ACS_VLINE);
        mvaddch(y0 + y, x0 + bw - 1, ACS_VLINE);
    }
    mvaddch(y0, x0, ACS_ULCORNER);
    mvaddch(y0, x0 + bw - 1, ACS_URCORNER);
    mvaddch(y0 + bh - 1, x0, ACS_LLCORNER);
    mvaddch(y0 + bh - 1, x0 + bw - 1, ACS_LRCORNER);
    attroff(A_BOLD);
    /* a short window scrolls the text; the bottom border says so */
    int shown = bh - 2;
    if (top > n - shown)
        top = n - shown > 0 ? n - shown : 0;
    for (int i = 0; i < shown && top + i < n; i++)
        ui_text(y0 + 1 + i, x0 + 2, bw - 4, lines[top + i]);
    if (shown < n)
        ui_text(y0 + bh - 1, x0 + 2, bw - 4, top + shown < n ? " more: j, PgDn " : " top: k, PgUp ");
    return top;
}
