/* Metrics from calibration counts (docs/design.md, "Metrics"): the calibration curve, the
 * notebook's overconfidence OC, ECE and MCE over the top-1 events, mean NLL
 * and entropy, the changes against the baseline, and jackknife standard
 * errors over batches for all of them.
 *
 * Every metric is a function of an hc_calib_sum, so the point estimate (the
 * sum over all batches) and each jackknife replicate (the sum without one
 * batch) go through the same code.  An undefined value is NaN; test it with
 * isnan(). */
#ifndef HEADCAL_METRICS_H
#define HEADCAL_METRICS_H

#include "headcal/calib.h"

/* The first HC_N_VARIANT_METRICS describe one variant; the rest compare it
 * with the baseline:
 *   oc        Σ f_b x_b / Σ x_b² over non-empty bins, f_b = acc_b - c_b,
 *             x_b = 0.5 - c_b, c_b = (b + 0.5) / n_bins
 *   ece       Σ (n_b / N) |acc_b - conf_b| over the top-1 bins, conf_b their
 *             mean top-1 probability; mce = max |acc_b - conf_b|
 *   nll, entropy   per scored position (nats)
 *   delta_oc  OC - OC_base;  relative  OC / OC_base - 1;
 *   paper     -(OC / OC_base - 1), the sign convention of the paper's figure
 *   delta_ece, delta_nll, delta_entropy   differences with the baseline */
enum {
    HC_OC, HC_ECE, HC_MCE, HC_NLL, HC_ENTROPY,
    HC_DELTA_OC, HC_RELATIVE, HC_PAPER, HC_DELTA_ECE, HC_DELTA_NLL, HC_DELTA_ENTROPY,
    HC_N_METRICS
};
#define HC_N_VARIANT_METRICS (HC_ENTROPY + 1)

/* Field name of metric m in results files and on the command line ("oc",
 * "delta_oc", ...), and the reverse (-1 for an unknown name). */
const char *hc_metric_name(int m);
int hc_metric_lookup(const char *name);

typedef struct {
    double value[HC_N_METRICS];
    double se[HC_N_METRICS];  /* jackknife over batches; NaN with < 2 batches */
    int n_batches;            /* batches in the sample */
} hc_metrics;

/* Centre c_b of bin b. */
double hc_bin_centre(int b, int n_bins);

/* The calibration curve of the top-k events: acc[b] = correct / count and
 * band[b] = sqrt(c_b (1 - c_b) / count), both NaN where count is 0. */
void hc_calib_curve(const hc_calib_sum *s, double *acc, double *band);

/* OC of an accuracy curve (the notebook's calculate_overconfidence), NaN
 * entries (empty bins) left out; NaN when nothing is left. */
double hc_overconfidence(const double *acc, int n_bins);

/* The HC_N_VARIANT_METRICS values of one sum. */
void hc_metrics_of_sum(const hc_calib_sum *s, double *out);

/* Every metric of variant v with its jackknife SE, over the batches with
 * include[b] set (all when NULL).  base is the baseline (NULL: the Δ
 * metrics are NaN); it must have v's shape.  Replicate i leaves batch i out
 * of both v and base.  SE = sqrt((n-1)/n Σ (θ_i - θ̄)²), NaN when fewer than
 * 2 batches or when any replicate is undefined. */
int hc_metrics_compute(hc_metrics *m, const hc_calib *v, const hc_calib *base,
                       const unsigned char *include);

#endif
