/* Mean ablation on a cluster: `headcal means` in shards, merged, gives the
 * very bytes of the means one process computes, and ablation shards that
 * read them (`run --means`) merge into the very file of the single-process
 * run that computed its means itself.  A means file of another run, a
 * shard's partial means, an incomplete set of means shards and an
 * incomplete set of results shards are refused with one line naming what is
 * wrong, and nothing is written. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static char dir_now[4096]; /* the test's scratch directory, where headcal runs */

static char *err; /* the stderr of the last headcal() */

/* Runs `headcal ARGS` in dir_now; the exit status, stderr in err. */
static int headcal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int headcal(const char *fmt, ...)
{
    free(err);
    char args[8192], cmd[16600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s", dir_now, th_headcal(), args);
    return th_run(cmd, NULL, &err);
}

static void ok(const char *what, int st)
{
    cr_assert_eq(st, 0, "%s: exit %d: %s", what, st, err);
}

/* Exit 1 and one line on stderr containing needle; `out` not created. */
static void refused(const char *out, const char *needle, int st)
{
    cr_assert_eq(st, 1, "exit %d, want 1: %s", st, err);
    const char *nl = strchr(err, '\n');
    cr_assert(!strncmp(err, "headcal: ", 9) && nl && !nl[1], "not one line: '%s'", err);
    cr_assert(strstr(err, needle), "'%s' lacks '%s'", err, needle);
    cr_assert_neq(access(out, F_OK), 0, "%s was written", out);
}

static void same_bytes(const char *a, const char *b)
{
    char *x = th_read(a), *y = th_read(b);
    size_t n = strlen(x);
    cr_assert(n == strlen(y) && !memcmp(x, y, n), "%s and %s differ", a, b);
    free(x);
    free(y);
}

/* The run every test here shares: 7 batches, mean ablation. */
#define OPTS "--model m --data '%s' --batches 7 --batch-size 3 --seq-len 24 --top-k 3 --bins 12 --ablation mean " \
             "--threads 1 --quiet"

static void setup_run(void)
{
    char *d = th_tmpdir("means");
    snprintf(dir_now, sizeof dir_now, "%s", d);
    free(d);
    ok("synth", headcal("synth --out m --layers 3 --heads 2 --d-model 16 --n-ctx 32 --seed 5"));
}

Test(means, shards_merge_into_the_single_process_means_and_run)
{
    setup_run();
    const char *data = th_src("data/eval.jsonl");
    ok("whole means", headcal("means " OPTS " --out whole.st", data));
    for (int i = 0; i < 3; i++)
        ok("means shard", headcal("means " OPTS " --shard %d/3 --out m%d.st", data, i, i));
    ok("means merge", headcal("means --merge --out merged.st m2.st m0.st m1.st"));
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/whole.st", dir_now);
    snprintf(b, sizeof b, "%s/merged.st", dir_now);
    same_bytes(a, b);

    /* the run that computes its means itself, and 4 shards that read them */
    ok("single run", headcal("run " OPTS " --heads all --mlp --out single.json", data));
    for (int i = 0; i < 4; i++)
        ok("run shard",
           headcal("run " OPTS " --heads all --mlp --means merged.st --shard %d/4 --out r%d.json", data, i, i));
    ok("merge", headcal("merge --out all.json r3.json r1.json r0.json r2.json"));
    snprintf(a, sizeof a, "%s/single.json", dir_now);
    snprintf(b, sizeof b, "%s/all.json", dir_now);
    same_bytes(a, b);
}

Test(means, other_runs_partial_means_and_missing_shards_are_refused)
{
    setup_run();
    const char *data = th_src("data/eval.jsonl");
    char out[4200];
    snprintf(out, sizeof out, "%s/x.json", dir_now);
    for (int i = 0; i < 3; i++)
        ok("means shard", headcal("means " OPTS " --shard %d/3 --out m%d.st", data, i, i));
    ok("means merge", headcal("means --merge --out means.st m0.st m1.st m2.st"));

    refused(out, "means: shard 1 of 3 missing; nothing written to x.json",
            headcal("means --merge --out x.json m2.st m0.st"));
    refused(out, "m0.st: shard 0/3 again (m0.st holds it too)",
            headcal("means --merge --out x.json m0.st m1.st m0.st m2.st"));
    refused(out, "m1.st: holds only shard 1/3 of the means",
            headcal("run " OPTS " --means m1.st --out x.json", data));
    refused(out, "means.st: means of another run: params.seq_len is 24, this run's is 16",
            headcal("run " OPTS " --seq-len 16 --means means.st --out x.json", data));
    refused(out, "means.st: means of another run: data.shuffle_seed (-1: none) is -1, this run's is 4",
            headcal("run " OPTS " --shuffle-seed 4 --means means.st --out x.json", data));
    refused(out, "means.st: means of another run: model.sha256",
            headcal("synth --out m --layers 3 --heads 2 --d-model 16 --n-ctx 32 --seed 6 && '%s' run " OPTS
                          " --means means.st --out x.json",
                    th_headcal(), data));
    refused(out, "single.json: not a means file",
            headcal("run " OPTS " --out single.json && '%s' run " OPTS " --means single.json --out x.json",
                    data, th_headcal(), data));
    int st = headcal("run " OPTS " --ablation zero --means means.st --out x.json", data);
    cr_assert_eq(st, 2, "zero ablation with --means: exit %d: %s", st, err);
    cr_assert(strstr(err, "--means means.st needs --ablation mean"), "%s", err);

    /* results shards: the missing ones are named, nothing is written;
     * --partial writes the incomplete merge on purpose */
    for (int i = 0; i < 4; i += 2)
        ok("run shard", headcal("run " OPTS " --shard %d/4 --out r%d.json", data, i, i));
    refused(out, "merge: shards 1 and 3 of 4 missing; nothing written to x.json",
            headcal("merge --out x.json r0.json r2.json"));
    ok("merge --partial", headcal("merge --partial --out x.json r0.json r2.json"));
}
