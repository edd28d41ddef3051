#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/error.h"
#include "headcal/metrics.h"
#include <math.h>

static const char *const names[HC_N_METRICS] = {
    [HC_OC] = "oc", [HC_ECE] = "ece", [HC_MCE] = "mce", [HC_NLL] = "nll",
    [HC_ENTROPY] = "entropy", [HC_DELTA_OC] = "delta_oc", [HC_RELATIVE] = "relative",
    [HC_PAPER] = "paper", [HC_DELTA_ECE] = "delta_ece", [HC_DELTA_NLL] = "delta_nll",
    [HC_DELTA_ENTROPY] = "delta_entropy",
};

const char *hc_metric_name(int m)
{
    return m >= 0 && m < HC_N_METRICS ? names[m] : NULL;
}

int hc_metric_lookup(const char *name)
{
    for (int m = 0; m < HC_N_METRICS; m++)
        if (!strcmp(name, names[m]))
            return m;
    return -1;
}

double hc_bin_centre(int b, int n_bins)
{
    return (b + 0.5) / n_bins;
}

void hc_calib_curve(const hc_calib_sum *s, double *acc, double *band)
{
    for (int b = 0; b < s->n_bins; b++) {
        uint64_t n = s->count[HC_BUCKET_COUNT][b];
        if (n == 0) {
            acc[b] = band[b] = NAN;
            continue;
        }
        double c = hc_bin_centre(b, s->n_bins);
        acc[b] = (double)s->count[HC_BUCKET_CORRECT][b] / (double)n;
        band[b] = sqrt(c * (1 - c) / (double)n);
    }
}

/* One bin's share of OC's least-squares fit of f on x.  x = 0.5 - c_b is
 * formed from an exact integer numerator so that the middle bin of an odd
 * count gets x = 0 exactly, not 1e-17 (which would make OC of that bin
 * alone huge instead of undefined). */
static void oc_add(double *num, double *den, int b, int n_bins, double acc)
{
    double f = acc - hc_bin_centre(b, n_bins), x = (double)(n_bins - 2 * b - 1) / (2.0 * n_bins);
    *num += f * x;
    *den += x * x;
}

static double oc_ratio(double num, double den)
{
    return den > 0 ? num / den : NAN;
}

double hc_overconfidence(const double *acc, int n_bins)
{
    double num = 0, den = 0;
    for (int b = 0; b < n_bins; b++)
        if (!isnan(acc[b]))
            oc_add(&num, &den, b, n_bins, acc[b]);
    return oc_ratio(num, den);
}

static double ratio(double num, uint64_t den)
{
    return den ? num / (double)den : NAN;
}

void hc_metrics_of_sum(const hc_calib_sum *s, double *out)
{
    int n = s->n_bins;
    double num = 0, den = 0;
    for (int b = 0; b < n; b++)
        if (s->count[HC_BUCKET_COUNT][b])
            oc_add(&num, &den, b, n, (double)s->count[HC_BUCKET_CORRECT][b] /
                                         (double)s->count[HC_BUCKET_COUNT][b]);
    out[HC_OC] = oc_ratio(num, den);

    uint64_t total = 0;
    double ece = 0, mce = 0;
    for (int b = 0; b < n; b++) {
        uint64_t nb = s->count[HC_TOP1_COUNT][b];
        if (!nb)
            continue;
        double gap = fabs((double)s->count[HC_TOP1_CORRECT][b] - s->conf[HC_TOP1_CONF][b]) / (double)nb;
        total += nb;
        ece += (double)nb * gap;
        mce = gap > mce ? gap : mce;
    }
    out[HC_ECE] = ratio(ece, total);
    out[HC_MCE] = total ? mce : NAN;
    out[HC_NLL] = ratio(s->nll, s->positions);
    out[HC_ENTROPY] = ratio(s->entropy, s->positions);
}

static double minus(double a, double b)
{
    return isnan(a) || isnan(b) ? NAN : a - b;
}

/* Fills the comparison metrics of v (its own values in v[0..)) against the
 * baseline's values b. */
static void deltas(double *v, const double *b)
{
    v[HC_DELTA_OC] = minus(v[HC_OC], b[HC_OC]);
    v[HC_DELTA_ECE] = minus(v[HC_ECE], b[HC_ECE]);
    v[HC_DELTA_NLL] = minus(v[HC_NLL], b[HC_NLL]);
    v[HC_DELTA_ENTROPY] = minus(v[HC_ENTROPY], b[HC_ENTROPY]);
    double r = isnan(v[HC_OC]) || isnan(b[HC_OC]) || b[HC_OC] == 0 ? NAN : v[HC_OC] / b[HC_OC];
    v[HC_RELATIVE] = minus(r, 1);
    v[HC_PAPER] = minus(1, r);
}

/* All metrics of one sample: v's sum and, when base_sum is not NULL, the
 * baseline's sum over the same batches. */
static void evaluate(double *out, const hc_calib_sum *v_sum, const hc_calib_sum *base_sum)
{
    hc_metrics_of_sum(v_sum, out);
    for (int m = HC_N_VARIANT_METRICS; m < HC_N_METRICS; m++)
        out[m] = NAN;
    if (base_sum) {
        double b[HC_N_VARIANT_METRICS];
        hc_metrics_of_sum(base_sum, b);
        deltas(out, b);
    }
}

/* SE of n replicates theta[i * stride]; NaN unless n >= 2 and all defined. */
static double jackknife_se(const double *theta, int stride, int n)
{
    if (n < 2)
        return NAN;
    double mean = 0, ss = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(theta[(size_t)i * stride]))
            return NAN;
        mean += theta[(size_t)i * stride];
    }
    mean /= n;
    for (int i = 0; i < n; i++) {
        double d = theta[(size_t)i * stride] - mean;
        ss += d * d;
    }
    return sqrt((double)(n - 1) / n * ss);
}

int hc_metrics_compute(hc_metrics *m, const hc_calib *v, const hc_calib *base,
                       const unsigned char *include)
{
    if (base && (base->n_bins != v->n_bins || base->n_batches != v->n_batches))
        return hc_fail(HC_EBAD, "metrics: the baseline has another shape than the variant");
    int nb = v->n_bins;
    int *batches = hc_malloc((size_t)v->n_batches * sizeof *batches);
    if (!batches)
        return -1;
    int n = 0;
    for (int b = 0; b < v->n_batches; b++)
        if (!include || include[b])
            batches[n++] = b;

    /* [0] the total, [1] the replicate; per variant and baseline. */
    hc_calib_sum vs[2], bs[2];
    int ok = 1;
    for (int k = 0; k < 2; k++) {
        ok &= !hc_calib_sum_init(&vs[k], nb);
        ok &= !hc_calib_sum_init(&bs[k], nb);
    }
    double *theta = ok ? hc_malloc((size_t)(n ? n : 1) * HC_N_METRICS * sizeof *theta) : NULL;
    ok = theta != NULL;
    if (ok) {
        hc_calib_sum_batches(&vs[0], v, include);
        if (base)
            hc_calib_sum_batches(&bs[0], base, include);
        evaluate(m->value, &vs[0], base ? &bs[0] : NULL);
        m->n_batches = n;
        for (int i = 0; i < n; i++) {
            hc_calib_sum_without(&vs[1], &vs[0], v, batches[i]);
            if (base)
                hc_calib_sum_without(&bs[1], &bs[0], base, batches[i]);
            evaluate(theta + (size_t)i * HC_N_METRICS, &vs[1], base ? &bs[1] : NULL);
        }
        for (int k = 0; k < HC_N_METRICS; k++)
            m->se[k] = jackknife_se(theta + k, HC_N_METRICS, n);
    }
    for (int k = 0; k < 2; k++) {
        hc_calib_sum_free(&vs[k]);
        hc_calib_sum_free(&bs[k]);
    }
    free(theta);
    free(batches);
    return ok ? 0 : -1;
}
