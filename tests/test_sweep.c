/* The ablation sweep against the notebook's algorithm in float64 numpy
 * (tests/ref_calib.py) on a synth model with text sampled from the model
 * itself, so that accuracy and calibration mean something. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/forward.h"
#include "headcal/means.h"
#include "headcal/model.h"
#include "headcal/sweep.h"
#include "headcal/synth.h"
#include "helpers.h"

enum { NB = 3, B = 4, SMAX = 20, K = 5, BINS = 10 };

static uint64_t rng = 12345;
static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* Ancestral sampling from the model: tokens[b*S + t], ragged lengths. */
static void sample(const hc_model *m, int32_t *tokens, int *lengths)
{
    size_t V = (size_t)m->cfg.d_vocab;
    float *lg = malloc(SMAX * V * sizeof(float));
    for (int b = 0; b < B; b++) {
        int32_t *row = tokens + b * SMAX;
        lengths[b] = b == 0 ? SMAX : 6 + (int)(uniform() * (SMAX - 6));
        if (b == B - 1)
            lengths[b] = 1; /* a row with nothing to score */
        for (int t = 0; t < SMAX; t++)
            row[t] = m->cfg.bos; /* padding */
        for (int t = 1; t < lengths[b]; t++) {
            hc_acts acts = {.logits = lg};
            cr_assert_eq(hc_forward(m, row, 1, t, &acts), 0);
            const float *l = lg + (size_t)(t - 1) * V;
            float mx = l[0];
            for (size_t v = 1; v < V; v++)
                mx = fmaxf(mx, l[v]);
            double s = 0;
            for (size_t v = 0; v < V; v++)
                s += exp(l[v] - mx);
            double u = uniform() * s, c = 0;
            size_t v = 0;
            for (; v + 1 < V; v++) {
                c += exp(l[v] - mx);
                if (c >= u)
                    break;
            }
            row[t] = (int32_t)v;
        }
    }
    free(lg);
}

typedef struct {
    int64_t count[BINS], correct[BINS];
    double nll, entropy;
} tally;

/* kernel: HC_KERNEL_*; a kernel this CPU lacks skips the test.  positions:
 * the run length the sweep is told (a short one takes the direct path; −1,
 * exactly the first batch's).  nb: the batches run. */
static void check_against_reference(const char *ablation, const char *ln, int kernel, int d_head, long positions,
                                    int nb)
{
    if (!hc_sweep_kernel_available(kernel))
        cr_skip_test("this CPU lacks the kernel");
    char *dir = th_tmpdir("sweep");
    hc_synth_opts so = {.cfg = {.n_layer = 2, .n_head = 3, .d_model = 3 * d_head, .d_head = d_head,
                                .d_mlp = 12 * d_head, .n_ctx = 32, .d_vocab = 50257, .ln_eps = 1e-5f, .bos = 50256},
                        .dtype = HC_F32, .seed = 11, .tokenizer_dir = th_src("data")};
    cr_assert_eq(hc_synth_write(dir, &so), 0, "%s", hc_errmsg());
    hc_model m;
    cr_assert_eq(hc_model_load(&m, dir), 0);
    int32_t tokens[NB][B * SMAX];
    int lengths[NB][B];
    for (int i = 0; i < NB; i++)
        sample(&m, tokens[i], lengths[i]);
    hc_model_process(&m);
    if (positions < 0) {
        positions = 0;
        for (int b = 0; b < B; b++)
            positions += lengths[0][b] > 1 ? lengths[0][b] - 1 : 0;
    }

    /* baseline, every head, every MLP, and one set */
    int L = 2, H = 3, nv = 1 + L * H + L + 1;
    hc_variant_spec *vars = calloc((size_t)nv, sizeof *vars);
    hc_component *comps = calloc(64, sizeof *comps), *c = comps;
    int v = 1;
    for (int l = 0; l < L; l++)
        for (int h = 0; h < H; h++, v++) {
            *c = (hc_component){l, h};
            vars[v] = (hc_variant_spec){1, c++};
        }
    for (int l = 0; l < L; l++, v++) {
        *c = (hc_component){l, HC_MLP};
        vars[v] = (hc_variant_spec){1, c++};
    }
    c[0] = (hc_component){0, 1};
    c[1] = (hc_component){1, 2};
    c[2] = (hc_component){0, HC_MLP};
    vars[v] = (hc_variant_spec){3, c};

    hc_sweep_opts o = {.top_k = K, .ablation = strcmp(ablation, "mean") ? HC_ABLATION_ZERO : HC_ABLATION_MEAN,
                       .ln = strcmp(ln, "recompute") ? HC_LN_FROZEN : HC_LN_RECOMPUTE, .threads = 2,
                       /* room for 4 heads' W_OU: the 6 heads run in several groups; a run of
                        * one batch has them all in one, so that the set's first head outlives
                        * its layer's pass */
                       .mem_budget = nb > 1 ? 4 * hc_sweep_head_bytes(&so.cfg, kernel) : 0,
                       .kernel = kernel, .positions = positions};
    hc_sweep *sw;
    cr_assert_eq(hc_sweep_new(&sw, &m, vars, nv, &o), 0, "%s", hc_errmsg());
    /* the kernel asked for is the one that runs */
    cr_assert_str_eq(hc_sweep_kernel_name(sw), hc_kernel_name(kernel));
    hc_means mn;
    if (o.ablation == HC_ABLATION_MEAN) {
        hc_mean_sums sums;
        cr_assert_eq(hc_mean_sums_init(&sums, &m.cfg, SMAX), 0);
        for (int i = 0; i < nb; i++)
            cr_assert_eq(hc_mean_sums_add_batch(&sums, &m, tokens[i], lengths[i], B, SMAX), 0, "%s", hc_errmsg());
        cr_assert_eq(hc_means_finish(&mn, &sums), 0);
        hc_mean_sums_free(&sums);
        hc_sweep_set_means(sw, &mn);
    }
    tally *got = calloc((size_t)nv, sizeof *got);
    double *top1 = calloc((size_t)nv * NB * B * SMAX, sizeof *top1);
    int np = 0;
    for (int i = 0; i < nb; i++) {
        hc_sweep_out out;
        cr_assert_eq(hc_sweep_batch(sw, tokens[i], lengths[i], B, SMAX, &out), 0, "%s", hc_errmsg());
        for (int vv = 0; vv < nv; vv++)
            for (int p = 0; p < out.n_pos; p++) {
                size_t oi = (size_t)vv * out.n_pos + p;
                for (int j = 0; j < K; j++) {
                    float pr = out.topk_p[oi * K + j];
                    int b = (int)floorf(pr * BINS);
                    b = b > BINS - 1 ? BINS - 1 : b;
                    got[vv].count[b]++;
                    got[vv].correct[b] += out.topk_id[oi * K + j] == out.target[p];
                }
                got[vv].nll += out.nll[oi];
                got[vv].entropy += out.entropy[oi];
                top1[(size_t)vv * NB * B * SMAX + np + p] = out.topk_p[oi * K];
            }
        np += out.n_pos;
        hc_sweep_out_free(&out);
    }

    /* the reference's spec: same model, same sequences (unpadded) */
    char spec[4300], res[4300];
    snprintf(spec, sizeof spec, "%s/spec.json", dir);
    snprintf(res, sizeof res, "%s/ref.json", dir);
    FILE *f = fopen(spec, "w");
    fprintf(f, "{\"model\": \"%s\", \"top_k\": %d, \"bins\": %d, \"ablation\": \"%s\", \"ln\": \"%s\", \"variants\": [",
            dir, K, BINS, ablation, ln);
    for (int vv = 0; vv < nv; vv++) {
        fprintf(f, "%s[", vv ? "," : "");
        for (int i = 0; i < vars[vv].n; i++) {
            hc_component *x = &vars[vv].c[i];
            if (x->head != HC_MLP)
                fprintf(f, "%s[\"head\", %d, %d]", i ? "," : "", x->layer, x->head);
            else
                fprintf(f, "%s[\"mlp\", %d]", i ? "," : "", x->layer);
        }
        fprintf(f, "]");
    }
    fprintf(f, "], \"batches\": [");
    for (int i = 0; i < nb; i++) {
        fprintf(f, "%s[", i ? "," : "");
        int first = 1;
        for (int b = 0; b < B; b++) {
            if (lengths[i][b] < 2)
                continue;
            fprintf(f, "%s[", first ? "" : ",");
            first = 0;
            for (int t = 0; t < lengths[i][b]; t++)
                fprintf(f, "%s%d", t ? "," : "", tokens[i][b * SMAX + t]);
            fprintf(f, "]");
        }
        fprintf(f, "]");
    }
    fprintf(f, "]}\n");
    fclose(f);
    char cmd[9000], *err;
    snprintf(cmd, sizeof cmd, "cd %s && %s ref_calib.py %s %s", th_src("tests"), TEST_PYTHON, spec, res);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "reference failed: %s", err);
    free(err);
    char *text;
    size_t len;
    cr_assert_eq(hc_read_file(res, 1 << 26, &text, &len), 0);
    cJSON *root = cJSON_Parse(text), *rv = cJSON_GetObjectItem(root, "variants");
    free(text);
    cr_assert_eq(cJSON_GetArraySize(rv), nv);
    for (int vv = 0; vv < nv; vv++) {
        cJSON *e = cJSON_GetArrayItem(rv, vv);
        int64_t total = 0, diff = 0;
        for (int b = 0; b < BINS; b++) {
            int64_t rc = (int64_t)cJSON_GetArrayItem(cJSON_GetObjectItem(e, "count"), b)->valuedouble;
            int64_t rk = (int64_t)cJSON_GetArrayItem(cJSON_GetObjectItem(e, "correct"), b)->valuedouble;
            total += rc;
            diff += llabs(rc - got[vv].count[b]) + llabs(rk - got[vv].correct[b]);
        }
        cr_assert_eq(total, (int64_t)np * K, "variant %d: %lld events vs %d", vv, (long long)total, np * K);
        /* only probabilities sitting on a bin edge may land differently */
        cr_assert_leq(diff, 2 + total / 200, "variant %d (%s/%s, kernel %d): %lld count mismatches", vv, ablation, ln, kernel,
                      (long long)diff);
        double nll = cJSON_GetObjectItem(e, "nll")->valuedouble, ent = cJSON_GetObjectItem(e, "entropy")->valuedouble;
        cr_assert_float_eq(got[vv].nll, nll, 1e-4 * fabs(nll) + 1e-3, "variant %d NLL %g vs %g", vv, got[vv].nll, nll);
        cr_assert_float_eq(got[vv].entropy, ent, 1e-4 * fabs(ent) + 1e-3, "variant %d entropy %g vs %g", vv,
                           got[vv].entropy, ent);
        cJSON *t1 = cJSON_GetObjectItem(e, "top1");
        cr_assert_eq(cJSON_GetArraySize(t1), np);
        for (int p = 0; p < np; p++)
            cr_assert_float_eq(top1[(size_t)vv * NB * B * SMAX + p], cJSON_GetArrayItem(t1, p)->valuedouble, 1e-4,
                               "variant %d position %d top-1 probability", vv, p);
    }
    /* ablation must change something: head variants differ from baseline */
    cr_assert(fabs(got[1].nll - got[0].nll) > 1e-6);
    cJSON_Delete(root);
    if (o.ablation == HC_ABLATION_MEAN)
        hc_means_free(&mn);
    hc_sweep_free(sw);
    hc_model_free(&m);
    free(got);
    free(top1);
    free(vars);
    free(comps);
    free(dir);
}

/* The four ablation settings on each kernel; d_head 8 exercises the bf16x3
 * kernels' padding to whole tiles, 32 their unpadded case, and 64
 * (GPT-2's) two tiles in depth.  positions 1 takes the direct path (no
 * W_OU), 0 the cost model's default; a run of one batch (positions −1)
 * hands each head's W_OU slot on to a later layer's once its variants are
 * done, and the set variant keeps its first head's across that. */
/* Arrays, not pointers: Criterion copies the parameters into each test's
 * own process. */
typedef struct {
    char ablation[8], ln[16];
    int kernel, d_head;
    long positions;
    int batches;
} sweep_case;

ParameterizedTestParameters(sweep, matches_the_reference)
{
    static sweep_case cases[] = {
        {"zero", "frozen", HC_KERNEL_GENERIC, 8, 0, NB},        {"mean", "recompute", HC_KERNEL_GENERIC, 8, 0, NB},
        {"zero", "frozen", HC_KERNEL_AVX512, 8, 0, NB},         {"mean", "frozen", HC_KERNEL_AVX512, 8, 0, NB},
        {"zero", "recompute", HC_KERNEL_AVX512, 8, 0, NB},      {"mean", "recompute", HC_KERNEL_AVX512, 8, 0, NB},
        {"zero", "frozen", HC_KERNEL_AMX, 8, 0, NB},            {"mean", "recompute", HC_KERNEL_AMX, 32, 0, NB},
        {"zero", "recompute", HC_KERNEL_AMX, 64, 0, NB},        {"zero", "frozen", HC_KERNEL_AVX512BF16, 8, 0, NB},
        {"mean", "frozen", HC_KERNEL_AVX512BF16, 32, 0, NB},    {"zero", "recompute", HC_KERNEL_AVX512BF16, 64, 0, NB},
        {"mean", "recompute", HC_KERNEL_AVX512BF16, 64, 0, NB}, {"zero", "recompute", HC_KERNEL_GENERIC, 8, 1, NB},
        {"mean", "frozen", HC_KERNEL_AVX512, 8, 1, NB},         {"mean", "recompute", HC_KERNEL_AVX512BF16, 64, 1, NB},
        {"mean", "recompute", HC_KERNEL_GENERIC, 8, -1, 1},     {"zero", "frozen", HC_KERNEL_AVX512, 8, -1, 1},
        {"zero", "recompute", HC_KERNEL_AVX512BF16, 32, -1, 1},
    };
    return cr_make_param_array(sweep_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(sweep_case *c, sweep, matches_the_reference, .timeout = 300)
{
    check_against_reference(c->ablation, c->ln, c->kernel, c->d_head, c->positions, c->batches);
}

Test(sweep, components_outside_the_model_are_refused)
{
    hc_config cfg = {.n_layer = 2, .n_head = 2, .d_model = 8, .d_head = 4, .d_mlp = 32, .n_ctx = 8, .d_vocab = 16,
                     .ln_eps = 1e-5f, .bos = 0};
    hc_model m;
    cr_assert_eq(hc_model_alloc(&m, &cfg), 0);
    hc_model_process(&m);
    hc_component bad[3] = {{2, 0}, {1, 2}, {-1, HC_MLP}};
    hc_sweep_opts o = {.top_k = 3};
    const char *needles[3] = {"layer 2 does not exist", "head 1.2 does not exist", "layer -1 does not exist"};
    for (int i = 0; i < 3; i++) {
        hc_variant_spec v = {1, &bad[i]};
        hc_sweep *sw;
        cr_assert_eq(hc_sweep_new(&sw, &m, &v, 1, &o), -1);
        cr_assert(strstr(hc_errmsg(), needles[i]), "%s", hc_errmsg());
        cr_assert_eq(hc_errstatus(), HC_EUSAGE);
    }
    hc_variant_spec base = {0, NULL};
    hc_sweep *sw;
    o.top_k = 0;
    cr_assert_eq(hc_sweep_new(&sw, &m, &base, 1, &o), -1);
    cr_assert(strstr(hc_errmsg(), "--top-k"));
    hc_model_free(&m);
}

/* A sweep keeps a batch's activations for the next: a later batch longer
 * and wider than the first, and a short one after it, give the bits a
 * sweep new to each gives. */
Test(sweep, batches_of_other_sizes_match_a_new_sweep, .timeout = 60)
{
    hc_config cfg = {.n_layer = 2, .n_head = 2, .d_model = 16, .d_head = 8, .d_mlp = 64, .n_ctx = 32,
                     .d_vocab = 200, .ln_eps = 1e-5f, .bos = 199};
    hc_model m;
    cr_assert_eq(hc_model_alloc(&m, &cfg), 0);
    hc_synth_params(&m, 21);
    hc_model_process(&m);
    hc_component comps[] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}, {1, HC_MLP}};
    hc_variant_spec vars[6] = {{0, NULL}};
    for (int i = 0; i < 5; i++)
        vars[i + 1] = (hc_variant_spec){1, &comps[i]};
    const hc_sweep_opts o = {.top_k = 3, .threads = 2};
    /* batches: 2 × 8, 5 × 24, 2 × 8 tokens */
    const int shape[3][2] = {{2, 8}, {5, 24}, {2, 8}};
    int32_t tok[3][5 * 24];
    int len[3][5];
    for (int i = 0; i < 3; i++)
        for (int b = 0; b < shape[i][0]; b++) {
            len[i][b] = shape[i][1] - b;
            for (int t = 0; t < shape[i][1]; t++)
                tok[i][b * shape[i][1] + t] = (int32_t)((i * 131 + b * 37 + t * 11) % cfg.d_vocab);
        }
    hc_sweep *kept, *fresh;
    cr_assert_eq(hc_sweep_new(&kept, &m, vars, 6, &o), 0, "%s", hc_errmsg());
    for (int i = 0; i < 3; i++) {
        hc_sweep_out a = {0}, b = {0};
        cr_assert_eq(hc_sweep_batch(kept, tok[i], len[i], shape[i][0], shape[i][1], &a), 0, "%s", hc_errmsg());
        cr_assert_eq(hc_sweep_new(&fresh, &m, vars, 6, &o), 0, "%s", hc_errmsg());
        cr_assert_eq(hc_sweep_batch(fresh, tok[i], len[i], shape[i][0], shape[i][1], &b), 0, "%s", hc_errmsg());
        cr_assert_eq(a.n_pos, b.n_pos);
        const size_t n = (size_t)a.n_var * a.n_pos;
        cr_assert(!memcmp(a.nll, b.nll, n * sizeof(double)), "batch %d: NLL differs", i);
        cr_assert(!memcmp(a.entropy, b.entropy, n * sizeof(double)), "batch %d: entropy differs", i);
        cr_assert(!memcmp(a.topk_p, b.topk_p, n * a.k * sizeof(float)), "batch %d: top-k differs", i);
        cr_assert(!memcmp(a.topk_id, b.topk_id, n * a.k * sizeof(int32_t)), "batch %d: top-k ids differ", i);
        hc_sweep_out_free(&a);
        hc_sweep_out_free(&b);
        hc_sweep_free(fresh);
    }
    hc_sweep_free(kept);
    hc_model_free(&m);
}
