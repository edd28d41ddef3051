/* headcal run end to end: shards merge into exactly the unsharded run,
 * the results' counts equal the sweep's own events, the variants the
 * command line asks for are the ones computed, and the first batch's
 * heads come out a layer at a time. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/analysis.h"
#include "headcal/error.h"
#include "headcal/results.h"
#include "headcal/sha256.h"
#include "helpers.h"

static char *dir;

static void setup(void)
{
    dir = th_tmpdir("run");
    th_small_run(dir, 5);
}

static int run(const char *args, char **err)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "%s run --model %s/m --data %s/d.jsonl --batch-size 4 --batches 6 --seq-len 16 --quiet %s",
             th_headcal(), dir, dir, args);
    return th_run(cmd, NULL, err);
}

static void read_results(const char *name, hc_results *r)
{
    char p[4300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    cr_assert_eq(hc_results_read(r, p), 0, "%s", name);
}

static void assert_same_counts(const hc_results *a, const hc_results *b)
{
    cr_assert_eq(a->n_variants, b->n_variants);
    for (int v = 0; v < a->n_variants; v++) {
        const hc_calib *x = &a->variants[v].calib, *y = &b->variants[hc_results_find(b, a->variants[v].id)].calib;
        size_t n = (size_t)x->n_batches * x->n_bins;
        for (int t = 0; t < HC_N_COUNT_TABLES; t++)
            cr_assert_eq(memcmp(x->count[t], y->count[t], n * sizeof(uint64_t)), 0, "variant %s table %d",
                         a->variants[v].id, t);
        cr_assert_eq(memcmp(x->positions, y->positions, (size_t)x->n_batches * sizeof(uint64_t)), 0);
    }
}

Test(run, shards_merge_into_the_unsharded_run, .init = setup, .timeout = 300)
{
    char *err, args[8192];
    snprintf(args, sizeof args, "--mlp --sets 0.1+L1H0 --out %s/full.json", dir);
    cr_assert_eq(run(args, &err), 0, "%s", err);
    free(err);
    for (int i = 0; i < 3; i++) {
        snprintf(args, sizeof args, "--mlp --sets 0.1+L1H0 --shard %d/3 --out %s/s%d.json", i, dir, i);
        cr_assert_eq(run(args, &err), 0, "%s", err);
        free(err);
    }
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s merge --out %s/merged.json %s/s2.json %s/s0.json %s/s1.json", th_headcal(), dir, dir,
             dir, dir);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "%s", err);
    free(err);
    hc_results full, merged, shard;
    read_results("full.json", &full);
    read_results("merged.json", &merged);
    assert_same_counts(&full, &merged);
    /* a shard holds only its own batches */
    read_results("s1.json", &shard);
    for (int b = 0; b < 6; b++)
        cr_assert_eq(shard.done[b], b % 3 == 1, "batch %d", b);
    /* baseline, 4 heads, 2 MLPs, 1 set */
    cr_assert_eq(full.n_variants, 8);
    cr_assert_geq(hc_results_find(&full, "L0H1+L1H0"), 0);
    cr_assert_geq(hc_results_find(&full, "MLP1"), 0);
    cr_assert_eq(hc_results_positions(&full), hc_results_positions(&merged));
    cr_assert_gt(hc_results_positions(&full), 0);
    hc_results_free(&full);
    hc_results_free(&merged);
    hc_results_free(&shard);
}

Test(run, heads_list_and_bad_heads, .init = setup, .timeout = 120)
{
    char *err, args[8192];
    snprintf(args, sizeof args, "--heads 1.0,L0H1 --out %s/h.json", dir);
    cr_assert_eq(run(args, &err), 0, "%s", err);
    free(err);
    hc_results r;
    read_results("h.json", &r);
    cr_assert_eq(r.n_variants, 3);
    cr_assert_geq(hc_results_find(&r, "L1H0"), 0);
    cr_assert_geq(hc_results_find(&r, "L0H1"), 0);
    hc_results_free(&r);
    snprintf(args, sizeof args, "--heads 2.0 --out %s/bad.json", dir);
    cr_assert_neq(run(args, &err), 0);
    cr_assert(strstr(err, "L2H0"), "%s", err);
    free(err);
    snprintf(args, sizeof args, "--heads banana --out %s/bad.json", dir);
    cr_assert_eq(run(args, &err), 2);
    cr_assert(strstr(err, "'banana' is not a head"), "%s", err);
    free(err);
    snprintf(args, sizeof args, "--batches 100 --out %s/bad.json", dir);
    cr_assert_eq(run(args, &err), 1);
    cr_assert(strstr(err, "400") && strstr(err, "24"), "too few documents should name both numbers: %s", err);
    free(err);
    /* the results must never overwrite the data */
    snprintf(args, sizeof args, "--out %s/d.jsonl", dir);
    cr_assert_eq(run(args, &err), 2);
    cr_assert(strstr(err, "is the --data file"), "%s", err);
    free(err);
    snprintf(args, sizeof args, "--seq-len 64 --out %s/bad.json", dir);
    cr_assert_eq(run(args, &err), 2);
    cr_assert(strstr(err, "context of 32"), "%s", err);
    free(err);
}

Test(run, resume_of_a_complete_file_changes_nothing, .init = setup, .timeout = 120)
{
    char *err, args[8192];
    snprintf(args, sizeof args, "--heads 0.0 --ablation mean --ln recompute --out %s/r.json", dir);
    cr_assert_eq(run(args, &err), 0, "%s", err);
    free(err);
    hc_results a, b;
    read_results("r.json", &a);
    snprintf(args, sizeof args, "--heads 0.0 --ablation mean --ln recompute --resume --out %s/r.json", dir);
    cr_assert_eq(run(args, &err), 0, "%s", err);
    free(err);
    read_results("r.json", &b);
    assert_same_counts(&a, &b);
    cr_assert_eq(a.params.ablation, HC_ABLATION_MEAN);
    cr_assert_eq(a.params.ln, HC_LN_RECOMPUTE);
    /* resuming with other parameters is refused */
    snprintf(args, sizeof args, "--heads 0.0 --resume --out %s/r.json", dir);
    cr_assert_eq(run(args, &err), 2);
    cr_assert(strstr(err, "cannot be merged") || strstr(err, "ablation"), "%s", err);
    free(err);
    hc_results_free(&a);
    hc_results_free(&b);
}

/* What the analysis offered inside the first batch, call by call: the
 * variants' ids and their batch-0 count tables. */
enum { MAX_PARTS = 8, MAX_PART_VARIANTS = 16, PART_BINS = 10 };
typedef struct {
    int calls, n[MAX_PARTS], done0[MAX_PARTS], done_other[MAX_PARTS];
    char id[MAX_PARTS][MAX_PART_VARIANTS][16];
    uint64_t count[MAX_PARTS][MAX_PART_VARIANTS][HC_N_COUNT_TABLES][PART_BINS];
} parts_seen;

static void on_partial(void *ctx, const hc_results *part)
{
    parts_seen *s = ctx;
    cr_assert_lt(s->calls, MAX_PARTS);
    cr_assert_leq(part->n_variants, MAX_PART_VARIANTS);
    int c = s->calls++;
    s->n[c] = part->n_variants;
    s->done0[c] = part->done[0];
    for (int b = 1; b < part->params.batches; b++)
        s->done_other[c] += part->done[b];
    for (int v = 0; v < part->n_variants; v++) {
        snprintf(s->id[c][v], sizeof s->id[c][v], "%s", part->variants[v].id);
        for (int t = 0; t < HC_N_COUNT_TABLES; t++)
            memcpy(s->count[c][v][t], part->variants[v].calib.count[t], sizeof s->count[c][v][t]);
    }
}

static int seen_in(const parts_seen *s, int c, const char *id)
{
    for (int v = 0; v < s->n[c]; v++)
        if (!strcmp(s->id[c][v], id))
            return 1;
    return 0;
}

/* In the first batch of a run each layer's W_OU is formed and that layer's
 * heads are swept before the next layer's (here every layer's, since a layer's W_OU,
 * 2 heads × d_head 8, costs more than the 15 positions' baseline logits a
 * pass adds): the baseline, the MLPs and layer 0's heads are offered first,
 * then layer 1's, and layer 2's (the last) come only with the completed
 * batch; what was offered is exactly the batch's final counts. */
Test(run, first_batch_heads_come_a_layer_at_a_time, .init = setup, .timeout = 120)
{
    char cmd[8192], *err, path[4300];
    snprintf(cmd, sizeof cmd, "%s synth --out %s/m3 --layers 3 --heads 2 --d-model 16 --n-ctx 32 --seed 3",
             th_headcal(), dir);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "%s", err);
    free(err);
    snprintf(path, sizeof path, "%s/t.jsonl", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int d = 0; d < 3; d++) {
        fputs("{\"tokens\": [", f);
        for (int t = 0; t < 15; t++)
            fprintf(f, t ? ", %d" : "%d", (d * 7919 + t * 104729) % 50000);
        fputs("]}\n", f);
    }
    cr_assert_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd, "%s/m3", dir);
    hc_model m;
    cr_assert_eq(hc_model_load(&m, cmd), 0, "%s", hc_errmsg());
    hc_model_process(&m);
    hc_dataset *ds;
    hc_dataset_opts dopt = {.batch_size = 1, .n_batches = 3, .seq_len = 16, .bos = 50256, .vocab_size = 50257};
    cr_assert_eq(hc_dataset_open(&ds, path, &dopt), 0, "%s", hc_errmsg());
    hc_results_model rm = {.n_layers = 3, .n_heads = 2, .d_model = 16, .d_vocab = 50257};
    hc_results_data rd = {.shuffle_seed = -1};
    hc_results_params rp = {.batch_size = 1, .batches = 3, .seq_len = 16, .top_k = 5, .bins = PART_BINS,
                            .shard_count = 1, .examples = 5};
    hc_sha256_buf("three layers", 12, rm.sha256);
    cr_assert_eq(hc_analysis_data_sha256(ds, rd.sha256), 0);
    hc_results r;
    cr_assert_eq(hc_results_init(&r, &rm, &rd, &rp), 0, "%s", hc_errmsg());
    cr_assert_eq(hc_analysis_variants(&r, "all", 1, NULL), 0, "%s", hc_errmsg());
    parts_seen *s = calloc(1, sizeof *s);
    hc_analysis a = {.model = &m, .ds = ds, .sweep = {.top_k = 5, .threads = 2}, .partial = on_partial,
                     .progress_ctx = s};
    cr_assert_eq(hc_analysis_run(&a, &r), 0, "%s", hc_errmsg());

    cr_assert_eq(s->calls, 2, "%d offers inside the first batch", s->calls);
    const char *first[] = {"baseline", "L0H0", "L0H1", "MLP0", "MLP1", "MLP2"};
    cr_assert_eq(s->n[0], 6);
    for (int i = 0; i < 6; i++)
        cr_assert(seen_in(s, 0, first[i]), "%s is not in the first offer", first[i]);
    cr_assert_eq(s->n[1], 8);
    cr_assert(seen_in(s, 1, "L1H0") && seen_in(s, 1, "L1H1") && !seen_in(s, 1, "L2H0") && !seen_in(s, 1, "L2H1"));
    for (int c = 0; c < 2; c++) {
        cr_assert(s->done0[c] && !s->done_other[c], "offer %d: only batch 0 is marked complete", c);
        for (int v = 0; v < s->n[c]; v++) {
            const hc_calib *fin = &r.variants[hc_results_find(&r, s->id[c][v])].calib;
            for (int t = 0; t < HC_N_COUNT_TABLES; t++)
                cr_assert_eq(memcmp(s->count[c][v][t], fin->count[t], sizeof s->count[c][v][t]), 0,
                             "offer %d, %s, table %d differs from the batch's final counts", c, s->id[c][v], t);
        }
    }

    /* Resumed with batch 0 complete, nothing is offered (every variant is
     * shown already) and the rest comes out as in one run. */
    hc_results r2;
    cr_assert_eq(hc_results_init(&r2, &rm, &rd, &rp), 0, "%s", hc_errmsg());
    cr_assert_eq(hc_analysis_variants(&r2, "all", 1, NULL), 0, "%s", hc_errmsg());
    for (int v = 0; v < r2.n_variants; v++)
        cr_assert_eq(hc_calib_merge_batch(&r2.variants[v].calib, &r.variants[v].calib, 0), 0);
    r2.done[0] = 1;
    memset(s, 0, sizeof *s);
    cr_assert_eq(hc_analysis_run(&a, &r2), 0, "%s", hc_errmsg());
    cr_assert_eq(s->calls, 0, "%d offers in a resumed run", s->calls);
    for (int v = 0; v < r.n_variants; v++)
        for (int t = 0; t < HC_N_COUNT_TABLES; t++)
            cr_assert_eq(memcmp(r.variants[v].calib.count[t], r2.variants[v].calib.count[t],
                                3 * PART_BINS * sizeof(uint64_t)), 0, "%s table %d", r.variants[v].id, t);
    hc_results_free(&r2);
    free(s);
    hc_results_free(&r);
    hc_dataset_free(ds);
    hc_model_free(&m);
}
