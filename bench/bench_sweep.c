/* The per-head sweep on GPT-2-small shapes (random weights), against the
 * notebook's algorithm on the same positions, beside the sgemm peak.
 *
 * usage: bench_sweep [SEQUENCES [SEQ_LEN [NOTEBOOK_HEADS]]]   (10 100 4) */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "headcal/blas.h"
#include "headcal/clock.h"
#include "headcal/component.h"
#include "headcal/forward.h"
#include "headcal/pool.h"
#include "headcal/sweep.h"
#include "headcal/synth.h"

/* The notebook's inner loop for one head: result / scale @ W_U (a
 * 768-deep GEMM), then the full softmax and the top-k of every row.
 * r[P, D] is the head's output (z_h · W_O^h); returns a checksum. */
static double notebook_head(const hc_model *m, const float *r, const float *scale, const float *base, int P, int k)
{
    int D = m->cfg.d_model, V = m->cfg.d_vocab;
    float *lg = bench_malloc((size_t)P * V * sizeof(float)), *rs = bench_malloc((size_t)P * D * sizeof(float));
    for (int p = 0; p < P; p++)
        for (int i = 0; i < D; i++)
            rs[(size_t)p * D + i] = r[(size_t)p * D + i] / scale[p];
    memcpy(lg, base, (size_t)P * V * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, P, V, D, -1.0f, rs, D, m->p.w_u, V, 1.0f, lg, V);
    double check = 0;
    for (int p = 0; p < P; p++) {
        float *row = lg + (size_t)p * V, mx = -FLT_MAX, top[64];
        for (int v = 0; v < V; v++)
            mx = row[v] > mx ? row[v] : mx;
        double s = 0;
        for (int v = 0; v < V; v++)
            s += (row[v] = expf(row[v] - mx));
        for (int j = 0; j < k; j++)
            top[j] = -1;
        for (int v = 0; v < V; v++) {
            float pr = (float)(row[v] / s);
            if (pr > top[k - 1]) {
                int j = k - 1;
                while (j > 0 && top[j - 1] < pr) {
                    top[j] = top[j - 1];
                    j--;
                }
                top[j] = pr;
            }
        }
        check += top[0];
    }
    free(lg);
    free(rs);
    return check;
}

int main(int argc, char **argv)
{
    hc_blas_tune(argv);
    int B = argc > 1 ? atoi(argv[1]) : 10, S = argc > 2 ? atoi(argv[2]) : 100, NH = argc > 3 ? atoi(argv[3]) : 4;
    hc_config cfg = {.n_layer = 12, .n_head = 12, .d_model = 768, .d_head = 64, .d_mlp = 3072, .n_ctx = 1024,
                     .d_vocab = 50257, .ln_eps = 1e-5f, .bos = 50256};
    bench_print_machine();
    int cores = hc_ncores();
    double peak = bench_sgemm_peak(cores, 2048, 2048, 2048), peak64 = bench_sgemm_peak(1, 256, 4096, 64);
    printf("sgemm peak: %.1f GFLOP/s (2048^3, %d threads); %.1f GFLOP/s (256x4096x64, 1 thread)\n", peak, cores,
           peak64);
    hc_model m;
    if (hc_model_alloc(&m, &cfg))
        return 1;
    hc_synth_params(&m, 1);
    hc_model_process(&m);
    int L = cfg.n_layer, H = cfg.n_head, nv = 1 + L * H;
    hc_variant_spec *vars = bench_calloc((size_t)nv, sizeof *vars);
    hc_component *comps = bench_calloc((size_t)nv, sizeof *comps);
    for (int i = 0; i < L * H; i++) {
        comps[i] = (hc_component){i / H, i % H};
        vars[i + 1] = (hc_variant_spec){1, &comps[i]};
    }
    int32_t *tok = bench_malloc((size_t)B * S * sizeof *tok);
    int *len = bench_malloc((size_t)B * sizeof *len);
    for (int i = 0; i < B * S; i++)
        tok[i] = (int32_t)(((unsigned)i * 7919u + 13u) % 50257u);
    for (int b = 0; b < B; b++)
        len[b] = S;
    int P = B * (S - 1);

    hc_sweep_opts o = {.top_k = 5, .threads = cores};
    hc_sweep *sw;
    double t0 = hc_seconds();
    if (hc_sweep_new(&sw, &m, vars, nv, &o))
        return 1;
    hc_sweep_out out;
    /* the first batch also builds the W_OU cache: time it apart */
    hc_sweep_batch(sw, tok, len, 1, S, &out);
    hc_sweep_out_free(&out);
    double t_setup = hc_seconds() - t0;

    t0 = hc_seconds();
    hc_acts acts = {.resid = bench_malloc((size_t)B * S * cfg.d_model * sizeof(float))};
    hc_forward(&m, tok, B, S, &acts);
    double t_fwd = hc_seconds() - t0;
    free(acts.resid);

    t0 = hc_seconds();
    if (hc_sweep_batch(sw, tok, len, B, S, &out))
        return 1;
    double t_sweep = hc_seconds() - t0;
    hc_sweep_out_free(&out);
    double ht = (double)P * (nv - 1) / (t_sweep - t_fwd);

    printf("workload: %d sequences x %d tokens = %d scored positions x %d heads (+ baseline), top-k 5\n", B, S, P,
           L * H);
    printf("kernel: %s (HEADCAL_KERNEL picks another)\n", hc_sweep_kernel_name(sw));
    printf("W_OU cache for 144 heads: %.1f s (once per run)\n", t_setup);
    printf("forward: %.1f tokens/s\n", B * S / t_fwd);
    printf("sweep: %.1f s for the batch = %.0f head-tokens/s (forward excluded), %.0f including it\n", t_sweep, ht,
           (double)P * (nv - 1) / t_sweep);
    double flop = 2.0 * P * (nv - 1) * cfg.d_head * cfg.d_vocab / (t_sweep - t_fwd);
    printf("rank-64 GEMM rate inside the sweep (float-equivalent): %.1f GFLOP/s (%.0f%% of the 2048^3 peak)\n", flop / 1e9,
           100 * flop / 1e9 / peak);

    /* The notebook's algorithm on the same positions, for NH heads. */
    int D = cfg.d_model, V = cfg.d_vocab, N = B * S;
    float *z = bench_malloc((size_t)L * N * D * sizeof(float)), *resid = bench_malloc((size_t)N * D * sizeof(float));
    float *scale = bench_malloc((size_t)N * sizeof(float)), *base = bench_malloc((size_t)N * V * sizeof(float));
    float *r = bench_malloc((size_t)N * D * sizeof(float));
    hc_acts a2 = {.z = z, .resid = resid, .scale = scale, .logits = base};
    hc_forward(&m, tok, B, S, &a2);
    t0 = hc_seconds();
    double check = 0;
    for (int h = 0; h < NH; h++) {
        int l = L - 1 - h % L, hh = h % H;
        /* r = z_h · W_O^h, as hook_result */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, D, cfg.d_head, 1.0f, z + (size_t)l * N * D + hh * 64,
                    D, m.p.w_o + (size_t)l * D * D + (size_t)hh * 64 * D, D, 0.0f, r, D);
        check += notebook_head(&m, r, scale, base, N, 5);
    }
    double t_nb = (hc_seconds() - t0) / NH;
    double nb_ht = N / t_nb;
    printf("notebook algorithm: %.0f head-tokens/s (%d heads timed; checksum %.3f)\n", nb_ht, NH, check);
    /* end to end: both sides also run the forward pass once per batch */
    printf("speed-up over the notebook algorithm: %.1fx (sweep alone), %.1fx end to end\n", ht / nb_ht,
           ((double)P * (nv - 1) / nb_ht + t_fwd) / t_sweep);
    double notebook_tokens = 25000, notebook_heads = 144;
    printf("the notebook's full sweep (25k tokens x 144 heads): %.1f min here, %.1f min by its algorithm\n",
           notebook_tokens * notebook_heads / ht / 60 + notebook_tokens / (B * S / t_fwd) / 60,
           notebook_tokens * notebook_heads / nb_ht / 60);
    printf("peak RSS: %.0f MB\n", bench_peak_rss_mb());
    hc_sweep_free(sw);
    hc_model_free(&m);
    return 0;
}
