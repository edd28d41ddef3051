/* Internal to the sweep: the per-row online softmax statistics over
 * vocabulary tiles, compiled with -ffast-math (vectorised expf), and the
 * fused kernels (sweep_fused.c). */
#ifndef HEADCAL_SWEEP_KERNEL_H
#define HEADCAL_SWEEP_KERNEL_H

#include <stddef.h>
#include <stdint.h>

/* Initial values are -FLT_MAX, not -inf: -ffast-math assumes finite
 * values.  Running statistics of one row (one variant at one position) over the
 * vocabulary tiles seen so far: max logit m, s = Σ e^(ℓ−m),
 * w = Σ e^(ℓ−m)(ℓ−m), the target's logit, and the top-k logits. */
typedef struct {
    float m, target_logit;
    double s, w;
    float sl[16], wl[16]; /* fused kernels: s and w by lane within a call (wl in units of log2) */
} hck_row;

void hck_rows_init(hck_row *rows, float *tk, int32_t *ti, int n, int k);
/* x[T, vt] holds logits for vocabulary ids v0..v0+vt-1 of T rows. */
void hck_update(const float *x, int T, int vt, int v0, const int32_t *target, hck_row *rows, float *tk,
                int32_t *ti, int k);
/* lse = m + log s; nll = lse − ℓ_target; entropy = log s − w/s;
 * topk_p = e^(ℓ − lse). */
/* Inserts (v, id) into the descending top-k list tk/ti (v must beat tk[k-1]). */
void hck_topk_insert(float *tk, int32_t *ti, int k, float v, int32_t id);

/* The inner kernels: OpenBLAS sgemm then hck_update (portable), and the
 * fused kernels of sweep_fused.c: float FMAs (AVX-512), bf16x3 products
 * by vdpbf16ps (AVX-512 BF16) or by AMX tiles. */
enum { HCK_GENERIC, HCK_AVX512, HCK_BF16, HCK_AMX };

/* Fused kernels read activations in row blocks (rows padded with zeros to
 * a multiple of HCK_ROW_PAD) and W_OU in panels of HCK_NR columns. */
enum { HCK_ROW_PAD = 16, HCK_NR = 32 };

/* One member of a variant: its scaled activations a[rows, K] (float
 * kernels), or (bf16x3 kernels) the same split by hck_split_rows into
 * a16, and its W_OU packed by hck_pack. */
typedef struct {
    const float *a;
    const uint16_t *a16;
    int K, rows;
    const float *packed;
} hck_seg;

/* For vocabulary ids v0..v0+vt-1 (v0 a multiple of HCK_NR) of T rows:
 * ℓ = base[t, :] − Σ_segments a · W_OU (base holding the bias), or
 * alpha[t]·(base[t, :] − bias) + bias − Σ a · W_OU when alpha is given
 * (the scale recomputed), folded into the rows' statistics as hck_update
 * does, without storing ℓ.  A row's m is then a reference within a few
 * nats of the running maximum rather than the maximum. */
typedef void hck_fused_fn(const hck_seg *seg, int nseg, int T, const float *base, int ldb, const float *alpha,
                          const float *bias, int v0, int vt, const int32_t *target, hck_row *rows, float *tk,
                          int32_t *ti, int k);
/* The fused kernel of that kind, or NULL where this build or CPU (and OS)
 * lacks it. */
hck_fused_fn *hck_fused(int kind);
/* Whether a kind's kernel takes bfloat16 splits of the activations. */
static inline int hck_splits(int kind) { return kind == HCK_BF16 || kind == HCK_AMX; }
/* The bf16x3 kernels work on depths padded to whole 32-deep tiles. */
static inline int hck_amx_depth(int K) { return (K + 31) / 32 * 32; }
/* Floats of w[K, V] packed for kernel `kind`: the generic path keeps
 * [K, V] rows; the fused kernels take panels of HCK_NR columns, each
 * contiguous so a kernel streams it, zero-padded past V (and, split into
 * bfloat16, past K to whole 32-deep tiles). */
size_t hck_packed_floats(int kind, int K, int V);
/* Packs columns c0..c0+nc−1 (c0 a multiple of HCK_NR) of a [K, V] matrix,
 * read from w[k·ldw + c − c0], into packed (hck_packed_floats(kind, K, V)
 * floats); columns past nc in the last panel are zeros, so nc may stop
 * short of a panel only at V. */
void hck_pack(int kind, const float *w, int ldw, int K, int V, int c0, int nc, float *packed);
/* bf16x3: −a[rows, K] as bfloat16 pairs, hi then lo, each [rows,
 * hck_amx_depth(K)]: rows · hck_amx_depth(K) floats of room. */
void hck_split_rows(const float *a, int rows, int K, uint16_t *out);
void hck_finish(const hck_row *r, const float *tk, int k, float *topk_p, double *nll, double *entropy);

#endif
