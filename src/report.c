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
    g->value = hc_malloc(n * sizeof *g->value);
    g->se = hc_malloc(n * sizeof *g->se);
    g->variant = hc_malloc(n * sizeof *g->variant);
    g->row_labels = hc_calloc((size_t)g->rows, sizeof *g->row_labels);
    g->col_labels = hc_calloc((size_t)g->cols, sizeof *g->col_labels);
    if (!g->value || !g->se || !g->variant || !g->row_labels || !g->col_labels) {
        hc_grid_free(g);
        return -1;
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

int hc_curve_of(const hc_results *r, int v, double *acc, double *lo, double *hi, double *count)
{
    hc_calib_sum s;
    if (hc_calib_sum_init(&s, r->params.bins))
        return -1;
    hc_calib_sum_batches(&s, &r->variants[v].calib, r->done);
    double *band = hc_malloc((size_t)r->params.bins * sizeof *band);
    if (!band) {
        hc_calib_sum_free(&s);
        return -1;
    }
    hc_calib_curve(&s, acc, band);
    for (int b = 0; b < r->params.bins; b++) {
        /* an accuracy lies in [0, 1] whatever the error bar says */
        lo[b] = acc[b] - band[b] < 0 ? 0 : acc[b] - band[b];
        hi[b] = acc[b] + band[b] > 1 ? 1 : acc[b] + band[b];
        if (count)
            count[b] = (double)s.count[HC_BUCKET_COUNT][b];
    }
    free(band);
    hc_calib_sum_free(&s);
    return 0;
}

const char *hc_metric_words(int metric)
{
    switch (metric) {
    case HC_OC: return "Overconfidence (OC)";
    case HC_ECE: return "Expected calibration error (ECE)";
    case HC_MCE: return "Maximum calibration error (MCE)";
    case HC_NLL: return "Negative log-likelihood (nats)";
    case HC_ENTROPY: return "Entropy (nats)";
    case HC_DELTA_OC: return "Change in overconfidence (\u0394OC)";
    case HC_RELATIVE: return "Relative change in overconfidence";
    case HC_PAPER: return "Relative decrease in overconfidence";
    case HC_DELTA_ECE: return "Change in ECE (\u0394ECE)";
    case HC_DELTA_NLL: return "Change in NLL (\u0394NLL, nats)";
    case HC_DELTA_ENTROPY: return "Change in entropy (nats)";
    }
    return hc_metric_name(metric);
}

const char *hc_partial_note(const hc_results *r, char *buf, size_t n)
{
    int done = 0;
    for (int b = 0; b < r->params.batches; b++)
        done += r->done[b] != 0;
    if (done < r->params.batches)
        snprintf(buf, n, "partial: %d of %d batches", done, r->params.batches);
    else
        snprintf(buf, n, "%s", "");
    return buf;
}

/* "OC 0.0430" of the baseline, for titles. */
static double baseline_oc(const hc_results *r)
{
    hc_metrics m;
    int b = hc_results_baseline(r);
    return b >= 0 && !hc_results_metrics(r, b, &m) ? m.value[HC_OC] : NAN;
}

/* The title, then (on its own line) what a reader must know about the
 * numbers: the baseline, clipping, an MLP scale, a partial sweep. */
int hc_report_heatmap(hc_draw **out, const hc_results *r, const hc_grid *g, const hc_heatmap_view *v,
                      const hc_plot_layout *lay, hc_heatmap_geom *geom)
{
    char title[1024], partial[64], mlp[64] = "";
    hc_partial_note(r, partial, sizeof partial);
    hc_heatmap hm = {.rows = g->rows, .cols = g->cols, .values = g->value, .se = g->se,
                     .row_labels = (const char *const *)g->row_labels,
                     .col_labels = (const char *const *)g->col_labels, .title = title, .x_label = "Head",
                     .y_label = "Layer", .cbar_label = hc_metric_words(v->metric), .clip_negative = v->clip_negative,
                     .selected = v->selected, .cursor_row = v->cursor_row, .cursor_col = v->cursor_col,
                     .own_scale_cols = g->has_mlp};
    hc_heatmap_geom gg;
    if (hc_plot_heatmap(out, &hm, lay, &gg)) /* a first pass finds the MLP scale for the title */
        return -1;
    hc_draw_free(*out);
    *out = NULL;
    if (g->has_mlp)
        snprintf(mlp, sizeof mlp, "  \u00b7  MLP column on its own scale, \u00b1%.3g", gg.own_vmax);
    int at = snprintf(title, sizeof title, "%s\n", v->title ? v->title : hc_metric_words(v->metric));
    snprintf(title + at, sizeof title - (size_t)at, "baseline OC = %.4f%s%s%s%s", baseline_oc(r),
             v->clip_negative ? "  \u00b7  negatives clipped" : "", mlp, *partial ? "  \u00b7  " : "", partial);
    return hc_plot_heatmap(out, &hm, lay, geom);
}

int hc_report_curves(hc_draw **out, const hc_results *r, const int *variants, int n, const hc_curves_view *v,
                     const hc_plot_layout *lay)
{
    int bins = r->params.bins;
    double *buf = hc_malloc((size_t)n * 4 * bins * sizeof *buf + 1);
    hc_series *ser = hc_calloc((size_t)n + 1, sizeof *ser);
    char(*names)[96] = hc_calloc((size_t)n + 1, sizeof *names);
    int rc = (!buf || !ser || !names) ? -1 : 0;
    for (int i = 0; i < n && !rc; i++) {
        double *acc = buf + (size_t)i * 4 * bins, *lo = acc + bins, *hi = lo + bins, *count = hi + bins;
        rc = hc_curve_of(r, variants[i], acc, lo, hi, count);
        hc_metrics m;
        if (!rc)
            rc = hc_results_metrics(r, variants[i], &m);
        if (!rc)
            snprintf(names[i], sizeof names[i], "%s  OC %.4f", r->variants[variants[i]].id, m.value[HC_OC]);
        ser[i] = (hc_series){names[i], acc, lo, hi, v->colors ? v->colors[i] : i, count};
    }
    char title[512], partial[64];
    hc_partial_note(r, partial, sizeof partial);
    int at = snprintf(title, sizeof title, "%s\n", v->title ? v->title : "Calibration");
    snprintf(title + at, sizeof title - (size_t)at, "top-%d, %d bins, %llu positions, \u00b11\u03c3 bands%s%s",
             r->params.top_k, bins, (unsigned long long)hc_results_positions(r), *partial ? "  \u00b7  " : "",
             partial);
    hc_curves cv = {.n_bins = bins, .series = ser, .n_series = n, .title = title,
                    .x_label = "Confidence (top-k probability)", .y_label = "Accuracy",
                    .min_count = v->min_count, .x_lo = v->x_lo, .x_hi = v->x_hi, .histogram = 1};
    if (!rc)
        rc = hc_plot_curves(out, &cv, lay, NULL);
    free(buf);
    free(ser);
    free(names);
    return rc;
}

int hc_curves_busy_range(const hc_results *r, int v, int min_count, double *x_lo, double *x_hi)
{
    int bins = r->params.bins;
    double *buf = hc_malloc((size_t)bins * 4 * sizeof *buf);
    if (!buf)
        return -1;
    int rc = hc_curve_of(r, v, buf, buf + bins, buf + 2 * bins, buf + 3 * bins), first = -1, last = -1;
    for (int b = 0; !rc && b < bins; b++)
        if (buf[3 * bins + b] >= (min_count > 1 ? min_count : 1)) {
            first = first < 0 ? b : first;
            last = b;
        }
    free(buf);
    if (rc)
        return -1;
    *x_lo = 0, *x_hi = 1;
    if (first >= 0) {
        *x_lo = floor(10.0 * first / bins) / 10;
        *x_hi = ceil(10.0 * (last + 1) / bins) / 10;
    }
    return 0;
}
