#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "headcal/buf.h"
#include "headcal/error.h"
#include "headcal/export.h"
#include "headcal/fileio.h"
#include "headcal/imgout.h"
#include "headcal/report.h"

/* dir/stem.ext */
static int name(char *out, size_t n, const char *dir, const char *stem, const char *ext)
{
    char file[512];
    snprintf(file, sizeof file, "%s.%s", stem, ext);
    return hc_path_join(out, n, dir, file);
}

/* A plot as PNG, SVG and PDF, from one display list. */
static int write_images(hc_draw *d, const char *dir, const char *stem)
{
    char path[4600];
    for (int f = HC_IMAGE_PNG; f <= HC_IMAGE_PDF; f++)
        if (name(path, sizeof path, dir, stem, hc_image_format_name((hc_image_format)f)) || hc_write_image(d, (hc_image_format)f, path))
            return -1;
    return 0;
}

static int write_text(const char *path, const char *text)
{
    hc_atomic_file af;
    if (hc_atomic_open(&af, path))
        return -1;
    if (fputs(text, af.f) == EOF) {
        hc_atomic_abort(&af);
        return hc_fail(HC_EBAD, "%s: cannot write", path);
    }
    return hc_atomic_commit(&af);
}

static int write_json(cJSON *root, const char *dir, const char *stem)
{
    char path[4600], *text = root ? cJSON_Print(root) : NULL;
    int rc = !text ? hc_fail(HC_EBAD, "out of memory")
                   : name(path, sizeof path, dir, stem, "json") || write_text(path, text);
    free(text);
    cJSON_Delete(root);
    return rc ? -1 : 0;
}

/* A number for CSV: empty when undefined. */
static void tb_num(hc_buf *t, double v, const char *sep)
{
    if (isfinite(v))
        hc_buf_printf(t, "%.9g%s", v, sep);
    else
        hc_buf_printf(t, "%s", sep);
}

/* Data from an unfinished sweep says so in a comment line first. */
static void csv_partial(hc_buf *t, const hc_results *r)
{
    char partial[64];
    if (*hc_partial_note(r, partial, sizeof partial))
        hc_buf_printf(t, "# %s\n", partial);
}

static int write_csv(hc_buf *t, const char *dir, const char *stem)
{
    char path[4600];
    int rc = t->failed || name(path, sizeof path, dir, stem, "csv") || write_text(path, t->s ? t->s : "");
    hc_buf_free(t);
    return rc ? -1 : 0;
}

/* Writes the data files unless something already failed; frees both. */
static int finish(int failed, cJSON *root, hc_buf *t, const char *dir, const char *stem)
{
    if (failed) {
        cJSON_Delete(root);
        hc_buf_free(t);
        return -1;
    }
    if (write_json(root, dir, stem)) {
        hc_buf_free(t);
        return -1;
    }
    return write_csv(t, dir, stem);
}

static cJSON *describe(const hc_results *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", r->model.path);
    cJSON_AddStringToObject(o, "model_sha256", r->model.sha256);
    cJSON_AddStringToObject(o, "data", r->data.source);
    cJSON_AddStringToObject(o, "data_sha256", r->data.sha256);
    cJSON_AddNumberToObject(o, "positions", (double)hc_results_positions(r));
    cJSON_AddNumberToObject(o, "top_k", r->params.top_k);
    cJSON_AddNumberToObject(o, "bins", r->params.bins);
    char partial[64];
    if (*hc_partial_note(r, partial, sizeof partial))
        cJSON_AddStringToObject(o, "partial", partial);
    return o;
}

static int export_heatmap(const hc_results *r, const hc_export_view *v, const hc_plot_layout *lay,
                          const char *dir)
{
    char stem[128];
    const char *metric = hc_metric_name(v->metric);
    snprintf(stem, sizeof stem, "heatmap-%s%s", metric, v->clip_negative ? "-clipped" : "");
    hc_grid g;
    if (hc_grid_build(&g, r, v->metric))
        return -1;
    hc_draw *d = NULL;
    hc_heatmap_view hv = {.metric = v->metric, .clip_negative = v->clip_negative, .cursor_row = -1, .cursor_col = -1};
    int rc = hc_report_heatmap(&d, r, &g, &hv, lay, NULL) || write_images(d, dir, stem);
    hc_draw_free(d);

    hc_buf t = HC_BUF_INIT;
    csv_partial(&t, r);
    hc_buf_printf(&t, "layer,head,variant,%s,%s_se,selected\n", metric, metric);
    cJSON *root = describe(r), *cells = cJSON_AddArrayToObject(root, "cells");
    cJSON_AddStringToObject(root, "metric", metric);
    cJSON_AddBoolToObject(root, "clip_negative", v->clip_negative);
    cJSON_AddNumberToObject(root, "layers", g.rows);
    cJSON_AddNumberToObject(root, "heads", r->model.n_heads);
    for (int i = 0; i < g.rows; i++)
        for (int j = 0; j < g.cols; j++) {
            int at = i * g.cols + j, var = g.variant[at];
            if (var < 0)
                continue;
            /* the numbers behind the picture: clipped as it is drawn */
            double val = g.value[at];
            if (v->clip_negative && val < 0)
                val = 0;
            hc_buf_printf(&t, "%d,%s,%s,", i, g.col_labels[j], r->variants[var].id);
            int sel = v->selected && v->selected[at];
            tb_num(&t, val, ",");
            tb_num(&t, g.se[at], ",");
            hc_buf_printf(&t, "%d\n", sel);
            cJSON *c = cJSON_CreateObject();
            cJSON_AddNumberToObject(c, "layer", i);
            if (j < r->model.n_heads)
                cJSON_AddNumberToObject(c, "head", j);
            else
                cJSON_AddStringToObject(c, "head", "MLP");
            cJSON_AddStringToObject(c, "variant", r->variants[var].id);
            cJSON_AddNumberToObject(c, "value", val); /* NaN prints as null */
            cJSON_AddNumberToObject(c, "se", g.se[at]);
            cJSON_AddBoolToObject(c, "selected", sel);
            cJSON_AddItemToArray(cells, c);
        }
    hc_grid_free(&g);
    return finish(rc, root, &t, dir, stem);
}

static int export_curves(const hc_results *r, const hc_export_view *v, const hc_plot_layout *lay,
                         const char *dir)
{
    char stem[128] = "curves";
    size_t at = strlen(stem);
    for (int i = 0; i < v->n_curves && at < sizeof stem; i++)
        at += (size_t)snprintf(stem + at, sizeof stem - at, "%s%s", i ? "_" : "-", r->variants[v->curves[i]].id);
    if (at >= 100)
        snprintf(stem, sizeof stem, "curves-%d-variants", v->n_curves);
    hc_draw *d = NULL;
    int rc = hc_report_curves(&d, r, v->curves, v->n_curves, &v->curves_view, lay) || write_images(d, dir, stem);
    hc_draw_free(d);

    int bins = r->params.bins;
    double *acc = hc_malloc(4 * (size_t)bins * sizeof *acc);
    if (!acc)
        return -1;
    double *lo = acc + bins, *hi = lo + bins, *count = hi + bins;
    hc_buf t = HC_BUF_INIT;
    csv_partial(&t, r);
    hc_buf_printf(&t, "variant,bin,confidence,accuracy,accuracy_minus_sigma,accuracy_plus_sigma,count\n");
    cJSON *root = describe(r), *series = cJSON_AddArrayToObject(root, "series");
    for (int i = 0; i < v->n_curves && !rc; i++) {
        const hc_variant *var = &r->variants[v->curves[i]];
        hc_metrics m;
        rc = hc_curve_of(r, v->curves[i], acc, lo, hi, count) || hc_results_metrics(r, v->curves[i], &m);
        if (rc)
            break;
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "variant", var->id);
        cJSON_AddNumberToObject(s, "oc", m.value[HC_OC]);
        cJSON_AddNumberToObject(s, "oc_se", m.se[HC_OC]);
        cJSON *conf = cJSON_AddArrayToObject(s, "confidence"), *a = cJSON_AddArrayToObject(s, "accuracy"),
              *l = cJSON_AddArrayToObject(s, "accuracy_minus_sigma"),
              *h = cJSON_AddArrayToObject(s, "accuracy_plus_sigma"), *n = cJSON_AddArrayToObject(s, "count");
        for (int b = 0; b < bins; b++) {
            double c = hc_bin_centre(b, bins);
            hc_buf_printf(&t, "%s,%d,%.9g,", var->id, b, c);
            tb_num(&t, acc[b], ",");
            tb_num(&t, lo[b], ",");
            tb_num(&t, hi[b], ",");
            hc_buf_printf(&t, "%.0f\n", count[b]);
            cJSON_AddItemToArray(conf, cJSON_CreateNumber(c));
            cJSON_AddItemToArray(a, cJSON_CreateNumber(acc[b]));
            cJSON_AddItemToArray(l, cJSON_CreateNumber(lo[b]));
            cJSON_AddItemToArray(h, cJSON_CreateNumber(hi[b]));
            cJSON_AddItemToArray(n, cJSON_CreateNumber(count[b]));
        }
        cJSON_AddItemToArray(series, s);
    }
    free(acc);
    return finish(rc, root, &t, dir, stem);
}

int hc_export(const hc_results *r, const hc_export_view *v, const char *dir)
{
    if (mkdir(dir, 0777) && errno != EEXIST)
        return hc_fail(HC_EBAD, "%s: cannot create directory: %s", dir, strerror(errno));
    hc_plot_layout lay = {.width = v->width ? v->width : 1000, .height = v->height ? v->height : 750};
    return export_heatmap(r, v, &lay, dir) || export_curves(r, v, &lay, dir) ? -1 : 0;
}
