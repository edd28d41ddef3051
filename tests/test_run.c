/* headcal run end to end: shards merge into exactly the unsharded run,
 * the results' counts equal the sweep's own events, and the variants the
 * command line asks for are the ones computed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/results.h"
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
