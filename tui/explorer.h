/* The explorer (docs/design.md, "The explorer"): an ncurses UI over one analysis.  The caller
 * loads the model and data and describes the run; the explorer sweeps it
 * in the background, shows the grid as results arrive and takes it from
 * there.  This header is curses-free so that the command-line front end
 * can include it. */
#ifndef HEADCAL_TUI_EXPLORER_H
#define HEADCAL_TUI_EXPLORER_H

#include "cache.h" /* the explorer's cache, which `headcal run` fills too */
#include "headcal/dataset.h"
#include "headcal/model.h"
#include "headcal/results.h"
#include "headcal/sweep.h"

enum { EXPLORER_GRAPHICS_AUTO, EXPLORER_GRAPHICS_SIXEL, EXPLORER_GRAPHICS_TEXT };

typedef struct {
    const hc_model *model;      /* processed; NULL when none is at hand */
    const char *no_model;       /* then: why (joint ablations and QK panels say it) */
    const hc_dataset *ds;
    hc_sweep_opts sweep;
    hc_results *results;        /* described run, possibly partly done; the explorer takes it */
    const char *results_file;   /* the results file opened, or NULL when the explorer sweeps */
    const explorer_cache *cache;/* where results and the session are kept; NULL: nowhere */
    const char *notice;         /* said in the status bar throughout (smaller data, no cache), or NULL */
    const char *export_dir;
    int graphics;               /* EXPLORER_GRAPHICS_* */
    int metric;                 /* initial metric (HC_DELTA_OC, HC_PAPER, ...) */
    int min_count;              /* curves: bins with fewer predictions are faded */
} explorer_opts;

/* Runs the explorer until the user quits (0) or it fails (-1, message
 * recorded).  The terminal is restored on every way out. */
int explorer_run(const explorer_opts *o);

#endif
