/* Internal to the sweep: the per-row online softmax statistics over
 * vocabulary tiles, compiled with -ffast-math (vectorised expf). */
#ifndef HEADCAL_SWEEP_KERNEL_H
#define HEADCAL_SWEEP_KERNEL_H

#include <stdint.h>

/* Initial values are -FLT_MAX, not -inf: -ffast-math assumes finite
 * values.  Running statistics of one row (one variant at one position) over the
 * vocabulary tiles seen so far: max logit m, s = Σ e^(ℓ−m),
 * w = Σ e^(ℓ−m)(ℓ−m), the target's logit, and the top-k logits. */
typedef struct {
    float m, target_logit;
    double s, w;
} hck_row;

void hck_rows_init(hck_row *rows, float *tk, int32_t *ti, int n, int k);
/* x[T, vt] holds logits for vocabulary ids v0..v0+vt-1 of T rows. */
void hck_update(const float *x, int T, int vt, int v0, const int32_t *target, hck_row *rows, float *tk,
                int32_t *ti, int k);
/* lse = m + log s; nll = lse − ℓ_target; entropy = log s − w/s;
 * topk_p = e^(ℓ − lse). */
void hck_finish(const hck_row *r, const float *tk, int k, float *topk_p, double *nll, double *entropy);

#endif
