/* The forward pass against an independent float64 numpy implementation
 * (tests/ref_gpt2.py) on synth checkpoints of several shapes and dtypes,
 * and against itself on other thread counts. */
#include <cblas.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/forward.h"
#include "headcal/synth.h"
#include "helpers.h"

static double compare(const char *tag, const char *synth_args, const char *ids, int bos)
{
    char *dir = th_tmpdir(tag);
    char cmd[8192];
    char *out, *err;
    snprintf(cmd, sizeof cmd, "%s synth --out %s/m %s", th_headcal(), dir, synth_args);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "synth failed: %s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "%s logits --model %s/m --tokens '%s' %s --out %s/l.npy", th_headcal(), dir, ids,
             bos ? "" : "--no-bos", dir);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "logits failed: %s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "%s %s %s/m %s/l.npy %s %s", TEST_PYTHON, th_src("tests/ref_gpt2.py"), dir, dir,
             bos ? "50256" : "", ids);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "reference failed: %s", err);
    double d = strtod(out, NULL);
    free(out);
    free(err);
    free(dir);
    return d;
}

Test(forward, matches_numpy_reference_f32, .timeout = 120)
{
    double d = compare("f32", "--layers 2 --heads 4 --d-model 64 --n-ctx 32 --seed 1", "464 2068 7586 21831 18045 625 262", 1);
    cr_assert_leq(d, 1e-3, "max |dlogit| %g", d);
}

Test(forward, matches_numpy_reference_other_shapes, .timeout = 120)
{
    double d = compare("shape1", "--layers 1 --heads 1 --d-model 8 --n-ctx 16 --seed 2", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15", 0);
    cr_assert_leq(d, 1e-3, "1 layer 1 head: %g", d);
    d = compare("shape2", "--layers 5 --heads 3 --d-model 48 --d-mlp 100 --n-ctx 20 --seed 3 --prefix --lm-head --extras",
                "50256 50255 0 17 198 262 11", 1);
    cr_assert_leq(d, 1e-3, "5 layers 3 heads, prefix, untied head: %g", d);
}

Test(forward, matches_numpy_reference_f16_bf16, .timeout = 120)
{
    double d = compare("f16", "--layers 2 --heads 2 --d-model 32 --n-ctx 16 --dtype f16 --seed 4", "464 2068 7586 21831", 1);
    cr_assert_leq(d, 1e-3, "f16: %g", d);
    d = compare("bf16", "--layers 2 --heads 2 --d-model 32 --n-ctx 16 --dtype bf16 --seed 5", "464 2068 7586 21831", 1);
    cr_assert_leq(d, 1e-3, "bf16: %g", d);
}

Test(forward, logits_of_text_are_those_of_its_tokens, .timeout = 60)
{
    char *dir = th_tmpdir("text");
    char cmd[8192], *err, *out;
    snprintf(cmd, sizeof cmd, "%s synth --out %s/m --layers 1 --heads 2 --d-model 16 --n-ctx 16", th_headcal(), dir);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "%s", err);
    free(err);
    /* GPT-2's tokenizer: "Hello world" is 15496 995; BOS first, so 3 rows */
    snprintf(cmd, sizeof cmd,
             "%s logits --model %s/m --text 'Hello world' --out %s/a.npy && "
             "%s logits --model %s/m --tokens '15496 995' --out %s/b.npy && cmp %s/a.npy %s/b.npy && "
             "%s -c 'import numpy; print(numpy.load(\"%s/a.npy\").shape)'",
             th_headcal(), dir, dir, th_headcal(), dir, dir, dir, dir, TEST_PYTHON, dir);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    cr_assert_str_eq(out, "(3, 50257)\n");
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd, "%s logits --model %s/m --text x --tokens 1 --out %s/c.npy", th_headcal(), dir, dir);
    cr_assert_eq(th_run(cmd, NULL, &err), 2);
    free(err);
    free(dir);
}

/* Counts the floats of a[n] and b[n] whose bits differ. */
static size_t bits_differ(const float *a, const float *b, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return d;
}

/* The steps between the products (layer norms, attention, GELU) give the
 * same bits on 1, 2 and 3 threads, in every output and every intermediate
 * of the trace.  The batch (5 sequences of 23 positions, 4 heads) divides
 * evenly neither into the row chunks nor among the threads.  OpenBLAS
 * keeps one thread count throughout: its own results move with it. */
Test(forward, results_do_not_depend_on_the_thread_count, .timeout = 60)
{
    const hc_config cfg = {.n_layer = 2, .n_head = 4, .d_model = 32, .d_head = 8, .d_mlp = 128, .n_ctx = 32,
                           .d_vocab = 300, .ln_eps = 1e-5f, .bos = 299};
    hc_model m;
    cr_assert_eq(hc_model_alloc(&m, &cfg), 0);
    hc_synth_params(&m, 4);
    const int B = 5, S = 23, N = B * S, L = cfg.n_layer, D = cfg.d_model, V = cfg.d_vocab;
    int32_t tok[5 * 23];
    for (int i = 0; i < N; i++)
        tok[i] = (int32_t)((i * 7919 + 13) % V);
    struct {
        float *logits, *resid, *scale, *z, *mlp;
        hc_trace tr;
    } out[3];
    const int blas = openblas_get_num_threads();
    openblas_set_num_threads(2);
    for (int t = 0; t < 3; t++) {
        out[t].logits = malloc((size_t)N * V * sizeof(float));
        out[t].resid = malloc((size_t)N * D * sizeof(float));
        out[t].scale = malloc((size_t)N * sizeof(float));
        out[t].z = malloc((size_t)L * N * D * sizeof(float));
        out[t].mlp = malloc((size_t)L * N * D * sizeof(float));
        hc_acts acts = {out[t].logits, out[t].resid, out[t].scale, out[t].z, out[t].mlp, .threads = t + 1};
        cr_assert_eq(hc_forward(&m, tok, B, S, &acts), 0);
        cr_assert_eq(hc_trace_alloc(&out[t].tr, &cfg, B, S), 0);
        cr_assert_eq(hc_forward_trace(&m, tok, B, S, &(hc_acts){.threads = t + 1}, &out[t].tr), 0);
    }
    openblas_set_num_threads(blas);
    for (int t = 1; t < 3; t++) {
        const hc_trace *a = &out[0].tr, *b = &out[t].tr;
        const struct {
            const char *what;
            const float *one, *many;
            size_t n;
        } cmp[] = {
            {"logits", out[0].logits, out[t].logits, (size_t)N * V},
            {"resid", out[0].resid, out[t].resid, (size_t)N * D},
            {"scale", out[0].scale, out[t].scale, (size_t)N},
            {"z", out[0].z, out[t].z, (size_t)L * N * D},
            {"mlp_out", out[0].mlp, out[t].mlp, (size_t)L * N * D},
            {"trace x", a->x, b->x, (size_t)(L + 1) * N * D},
            {"trace att", a->att, b->att, (size_t)L * B * cfg.n_head * S * S},
            {"trace g", a->g, b->g, (size_t)L * N * cfg.d_mlp},
            {"trace hf", a->hf, b->hf, (size_t)N * D},
        };
        for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++)
            cr_assert_eq(bits_differ(cmp[i].one, cmp[i].many, cmp[i].n), 0, "%s differs between 1 and %d threads",
                         cmp[i].what, t + 1);
    }
    /* the outputs and the trace come from the same network */
    cr_assert_eq(bits_differ(out[0].resid, out[0].tr.x + (size_t)L * N * D, (size_t)N * D), 0);
    for (int t = 0; t < 3; t++) {
        free(out[t].logits);
        free(out[t].resid);
        free(out[t].scale);
        free(out[t].z);
        free(out[t].mlp);
        hc_trace_free(&out[t].tr);
    }
    hc_model_free(&m);
}
