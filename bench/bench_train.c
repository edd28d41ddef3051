/* bench_train: training throughput (forward + backward, tokens/s) of a
 * GPT-2 shape, and the fraction of this machine's sgemm peak it reaches,
 * the peak measured in the same run, after every step, by a timed 2048³
 * sgemm on the same threads (bench_util).  Forward + backward only:
 * AdamW's update is O(parameters).
 *
 *   bench/bench_train [layers heads d_model n_ctx batch steps]
 * (defaults: the bundled model's recipe, 6 8 128 128 8 5) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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
    hc_train_ws *ws = hc_train_ws_new(&cfg, B, C);
    if (!ws)
        return 1;
    /* matmul FLOPs per token of the forward pass: the four projections per
     * layer, attention's two S×S products as computed (full, then masked),
     * the tied head; backward is twice the forward */
    double fwd = 2.0 * L * ((double)D * 3 * D + (double)D * D + 2.0 * D * 4 * D) + 2.0 * L * 2.0 * C * D +
                 2.0 * D * 50257.0;
    double step_flops = 3.0 * fwd * (double)N;
    /* On a shared machine the cores a program gets change from second to
     * second, so each step is paired with a peak measured right after it,
     * and the fraction is the median of the pairs' ratios. */
    double *frac = bench_malloc((size_t)steps * sizeof(double)), loss, t = 0, best_t = 1e30, best_peak = 0;
    for (int k = 0; k <= steps; k++) { /* step 0 is a warm-up */
        double t0 = hc_seconds();
        if (hc_train_grad(&m, ws, tok, tgt, B, C, grad, &loss))
            return 1;
        double dt = hc_seconds() - t0;
        if (!k)
            continue;
        double peak = bench_sgemm_peak(openblas_get_num_threads(), 2048, 2048, 2048) * 1e9;
        /* after the peak's threaded sgemm OpenBLAS's threads spin (sched_yield)
         * for about 2^28 cycles before they sleep; in training nothing runs
         * on them, so the next step waits that out instead of sharing the
         * cores with them */
        usleep(300000);
        t += dt;
        best_t = dt < best_t ? dt : best_t;
        best_peak = peak > best_peak ? peak : best_peak;
        frac[k - 1] = step_flops / dt / peak;
    }
    for (int i = 1; i < steps; i++) /* insertion sort for the median */
        for (int j = i; j > 0 && frac[j] < frac[j - 1]; j--) {
            double x = frac[j];
            frac[j] = frac[j - 1];
            frac[j - 1] = x;
        }
    double median = steps % 2 ? frac[steps / 2] : 0.5 * (frac[steps / 2 - 1] + frac[steps / 2]);
    bench_print_machine();
    printf("model        %d layers, %d heads, d_model %d, n_ctx %d, batch %d (%zu tokens/step)\n", L, H, D, C, B, N);
    printf("training     %.0f tokens/s  (%.3f s/step on average, %.3f best; forward + backward)\n",
           (double)N * steps / t, t / steps, best_t);
    printf("matmul work  %.1f GFLOP/s on average, %.1f best  (%.1f MFLOP/token)\n", step_flops * steps / t / 1e9,
           step_flops / best_t / 1e9, 3.0 * fwd / 1e6);
    printf("sgemm peak   %.1f GFLOP/s best  (2048^3, measured after each step)\n", best_peak / 1e9);
    printf("fraction     %.2f of the sgemm peak (median of %d steps, each against the peak measured after it)\n",
           median, steps);
    printf("             %.2f best step against best peak\n", step_flops / best_t / best_peak);
    free(frac);
    free(tok);
    free(tgt);
    free(grad);
    hc_train_ws_free(ws);
    hc_model_free(&m);
    return 0;
}
