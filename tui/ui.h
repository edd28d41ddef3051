/* The explorer's state and its panels.  Everything here runs on the UI
 * thread, the only one that touches curses. */
#ifndef HEADCAL_TUI_UI_H
#define HEADCAL_TUI_UI_H

#include <stddef.h>

#include "explorer.h"
#include "headcal/report.h"
#include "jobs.h"
#include "session.h"

typedef struct {
    int y, x, h, w;
} rect;

#define UI_MAX_PENDING 32
#define UI_MAX_SERIES 12
enum { QK_NONE, QK_PENDING, QK_DONE, QK_FAILED };
enum { FOCUS_GRID, FOCUS_RANKED };

/* One line of the ranked list: a head, an MLP or a joint ablation. */
typedef struct {
    int variant;
    double value, se;
} ranked_entry;

/* The examples panel: which list, which example, scrolled how far. */
typedef struct {
    int open, list, sel, scroll;
    int full;               /* the selected example's whole sequence is shown */
    hc_tokenizer *tk;       /* the run's tokenizer, loaded when first needed */
    int tk_failed;
} examples_view;

typedef struct {
    const explorer_opts *o;
    jobs *jobs;
    hc_results *base;        /* the sweep's newest results (or the file opened) */
    int base_partial;        /* base is a partial snapshot: its one batch is still running */
    hc_results *sets;        /* baseline + the joint ablations asked for here, over every batch */
    hc_results *r;           /* what is shown: base with the sets added over its batches */
    int version;             /* bumped whenever r changes */
    hc_grid grid;            /* of r for the current metric */
    int metric, clip, cur_row, cur_col;
    unsigned char *selected; /* [grid rows, cols] */
    int help, help_top, sixel;
    int qk_open;             /* the QK panel of the cursor's head is shown */
    examples_view ex;        /* the examples panel of the cursor's component */
    hc_qk_result *qk;        /* [grid rows, cols] panels computed so far */
    unsigned char *qk_state; /* [grid rows, cols] QK_* */
    job_progress prog[N_LANES];
    int sweep_stopped;       /* the sweep stopped before the end: s resumes it */
    char pending[UI_MAX_PENDING][128]; /* joint ablations queued or running */
    int n_pending;
    /* the ranked list */
    int ranked_open, focus, sort; /* FOCUS_*, SESSION_SORT_* */
    ranked_entry *rank;
    int n_rank, rank_cur, rank_top, rank_version, rank_metric, rank_sort;
    /* the one-line prompt: ':' (jump to a component), '/' (search the ranked list) or 0 */
    int prompt;
    char input[64], search[64];
    char msg[1024];          /* the status bar's last message */
    char notice[512];        /* what the status bar always says (smaller data, no cache) */
    int cache_warned;
    /* layout of the last frame */
    rect grid_r, detail_r, curves_r, ranked_r;
    rect image_r;            /* where the last sixel image went, and whether one is up */
    int image_shown;
    int cell_w, cells_x, cells_y;
    /* the curves panel's sixel image and what it shows */
    char *six;
    size_t six_len;
    char six_key[1024];
    /* the grid's sixel images (cells, colour bar) and what they show */
    char *grid_six, *bar_six;
    size_t grid_six_len, bar_six_len;
    char grid_six_key[256];
    char gfx_note[256];     /* why a panel fell back to text, once said */
    /* the curves' view: x zoom, hidden series, one colour per variant */
    int zoom;
    int hidden[UI_MAX_SERIES], n_hidden;
    int color_var[64], n_colors;
} ui;

/* Display names of the metrics m cycles through. */
const char *ui_metric_label(int metric);
/* Batches done in r, out of its total. */
int ui_batches_done(const ui *u);
/* Variant indices the curves show: the baseline, the cursor's head, the
 * selected heads and every joint ablation, without repeats. */
int ui_series(const ui *u, int *v, int max);
/* The colour scale's half range for the heads (the MLP column has its own)
 * for the current grid and clip setting. */
double ui_vmax(const ui *u);
/* Shown value of grid cell i (clipped as the notebook's heatmap). */
double ui_shown(const ui *u, int i);
/* Writes s into the panel line at (y, x), cut to w columns (UTF-8 aware). */
void ui_text(int y, int x, int w, const char *s);
/* The ranked list, rebuilt when r, the metric or the order changed. */
void ui_rank(ui *u);
/* Grid cell of variant v (a head or an MLP), or -1. */
int ui_cell_of(const ui *u, int v);

/* -- panels: each draws into its rectangle */
/* Grid plus colour bar; returns the rows used. */
void grid_panel_draw(ui *u, rect r);
/* The cell under screen position (y, x): 1 and *row, *col set, or 0. */
int grid_panel_hit(const ui *u, int y, int x, int *row, int *col);
int grid_panel_width(const hc_grid *g, int cell_w);
int grid_panel_height(const hc_grid *g);
void detail_panel_draw(ui *u, rect r);
void curves_panel_draw(ui *u, rect r);
/* The curves' keys: z zooms the x-axis to where the predictions are,
 * 1-9 hide or show the legend's series; 1 if the key was one of them. */
int curves_panel_key(ui *u, int ch);
/* What the curves show, for exports: the variants not hidden, their
 * colours and the zoom; returns how many. */
int curves_panel_view(ui *u, int *v, int *colors, hc_curves_view *cv);
/* The palette colour of variant v for this session. */
int ui_color_of(ui *u, int v);
/* The MLP column's own colour scale (0 without MLPs). */
double ui_mlp_vmax(const ui *u);
/* The help overlay from line `top` on (scrolled when the window is
 * short); returns the top line actually shown. */
int help_draw(int rows, int cols, int top);
/* The bag-of-words QK panel of the cursor's head, over the curves. */
void qk_panel_draw(ui *u, rect r);
void statusbar_draw(ui *u, int y, int w);
/* The heads, MLPs and joint ablations by the current metric. */
void ranked_panel_draw(ui *u, rect r);
/* Width the ranked panel wants. */
enum { RANKED_W = 40 };
/* The examples panel of the cursor's component; its keys (1: taken). */
void examples_panel_draw(ui *u, rect r);
int examples_panel_key(ui *u, int ch);
void examples_panel_free(ui *u);

#endif
