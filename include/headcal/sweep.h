/* The direct-effect ablation sweep (docs/design.md).  For every scored position
 * and every variant (the baseline, or the model with some components'
 * direct effect removed) it computes the top-k probabilities of the full
 * softmax, the NLL of the next token and the entropy, without ever
 * materialising a full logits matrix:
 *
 *   ablated logits = α·(x̂ · W_U) + b_U − Σ_members (a_m / σ') · B_m
 *
 * where x̂ is the final LayerNorm input normalised by its scale σ, a_m the
 * member's activation (head: z_h, rank d_head, B = W_OU^h = W_O^h · W_U;
 * MLP: its output, B = W_U), σ' = σ with the scale frozen (α = 1), or the
 * scale recomputed without the members' output (α = σ/σ').  With mean
 * ablation a_m is replaced by a_m − mean_pos(a_m).  The model must be
 * processed (hc_model_process), so W_U already carries ln_f's weight. */
#ifndef HEADCAL_SWEEP_H
#define HEADCAL_SWEEP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "headcal/component.h"
#include "headcal/model.h"

#define HC_TOPK_MAX 64

/* Whether this CPU runs the kernel (HC_KERNEL_*). */
int hc_sweep_kernel_available(int kernel);
/* Bytes one head's W_OU takes in the sweep's cache with that kernel
 * (AVX-512 and AMX pack it; AMX pads d_head to a multiple of 32). */
size_t hc_sweep_head_bytes(const hc_config *c, int kernel);

/* The cost model of the direct path: forming a head's W_OU costs
 * d_head·d_model·V multiply-adds once, and then saves (d_model − d_head)·V
 * per scored position over multiplying the head's output (rank d_model)
 * by W_U directly; a run of fewer positions than d_head·d_model /
 * (d_model − d_head) — 69 for GPT-2 small, about one sequence — goes
 * direct.  positions 0 (unknown) never does. */
int hc_sweep_direct(const hc_config *c, long positions);

/* n == 0 is the baseline. */
typedef struct {
    int n;
    hc_component *c;
} hc_variant_spec;

/* Which inner kernel computes the ablated logits' statistics. */
enum {
    HC_KERNEL_AUTO,       /* the fastest the CPU has (AMX, AVX-512, generic), unless HEADCAL_KERNEL says otherwise */
    HC_KERNEL_GENERIC,    /* OpenBLAS sgemm per member, then the statistics */
    HC_KERNEL_AVX512,     /* the fused float kernel (fails on CPUs without AVX-512) */
    HC_KERNEL_AMX,        /* the fused AMX kernel, bf16x3 products (fails without AMX-BF16) */
    HC_KERNEL_AVX512BF16, /* the fused kernel with bf16x3 products by vdpbf16ps (fails without AVX512_BF16) */
};

/* The kernel's name, as HEADCAL_KERNEL and the results spell it:
 * "generic", "avx512", "avx512bf16" or "amx" ("auto" for HC_KERNEL_AUTO). */
const char *hc_kernel_name(int kernel);

typedef struct {
    int top_k;
    int ablation;       /* HC_ABLATION_* */
    int ln;             /* HC_LN_* */
    int threads;        /* workers; 0 = all cores */
    size_t mem_budget;  /* bytes for the W_OU cache; 0 = no limit */
    long positions;     /* scored positions the whole run will sweep, if known (0: unknown); a
                           run this short skips W_OU for the direct path (see hc_sweep_direct) */
    int kernel;         /* HC_KERNEL_* */
} hc_sweep_opts;

/* Per-position means of every component's activation over a dataset, for
 * mean ablation: z_mean[L, S, D] and mlp_mean[L, S, D] (position-major
 * inside each layer).  Positions never seen have mean zero.  headcal/means.h
 * computes them. */
typedef struct {
    int L, S, D;
    float *z_mean, *mlp_mean;
} hc_means;

/* What one batch produced, for n_var variants × n_pos scored positions. */
typedef struct {
    int n_var, n_pos, k;
    int32_t *target;   /* [P] the next token */
    int32_t *row, *pos;/* [P] where each scored position sits in the batch */
    float *topk_p;     /* [n_var, P, k] descending */
    int32_t *topk_id;  /* [n_var, P, k] */
    double *nll;       /* [n_var, P] */
    double *entropy;   /* [n_var, P] */
} hc_sweep_out;

typedef struct hc_sweep hc_sweep;

/* The variants are copied.  Fails on components outside the model. */
int hc_sweep_new(hc_sweep **sw, const hc_model *m, const hc_variant_spec *vars, int n_var,
                 const hc_sweep_opts *o);
void hc_sweep_free(hc_sweep *sw);
/* The kernel the sweep runs (hc_kernel_name's spelling, never "auto"). */
const char *hc_sweep_kernel_name(const hc_sweep *sw);
/* The name of the kernel a sweep with these options would run on this CPU
 * (HEADCAL_KERNEL included), without building one: results record it. */
int hc_sweep_kernel_choose(const hc_model *m, const hc_sweep_opts *o, const char **name);
/* Required before hc_sweep_batch with mean ablation; sw keeps a pointer. */
void hc_sweep_set_means(hc_sweep *sw, const hc_means *mn);
/* Cancellation flag checked between tasks (may be NULL). */
void hc_sweep_set_cancel(hc_sweep *sw, atomic_int *cancel);
/* Progress inside hc_sweep_batch, for a progress bar that moves within a
 * batch: tick(ctx, done, total) after each of the batch's tiles, on the
 * pool's threads (so it must be thread-safe and quick); NULL for none. */
void hc_sweep_set_tick(hc_sweep *sw, void (*tick)(void *ctx, int done, int total), void *ctx);
/* Results before the batch ends: in the first batch each layer's W_OU is
 * formed and its heads swept before the next layer's (the baseline and
 * the variants that need no W_OU with the first), and after each such pass
 * but the last, part(ctx, out, final) is called on hc_sweep_batch's thread:
 * out's rows of the variants v with final[v] set hold their final values,
 * the others are not yet computed.  A non-zero return stops the batch. */
void hc_sweep_set_part(hc_sweep *sw, int (*part)(void *ctx, const hc_sweep_out *out, const char *final),
                       void *ctx);
/* Runs the forward pass on tokens[B, S] (row b has lengths[b] real tokens,
 * the rest is padding) and fills out; position t of row b is scored when
 * t + 1 < lengths[b]. */
int hc_sweep_batch(hc_sweep *sw, const int32_t *tokens, const int *lengths, int B, int S, hc_sweep_out *out);
void hc_sweep_out_free(hc_sweep_out *out);
/* Wall-clock seconds the sweep has spent forming W_OU so far (the rest of
 * a batch is the forward pass and the sweep proper): for benchmarks. */
double hc_sweep_wou_seconds(const hc_sweep *sw);

#endif
