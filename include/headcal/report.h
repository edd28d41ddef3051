/* From a results file to what people look at: the layer × head grid of a
 * metric, calibration-curve series, and the two plots laid out with the
 * shared renderer.  Used by the explorer and `headcal plot` alike. */
#ifndef HEADCAL_REPORT_H
#define HEADCAL_REPORT_H

#include "headcal/plot.h"
#include "headcal/results.h"

/* The grid: row l is layer l, column h head h, and one more column for
 * the MLPs when the results hold any.  NaN where a variant was not run
 * (or its metric is undefined). */
typedef struct {
    int rows, cols, has_mlp;
    double *value, *se;   /* [rows, cols] */
    int *variant;         /* [rows, cols] index into r->variants, -1 if none */
    char **row_labels, **col_labels;
} hc_grid;

int hc_grid_build(hc_grid *g, const hc_results *r, int metric);
void hc_grid_free(hc_grid *g);

/* The calibration curve of variant v: acc, and acc ∓ one standard error
 * clipped to [0, 1], per bin (NaN where the bin is empty), and the number
 * of predictions in each bin (count may be NULL); arrays of
 * r->params.bins. */
int hc_curve_of(const hc_results *r, int v, double *acc, double *lo, double *hi, double *count);

/* A metric in words for titles and colour bars: "Change in
 * overconfidence (ΔOC)". */
const char *hc_metric_words(int metric);

/* "partial: 3 of 10 batches" when the sweep behind r has not finished,
 * else "" (the buffer holds at least 64 bytes). */
const char *hc_partial_note(const hc_results *r, char *buf, size_t n);

/* Bins with fewer predictions than this are drawn faded and left out of
 * the lines, unless asked otherwise. */
#define HC_MIN_COUNT_DEFAULT 20

typedef struct {
    int metric, clip_negative;
    const char *title;             /* NULL: the metric in words and the baseline's OC */
    const unsigned char *selected; /* [rows, cols] outlined, or NULL (exports: NULL) */
    int cursor_row, cursor_col;    /* -1: none (exports) */
} hc_heatmap_view;

/* The heatmap of a metric for r, MLPs on their own scale, significant
 * cells marked, "partial" in the title while the sweep runs. */
int hc_report_heatmap(hc_draw **out, const hc_results *r, const hc_grid *g, const hc_heatmap_view *v,
                      const hc_plot_layout *lay, hc_heatmap_geom *geom);

typedef struct {
    const char *title;    /* NULL: the run's settings */
    int min_count;        /* see HC_MIN_COUNT_DEFAULT */
    double x_lo, x_hi;    /* confidence range; 0, 0 = [0, 1] */
    const int *colors;    /* palette index per variant, or NULL for 0, 1, ... */
} hc_curves_view;

/* The calibration curves of the given variants (the first is usually the
 * baseline), each with its ±1σ band, over the diagonal, and the
 * histogram of the first one's predictions. */
int hc_report_curves(hc_draw **out, const hc_results *r, const int *variants, int n, const hc_curves_view *v,
                     const hc_plot_layout *lay);

/* The confidence range holding the bins of variant v with at least
 * min_count predictions, widened to tenths: for zooming in. */
int hc_curves_busy_range(const hc_results *r, int v, int min_count, double *x_lo, double *x_hi);

#endif
