/* The per-head sweep on GPT-2-small shapes (random weights), end to end
 * (model load, W_OU, forward, sweep), against the notebook's algorithm on
 * the same model and tokens: as the notebook runs it (numpy float32 on the
 * same OpenBLAS, bench/notebook_numpy.py, run from here) and transcribed
 * to C; beside the sgemm peak of the same run.
 *
 * usage: bench_sweep [SEQUENCES [SEQ_LEN [NOTEBOOK_HEADS [BATCH]]]]   (16 100 2 16)
 *
 * The notebook in numpy runs on the first batch only, its per-head work
 * timed on NOTEBOOK_HEADS heads, and is scaled to 144 heads and every
 * batch (each head and each token costs the same); headcal runs them all. */
#include <cJSON.h>
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "headcal/blas.h"
#include "headcal/clock.h"
#include "headcal/component.h"
#include "headcal/examples.h"
#include "headcal/forward.h"
#include "headcal/model.h"
#include "headcal/npy.h"
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

/* The sweep of one batch with and without keeping the default number of
 * examples for every head (what a run does after each batch), alternated
 * so that both see the same machine; best of `reps` each. */
static void examples_cost(hc_sweep *sw, const int32_t *tok, const int *len, int B, int S, int nv, int reps)
{
    hc_examples *ex = calloc((size_t)nv, sizeof *ex);
    double off = 1e30, on = 1e30, keep = 1e30;
    for (int r = 0; r < reps; r++)
        for (int with = 0; with < 2; with++) {
            hc_sweep_out out;
            double t0 = hc_seconds();
            if (hc_sweep_batch(sw, tok, len, B, S, &out))
                return;
            double t1 = hc_seconds();
            for (int v = 1; with && v < nv; v++)
                hc_examples_collect(&ex[v], HC_EXAMPLES_DEFAULT, r, &out, v, 0);
            double t2 = hc_seconds();
            hc_sweep_out_free(&out);
            if (with) {
                on = t2 - t0 < on ? t2 - t0 : on;
                keep = t2 - t1 < keep ? t2 - t1 : keep;
            } else {
                off = t1 - t0 < off ? t1 - t0 : off;
            }
        }
    int P = B * (S - 1);
    printf("examples (%d per list, 4 lists per head): sweep %.0f head-tokens/s without, %.0f with: %+.1f%% time "
           "(keeping them alone: %.1f ms per batch, %.2f%% of the sweep)\n",
           HC_EXAMPLES_DEFAULT, (double)P * (nv - 1) / off, (double)P * (nv - 1) / on, 100 * (on / off - 1),
           keep * 1e3, 100 * keep / off);
    for (int v = 0; v < nv; v++)
        hc_examples_free(&ex[v]);
    free(ex);
}

/* Runs bench/notebook_numpy.py on the model in dir and tokens.npy; fills
 * its JSON figures into *out (caller frees). */
static cJSON *run_numpy(const char *dir, int batch, int heads)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' '%s/bench/notebook_numpy.py' '%s' '%s/tokens.npy' %d %d 1", BENCH_PYTHON,
             BENCH_SRCDIR, dir, dir, batch, heads);
    FILE *f = popen(cmd, "r");
    char line[4096] = "";
    while (f && fgets(line, sizeof line, f) && line[0] != '{')
        ;
    if (f)
        pclose(f);
    cJSON *j = cJSON_Parse(line);
    if (!j)
        fprintf(stderr, "bench_sweep: %s gave no figures\n", cmd);
    return j;
}

static double num(const cJSON *j, const char *k) { return cJSON_GetNumberValue(cJSON_GetObjectItem(j, k)); }

int main(int argc, char **argv)
{
    hc_blas_tune(argv);
    int B = argc > 1 ? atoi(argv[1]) : 16, S = argc > 2 ? atoi(argv[2]) : 100, NH = argc > 3 ? atoi(argv[3]) : 2;
    int BS = argc > 4 ? atoi(argv[4]) : 16;
    hc_config cfg = {.n_layer = 12, .n_head = 12, .d_model = 768, .d_head = 64, .d_mlp = 3072, .n_ctx = 1024,
                     .d_vocab = 50257, .ln_eps = 1e-5f, .bos = 50256};
    bench_print_machine();
    int cores = hc_ncores();
    double peak = bench_sgemm_peak(cores, 2048, 2048, 2048), peak64 = bench_sgemm_peak(1, 256, 4096, 64);
    printf("sgemm peak: %.1f GFLOP/s (2048^3, %d threads); %.1f GFLOP/s (256x4096x64, 1 thread)\n", peak, cores,
           peak64);
    /* the model both sides load, and the tokens */
    char dir[] = "/tmp/bench_sweep.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    hc_model m0;
    if (hc_model_alloc(&m0, &cfg))
        return 1;
    hc_synth_params(&m0, 1);
    if (hc_model_save(&m0, dir, HC_F32, false, false, false))
        return 1;
    hc_model_free(&m0);
    int L = cfg.n_layer, H = cfg.n_head, nv = 1 + L * H;
    int32_t *tok = bench_malloc((size_t)B * S * sizeof *tok);
    float *tokf = bench_malloc((size_t)B * S * sizeof *tokf);
    int *len = bench_malloc((size_t)B * sizeof *len);
    for (int i = 0; i < B * S; i++)
        tokf[i] = (float)(tok[i] = (int32_t)(((unsigned)i * 7919u + 13u) % 50257u));
    for (int b = 0; b < B; b++)
        len[b] = S;
    char path[4096];
    snprintf(path, sizeof path, "%s/tokens.npy", dir);
    if (hc_npy_write_f32(path, tokf, 2, (size_t[]){(size_t)B, (size_t)S}))
        return 1;
    long P = (long)B * (S - 1);
    hc_variant_spec *vars = bench_calloc((size_t)nv, sizeof *vars);
    hc_component *comps = bench_calloc((size_t)nv, sizeof *comps);
    for (int i = 0; i < L * H; i++) {
        comps[i] = (hc_component){i / H, i % H};
        vars[i + 1] = (hc_variant_spec){1, &comps[i]};
    }

    /* headcal end to end, as `headcal run` does it */
    double t_start = hc_seconds();
    hc_model m;
    if (hc_model_load(&m, dir))
        return 1;
    hc_model_process(&m);
    double t_load = hc_seconds() - t_start;
    hc_sweep_opts o = {.top_k = 5, .threads = cores, .positions = P};
    hc_sweep *sw;
    if (hc_sweep_new(&sw, &m, vars, nv, &o))
        return 1;
    hc_sweep_out out;
    /* the batches as the run takes them: the first forms W_OU a layer at a
     * time between its passes, which the sweep accounts for */
    double t0 = hc_seconds();
    for (int b0 = 0; b0 < B; b0 += BS) {
        int nb = B - b0 < BS ? B - b0 : BS;
        if (hc_sweep_batch(sw, tok + (size_t)b0 * S, len + b0, nb, S, &out))
            return 1;
        hc_sweep_out_free(&out);
    }
    double t_wou = hc_sweep_wou_seconds(sw), t_sweep = hc_seconds() - t0 - t_wou, t_total = hc_seconds() - t_start;
    t0 = hc_seconds();
    int nf = B < BS ? B : BS;
    hc_acts acts = {.resid = bench_malloc((size_t)nf * S * cfg.d_model * sizeof(float))};
    hc_forward(&m, tok, nf, S, &acts);
    double t_fwd = (hc_seconds() - t0) * B / nf;
    free(acts.resid);
    double ht = (double)P * (nv - 1) / (t_sweep - t_fwd), flop = 2.0 * P * (nv - 1) * cfg.d_head * cfg.d_vocab;
    double wou_flop = 2.0 * L * H * cfg.d_head * cfg.d_model * cfg.d_vocab;
    printf("workload: %d sequences x %d tokens = %ld scored positions x %d heads (+ baseline), top-k 5, batches of %d\n",
           B, S, P, L * H, BS);
    printf("kernel: %s (HEADCAL_KERNEL picks another)%s\n", hc_sweep_kernel_name(sw),
           hc_sweep_direct(&cfg, P) ? ", direct path (no W_OU)" : "");
    printf("headcal: load %.1f s, W_OU %.1f s = %.1f GFLOP/s (%.0f%% of the 2048^3 peak), forward %.1f s, sweep %.1f s "
           "(forward excluded) = %.0f head-tokens/s, %.1f GFLOP/s float-equivalent (%.0f%% of peak)\n",
           t_load, t_wou, wou_flop / t_wou / 1e9, 100 * wou_flop / t_wou / 1e9 / peak, t_fwd, t_sweep - t_fwd, ht,
           flop / (t_sweep - t_fwd) / 1e9, 100 * flop / (t_sweep - t_fwd) / 1e9 / peak);
    printf("headcal end to end: %.1f s\n", t_total);
    examples_cost(sw, tok, len, nf, S, nv, 3);
    const char *kernel = hc_sweep_kernel_name(sw);
    hc_sweep_free(sw);

    /* NOTEBOOK_HEADS 0: headcal's figures only */
    if (NH > 0) {
        /* The notebook's algorithm in C, on the first batch, for NH heads. */
        int D = cfg.d_model, V = cfg.d_vocab, N = nf * S;
        float *z = bench_malloc((size_t)L * N * D * sizeof(float)), *resid = bench_malloc((size_t)N * D * sizeof(float));
        float *scale = bench_malloc((size_t)N * sizeof(float)), *base = bench_malloc((size_t)N * V * sizeof(float));
        float *r = bench_malloc((size_t)N * D * sizeof(float));
        hc_acts a2 = {.z = z, .resid = resid, .scale = scale, .logits = base};
        hc_forward(&m, tok, nf, S, &a2);
        t0 = hc_seconds();
        double check = 0;
        for (int h = 0; h < NH; h++) {
            int l = L - 1 - h % L, hh = h % H;
            /* r = z_h · W_O^h, as hook_result */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, D, cfg.d_head, 1.0f, z + (size_t)l * N * D + hh * 64,
                        D, m.p.w_o + (size_t)l * D * D + (size_t)hh * 64 * D, D, 0.0f, r, D);
            check += notebook_head(&m, r, scale, base, N, 5);
        }
        double c_ht = (double)N * NH / (hc_seconds() - t0);
        free(z), free(resid), free(scale), free(base), free(r);
        double c_total = t_load + t_fwd + (double)B * S * (nv - 1) / c_ht;
        printf("notebook in C: %.0f head-tokens/s (%d heads timed; checksum %.3f); end to end %.1f s (load and forward "
               "as headcal's): %.1fx\n",
               c_ht, NH, check, c_total, c_total / t_total);

        /* The notebook as it runs, numpy float32, same OpenBLAS, same model and tokens. */
        cJSON *j = run_numpy(dir, BS, NH);
        if (j) {
            double per_tok = num(j, "baseline_s_per_token") + (nv - 1) * num(j, "head_s_per_token");
            double np_fwd = num(j, "forward_s_per_token") * B * S, np_total = num(j, "load_s") + np_fwd + per_tok * P;
            printf("notebook in numpy: load %.1f s, forward %.1f s, %.0f head-tokens/s (%d heads timed on %d positions); "
                   "end to end %.1f s\n",
                   num(j, "load_s"), np_fwd, 1 / num(j, "head_s_per_token"), (int)num(j, "heads_timed"),
                   (int)num(j, "tokens_timed"), np_total);
            printf("speed-up end to end over the notebook in numpy: %.1fx (kernel %s, %d x %d tokens)\n",
                   np_total / t_total, kernel, B, S);
            cJSON_Delete(j);
        }
    }
    hc_model_free(&m);
    printf("peak RSS: %.0f MB (this process)\n", bench_peak_rss_mb());
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, (const char *[]){"config.json", "model.safetensors", "tokens.npy"}[i]);
        unlink(path);
    }
    return rmdir(dir) != 0;
}
