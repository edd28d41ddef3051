/* bench_train: training throughput (forward + backward, tokens/s) of a
 * GPT-2 shape, and the fraction of this machine's sgemm peak it reaches,
 * the peak measured in the same run by a timed 2048³ sgemm on all cores
 * (bench_util).  Forward + backward only: AdamW's update is O(parameters).
 *
 *   bench/bench_train [layers heads d_model n_ctx batch steps]
 * (defaults: the bundled model's recipe, 6 8 128 128 8 5) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "headcal/blas.h"
#include "headcal/clock.h"
#include "headcal/synth.h"
#include "headcal/train.h"

int main(int argc, char **argv)
{
    hc_blas_tune(argv);
    int L = 6, H = 8, D = 128, C = 128, B = 8, steps = 5;
    if (argc == 7) {
        L = atoi(argv[1]), H = atoi(argv[2]), D = atoi(argv[3]), C = atoi(argv[4]), B = atoi(argv[5]);
        steps = atoi(argv[6]);
    } else if (argc != 1) {
        fprintf(stderr, "usage: bench_train [layers heads d_model n_ctx batch steps]\n");
        return 2;
    }
    hc_config cfg = {.n_layer = L, .n_head = H, .d_model = D, .d_head = D / H, .d_mlp = 4 * D, .n_ctx = C,
                     .d_vocab = 50257, .ln_eps = 1e-5f, .bos = 50256};
    hc_model m;
    if (D % H || hc_model_alloc(&m, &cfg))
        return 1;
    hc_gpt2_init(&m, 1);
    size_t N = (size_t)B * C;
    int32_t *tok = bench_malloc(N * sizeof *tok), *tgt = bench_malloc(N * sizeof *tgt);
    uint64_t s = 9;
    for (size_t i = 0; i < N; i++) {
        tok[i] = (int32_t)(hc_splitmix64(&s) % 50257);
        tgt[i] = (int32_t)(hc_splitmix64(&s) % 50257);
    }
    float *grad = bench_malloc(m.n_floats * sizeof(float));
    double loss, t = 0;
    for (int k = 0; k <= steps; k++) { /* step 0 is a warm-up */
        double t0 = hc_seconds();
        if (hc_train_grad(&m, tok, tgt, B, C, grad, &loss))
            return 1;
        if (k)
            t += hc_seconds() - t0;
    }
    /* matmul FLOPs per token of the forward pass: the four projections per
     * layer, attention's two S×S products as computed (full, then masked),
     * the tied head; backward is twice the forward */
    double fwd = 2.0 * L * ((double)D * 3 * D + (double)D * D + 2.0 * D * 4 * D) + 2.0 * L * 2.0 * C * D +
                 2.0 * D * 50257.0;
    double tps = (double)N * steps / t, flops = 3.0 * fwd * tps;
    double peak = bench_sgemm_peak(openblas_get_num_threads(), 2048, 2048, 2048) * 1e9;
    bench_print_machine();
    printf("model        %d layers, %d heads, d_model %d, n_ctx %d, batch %d (%zu tokens/step)\n", L, H, D, C, B, N);
    printf("training     %.0f tokens/s  (%.3f s/step, forward + backward)\n", tps, t / steps);
    printf("matmul work  %.1f GFLOP/s  (%.1f MFLOP/token)\n", flops / 1e9, 3.0 * fwd / 1e6);
    printf("sgemm peak   %.1f GFLOP/s  (2048^3)\n", peak / 1e9);
    printf("fraction     %.2f of the sgemm peak\n", flops / peak);
    free(tok);
    free(tgt);
    free(grad);
    hc_model_free(&m);
    return 0;
}
