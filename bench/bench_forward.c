/* Forward-pass throughput on GPT-2-small shapes (random weights: speed
 * does not depend on their values), beside the sgemm peak. */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "headcal/blas.h"
#include "headcal/clock.h"
#include "headcal/forward.h"
#include "headcal/model.h"
#include "headcal/pool.h"
#include "headcal/synth.h"

static void run(const hc_model *m, int B, int S, int logits)
{
    size_t N = (size_t)B * S;
    int32_t *tok = bench_malloc(N * sizeof *tok);
    for (size_t i = 0; i < N; i++)
        tok[i] = (int32_t)((i * 7919) % 50257);
    float *lg = logits ? bench_malloc(N * (size_t)m->cfg.d_vocab * sizeof(float)) : NULL;
    float *resid = bench_malloc(N * (size_t)m->cfg.d_model * sizeof(float));
    hc_acts acts = {.logits = lg, .resid = resid};
    hc_forward(m, tok, B, S, &acts); /* warm-up */
    double t0 = hc_seconds();
    int reps = 0;
    do {
        if (hc_forward(m, tok, B, S, &acts)) {
            fprintf(stderr, "forward failed\n");
            exit(1);
        }
        reps++;
    } while (hc_seconds() - t0 < 5.0);
    double dt = (hc_seconds() - t0) / reps;
    printf("forward B=%-3d S=%-5d %-14s %8.1f tokens/s  (%.3f s per batch)\n", B, S,
           logits ? "with logits" : "without logits", (double)N / dt, dt);
    free(tok);
    free(lg);
    free(resid);
}

int main(int argc, char **argv)
{
    (void)argc;
    hc_blas_tune(argv);
    hc_config cfg = {.n_layer = 12, .n_head = 12, .d_model = 768, .d_head = 64, .d_mlp = 3072, .n_ctx = 1024,
                     .d_vocab = 50257, .ln_eps = 1e-5f, .bos = 50256};
    hc_model m;
    if (hc_model_alloc(&m, &cfg))
        return 1;
    hc_synth_params(&m, 1);
    hc_model_process(&m);
    bench_print_machine();
    int cores = hc_ncores();
    printf("sgemm peak: %.1f GFLOP/s (2048^3, %d threads)\n", bench_sgemm_peak(cores, 2048, 2048, 2048), cores);
    run(&m, 10, 100, 0);
    run(&m, 10, 100, 1);
    run(&m, 1, 1024, 0);
    run(&m, 1, 1024, 1);
    printf("peak RSS: %.0f MB\n", bench_peak_rss_mb());
    hc_model_free(&m);
    return 0;
}
