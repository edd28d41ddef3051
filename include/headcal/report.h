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

/* The calibration curve of variant v: acc, and acc ∓ the band, per bin
 * (NaN where the bin is empty); arrays of r->params.bins. */
int hc_curve_of(const hc_results *r, int v, double *acc, double *lo, double *hi);

/* The heatmap of a metric for r (title with the baseline's OC); selected
 * is [rows, cols] or NULL, the cursor (-1 for none). */
int hc_report_heatmap(hc_draw **out, const hc_results *r, const hc_grid *g, int metric, int clip_negative,
                      const unsigned char *selected, int cursor_row, int cursor_col, const hc_plot_layout *lay,
                      hc_heatmap_geom *geom);
/* The calibration curves of the given variants (the first is usually the
 * baseline), each with its ±1σ band, over the diagonal. */
int hc_report_curves(hc_draw **out, const hc_results *r, const int *variants, int n, const hc_plot_layout *lay);

#endif
