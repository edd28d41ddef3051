/* Training: gradients against finite differences, learning a tiny corpus,
 * checkpoints that the loader and the inference forward pass agree with,
 * and resume giving the uninterrupted result. */
#include <cblas.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/error.h"
#include "headcal/forward.h"
#include "headcal/synth.h"
#include "headcal/train.h"
#include "helpers.h"

static hc_config tiny(int L, int H, int D, int C, int V)
{
    return (hc_config){.n_layer = L, .n_head = H, .d_model = D, .d_head = D / H, .d_mlp = 4 * D, .n_ctx = C,
                       .d_vocab = V, .ln_eps = 1e-5f, .bos = V - 1};
}

/* The analytic gradient against a central difference of the loss,
 * computed in double around float parameters: |error| must stay under
 * atol + 2 % of the difference.  Tokens and targets are the multiples of
 * id_step; checked are every stride-th trained parameter and all of their
 * embedding rows (where the targets' and the tokens' terms land). */
static void check_gradient(hc_config cfg, int B, int S, size_t stride, int id_step, double atol)
{
    hc_model m;
    cr_assert_eq(hc_model_alloc(&m, &cfg), 0);
    /* synth's non-trivial LayerNorm weights and biases exercise every term */
    hc_synth_params(&m, 3);
    size_t N = (size_t)B * S;
    int32_t *tok = malloc(N * sizeof *tok), *tgt = malloc(N * sizeof *tgt);
    uint64_t s = 42;
    for (size_t i = 0; i < N; i++) {
        tok[i] = (int32_t)(hc_splitmix64(&s) % (uint64_t)(cfg.d_vocab / id_step)) * id_step;
        tgt[i] = (int32_t)(hc_splitmix64(&s) % (uint64_t)(cfg.d_vocab / id_step)) * id_step;
    }
    float *g = malloc(m.n_floats * sizeof(float));
    double loss;
    cr_assert_eq(hc_train_grad(&m, NULL, tok, tgt, B, S, g, &loss), 0);
    size_t n = (size_t)(m.p.w_u - m.slab), bad = 0, checked = 0;
    double worst = 0;
    hc_train_ws *ws = hc_train_ws_new(&cfg, B, S); /* one reused workspace, as in training */
    for (size_t i = 0; i < n; i++) {
        if (i % stride && (m.p.w_e + i >= m.p.w_pos || (i / (size_t)cfg.d_model) % (size_t)id_step))
            continue;
        /* the five-point stencil: O(h⁴) truncation, so h can stay well
         * above float rounding */
        float keep = m.slab[i], h = 1e-2f;
        double l[4];
        const float at[4] = {keep + h, keep - h, keep + 2 * h, keep - 2 * h};
        for (int k = 0; k < 4; k++) {
            m.slab[i] = at[k];
            hc_train_grad(&m, ws, tok, tgt, B, S, NULL, &l[k]);
        }
        m.slab[i] = keep;
        double fd = (8 * (l[0] - l[1]) - (l[2] - l[3])) / (12.0 * (double)h), err = fabs(fd - g[i]);
        if (err > atol + 2e-2 * fabs(fd))
            bad++;
        worst = err > worst ? err : worst;
        checked++;
    }
    cr_assert_eq(bad, 0, "%zu of %zu gradients off (worst |err| %g)", bad, checked, worst);
    /* the untrained sections stay zero: the head is tied to w_e */
    for (size_t i = n; i < m.n_floats; i++)
        cr_assert_eq(g[i], 0.0f);
    hc_train_ws_free(ws);
    free(g);
    free(tok);
    free(tgt);
    hc_model_free(&m);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

Test(train, gradient_matches_finite_differences, .timeout = 120)
{
    check_gradient(tiny(2, 2, 8, 8, 11), 2, 6, 1, 1, 2e-3);
}

/* Big enough for every way the trainer cuts a step: 40 sequences of 8 are
 * three shards of the layers' passes, 320 rows two blocks of the head, and
 * 2100 ids three slices of its vocabulary, each slice with targets (ids
 * every 50).  A sample of the parameters: the median gradient there is
 * about 1e-4 in w_e and 1e-2 in the layers, the differences' own noise
 * under 1e-5. */
Test(train, gradient_matches_finite_differences_across_shards_and_slices, .timeout = 240)
{
    check_gradient(tiny(2, 2, 8, 8, 2100), 40, 8, 23, 50, 2e-5);
}

/* The gradient and the loss are the same bits on 1, 2 and 3 threads: the
 * work is cut by the batch's shape, never by the thread count, and the
 * pieces are added in a fixed order (so a run resumes, or is repeated, to
 * the same model on any machine's core count). */
Test(train, gradient_does_not_depend_on_the_thread_count, .timeout = 120)
{
    hc_config cfg = tiny(2, 4, 32, 32, 2100);
    hc_model m;
    cr_assert_eq(hc_model_alloc(&m, &cfg), 0);
    hc_synth_params(&m, 9);
    const int B = 12, S = 32;
    int32_t tok[12 * 32], tgt[12 * 32];
    uint64_t s = 5;
    for (int i = 0; i < B * S; i++) {
        tok[i] = (int32_t)(hc_splitmix64(&s) % 2100);
        tgt[i] = (int32_t)(hc_splitmix64(&s) % 2100);
    }
    float *g[3];
    double loss[3];
    for (int t = 0; t < 3; t++) {
        openblas_set_num_threads(t + 1);
        g[t] = malloc(m.n_floats * sizeof(float));
        cr_assert_eq(hc_train_grad(&m, NULL, tok, tgt, B, S, g[t], &loss[t]), 0);
    }
    for (int t = 1; t < 3; t++) {
        size_t differ = 0;
        for (size_t i = 0; i < m.n_floats; i++)
            differ += memcmp(&g[t][i], &g[0][i], sizeof(float)) != 0;
        cr_assert_eq(differ, 0, "%zu gradients differ between 1 and %d threads", differ, t + 1);
        cr_assert_eq(loss[t], loss[0], "loss %.17g on %d threads, %.17g on one", loss[t], t + 1, loss[0]);
    }
    for (int t = 0; t < 3; t++)
        free(g[t]);
    hc_model_free(&m);
}

/* The trainer's logits (hc_train_logits: the calls its loss is taken
 * from) against hc_forward's on a model whose unembedding is its embedding
 * transposed (what a trained checkpoint loads as); the largest difference
 * relative to the largest logit. */
static double logits_vs_forward(int B, int V)
{
    hc_config cfg = tiny(3, 4, 32, 16, V);
    hc_model m;
    cr_assert_eq(hc_model_alloc(&m, &cfg), 0);
    hc_synth_params(&m, 5);
    const int D = cfg.d_model, S = 16;
    for (int v = 0; v < V; v++) {
        m.p.b_u[v] = 0.0f;
        for (int d = 0; d < D; d++)
            m.p.w_u[(size_t)d * V + v] = m.p.w_e[(size_t)v * D + d];
    }
    size_t n = (size_t)B * S * V;
    int32_t *tok = malloc((size_t)B * S * sizeof *tok);
    uint64_t s = 7;
    for (int i = 0; i < B * S; i++)
        tok[i] = (int32_t)(hc_splitmix64(&s) % (uint64_t)V);
    float *fa = malloc(n * sizeof(float)), *fb = malloc(n * sizeof(float));
    cr_assert_eq(hc_forward(&m, tok, B, S, &(hc_acts){.logits = fa}), 0);
    cr_assert_eq(hc_train_logits(&m, tok, B, S, fb), 0);
    double worst = 0, top = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fabs((double)fa[i] - fb[i]) > worst ? fabs((double)fa[i] - fb[i]) : worst;
        top = fabs(fa[i]) > top ? fabs(fa[i]) : top;
    }
    free(tok);
    free(fa);
    free(fb);
    hc_model_free(&m);
    return worst / top;
}

/* Training and analysis run one forward pass: where the trainer does not
 * cut the work (3 sequences of 16 are one shard of its layers' passes, one
 * block of its head, and 300 ids one slice of the vocabulary) its calls
 * are hc_forward's, and the logits its loss is taken from are hc_forward's,
 * bit for bit. */
Test(train, trainer_logits_are_the_analysis_forward, .timeout = 60)
{
    double d = logits_vs_forward(3, 300);
    cr_assert_eq(d, 0.0, "the logits differ by up to %g of the largest", d);
}

/* Cut (20 sequences: three shards, two head blocks; 2100 ids: three
 * slices), the same network still: OpenBLAS rounds a product cut at other
 * rows or columns differently, so the logits differ from hc_forward's by
 * rounding only (under 1e-6 of the largest here; a lost or doubled term
 * would be of the logits' own size). */
Test(train, trainer_logits_cut_in_shards_and_slices_differ_by_rounding_only, .timeout = 60)
{
    double d = logits_vs_forward(20, 2100);
    cr_assert_lt(d, 1e-5, "the logits differ by up to %g of the largest", d);
}

static int32_t *cycle_corpus(size_t n, int V)
{
    int32_t *t = malloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++)
        t[i] = (int32_t)((i * 7) % (size_t)(V - 1)); /* a fixed permutation cycle */
    return t;
}

static void opts_for(hc_train_opts *o, int steps)
{
    hc_train_defaults(o);
    o->batch = 4;
    o->seq = 16;
    o->steps = steps;
    o->warmup = 5;
    o->lr = 1e-2f;
    o->min_lr = 1e-3f;
    o->eval_every = 0;
    o->save_every = 10;
}

Test(train, learns_a_repeated_sequence, .timeout = 120)
{
    hc_config cfg = tiny(2, 2, 16, 16, 13);
    int32_t *t = cycle_corpus(600, 13);
    hc_train_opts o;
    opts_for(&o, 80);
    char *dir = th_tmpdir("train-learn");
    double before, after;
    hc_model m;
    cr_assert_eq(hc_model_alloc(&m, &cfg), 0);
    hc_gpt2_init(&m, o.seed);
    cr_assert_eq(hc_train_eval(&m, NULL, t, 600, 4, 16, &before), 0);
    hc_model_free(&m);
    cr_assert_eq(hc_train(&cfg, &o, t, 600, t, 600, dir, NULL, &after), 0);
    /* a fresh model is near uniform (log 13 = 2.56); the cycle is fully
     * predictable after its first token */
    cr_assert_gt(before, 2.3, "initial loss %g", before);
    cr_assert_lt(after, 0.3, "loss after training %g (from %g)", after, before);
    free(t);
}

/* The checkpoint loads with hc_model_load, and the inference forward pass on
 * it gives the loss the training forward pass reported. */
Test(train, checkpoint_loads_and_agrees_with_inference, .timeout = 120)
{
    hc_config cfg = tiny(2, 4, 16, 16, 13);
    int32_t *t = cycle_corpus(400, 13);
    hc_train_opts o;
    opts_for(&o, 20);
    char *dir = th_tmpdir("train-ckpt");
    double loss;
    cr_assert_eq(hc_train(&cfg, &o, t, 400, t, 400, dir, NULL, &loss), 0);
    hc_model m;
    cr_assert_eq(hc_model_load(&m, dir), 0, "%s", hc_errmsg());
    cr_assert_eq(m.cfg.n_layer, 2);
    cr_assert_eq(m.cfg.n_head, 4);
    size_t windows = (400 - 1) / 16, V = 13;
    float *logits = malloc(16 * V * sizeof(float));
    double total = 0;
    for (size_t w = 0; w < windows; w++) {
        hc_acts a = {.logits = logits};
        cr_assert_eq(hc_forward(&m, t + w * 16, 1, 16, &a), 0);
        for (int i = 0; i < 16; i++) {
            const float *r = logits + i * V;
            double mx = r[0], sum = 0;
            for (size_t j = 1; j < V; j++)
                mx = r[j] > mx ? r[j] : mx;
            for (size_t j = 0; j < V; j++)
                sum += exp(r[j] - mx);
            total += log(sum) + mx - r[t[w * 16 + i + 1]];
        }
    }
    double ref = total / (double)(windows * 16);
    cr_assert_lt(fabs(ref - loss), 1e-4, "inference %g, training %g", ref, loss);
    free(logits);
    hc_model_free(&m);
    free(t);
}

static float *read_params(const char *dir)
{
    hc_model m;
    cr_assert_eq(hc_model_load(&m, dir), 0, "%s", hc_errmsg());
    float *p = malloc(m.n_floats * sizeof *p);
    cr_assert_not_null(p);
    memcpy(p, m.slab, m.n_floats * sizeof *p);
    hc_model_free(&m);
    return p;
}

Test(train, resume_matches_uninterrupted, .timeout = 120)
{
    hc_config cfg = tiny(2, 2, 16, 16, 13);
    int32_t *t = cycle_corpus(500, 13);
    hc_train_opts o;
    opts_for(&o, 30);
    char *a = th_tmpdir("train-whole"), *whole = strdup(a);
    double la, lb;
    cr_assert_eq(hc_train(&cfg, &o, t, 500, t, 500, whole, NULL, &la), 0);
    char *b = th_tmpdir("train-resumed"), *resumed = strdup(b);
    /* interrupted after the step-20 checkpoint, then the same command again */
    hc_train_opts part = o;
    part.stop_at = 20;
    cr_assert_eq(hc_train(&cfg, &part, t, 500, NULL, 0, resumed, NULL, &lb), 0);
    cr_assert_eq(hc_train(&cfg, &o, t, 500, t, 500, resumed, NULL, &lb), 0);
    hc_model m;
    cr_assert_eq(hc_model_alloc(&m, &cfg), 0);
    float *pa = read_params(whole), *pb = read_params(resumed);
    size_t n = (size_t)(m.p.w_u - m.slab);
    cr_assert_eq(memcmp(pa, pb, n * sizeof(float)), 0, "the resumed run's parameters differ");
    cr_assert_eq(la, lb, "held-out %.17g vs %.17g", la, lb);
    free(pa);
    free(pb);
    free(whole);
    free(resumed);
    hc_model_free(&m);
    free(t);
}

/* What a kill can leave in DIR (each file is written whole or not at all,
 * the state last): a run killed during its first checkpoint has model
 * files but no state, and starts afresh; a run whose model files were lost
 * after a checkpoint resumes from the state alone.  Both end as the
 * uninterrupted run, bit for bit. */
static void damaged_resume(int first_checkpoint)
{
    hc_config cfg = tiny(2, 2, 16, 16, 13);
    int32_t *t = cycle_corpus(500, 13);
    hc_train_opts o;
    opts_for(&o, 30);
    char *whole = strdup(th_tmpdir("train-whole2")), *dir = strdup(th_tmpdir("train-damaged"));
    double la, lb;
    cr_assert_eq(hc_train(&cfg, &o, t, 500, t, 500, whole, NULL, &la), 0);
    hc_train_opts part = o;
    part.stop_at = 10; /* the first checkpoint */
    cr_assert_eq(hc_train(&cfg, &part, t, 500, NULL, 0, dir, NULL, &lb), 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cr_assert_eq(remove(path), 0);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (first_checkpoint) {
        cr_assert_eq(th_write_file(path, "\x08\0\0\0", 4), 0); /* a model file cut short */
        snprintf(path, sizeof path, "%s/train-state.safetensors", dir);
    }
    cr_assert_eq(remove(path), 0);
    cr_assert_eq(hc_train(&cfg, &o, t, 500, t, 500, dir, NULL, &lb), 0, "%s", hc_errmsg());
    float *pa = read_params(whole), *pb = read_params(dir);
    hc_model m;
    cr_assert_eq(hc_model_alloc(&m, &cfg), 0);
    cr_assert_eq(memcmp(pa, pb, (size_t)(m.p.w_u - m.slab) * sizeof(float)), 0, "the parameters differ");
    cr_assert_eq(la, lb, "held-out %.17g vs %.17g", la, lb);
    hc_model_free(&m);
    free(pa);
    free(pb);
    free(whole);
    free(dir);
    free(t);
}

Test(train, killed_in_first_checkpoint_starts_afresh, .timeout = 120)
{
    damaged_resume(1);
}

Test(train, resume_needs_only_the_state, .timeout = 120)
{
    damaged_resume(0);
}

/* kill -9 at three moments of a run that checkpoints every step, so the
 * kill is likely to land inside a checkpoint; rerunning the command then
 * gives the uninterrupted run's model file, byte for byte. */
Test(train, killed_anywhere_resumes_to_the_same_model, .timeout = 180)
{
    char *dir = th_tmpdir("train-kill");
    char cmd[13200], args[8800], path[4200], *out, *err;
    uint16_t ids[2000];
    for (int i = 0; i < 2000; i++)
        ids[i] = (uint16_t)((i * 7 + i / 13) % 31);
    snprintf(path, sizeof path, "%s/c.tokens", dir);
    cr_assert_eq(th_write_file(path, ids, sizeof ids), 0);
    snprintf(args, sizeof args,
             "--data %s --vocab 32 --layers 2 --heads 2 --d-model 16 --n-ctx 16 --batch-size 4 --steps 150 "
             "--warmup 5 --save-every 1 --quiet",
             path);
    snprintf(cmd, sizeof cmd, "%s train %s --out %s/whole", th_headcal(), args, dir);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    const char *waits[] = {"0.05", "0.3", "0.6"};
    for (int k = 0; k < 3; k++) {
        snprintf(cmd, sizeof cmd, "%s train %s --out %s/killed & p=$!; sleep %s; kill -9 $p; wait $p; exit 0",
                 th_headcal(), args, dir, waits[k]);
        cr_assert_eq(th_run(cmd, &out, &err), 0);
        free(out);
        free(err);
    }
    snprintf(cmd, sizeof cmd, "%s train %s --out %s/killed && cmp %s/whole/model.safetensors %s/killed/model.safetensors",
             th_headcal(), args, dir, dir, dir);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s%s", out, err);
    free(out);
    free(err);
}

/* A resume must be the same run: each option that changes the trained
 * numbers, and the training data, is checked, and the refusal names it. */
Test(train, cli_refuses_a_resume_with_other_options, .timeout = 120)
{
    char *dir = th_tmpdir("train-cli3");
    char cmd[13200], base[8800], path[4200], other[4200], *out, *err;
    uint16_t ids[400];
    for (int i = 0; i < 400; i++)
        ids[i] = (uint16_t)((i * 5) % 11);
    snprintf(path, sizeof path, "%s/c.tokens", dir);
    cr_assert_eq(th_write_file(path, ids, sizeof ids), 0);
    ids[7] = 3;
    snprintf(other, sizeof other, "%s/d.tokens", dir);
    cr_assert_eq(th_write_file(other, ids, sizeof ids), 0);
    snprintf(base, sizeof base,
             "%s train --eval %s --out %s/m --vocab 12 --layers 1 --heads 2 --d-model 8 --n-ctx 8 --batch-size 4 "
             "--warmup 3 --save-every 10 --quiet",
             th_headcal(), path, dir);
    snprintf(cmd, sizeof cmd, "%s --data %s --steps 30 --lr 0.01 --stop-at 10", base, path);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    /* stopped early, it still reports the held-out loss at its step */
    const char *hl = strstr(out, "held-out loss ");
    cr_assert_not_null(hl, "%s", out);
    double l = strtod(hl + 14, NULL);
    cr_assert(isfinite(l) && l > 0 && l < 5, "held-out loss %g", l);
    free(out);
    free(err);
    struct {
        const char *args, *named;
    } cases[] = {{"--steps 30 --lr 0.02", "--lr 0.01"},
                 {"--steps 40 --lr 0.01", "--steps 30"},
                 {"--steps 30 --lr 0.01 --seed 2", "--seed 1"},
                 {"--steps 30 --lr 0.01 --d-model 6 --heads 2", "--d-model 8"},
                 {"--steps 30 --lr 0.01 --batch-size 2", "--batch-size 4"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s --data %s %s", base, path, cases[i].args);
        cr_assert_eq(th_run(cmd, &out, &err), 1, "%s: %s", cases[i].args, err);
        const char *nl = strchr(err, '\n');
        cr_assert(strstr(err, cases[i].named) && nl && !nl[1], "%s: not one line naming %s: %s", cases[i].args,
                  cases[i].named, err);
        free(out);
        free(err);
    }
    snprintf(cmd, sizeof cmd, "%s --data %s --steps 30 --lr 0.01", base, other);
    cr_assert_eq(th_run(cmd, &out, &err), 1, "%s", err);
    cr_assert(strstr(err, "--data"), "%s", err);
    free(out);
    free(err);
    /* the refusals left the checkpoint alone: the same run resumes, and
     * --extend may change --steps */
    snprintf(cmd, sizeof cmd, "%s --data %s --steps 30 --lr 0.01", base, path);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd, "%s --data %s --steps 40 --lr 0.01 --extend", base, path);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd, "%s --data %s --steps 30 --lr 0.01", base, path);
    cr_assert_eq(th_run(cmd, &out, &err), 1, "after --extend the run is one of 40 steps: %s", err);
    free(out);
    free(err);
}

Test(train, cli_reports_bad_input, .timeout = 60)
{
    char *dir = th_tmpdir("train-cli");
    char cmd[8800], path[4200], *err;
    snprintf(path, sizeof path, "%s/odd.tokens", dir);
    cr_assert_eq(th_write_file(path, "abc", 3), 0);
    snprintf(cmd, sizeof cmd, "%s train --data %s --out %s/m", th_headcal(), path, dir);
    cr_assert_eq(th_run(cmd, NULL, &err), 1);
    cr_assert(strstr(err, "odd.tokens: not a .tokens file"), "%s", err);
    free(err);
    uint16_t big[4] = {1, 2, 60000, 3};
    cr_assert_eq(th_write_file(path, big, sizeof big), 0);
    cr_assert_eq(th_run(cmd, NULL, &err), 1);
    cr_assert(strstr(err, "outside the vocabulary"), "%s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "%s train --data %s", th_headcal(), path);
    cr_assert_eq(th_run(cmd, NULL, &err), 2);
    cr_assert(strstr(err, "--out DIR are required"), "%s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "%s train --data %s --out %s/m --d-model 10 --heads 4", th_headcal(), path, dir);
    cr_assert_eq(th_run(cmd, NULL, &err), 2);
    free(err);
}

/* The command end to end on a tiny vocabulary: trains, resumes a finished
 * run without training further, and re-exports in F16. */
Test(train, cli_trains_and_resumes, .timeout = 120)
{
    char *dir = th_tmpdir("train-cli2");
    char cmd[8800], path[4200], *out, *err;
    uint16_t ids[400];
    for (int i = 0; i < 400; i++)
        ids[i] = (uint16_t)((i * 5) % 11);
    snprintf(path, sizeof path, "%s/c.tokens", dir);
    cr_assert_eq(th_write_file(path, ids, sizeof ids), 0);
    snprintf(cmd, sizeof cmd,
             "%s train --data %s --eval %s --out %s/m --vocab 12 --layers 1 --heads 2 --d-model 8 --n-ctx 8 "
             "--steps 30 --batch-size 4 --lr 0.01 --warmup 3",
             th_headcal(), path, path, dir);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    cr_assert(strstr(err, "step 30/30"), "%s", err);
    double first = strtod(strstr(out, "held-out loss ") + 14, NULL);
    free(out);
    free(err);
    char again[8900];
    snprintf(again, sizeof again, "%s --dtype f16", cmd);
    cr_assert_eq(th_run(again, &out, &err), 0, "%s", err);
    cr_assert(strstr(err, "resuming"), "%s", err);
    cr_assert_null(strstr(err, "step 30/30"), "a finished run trained again: %s", err);
    double second = strtod(strstr(out, "held-out loss ") + 14, NULL);
    cr_assert_leq(fabs(first - second), 1e-6);
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd, "%s info --model %s/m", th_headcal(), dir);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    free(out);
    free(err);
}

/* Each step draws windows of its own: over 1000 steps of 16 windows from
 * a span of 2^40 starts, all 16,000 differ (a repeat would have chance
 * about 1e-4), where streams that merely started at seed ^ k·φ repeated
 * seven windows in eight; and a step's draws are a function of (seed,
 * step) alone, which resuming relies on. */
Test(train, steps_draw_independent_windows)
{
    enum { STEPS = 1000, B = 16 };
    const size_t span = (size_t)1 << 40;
    size_t *all = malloc(STEPS * B * sizeof *all), again[B], other[B];
    cr_assert_not_null(all);
    for (int k = 0; k < STEPS; k++)
        hc_train_window_starts(1, k, B, span, all + (size_t)k * B);
    for (size_t i = 0; i < STEPS * B; i++)
        cr_assert_lt(all[i], span);
    qsort(all, STEPS * B, sizeof *all, cmp_size);
    for (size_t i = 1; i < STEPS * B; i++)
        cr_assert_neq(all[i], all[i - 1], "a window drawn twice");
    hc_train_window_starts(1, 7, B, span, all);
    hc_train_window_starts(1, 7, B, span, again);
    hc_train_window_starts(2, 7, B, span, other);
    cr_assert_arr_eq(all, again, sizeof again);
    cr_assert_neq(other[0], all[0]);
    free(all);
}

/* --tokenizer copies a tokenizer of the model's vocabulary beside it, so
 * that the output directory loads like any HF checkpoint; one of another
 * size is refused before training starts. */
Test(train, cli_copies_a_tokenizer_of_the_model_vocabulary, .timeout = 120)
{
    char *dir = th_tmpdir("train-tok");
    char cmd[8800], path[4200], *out, *err;
    snprintf(cmd, sizeof cmd, "%s %s --src %s --out %s/tok --merges 3", TEST_PYTHON,
             th_src("scripts/make-tokenizer.py"), th_src("data"), dir);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "%s", err);
    free(err);
    uint16_t ids[300];
    for (int i = 0; i < 300; i++)
        ids[i] = (uint16_t)((i * 7) % 260);
    snprintf(path, sizeof path, "%s/c.tokens", dir);
    cr_assert_eq(th_write_file(path, ids, sizeof ids), 0);
    const char *shape = "--layers 1 --heads 2 --d-model 8 --n-ctx 8 --steps 2 --batch-size 2 --quiet";
    snprintf(cmd, sizeof cmd, "%s train --data %s --out %s/m --vocab 300 --tokenizer %s/tok %s", th_headcal(), path,
             dir, dir, shape);
    cr_assert_eq(th_run(cmd, NULL, &err), 2, "%s", err);
    cr_assert(strstr(err, "has 260 tokens, not --vocab 300"), "%s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "%s train --data %s --out %s/m --vocab 260 --tokenizer %s/tok %s", th_headcal(), path,
             dir, dir, shape);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "%s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "printf 'the<|endoftext|>' | %s tokenize --model %s/m", th_headcal(), dir);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    /* 't' is 83, merge 2 ("h e") is 256 + 2 and <|endoftext|> 256 + 3 */
    cr_assert_str_eq(out, "83 258 259\n");
    free(out);
    free(err);
    free(dir);
}

/* The corpus recipe's own byte-level BPE encoder (scripts/make-corpus.py)
 * gives the ids headcal's tokenizer gives, on the whole shipped held-out
 * set, with GPT-2's tokenizer and with the bundled model's cut of it. */
static void recipe_matches_headcal(const char *tokdir)
{
    char *dir = th_tmpdir("train-corpus");
    char cmd[8800], *out, *err;
    snprintf(cmd, sizeof cmd, "%s %s %s %s %s/eval", TEST_PYTHON, th_src("tests/corpus_tokens.py"), th_src(""),
             th_src(tokdir), dir);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "%s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "%s tokenize --model %s < %s/eval.txt | cmp - %s/eval.ids", th_headcal(),
             th_src(tokdir), dir, dir);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "the recipe's ids differ from headcal tokenize: %s%s", out, err);
    free(out);
    free(err);
    free(dir);
}

Test(train, corpus_recipe_tokens_match_headcal_tokenizer, .timeout = 120) { recipe_matches_headcal("data"); }

Test(train, corpus_recipe_tokens_match_headcal_on_the_cut_tokenizer, .timeout = 120)
{
    recipe_matches_headcal("data/default");
}

/* scripts/make-tokenizer.py: all 50000 merges give back GPT-2's own files
 * byte for byte (so the cut files are in HF's format), and the committed
 * tokenizer of the bundled model is what the recipe makes. */
Test(train, tokenizer_recipe_reproduces_gpt2_and_the_bundled_cut, .timeout = 60)
{
    char *dir = th_tmpdir("train-tokenizer");
    char cmd[8800], *out, *err;
    snprintf(cmd, sizeof cmd,
             "%s %s --src %s --out %s/full --merges 50000 && cmp %s %s/full/vocab.json && cmp %s %s/full/merges.txt",
             TEST_PYTHON, th_src("scripts/make-tokenizer.py"), th_src("data"), dir, th_src("data/vocab.json"), dir,
             th_src("data/merges.txt"), dir);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s%s", out, err);
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd,
             "%s %s --src %s --out %s/cut --merges 7935 && cmp %s %s/cut/vocab.json && cmp %s %s/cut/merges.txt",
             TEST_PYTHON, th_src("scripts/make-tokenizer.py"), th_src("data"), dir, th_src("data/default/vocab.json"),
             dir, th_src("data/default/merges.txt"), dir);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s%s", out, err);
    free(out);
    free(err);
    free(dir);
}
