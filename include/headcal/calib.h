/* The calibration accumulator of one variant (the baseline or one ablation),
 * docs/design.md, "Calibration".  Every count is kept per batch so that the jackknife over
 * batches, sharding and --resume are exact: a total is always a sum over
 * batches, never a running number that cannot be taken apart again.
 *
 * Thread safety: none inside.  hc_calib_add touches only the rows of its
 * own batch, so threads may add to one accumulator concurrently as long as
 * no two of them work on the same batch; otherwise give each thread its own
 * accumulator and combine them with hc_calib_merge. */
#ifndef HEADCAL_CALIB_H
#define HEADCAL_CALIB_H

#include <stdint.h>

/* Per-bin integer tables.  BUCKET_* count every one of the top-k events of
 * a position (the notebook's curve); TOP1_* count only the most probable
 * token (ECE and MCE). */
enum {
    HC_BUCKET_COUNT, HC_BUCKET_CORRECT, HC_TOP1_COUNT, HC_TOP1_CORRECT,
    HC_N_COUNT_TABLES
};
/* Per-bin sums of the events' probabilities, for the same two event sets. */
enum { HC_BUCKET_CONF, HC_TOP1_CONF, HC_N_CONF_TABLES };

typedef struct {
    int n_bins, top_k, n_batches;
    /* [n_batches, n_bins] each: row b is batch b. */
    uint64_t *count[HC_N_COUNT_TABLES];
    double *conf[HC_N_CONF_TABLES];
    /* [n_batches] each: scored positions, sums of -log p(next token) and of
     * the entropy of the predictive distribution (nats). */
    uint64_t *positions;
    double *nll, *entropy;
} hc_calib;

int hc_calib_init(hc_calib *c, int n_bins, int top_k, int n_batches);
void hc_calib_free(hc_calib *c);
/* Zeroes everything, or one batch (before redoing an interrupted batch). */
void hc_calib_reset(hc_calib *c);
void hc_calib_reset_batch(hc_calib *c, int batch);

/* The bin of probability p: min(floor(p * n_bins), n_bins - 1), computed
 * exactly (a float times an int is exact in double), so p on a bin edge
 * goes up and p = 1 lands in the last bin.  Out-of-range p (rounding, NaN)
 * is clamped into [0, n_bins - 1]. */
int hc_calib_bin(float p, int n_bins);

/* One scored position of `batch`: the top-k probabilities (sorted
 * descending) and their token ids, the next token, its NLL and the
 * distribution's entropy.  k must equal top_k and batch be in range. */
void hc_calib_add(hc_calib *c, int batch, const float *topk_p, const int32_t *topk_id, int k,
                  int32_t target, double nll, double entropy);

/* Adds src's batch (or every batch) to dst's; the shapes must agree. */
int hc_calib_merge_batch(hc_calib *dst, const hc_calib *src, int batch);
int hc_calib_merge(hc_calib *dst, const hc_calib *src);

/* A sum over a set of batches: arrays of n_bins, owned. */
typedef struct {
    int n_bins;
    uint64_t *count[HC_N_COUNT_TABLES];
    double *conf[HC_N_CONF_TABLES];
    uint64_t positions;
    double nll, entropy;
} hc_calib_sum;

int hc_calib_sum_init(hc_calib_sum *s, int n_bins);
void hc_calib_sum_free(hc_calib_sum *s);
/* s = the sum over the batches b with include[b] set (every batch when
 * include is NULL), in increasing batch order. */
void hc_calib_sum_batches(hc_calib_sum *s, const hc_calib *c, const unsigned char *include);
/* out = total minus batch `batch` of c (the jackknife's leave-one-out
 * sample); counts are exact, sums exact up to rounding. */
void hc_calib_sum_without(hc_calib_sum *out, const hc_calib_sum *total, const hc_calib *c,
                          int batch);

#endif
