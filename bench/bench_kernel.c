/* The fused sweep kernels alone, on one core: the rank-K update of the
 * ablated logits fused with their softmax statistics, for every fused
 * kernel this CPU runs, beside the one-thread sgemm peak of the same run.
 * What bench_sweep cannot separate: how close each kernel comes to the
 * core's peak, and so which one this CPU should run.
 *
 * usage: bench_kernel [HEADS [ROWS]]   (8 128)
 *
 * Each kernel folds ROWS positions into the statistics over the whole
 * GPT-2 vocabulary, as the sweep's tiles do (1024 ids a call), for HEADS
 * heads whose W_OU is packed once and then streams from memory; for
 * d_head 64 (GPT-2) and 16 (the bundled model); best of five. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "headcal/blas.h"
#include "headcal/clock.h"
#include "headcal/mt19937.h"
#include "kernels/sweep_kernel.h"

enum { VOCAB = 50257, TILE_V = 1024, TOP_K = 5, REPS = 5 };

static const struct {
    int kind;
    const char *name;
} kernels[] = {{HCK_AVX512, "avx512"}, {HCK_BF16, "avx512bf16"}, {HCK_AMX, "amx"}};

/* Uniform in [-scale, scale). */
static float uniform(hc_mt19937 *g, float scale) { return scale * (float)(hc_mt_next(g) / 2147483648.0 - 1); }

/* Room for n floats on a 64-byte boundary, as the kernels' aligned loads
 * of W_OU panels need. */
static float *aligned_floats(size_t n)
{
    float *p = aligned_alloc(64, (n * sizeof *p + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "bench_kernel: out of memory\n");
        exit(1);
    }
    return p;
}

/* Seconds of the best of REPS sweeps of rows × VOCAB logits per head. */
static double time_kernel(hck_fused_fn *fn, const hck_seg *seg, int heads, int rows, const float *base,
                          const float *bias, const int32_t *target)
{
    hck_row *st = bench_malloc((size_t)rows * sizeof *st);
    float *tk = bench_malloc((size_t)rows * TOP_K * sizeof *tk);
    int32_t *ti = bench_malloc((size_t)rows * TOP_K * sizeof *ti);
    double best = INFINITY;
    for (int rep = 0; rep < REPS; rep++) {
        double t0 = hc_seconds();
        for (int h = 0; h < heads; h++) {
            hck_rows_init(st, tk, ti, rows, TOP_K);
            for (int v0 = 0; v0 < VOCAB; v0 += TILE_V)
                fn(&seg[h], 1, rows, base, TILE_V, NULL, bias + v0, v0, VOCAB - v0 < TILE_V ? VOCAB - v0 : TILE_V,
                   target, st, tk, ti, TOP_K);
        }
        double dt = hc_seconds() - t0;
        best = dt < best ? dt : best;
    }
    free(st), free(tk), free(ti);
    return best;
}

int main(int argc, char **argv)
{
    const int heads = argc > 1 ? atoi(argv[1]) : 8, rows = argc > 2 ? atoi(argv[2]) : 128;
    if (heads < 1 || rows < 1 || rows % HCK_ROW_PAD) {
        fprintf(stderr, "usage: bench_kernel [HEADS [ROWS, a multiple of %d]]\n", HCK_ROW_PAD);
        return 2;
    }
    hc_blas_tune(argv);
    bench_print_machine();
    const double peak = bench_sgemm_peak(1, 2048, 2048, 2048);
    printf("sgemm peak: %.1f GFLOP/s (2048^3, 1 thread)\n", peak);
    printf("workload: %d positions x %d vocabulary ids x %d heads, W_OU streaming, top-k %d, 1 thread, best of %d\n",
           rows, VOCAB, heads, TOP_K, REPS);

    hc_mt19937 g;
    hc_mt_seed(&g, 1);
    /* logits of GPT-2's spread around a few nats, updates of a head's size */
    float *base = bench_malloc((size_t)rows * TILE_V * sizeof *base);
    float *bias = bench_calloc(VOCAB + TILE_V, sizeof *bias);
    int32_t *target = bench_malloc((size_t)rows * sizeof *target);
    for (size_t i = 0; i < (size_t)rows * TILE_V; i++)
        base[i] = uniform(&g, 4);
    for (int r = 0; r < rows; r++)
        target[r] = (int32_t)(hc_mt_next(&g) % VOCAB);
    static const int depths[] = {64, 16};
    for (size_t d = 0; d < sizeof depths / sizeof *depths; d++) {
        const int K = depths[d];
        float *w = bench_malloc((size_t)K * VOCAB * sizeof *w), *a = bench_malloc((size_t)rows * K * sizeof *a);
        for (size_t i = 0; i < (size_t)K * VOCAB; i++)
            w[i] = uniform(&g, 0.2f);
        for (size_t i = 0; i < (size_t)rows * K; i++)
            a[i] = uniform(&g, 1);
        uint16_t *a16 = bench_malloc((size_t)rows * hck_amx_depth(K) * 2 * sizeof *a16);
        hck_split_rows(a, rows, K, a16);
        for (size_t k = 0; k < sizeof kernels / sizeof *kernels; k++) {
            hck_fused_fn *fn = hck_fused(kernels[k].kind);
            if (!fn) {
                printf("%-10s d_head %2d: not on this CPU\n", kernels[k].name, K);
                continue;
            }
            /* each head its own copy, so W_OU comes from memory as in a sweep */
            hck_seg *seg = bench_malloc((size_t)heads * sizeof *seg);
            const size_t floats = hck_packed_floats(kernels[k].kind, K, VOCAB);
            for (int h = 0; h < heads; h++) {
                float *p = aligned_floats(floats);
                hck_pack(kernels[k].kind, w, VOCAB, K, VOCAB, 0, VOCAB, p);
                seg[h] = (hck_seg){.a = a, .a16 = a16, .K = K, .rows = rows, .packed = p};
            }
            const double s = time_kernel(fn, seg, heads, rows, base, bias, target);
            const double logits = (double)heads * rows * VOCAB, gflops = logits * 2 * K / s / 1e9;
            printf("%-10s d_head %2d: %.3f ns a logit, %.1f GFLOP/s float-equivalent = %.0f%% of the sgemm peak\n",
                   kernels[k].name, K, s / logits * 1e9, gflops, 100 * gflops / peak);
            for (int h = 0; h < heads; h++)
                free((void *)seg[h].packed);
            free(seg);
        }
        free(w), free(a), free(a16);
    }
    printf("peak RSS: %.0f MB (this process)\n", bench_peak_rss_mb());
    free(base), free(bias), free(target);
    return 0;
}
