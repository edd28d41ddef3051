#include <stdlib.h>
#include <string.h>

#include "headcal/calib.h"
#include "headcal/error.h"
#include <math.h>

int hc_calib_init(hc_calib *c, int n_bins, int top_k, int n_batches)
{
    memset(c, 0, sizeof *c);
    if (n_bins < 1 || top_k < 1 || n_batches < 1)
        return hc_fail(HC_EBAD, "calibration: bins, top-k and batches must be positive");
    size_t cells;
    if (!hc_mul_ok((size_t)n_bins, (size_t)n_batches, &cells))
        return hc_fail(HC_EBAD, "calibration: %d batches x %d bins is too large", n_batches, n_bins);
    c->n_bins = n_bins;
    c->top_k = top_k;
    c->n_batches = n_batches;
    int ok = 1;
    for (int t = 0; t < HC_N_COUNT_TABLES; t++)
        ok &= (c->count[t] = hc_calloc(cells, sizeof(uint64_t))) != NULL;
    for (int t = 0; t < HC_N_CONF_TABLES; t++)
        ok &= (c->conf[t] = hc_calloc(cells, sizeof(double))) != NULL;
    ok &= (c->positions = hc_calloc((size_t)n_batches, sizeof(uint64_t))) != NULL;
    ok &= (c->nll = hc_calloc((size_t)n_batches, sizeof(double))) != NULL;
    ok &= (c->entropy = hc_calloc((size_t)n_batches, sizeof(double))) != NULL;
    if (!ok) {
        hc_calib_free(c);
        return -1;
    }
    return 0;
}

void hc_calib_free(hc_calib *c)
{
    for (int t = 0; t < HC_N_COUNT_TABLES; t++)
        free(c->count[t]);
    for (int t = 0; t < HC_N_CONF_TABLES; t++)
        free(c->conf[t]);
    free(c->positions);
    free(c->nll);
    free(c->entropy);
    memset(c, 0, sizeof *c);
}

void hc_calib_reset_batch(hc_calib *c, int batch)
{
    size_t off = (size_t)batch * (size_t)c->n_bins, n = (size_t)c->n_bins;
    for (int t = 0; t < HC_N_COUNT_TABLES; t++)
        memset(c->count[t] + off, 0, n * sizeof(uint64_t));
    for (int t = 0; t < HC_N_CONF_TABLES; t++)
        memset(c->conf[t] + off, 0, n * sizeof(double));
    c->positions[batch] = 0;
    c->nll[batch] = 0;
    c->entropy[batch] = 0;
}

void hc_calib_reset(hc_calib *c)
{
    for (int b = 0; b < c->n_batches; b++)
        hc_calib_reset_batch(c, b);
}

int hc_calib_bin(float p, int n_bins)
{
    double x = (double)p * n_bins;
    if (isnan(x) || x < 1.0)
        return 0;
    if (x >= n_bins)
        return n_bins - 1;
    return (int)x;
}

void hc_calib_add(hc_calib *c, int batch, const float *topk_p, const int32_t *topk_id, int k,
                  int32_t target, double nll, double entropy)
{
    size_t row = (size_t)batch * (size_t)c->n_bins;
    uint64_t *count = c->count[HC_BUCKET_COUNT] + row, *correct = c->count[HC_BUCKET_CORRECT] + row;
    double *conf = c->conf[HC_BUCKET_CONF] + row;
    for (int i = 0; i < k; i++) {
        int b = hc_calib_bin(topk_p[i], c->n_bins);
        count[b]++;
        correct[b] += topk_id[i] == target;
        conf[b] += topk_p[i];
    }
    int b = hc_calib_bin(topk_p[0], c->n_bins);
    c->count[HC_TOP1_COUNT][row + b]++;
    c->count[HC_TOP1_CORRECT][row + b] += topk_id[0] == target;
    c->conf[HC_TOP1_CONF][row + b] += topk_p[0];
    c->positions[batch]++;
    c->nll[batch] += nll;
    c->entropy[batch] += entropy;
}

static int same_shape(const hc_calib *a, const hc_calib *b)
{
    if (a->n_bins != b->n_bins || a->top_k != b->top_k || a->n_batches != b->n_batches)
        return hc_fail(HC_EBAD, "calibration: cannot merge accumulators of different shapes");
    return 0;
}

static void merge_batch(hc_calib *dst, const hc_calib *src, int batch)
{
    size_t off = (size_t)batch * (size_t)dst->n_bins;
    for (int t = 0; t < HC_N_COUNT_TABLES; t++)
        for (int i = 0; i < dst->n_bins; i++)
            dst->count[t][off + i] += src->count[t][off + i];
    for (int t = 0; t < HC_N_CONF_TABLES; t++)
        for (int i = 0; i < dst->n_bins; i++)
            dst->conf[t][off + i] += src->conf[t][off + i];
    dst->positions[batch] += src->positions[batch];
    dst->nll[batch] += src->nll[batch];
    dst->entropy[batch] += src->entropy[batch];
}

int hc_calib_merge_batch(hc_calib *dst, const hc_calib *src, int batch)
{
    if (same_shape(dst, src))
        return -1;
    if (batch < 0 || batch >= dst->n_batches)
        return hc_fail(HC_EBAD, "calibration: batch %d out of range", batch);
    merge_batch(dst, src, batch);
    return 0;
}

int hc_calib_merge(hc_calib *dst, const hc_calib *src)
{
    if (same_shape(dst, src))
        return -1;
    for (int b = 0; b < dst->n_batches; b++)
        merge_batch(dst, src, b);
    return 0;
}

int hc_calib_sum_init(hc_calib_sum *s, int n_bins)
{
    memset(s, 0, sizeof *s);
    s->n_bins = n_bins;
    int ok = 1;
    for (int t = 0; t < HC_N_COUNT_TABLES; t++)
        ok &= (s->count[t] = hc_calloc((size_t)n_bins, sizeof(uint64_t))) != NULL;
    for (int t = 0; t < HC_N_CONF_TABLES; t++)
        ok &= (s->conf[t] = hc_calloc((size_t)n_bins, sizeof(double))) != NULL;
    if (!ok) {
        hc_calib_sum_free(s);
        return -1;
    }
    return 0;
}

void hc_calib_sum_free(hc_calib_sum *s)
{
    for (int t = 0; t < HC_N_COUNT_TABLES; t++)
        free(s->count[t]);
    for (int t = 0; t < HC_N_CONF_TABLES; t++)
        free(s->conf[t]);
    memset(s, 0, sizeof *s);
}

void hc_calib_sum_batches(hc_calib_sum *s, const hc_calib *c, const unsigned char *include)
{
    int n = c->n_bins;
    for (int t = 0; t < HC_N_COUNT_TABLES; t++)
        memset(s->count[t], 0, (size_t)n * sizeof(uint64_t));
    for (int t = 0; t < HC_N_CONF_TABLES; t++)
        memset(s->conf[t], 0, (size_t)n * sizeof(double));
    s->positions = 0;
    s->nll = s->entropy = 0;
    for (int b = 0; b < c->n_batches; b++) {
        if (include && !include[b])
            continue;
        size_t off = (size_t)b * (size_t)n;
        for (int t = 0; t < HC_N_COUNT_TABLES; t++)
            for (int i = 0; i < n; i++)
                s->count[t][i] += c->count[t][off + i];
        for (int t = 0; t < HC_N_CONF_TABLES; t++)
            for (int i = 0; i < n; i++)
                s->conf[t][i] += c->conf[t][off + i];
        s->positions += c->positions[b];
        s->nll += c->nll[b];
        s->entropy += c->entropy[b];
    }
}

void hc_calib_sum_without(hc_calib_sum *out, const hc_calib_sum *total, const hc_calib *c,
                          int batch)
{
    int n = c->n_bins;
    size_t off = (size_t)batch * (size_t)n;
    for (int t = 0; t < HC_N_COUNT_TABLES; t++)
        for (int i = 0; i < n; i++)
            out->count[t][i] = total->count[t][i] - c->count[t][off + i];
    for (int t = 0; t < HC_N_CONF_TABLES; t++)
        for (int i = 0; i < n; i++)
            out->conf[t][i] = total->conf[t][i] - c->conf[t][off + i];
    out->positions = total->positions - c->positions[batch];
    out->nll = total->nll - c->nll[batch];
    out->entropy = total->entropy - c->entropy[batch];
}
