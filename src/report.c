#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/error.h"
#include "headcal/report.h"

void hc_grid_free(hc_grid *g)
{
    for (int i = 0; g->row_labels && i < g->rows; i++)
        free(g->row_labels[i]);
    for (int i = 0; g->col_labels && i < g->cols; i++)
        free(g->col_labels[i]);
    free(g->row_labels);
    free(g->col_labels);
    free(g->value);
    free(g->se);
    free(g->variant);
    memset(g, 0, sizeof *g);
}

int hc_grid_build(hc_grid *g, const hc_results *r, int metric)
{
    memset(g, 0, sizeof *g);
    if (metric < 0 || metric >= HC_N_METRICS)
        return hc_fail(HC_EUSAGE, "unknown metric %d", metric);
    for (int v = 0; v < r->n_variants; v++)
        g->has_mlp |= r->variants[v].kind == HC_VARIANT_MLP;
    g->rows = r->model.n_layers;
    g->cols = r->model.n_heads + g->has_mlp;
    size_t n = (size_t)g->rows * g->cols;
    g->value = malloc(n * sizeof *g->value);
    g->se = malloc(n * sizeof *g->se);
    g->variant = malloc(n * sizeof *g->variant);
    g->row_labels = calloc((size_t)g->rows, sizeof *g->row_labels);
    g->col_labels = calloc((size_t)g->cols, sizeof *g->col_labels);
    if (!g->value || !g->se || !g->variant || !g->row_labels || !g->col_labels) {
        hc_grid_free(g);
        return hc_fail(HC_EBAD, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        g->value[i] = g->se[i] = NAN;
        g->variant[i] = -1;
    }
    for (int i = 0; i < g->rows; i++)
        if (asprintf(&g->row_labels[i], "%d", i) < 0)
            g->row_labels[i] = NULL;
    for (int i = 0; i < g->cols; i++)
        if (asprintf(&g->col_labels[i], i < r->model.n_heads ? "%d" : "MLP", i) < 0)
            g->col_labels[i] = NULL;
    for (int v = 0; v < r->n_variants; v++) {
        const hc_variant *var = &r->variants[v];
        if (var->kind != HC_VARIANT_HEAD && var->kind != HC_VARIANT_MLP)
            continue;
        hc_component c = var->members[0];
        size_t at = (size_t)c.layer * g->cols + (c.head == HC_MLP ? (size_t)r->model.n_heads : (size_t)c.head);
        hc_metrics m;
        if (hc_results_metrics(r, v, &m)) {
            hc_grid_free(g);
            return -1;
        }
        g->value[at] = m.value[metric];
        g->se[at] = m.se[metric];
        g->variant[at] = v;
    }
    return 0;
}

int hc_curve_of(const hc_results *r, int v, double *acc, double *lo, double *hi)
{
    hc_calib_sum s;
    if (hc_calib_sum_init(&s, r->params.bins))
        return -1;
    hc_calib_sum_batches(&s, &r->variants[v].calib, r->done);
    double *band = malloc((size_t)r->params.bins * sizeof *band);
    if (!band) {
        hc_calib_sum_free(&s);
        return hc_fail(HC_EBAD, "out of memory");
    }
    hc_calib_curve(&s, acc, band);
    for (int b = 0; b < r->params.bins; b++) {
        lo[b] = acc[b] - band[b];
        hi[b] = acc[b] + band[b];
    }
    free(band);
    hc_calib_sum_free(&s);
    return 0;
}

/* "OC 0.0430" of the baseline, for titles. */
static double baseline_oc(const hc_results *r)
{
    hc_metrics m;
    int b = hc_results_baseline(r);
    return b >= 0 && !hc_results_metrics(r, b, &m) ? m.value[HC_OC] : NAN;
}

int hc_report_heatmap(hc_draw **out, const hc_results *r, const hc_grid *g, int metric, int clip_negative,
                      const unsigned char *selected, int cursor_row, int cursor_col, const hc_plot_layout *lay,
                      hc_heatmap_geom *geom)
{
    char title[256];
    snprintf(title, sizeof title, "%s from removing the direct effect\nbaseline OC = %.4f%s", hc_metric_name(metric),
             baseline_oc(r), clip_negative ? " (negatives clipped)" : "");
    hc_heatmap hm = {.rows = g->rows, .cols = g->cols, .values = g->value,
                     .row_labels = (const char *const *)g->row_labels,
                     .col_labels = (const char *const *)g->col_labels, .title = title, .x_label = "Head",
                     .y_label = "Layer", .cbar_label = hc_metric_name(metric), .clip_negative = clip_negative,
                     .selected = selected, .cursor_row = cursor_row, .cursor_col = cursor_col};
    return hc_plot_heatmap(out, &hm, lay, geom);
}

int hc_report_curves(hc_draw **out, const hc_results *r, const int *variants, int n, const hc_plot_layout *lay)
{
    int bins = r->params.bins;
    double *buf = malloc((size_t)n * 3 * bins * sizeof *buf + 1);
    hc_series *ser = calloc((size_t)n + 1, sizeof *ser);
    char(*names)[96] = calloc((size_t)n + 1, sizeof *names);
    int rc = (!buf || !ser || !names) ? hc_fail(HC_EBAD, "out of memory") : 0;
    for (int i = 0; i < n && !rc; i++) {
        double *acc = buf + (size_t)i * 3 * bins, *lo = acc + bins, *hi = lo + bins;
        rc = hc_curve_of(r, variants[i], acc, lo, hi);
        hc_metrics m;
        if (!rc)
            rc = hc_results_metrics(r, variants[i], &m);
        snprintf(names[i], sizeof names[i], "%s OC=%.4f", r->variants[variants[i]].id, m.value[HC_OC]);
        ser[i] = (hc_series){names[i], acc, lo, hi, i};
    }
    char title[128];
    snprintf(title, sizeof title, "Calibration (top-%d, %d bins, %llu positions)", r->params.top_k, bins,
             (unsigned long long)hc_results_positions(r));
    hc_curves cv = {.n_bins = bins, .series = ser, .n_series = n, .title = title, .x_label = "Confidence",
                    .y_label = "Accuracy"};
    if (!rc)
        rc = hc_plot_curves(out, &cv, lay, NULL);
    free(buf);
    free(ser);
    free(names);
    return rc;
}
