/* The fused sweep kernels: the rank-K update of the ablated logits fused
 * with the softmax statistics, so a logit is never stored beyond a small
 * block and enters memory only when it joins the top-k or carries the
 * target.  W_OU is packed once per run into column panels, so nothing is
 * repacked per call (OpenBLAS repacks its B operand on every sgemm).
 *
 * Three kernels share the statistics: AVX-512 float FMAs (register tiles
 * of 8 rows × 32 columns), and two that multiply bfloat16 — vdpbf16ps
 * (AVX-512 BF16: AMD Zen 4 and later, Intel Cooper Lake) and AMX tiles.
 * Those split each float into a high and a low bfloat16 (x = hi + lo, 16
 * significant bits) and sum hi·hi + hi·lo + lo·hi in float ("bf16x3"),
 * a relative error near 2^−16 per product in place of float's 2^−24 —
 * about 1e-5 nats on a logit, far inside docs/design.md's 1e-3.
 * All are selected at run time (hck_fused); the rest of the sweep is
 * shared with the portable path (sweep.c).  The packing and splitting
 * below are portable C; the kernels need x86-64, and a build for another
 * CPU runs the portable path. */
#include <string.h>

#include "sweep_kernel.h"

/* NR columns per panel */
enum { NR = HCK_NR };

size_t hck_packed_floats(int kind, int K, int V)
{
    if (kind == HCK_GENERIC)
        return (size_t)K * V;
    return (size_t)((V + NR - 1) / NR) * (hck_splits(kind) ? hck_amx_depth(K) : K) * NR;
}

/* bfloat16 of x, rounded to nearest even (x finite). */
static uint16_t bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (uint16_t)((u + 0x7FFFu + (u >> 16 & 1)) >> 16);
}

static float from_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* x = hi + lo to 16 significant bits. */
static void split(float x, uint16_t *hi, uint16_t *lo)
{
    *hi = bf16(x);
    *lo = bf16(x - from_bf16(*hi));
}

/* Generic: [K, V] rows.  AVX-512: panel j is [K, NR] floats.  bf16x3:
 * panel j holds, for each 32-deep chunk, four 16×32 bfloat16 tiles —
 * columns 0–15 hi, lo, columns 16–31 hi, lo — in the pair-interleaved
 * ("VNNI") order both vdpbf16ps and the tile multiply read: tile row i
 * holds (w[2i][n], w[2i+1][n]) for n = 0..15. */
void hck_pack(int kind, const float *w, int ldw, int K, int V, int c0, int nc, float *packed)
{
    if (kind == HCK_GENERIC) {
        for (int k = 0; k < K; k++)
            memcpy(packed + (size_t)k * V + c0, w + (size_t)k * ldw, (size_t)nc * sizeof(float));
        return;
    }
    const int j0 = c0 / NR, j1 = (c0 + nc + NR - 1) / NR;
    if (!hck_splits(kind)) {
        for (int j = j0; j < j1; j++) {
            float *p = packed + (size_t)j * K * NR;
            const int col0 = j * NR - c0, n = nc - col0 < NR ? nc - col0 : NR;
            for (int k = 0; k < K; k++, p += NR) {
                memcpy(p, w + (size_t)k * ldw + col0, (size_t)n * sizeof(float));
                memset(p + n, 0, (size_t)(NR - n) * sizeof(float));
            }
        }
        return;
    }
    const int Kp = hck_amx_depth(K);
    for (int j = j0; j < j1; j++) {
        uint16_t *p = (uint16_t *)(packed + (size_t)j * Kp * NR);
        for (int kc = 0; kc < Kp; kc += 32)
            for (int half = 0; half < 2; half++, p += 2 * 512)
                for (int i = 0; i < 16; i++)
                    for (int n = 0; n < 16; n++)
                        for (int q = 0; q < 2; q++) {
                            int kk = kc + 2 * i + q, col = j * NR + half * 16 + n - c0;
                            float x = kk < K && col < nc ? w[(size_t)kk * ldw + (size_t)col] : 0.0f;
                            split(x, &p[i * 32 + 2 * n + q], &p[512 + i * 32 + 2 * n + q]);
                        }
    }
}

void hck_split_rows(const float *a, int rows, int K, uint16_t *out)
{
    const int Kp = hck_amx_depth(K);
    uint16_t *hi = out, *lo = out + (size_t)rows * Kp;
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < Kp; k++)
            split(k < K ? -a[(size_t)r * K + k] : 0.0f, &hi[(size_t)r * Kp + k], &lo[(size_t)r * Kp + k]);
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AVX512 __attribute__((target("avx512f,avx512dq")))
#define BF16 __attribute__((target("avx512f,avx512dq,avx512bf16")))
#define AMX __attribute__((target("avx512f,avx512dq,amx-tile,amx-bf16")))

/* rows per register tile (AVX-512) and per AMX tile */
enum { MR = 8, MR_AMX = 16 };

/* Re-base a row only when a logit exceeds its reference by this much:
 * the statistics hold for any reference (lse = m + log s), so m need not
 * be the exact maximum, only close enough that e^(ℓ−m) stays in range. */
#define REBASE_NATS 8.0f

static int avx512_available(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
}

static int amx_ok;

/* Linux hands out the AMX tile state only on request (once per process). */
static void amx_probe(void)
{
    unsigned a, b, c, d;
    amx_ok = avx512_available() && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 22 & 1) /* AMX-BF16 */ &&
             (d >> 24 & 1) /* AMX-TILE */ && syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */,
                                                     18 /* XFEATURE_XTILEDATA */) == 0;
}

static int amx_available(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, amx_probe);
    return amx_ok;
}

/* 2^y for y ≤ REBASE_NATS·log2 e: n = round(y), a degree-5 polynomial for
 * 2^(y−n) (relative error 2e-7 in float, fitted for relative error on
 * [−½, ½]), 2^n by vscalefps.  The polynomial goes by Estrin's scheme, 3
 * dependent FMAs instead of Horner's 5: the statistics are bound by the
 * latency of this chain more than by the FMAs' throughput (measured 2%
 * faster on Zen 5).  Inputs below −125 are clamped so no
 * denormal is produced; such terms are far below the float resolution of
 * the sum, which holds a term of 1 (the reference is a logit seen). */
AVX512 static inline __m512 exp2_512(__m512 y)
{
    y = _mm512_max_ps(y, _mm512_set1_ps(-125.0f));
    __m512 n = _mm512_roundscale_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(y, n);
    const __m512 f2 = _mm512_mul_ps(f, f);
    const __m512 p01 = _mm512_fmadd_ps(f, _mm512_set1_ps(6.931470037e-01f), _mm512_set1_ps(1.0f));
    const __m512 p23 = _mm512_fmadd_ps(f, _mm512_set1_ps(5.550733581e-02f), _mm512_set1_ps(2.402224243e-01f));
    const __m512 p45 = _mm512_fmadd_ps(f, _mm512_set1_ps(1.326472731e-03f), _mm512_set1_ps(9.671512991e-03f));
    const __m512 p = _mm512_fmadd_ps(_mm512_fmadd_ps(p45, f2, p23), f2, p01);
    return _mm512_scalef_ps(p, n);
}

/* The register tile c[MR][2] of one row block and one panel starts from
 * the base logits, or α·(base − bias) + bias when alpha is given; k0/k1
 * mask the panel's columns past the vocabulary.  Rows past nr repeat row
 * r0 (their results are not read). */
#define START_TILE(c, r0, nr, base, ldb, alpha, bias, k0, k1)                                                          \
    do {                                                                                                               \
        __m512 bias0 = _mm512_setzero_ps(), bias1 = bias0;                                                             \
        if (alpha) {                                                                                                   \
            bias0 = _mm512_maskz_loadu_ps(k0, bias);                                                                   \
            bias1 = _mm512_maskz_loadu_ps(k1, bias + 16);                                                              \
        }                                                                                                              \
        for (int r = 0; r < MR; r++) {                                                                                 \
            const float *b_ = base + (size_t)(r0 + (r < nr ? r : 0)) * ldb;                                            \
            c[r][0] = _mm512_maskz_loadu_ps(k0, b_);                                                                   \
            c[r][1] = _mm512_maskz_loadu_ps(k1, b_ + 16);                                                              \
            if (alpha) {                                                                                               \
                const __m512 al = _mm512_set1_ps(alpha[r0 + (r < nr ? r : 0)]);                                        \
                c[r][0] = _mm512_fmadd_ps(al, _mm512_sub_ps(c[r][0], bias0), bias0);                                   \
                c[r][1] = _mm512_fmadd_ps(al, _mm512_sub_ps(c[r][1], bias1), bias1);                                   \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)

#define STORE_TILE(c, acc)                                                                                             \
    do {                                                                                                               \
        for (int r = 0; r < MR; r++) {                                                                                 \
            _mm512_store_ps(acc + r * NR, c[r][0]);                                                                    \
            _mm512_store_ps(acc + r * NR + 16, c[r][1]);                                                               \
        }                                                                                                              \
    } while (0)

/* Float FMAs: acc[MR, NR] = start − Σ_segments a[MR, K] · panel[K, NR]
 * (16 accumulators; 2 panel loads and MR broadcasts per k). */
AVX512 static void micro(const hck_seg *seg, int nseg, int r0, int nr, int panel, const float *base, int ldb,
                         const float *alpha, const float *bias, __mmask16 k0, __mmask16 k1, float *acc)
{
    __m512 c[MR][2];
    START_TILE(c, r0, nr, base, ldb, alpha, bias, k0, k1);
    for (int s = 0; s < nseg; s++) {
        const int K = seg[s].K;
        const float *a = seg[s].a + (size_t)r0 * K, *b = seg[s].packed + (size_t)panel * K * NR;
        for (int k = 0; k < K; k++, b += NR) {
            /* the panel streams from L2: fetch 8 steps (1 KiB) ahead */
            _mm_prefetch((const char *)(b + 8 * NR), _MM_HINT_T0);
            _mm_prefetch((const char *)(b + 8 * NR + 16), _MM_HINT_T0);
            __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) {
                __m512 ar = _mm512_set1_ps(a[r * K + k]);
                c[r][0] = _mm512_fnmadd_ps(ar, b0, c[r][0]);
                c[r][1] = _mm512_fnmadd_ps(ar, b1, c[r][1]);
            }
        }
    }
    STORE_TILE(c, acc);
}

/* bf16x3 by vdpbf16ps: the same tile from the split activations and the
 * AMX-packed panel, whose rows for a pair of depths are 64-byte vectors
 * (hi and lo of columns 0–15 and 16–31).  Per pair: 4 panel loads, 2 MR
 * broadcasts and 6 MR dot products, each of 2 depths. */
BF16 static void micro_bf16(const hck_seg *seg, int nseg, int r0, int nr, int panel, const float *base, int ldb,
                            const float *alpha, const float *bias, __mmask16 k0, __mmask16 k1, float *acc)
{
    __m512 c[MR][2];
    START_TILE(c, r0, nr, base, ldb, alpha, bias, k0, k1);
    for (int s = 0; s < nseg; s++) {
        const int Kp = hck_amx_depth(seg[s].K), pairs = (seg[s].K + 1) / 2;
        const uint16_t *hi = seg[s].a16 + (size_t)r0 * Kp, *lo = hi + (size_t)seg[s].rows * Kp;
        const uint16_t *b = (const uint16_t *)(seg[s].packed + (size_t)panel * Kp * NR);
        for (int i = 0; i < pairs; i++) {
            const uint16_t *bp = b + (i / 16) * 2048 + (i % 16) * 32;
            const __m512bh bh0 = (__m512bh)_mm512_load_si512(bp), bl0 = (__m512bh)_mm512_load_si512(bp + 512);
            const __m512bh bh1 = (__m512bh)_mm512_load_si512(bp + 1024), bl1 = (__m512bh)_mm512_load_si512(bp + 1536);
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) {
                int32_t h2, l2;
                memcpy(&h2, hi + (size_t)r * Kp + 2 * i, sizeof h2);
                memcpy(&l2, lo + (size_t)r * Kp + 2 * i, sizeof l2);
                const __m512bh ah = (__m512bh)_mm512_set1_epi32(h2), al = (__m512bh)_mm512_set1_epi32(l2);
                c[r][0] = _mm512_dpbf16_ps(c[r][0], ah, bh0);
                c[r][1] = _mm512_dpbf16_ps(c[r][1], ah, bh1);
                c[r][0] = _mm512_dpbf16_ps(c[r][0], ah, bl0);
                c[r][1] = _mm512_dpbf16_ps(c[r][1], ah, bl1);
                c[r][0] = _mm512_dpbf16_ps(c[r][0], al, bh0);
                c[r][1] = _mm512_dpbf16_ps(c[r][1], al, bh1);
            }
        }
    }
    STORE_TILE(c, acc);
}
#undef STORE_TILE
#undef START_TILE

/* Moves row statistics (with its lane sums) to the reference m_new:
 * s ← s·f, w ← f·(w + (m − m_new)·s) with f = e^(m − m_new). */
static void rebase(hck_row *row, float m_new)
{
    if (row->m == -FLT_MAX) { /* nothing accumulated yet */
        row->m = m_new;
        return;
    }
    double d = (double)row->m - m_new, f = exp(d), d2 = d * M_LOG2E;
    row->w = f * (row->w + d * row->s);
    row->s *= f;
    for (int i = 0; i < 16; i++) {
        row->wl[i] = (float)(f * (row->wl[i] + d2 * row->sl[i]));
        row->sl[i] = (float)(f * row->sl[i]);
    }
    row->m = m_new;
}

/* The rare path of one row and one panel: some logit beats the row's k-th
 * best (and maybe its reference by more than REBASE_NATS). */
static void rare(hck_row *row, const float *l, __mmask32 valid, int v, float *tk, int32_t *ti, int k)
{
    float mx = -FLT_MAX;
    for (int i = 0; i < 32; i++)
        if (valid >> i & 1) {
            mx = l[i] > mx ? l[i] : mx;
            if (l[i] > tk[k - 1])
                hck_topk_insert(tk, ti, k, l[i], v + i);
        }
    if (mx > row->m + REBASE_NATS)
        rebase(row, mx);
}

/* The first n of 16 lanes. */
static __mmask16 lane_mask(int n) { return n >= 16 ? 0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

/* Folds the logits ℓ of rows r0..r0+nr−1 of one panel (block[r·NR + c],
 * vocabulary ids v..v+nc−1) into the rows' lane sums and top-k. */
AVX512 static void block_stats(float *block, int r0, int nr, int v, int nc, const int32_t *target, hck_row *rows,
                               float *tk, int32_t *ti, int k)
{
    const __mmask16 k0 = lane_mask(nc), k1 = lane_mask(nc - 16);
    const __mmask32 valid = (__mmask32)k1 << 16 | k0;
    const __m512 log2e = _mm512_set1_ps((float)M_LOG2E);
    for (int r = 0; r < nr; r++) {
        const int t = r0 + r;
        hck_row *row = &rows[t];
        float *k_t = tk + (size_t)t * k, *l = block + r * NR;
        __m512 l0 = _mm512_load_ps(l), l1 = _mm512_load_ps(l + 16);
        const __m512 th = _mm512_set1_ps(k_t[k - 1]);
        /* A rebase implies a new top-k entry: every logit seen is at most
         * m + REBASE_NATS, and so is the k-th best. */
        if (_mm512_mask_cmp_ps_mask(k0, l0, th, _CMP_GT_OQ) | _mm512_mask_cmp_ps_mask(k1, l1, th, _CMP_GT_OQ))
            rare(row, l, valid, v, k_t, ti + (size_t)t * k, k);
        const int tg = target[t] - v;
        if (tg >= 0 && tg < nc)
            row->target_logit = l[tg];
        /* y = (ℓ − m)·log2 e; s += 2^y; w += 2^y·y */
        const __m512 m = _mm512_set1_ps(row->m);
        __m512 y0 = _mm512_mul_ps(_mm512_sub_ps(l0, m), log2e), y1 = _mm512_mul_ps(_mm512_sub_ps(l1, m), log2e);
        __m512 e0 = exp2_512(y0), e1 = exp2_512(y1);
        __m512 s = _mm512_loadu_ps(row->sl), w = _mm512_loadu_ps(row->wl);
        s = _mm512_mask_add_ps(s, k0, s, e0);
        w = _mm512_mask3_fmadd_ps(e0, y0, w, k0);
        s = _mm512_mask_add_ps(s, k1, s, e1);
        w = _mm512_mask3_fmadd_ps(e1, y1, w, k1);
        _mm512_storeu_ps(row->sl, s);
        _mm512_storeu_ps(row->wl, w);
    }
}

/* Moves the lane sums of n rows into their double statistics (once per
 * call: a lane then holds at most a vocabulary tile's share of terms). */
static void fold_lanes(hck_row *rows, int n)
{
    for (int r = 0; r < n; r++) {
        double s = 0, w = 0;
        for (int i = 0; i < 16; i++) {
            s += rows[r].sl[i];
            w += rows[r].wl[i];
        }
        rows[r].s += s;
        rows[r].w += w * M_LN2;
        memset(rows[r].sl, 0, sizeof rows[r].sl);
        memset(rows[r].wl, 0, sizeof rows[r].wl);
    }
}

typedef void micro_fn(const hck_seg *seg, int nseg, int r0, int nr, int panel, const float *base, int ldb,
                      const float *alpha, const float *bias, __mmask16 k0, __mmask16 k1, float *acc);

/* The register-tile kernels: each block's tile, then its statistics. */
AVX512 static void tiles_update(micro_fn *tile, const hck_seg *seg, int nseg, int T, const float *base, int ldb,
                                const float *alpha, const float *bias, int v0, int vt, const int32_t *target,
                                hck_row *rows, float *tk, int32_t *ti, int k)
{
    _Alignas(64) float acc[MR * NR];
    for (int r0 = 0; r0 < T; r0 += MR) {
        const int nr = T - r0 < MR ? T - r0 : MR;
        for (int c0 = 0; c0 < vt; c0 += NR) {
            const int nc = vt - c0 < NR ? vt - c0 : NR;
            tile(seg, nseg, r0, nr, (v0 + c0) / NR, base + c0, ldb, alpha, bias + c0, lane_mask(nc),
                 lane_mask(nc - 16), acc);
            block_stats(acc, r0, nr, v0 + c0, nc, target, rows, tk, ti, k);
        }
    }
    fold_lanes(rows, T);
}

static void avx512_update(const hck_seg *seg, int nseg, int T, const float *base, int ldb, const float *alpha,
                          const float *bias, int v0, int vt, const int32_t *target, hck_row *rows, float *tk,
                          int32_t *ti, int k)
{
    tiles_update(micro, seg, nseg, T, base, ldb, alpha, bias, v0, vt, target, rows, tk, ti, k);
}

static void bf16_update(const hck_seg *seg, int nseg, int T, const float *base, int ldb, const float *alpha,
                        const float *bias, int v0, int vt, const int32_t *target, hck_row *rows, float *tk,
                        int32_t *ti, int k)
{
    tiles_update(micro_bf16, seg, nseg, T, base, ldb, alpha, bias, v0, vt, target, rows, tk, ti, k);
}

/* Starts C[16, 32] = −Σ_segments a·W_OU for one row block and one panel,
 * as two 16×16 float tiles (tmm0, tmm1); per 32-deep chunk the rows' hi
 * and lo (tmm2, tmm3) meet the panel's hi and lo (tmm4–7).  The
 * activations were negated when split.  amx_store reads the result; the
 * caller issues one block ahead so the tile unit may work while the
 * vector units run the previous block's statistics. */
AMX static void amx_issue(const hck_seg *seg, int nseg, int r0, int panel)
{
    _tile_zero(0);
    _tile_zero(1);
    for (int s = 0; s < nseg; s++) {
        const int Kp = hck_amx_depth(seg[s].K);
        const uint16_t *hi = seg[s].a16 + (size_t)r0 * Kp, *lo = hi + (size_t)seg[s].rows * Kp;
        const uint16_t *b = (const uint16_t *)(seg[s].packed + (size_t)panel * Kp * NR);
        for (int kc = 0; kc < Kp; kc += 32, b += 4 * 512) {
            _tile_loadd(2, hi + kc, Kp * 2);
            _tile_loadd(3, lo + kc, Kp * 2);
            _tile_loadd(4, b, 64);
            _tile_loadd(5, b + 512, 64);
            _tile_dpbf16ps(0, 2, 4);
            _tile_dpbf16ps(0, 2, 5);
            _tile_dpbf16ps(0, 3, 4);
            _tile_loadd(6, b + 1024, 64);
            _tile_loadd(7, b + 1536, 64);
            _tile_dpbf16ps(1, 2, 6);
            _tile_dpbf16ps(1, 2, 7);
            _tile_dpbf16ps(1, 3, 6);
        }
    }
}

AMX static void amx_store(float *acc)
{
    _tile_stored(0, acc, NR * sizeof(float));
    _tile_stored(1, acc + 16, NR * sizeof(float));
}

/* The common case, one segment at most 64 deep (a head of GPT-2): the row
 * block's hi and lo stay in tmm2–5 across panels (amx_rows) and each
 * panel's tiles stream through tmm6 and tmm7, 8 tile loads a block instead
 * of 12. */
AMX static void amx_rows(const hck_seg *seg, int r0)
{
    const int Kp = hck_amx_depth(seg->K);
    const uint16_t *hi = seg->a16 + (size_t)r0 * Kp, *lo = hi + (size_t)seg->rows * Kp;
    _tile_loadd(2, hi, Kp * 2);
    _tile_loadd(3, lo, Kp * 2);
    if (Kp > 32) {
        _tile_loadd(4, hi + 32, Kp * 2);
        _tile_loadd(5, lo + 32, Kp * 2);
    }
}

/* C_c += hi·B_hi + hi·B_lo + lo·B_hi for the 16×32 hi, lo tiles at p. */
#define AMX_HALF(c, hi, lo, p)                                                                                         \
    do {                                                                                                               \
        _tile_loadd(6, (p), 64);                                                                                       \
        _tile_loadd(7, (p) + 512, 64);                                                                                 \
        _tile_dpbf16ps(c, hi, 6);                                                                                      \
        _tile_dpbf16ps(c, hi, 7);                                                                                      \
        _tile_dpbf16ps(c, lo, 6);                                                                                      \
    } while (0)

AMX static void amx_issue_rows(const hck_seg *seg, int panel)
{
    const int Kp = hck_amx_depth(seg->K);
    const uint16_t *b = (const uint16_t *)(seg->packed + (size_t)panel * Kp * NR);
    _tile_zero(0);
    _tile_zero(1);
    AMX_HALF(0, 2, 3, b);
    AMX_HALF(1, 2, 3, b + 1024);
    if (Kp > 32) {
        AMX_HALF(0, 4, 5, b + 2048);
        AMX_HALF(1, 4, 5, b + 3072);
    }
}
#undef AMX_HALF

/* The tile configuration (palette 1): eight tiles of 16 rows × 64 bytes. */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

AMX static void amx_update(const hck_seg *seg, int nseg, int T, const float *base, int ldb, const float *alpha,
                            const float *bias, int v0, int vt, const int32_t *target, hck_row *rows, float *tk,
                            int32_t *ti, int k)
{
    _Alignas(64) tile_config cfg = {.palette = 1};
    for (int i = 0; i < 8; i++) {
        cfg.colsb[i] = 64;
        cfg.rows[i] = 16;
    }
    _tile_loadconfig(&cfg);
    /* Block i covers rows r0(i) and columns c0(i).  With the rows held in
     * tiles, row blocks go outer; otherwise panels go outer, so a panel's
     * W_OU tiles (8 KiB) are read from L2 once and stay in L1 for all row
     * blocks.  Each block's products are issued before the previous
     * block's statistics run. */
    _Alignas(64) float acc[MR_AMX * NR];
    const int held = nseg == 1 && hck_amx_depth(seg->K) <= 64;
    const int nb = (T + MR_AMX - 1) / MR_AMX, np = (vt + NR - 1) / NR, n = nb * np;
#define R0(i) ((held ? (i) / np : (i) % nb) * MR_AMX)
#define C0(i) ((held ? (i) % np : (i) / nb) * NR)
#define ISSUE(i)                                                                                                       \
    do {                                                                                                               \
        if (!held)                                                                                                     \
            amx_issue(seg, nseg, R0(i), (v0 + C0(i)) / NR);                                                            \
        else {                                                                                                         \
            if ((i) % np == 0)                                                                                         \
                amx_rows(seg, R0(i));                                                                                  \
            amx_issue_rows(seg, (v0 + C0(i)) / NR);                                                                    \
        }                                                                                                              \
    } while (0)
    ISSUE(0);
    for (int i = 0; i < n; i++) {
        const int r0 = R0(i), c0 = C0(i);
        const int nr = T - r0 < MR_AMX ? T - r0 : MR_AMX, nc = vt - c0 < NR ? vt - c0 : NR;
        const __mmask16 k0 = lane_mask(nc), k1 = lane_mask(nc - 16);
        amx_store(acc);
        if (i + 1 < n)
            ISSUE(i + 1);
        /* ℓ = base − Σ a·W_OU, or α·(base − bias) + bias − Σ a·W_OU */
        const __m512 b0 = _mm512_maskz_loadu_ps(k0, bias + c0), b1 = _mm512_maskz_loadu_ps(k1, bias + c0 + 16);
        for (int r = 0; r < nr; r++) {
            const float *br = base + (size_t)(r0 + r) * ldb + c0;
            float *l = acc + r * NR;
            __m512 x0 = _mm512_maskz_loadu_ps(k0, br), x1 = _mm512_maskz_loadu_ps(k1, br + 16);
            if (alpha) {
                const __m512 al = _mm512_set1_ps(alpha[r0 + r]);
                x0 = _mm512_fmadd_ps(al, _mm512_sub_ps(x0, b0), b0);
                x1 = _mm512_fmadd_ps(al, _mm512_sub_ps(x1, b1), b1);
            }
            _mm512_store_ps(l, _mm512_add_ps(x0, _mm512_load_ps(l)));
            _mm512_store_ps(l + 16, _mm512_add_ps(x1, _mm512_load_ps(l + 16)));
        }
        block_stats(acc, r0, nr, v0 + c0, nc, target, rows, tk, ti, k);
    }
#undef ISSUE
#undef C0
#undef R0
    fold_lanes(rows, T);
    _tile_release();
}

hck_fused_fn *hck_fused(int kind)
{
    switch (kind) {
    case HCK_AVX512:
        return avx512_available() ? avx512_update : NULL;
    case HCK_BF16:
        return avx512_available() && __builtin_cpu_supports("avx512bf16") ? bf16_update : NULL;
    case HCK_AMX:
        return amx_available() ? amx_update : NULL;
    }
    return NULL;
}
#else
hck_fused_fn *hck_fused(int kind) { return NULL; }
#endif
