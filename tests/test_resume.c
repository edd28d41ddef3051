/* No data loss: `headcal run` killed midway (SIGKILL, SIGINT, SIGTERM)
 * leaves a valid side file (OUT.partial) holding its completed batches and
 * the previous OUT untouched, and `--resume` then finishes with exactly the
 * file of an uninterrupted run, examples included.  The side file is read while the run
 * appends to it: every read must succeed (a line cut short is not yet a
 * batch).  A second run on the same OUT stops at once. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "headcal/error.h"
#include "headcal/journal.h"
#include "headcal/results.h"
#include "helpers.h"

enum { BATCHES = 16 };

static int n_done(const hc_results *r)
{
    int n = 0;
    for (int b = 0; b < r->params.batches; b++)
        n += r->done[b];
    return n;
}

/* Starts headcal with args (NULL-terminated), stderr into err_path. */
static pid_t spawn(const char *err_path, char *const args[])
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR), err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(null, 0);
        dup2(null, 1);
        dup2(err, 2);
        char *argv[64] = {(char *)th_headcal()};
        for (int i = 0; args[i] && i < 62; i++)
            argv[i + 1] = args[i];
        execv(th_headcal(), argv);
        _exit(127);
    }
    return pid;
}

static int run_to_end(const char *err_path, char *const args[])
{
    int st;
    cr_assert_eq(waitpid(spawn(err_path, args), &st, 0) > 0, 1);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Whether the side file's first line (the run's description) is whole:
 * before that, it holds nothing a reader could take, whatever its size. */
static int started(const char *side)
{
    FILE *f = fopen(side, "rb");
    int c = EOF;
    while (f && (c = getc(f)) != EOF && c != '\n')
        ;
    if (f)
        fclose(f);
    return c == '\n';
}

/* Polls the checkpoint until a batch is complete, then sends sig; returns
 * the wait status.  Every read of the file while the run appends to it
 * must succeed once its first line is whole. */
static int interrupt(const char *side, const char *err_path, char *const args[], int sig, int *done_at_kill)
{
    pid_t pid = spawn(err_path, args);
    struct timespec nap = {0, 2 * 1000 * 1000};
    int reads = 0;
    *done_at_kill = 0;
    for (;;) {
        if (started(side)) {
            hc_results r;
            cr_assert_eq(hc_journal_read(side, &r), 0, "side file read %d failed: %s", reads, hc_errmsg());
            reads++;
            int d = n_done(&r);
            hc_results_free(&r);
            if (d >= 1) {
                *done_at_kill = d;
                break;
            }
        }
        int st;
        cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "the run ended before its first checkpoint");
        nanosleep(&nap, NULL);
    }
    cr_assert_lt(*done_at_kill, BATCHES, "the run finished before it could be interrupted");
    kill(pid, sig);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return st;
}

static void kill_and_resume(int sig)
{
    char *dir = th_tmpdir("resume");
    char *m = th_path(dir, "m"), *d = th_path(dir, "d.jsonl"), *full = th_path(dir, "full.json");
    char *part = th_path(dir, "part.json"), *err = th_path(dir, "err");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s' synth --out '%s' --layers 2 --heads 2 --d-model 16 --n-ctx 32", th_headcal(), m);
    cr_assert_eq(th_run(cmd, NULL, NULL), 0);
    /* 8 × BATCHES documents of 8..39 random ids */
    FILE *f = fopen(d, "w");
    uint64_t s = 99;
    for (int i = 0; i < 8 * BATCHES; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        int n = 8 + (int)(s >> 59);
        fputs("{\"tokens\": [", f);
        for (int t = 0; t < n; t++) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            fprintf(f, t ? ", %d" : "%d", (int)((s >> 33) % 50257));
        }
        fputs("]}\n", f);
    }
    cr_assert_eq(fclose(f), 0);

    char batches[16];
    snprintf(batches, sizeof batches, "%d", BATCHES);
    /* the uninterrupted run on one thread; the interrupted ones on two */
    char *args_full[] = {"run", "--model", m, "--data", d, "--out", full, "--batches", batches, "--batch-size", "8",
                         "--seq-len", "32", "--ablation", "mean", "--mlp", "--sets", "L0H0+L1H1", "--threads", "1",
                         "--quiet", NULL};
    cr_assert_eq(run_to_end(err, args_full), 0, "%s", th_read(err));
    /* the file compared below holds every variant's examples too */
    hc_results whole;
    cr_assert_eq(hc_results_read(&whole, full), 0, "%s", hc_errmsg());
    cr_assert_eq(whole.params.examples, HC_EXAMPLES_DEFAULT);
    for (int v = 1; v < whole.n_variants; v++)
        cr_assert_gt(whole.variants[v].examples.list[HC_EX_LOGPROB_UP].len +
                         whole.variants[v].examples.list[HC_EX_LOGPROB_DOWN].len,
                     0, "%s kept no examples", whole.variants[v].id);
    hc_results_free(&whole);
    char *args[] = {"run", "--model", m, "--data", d, "--out", part, "--batches", batches, "--batch-size", "8",
                    "--seq-len", "32", "--ablation", "mean", "--mlp", "--sets", "L0H0+L1H1", "--threads", "2",
                    "--quiet", NULL, NULL};

    /* a previous run's results at --out, which nothing but a completed run may replace */
    static const char old[] = "{\"an earlier run's results\": true}\n";
    cr_assert_eq(th_write_file(part, old, sizeof old - 1), 0);
    char *side = th_path(dir, "part.json.partial");
    int done, st = interrupt(side, err, args, sig, &done);
    char *msg = th_read(err);
    if (sig == SIGKILL) {
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    } else {
        /* a clean stop: status 1 and one line saying what was kept */
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d: %s", st, msg);
        cr_assert(!strncmp(msg, "headcal: interrupted: ", 22) && strchr(msg, '\n') == msg + strlen(msg) - 1,
                  "%s", msg);
        cr_assert(strstr(msg, "batches saved in"), "%s", msg);
    }
    /* What the interrupted run left is a valid side file with what it
     * reported, and the earlier results as they were. */
    char *kept_old = th_read(part);
    cr_assert_str_eq(kept_old, old);
    free(kept_old);
    hc_results r;
    cr_assert_eq(hc_journal_read(side, &r), 0, "%s", hc_errmsg());
    int kept = n_done(&r);
    hc_results_free(&r);
    cr_assert_geq(kept, done);
    cr_assert_lt(kept, BATCHES, "nothing was left to resume");
    if (sig != SIGKILL) {
        char want[64];
        snprintf(want, sizeof want, "interrupted: %d of %d batches", kept, BATCHES);
        cr_assert(strstr(msg, want), "'%s' lacks '%s'", msg, want);
    }
    free(msg);

    args[21] = "--resume";
    cr_assert_eq(run_to_end(err, args), 0, "%s", th_read(err));
    cr_assert(access(side, F_OK) != 0, "a completed run removes its side file");
    /* Identical counts give an identical file (the paths differ only in
     * --out, which the file does not record). */
    char *a = th_read(full), *b = th_read(part);
    size_t i = 0;
    while (a[i] && a[i] == b[i])
        i++;
    cr_assert(a[i] == b[i], "the resumed file differs from the uninterrupted one at byte %zu: ...%.60s... vs "
              "...%.60s...", i, a + (i > 30 ? i - 30 : 0), b + (i > 30 ? i - 30 : 0));
    free(a), free(b);
    free(m), free(d), free(full), free(part), free(err), free(side), free(dir);
}

Test(resume, sigkill_then_resume_gives_the_uninterrupted_counts, .timeout = 300) { kill_and_resume(SIGKILL); }
Test(resume, sigint_then_resume_gives_the_uninterrupted_counts, .timeout = 300) { kill_and_resume(SIGINT); }
Test(resume, sigterm_then_resume_gives_the_uninterrupted_counts, .timeout = 300) { kill_and_resume(SIGTERM); }

/* A model and a corpus of 8 × BATCHES documents in dir. */
static void make_inputs(const char *dir, char **m, char **d)
{
    *m = th_path(dir, "m");
    *d = th_path(dir, "d.jsonl");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s' synth --out '%s' --layers 2 --heads 2 --d-model 16 --n-ctx 32", th_headcal(), *m);
    cr_assert_eq(th_run(cmd, NULL, NULL), 0);
    FILE *f = fopen(*d, "w");
    for (int i = 0; i < 8 * BATCHES; i++)
        fprintf(f, "{\"tokens\": [%d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d]}\n", i, 2 * i, 3 * i, 5, 8, 13,
                21, 34, 55, 89, 144, 233);
    cr_assert_eq(fclose(f), 0);
}

/* Two runs on one --out (a job array given one file): the second stops at
 * once, the first completes with all its batches. */
Test(resume, a_second_run_on_the_same_out_stops_at_once, .timeout = 300)
{
    char *dir = th_tmpdir("lock"), *m, *d, *out = th_path(dir, "out.json"), *err = th_path(dir, "err");
    char *side = th_path(dir, "out.json.partial"), *err2 = th_path(dir, "err2");
    make_inputs(dir, &m, &d);
    char batches[16];
    snprintf(batches, sizeof batches, "%d", BATCHES);
    char *args[] = {"run", "--model", m, "--data", d, "--out", out, "--batches", batches, "--batch-size", "8",
                    "--seq-len", "12", "--mlp", "--threads", "1", "--quiet", NULL};
    pid_t first = spawn(err, args);
    struct timespec nap = {0, 2 * 1000 * 1000};
    struct stat sb;
    while (stat(side, &sb) != 0 || sb.st_size == 0) {
        int st;
        cr_assert_eq(waitpid(first, &st, WNOHANG), 0, "the first run ended before writing its side file");
        nanosleep(&nap, NULL);
    }
    for (int k = 0; k < 2; k++) {
        /* the same run, and one resuming it */
        char *args2[sizeof args / sizeof args[0] + 1];
        memcpy(args2, args, sizeof args);
        args2[sizeof args / sizeof args[0] - 1] = k ? "--resume" : NULL;
        args2[sizeof args / sizeof args[0]] = NULL;
        cr_assert_eq(run_to_end(err2, args2), 1);
        char *msg = th_read(err2);
        cr_assert(strstr(msg, "out.json: another headcal run is writing it") && strchr(msg, '\n') == msg + strlen(msg) - 1,
                  "%s", msg);
        free(msg);
    }
    int st;
    cr_assert_eq(waitpid(first, &st, 0), first);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", th_read(err));
    hc_results r;
    cr_assert_eq(hc_results_read(&r, out), 0, "%s", hc_errmsg());
    cr_assert_eq(n_done(&r), BATCHES);
    hc_results_free(&r);
    cr_assert(access(side, F_OK) != 0);
    free(side), free(err2), free(m), free(d), free(out), free(err), free(dir);
}

/* The same weights under an edited config.json are another model: shards
 * and resumes of the two do not mix. */
Test(resume, an_edited_config_is_another_model, .timeout = 120)
{
    char *dir = th_tmpdir("ident"), *m, *d, *a = th_path(dir, "a.json"), *b = th_path(dir, "b.json");
    char *err = th_path(dir, "err"), *cfg;
    make_inputs(dir, &m, &d);
    cfg = th_path(m, "config.json");
    char *args[] = {"run", "--model", m, "--data", d, "--out", a, "--batches", "4", "--batch-size", "8",
                    "--seq-len", "12", "--shard", "0/2", "--quiet", NULL, NULL};
    cr_assert_eq(run_to_end(err, args), 0, "%s", th_read(err));
    /* layer_norm_epsilon -> 0.001: the weights' hash is unchanged */
    char *text = th_read(cfg), *at = strstr(text, "\"layer_norm_epsilon\":"), *end = at ? strchr(at, ',') : NULL;
    cr_assert(at && end, "%s", text);
    char edited[8192];
    snprintf(edited, sizeof edited, "%.*s\"layer_norm_epsilon\": 0.001%s", (int)(at - text), text, end);
    cr_assert_eq(th_write_file(cfg, edited, strlen(edited)), 0);
    args[6] = b;
    args[14] = "1/2";
    cr_assert_eq(run_to_end(err, args), 0, "%s", th_read(err));
    char cmd[16384], *out, *msg;
    snprintf(cmd, sizeof cmd, "'%s' merge --out '%s/m.json' '%s' '%s'", th_headcal(), dir, a, b);
    cr_assert_eq(th_run(cmd, &out, &msg), 1, "%s", msg);
    cr_assert(strstr(msg, "b.json: cannot be merged: model.config_sha256 (config.json) is "), "%s", msg);
    free(out), free(msg);
    /* resuming shard 0's file with the edited model is refused too */
    args[6] = a;
    args[14] = "0/2";
    args[16] = "--resume";
    cr_assert_eq(run_to_end(err, args), 2);
    msg = th_read(err);
    cr_assert(strstr(msg, "model.config_sha256 (config.json)") && strstr(msg, "--resume needs"), "%s", msg);
    free(msg);
    free(text), free(cfg), free(err), free(a), free(b), free(m), free(d), free(dir);
}

/* SIGTERM is honoured even while OpenBLAS retries a refused allocation
 * forever (an address-space limit just above what the run needs makes it
 * do so): the run exits 1 within the grace period, its side file valid. */
Test(resume, sigterm_under_an_address_space_limit_ends_the_run, .timeout = 300)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    cr_skip_test("needs an address-space limit, which a sanitizer's shadow memory exceeds");
#else
    char *dir = th_tmpdir("sigterm"), *out = th_path(dir, "out.json"), *err = th_path(dir, "err");
    char *side = th_path(dir, "out.json.partial"), *m = th_path(dir, "m"), *d = th_path(dir, "d.jsonl");
    char cmd[16384];
    /* sgemms large enough for OpenBLAS's 128 MiB thread buffers */
    snprintf(cmd, sizeof cmd, "'%s' synth --out '%s' --layers 2 --heads 2 --d-model 64 --n-ctx 64", th_headcal(), m);
    cr_assert_eq(th_run(cmd, NULL, NULL), 0);
    FILE *f = fopen(d, "w");
    for (int i = 0; i < 32 * 20; i++) {
        fputs("{\"tokens\": [", f);
        for (int t = 0; t < 64; t++)
            fprintf(f, t ? ",%d" : "%d", (i * 7919 + t * 104729) % 50000);
        fputs("]}\n", f);
    }
    cr_assert_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd, "ulimit -v 300000 && exec '%s' run --model '%s' --data '%s' --out '%s' --batches 20 "
             "--batch-size 32 --seq-len 64 --threads 2 --quiet 2>'%s'", th_headcal(), m, d, out, err);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* the handlers are installed before the side file's first line */
    struct timespec nap = {0, 2 * 1000 * 1000};
    struct stat sb;
    int st = 0, waited = 0;
    while ((stat(side, &sb) != 0 || sb.st_size == 0) && waitpid(pid, &st, WNOHANG) == 0)
        nanosleep(&nap, NULL);
    /* into the first batch's products */
    nanosleep(&(struct timespec){1, 500 * 1000 * 1000}, NULL);
    kill(pid, SIGTERM);
    while (waitpid(pid, &st, WNOHANG) == 0 && waited < 150) {
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
        waited++;
    }
    if (waited == 150)
        kill(pid, SIGKILL), waitpid(pid, &st, 0);
    cr_assert_lt(waited, 150, "still running 15 s after SIGTERM");
    char *msg = th_read(err);
    /* stopped in time, whether by the sweep or by the watchdog; or never
     * started under the limit, which is an error of its own */
    cr_assert((WIFEXITED(st) && WEXITSTATUS(st) == 1) || (WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM),
              "status %d: %s", st, msg);
    if (WIFEXITED(st))
        cr_assert(!strncmp(msg, "headcal: ", 9) && strchr(msg, '\n') == msg + strlen(msg) - 1, "%s", msg);
    if (stat(side, &sb) == 0 && sb.st_size > 0) {
        hc_results r;
        cr_assert_eq(hc_journal_read(side, &r), 0, "%s", hc_errmsg());
        hc_results_free(&r);
    }
    free(msg), free(side), free(err), free(out), free(m), free(d), free(dir);
#endif
}
