/* No data loss: `headcal run` killed midway (SIGKILL,
 * SIGINT, SIGTERM) leaves a valid results file holding its completed
 * batches, and `--resume` then finishes with exactly the file of an
 * uninterrupted run.  The checkpoint is read while the run rewrites it:
 * every read must succeed (the writes are atomic). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "headcal/error.h"
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

/* Polls the checkpoint until a batch is complete, then sends sig; returns
 * the wait status.  Every read of the file while the run rewrites it must
 * succeed. */
static int interrupt(const char *out, const char *err_path, char *const args[], int sig, int *done_at_kill)
{
    pid_t pid = spawn(err_path, args);
    struct timespec nap = {0, 2 * 1000 * 1000};
    int reads = 0;
    *done_at_kill = 0;
    for (;;) {
        if (access(out, F_OK) == 0) {
            hc_results r;
            cr_assert_eq(hc_results_read(&r, out), 0, "checkpoint read %d failed: %s", reads, hc_errmsg());
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
    char *args[] = {"run", "--model", m, "--data", d, "--out", part, "--batches", batches, "--batch-size", "8",
                    "--seq-len", "32", "--ablation", "mean", "--mlp", "--sets", "L0H0+L1H1", "--threads", "2",
                    "--quiet", NULL, NULL};

    int done, st = interrupt(part, err, args, sig, &done);
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
    /* What the interrupted run left is a valid file with what it reported. */
    hc_results r;
    cr_assert_eq(hc_results_read(&r, part), 0, "%s", hc_errmsg());
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
    /* Identical counts give an identical file (the paths differ only in
     * --out, which the file does not record). */
    char *a = th_read(full), *b = th_read(part);
    size_t i = 0;
    while (a[i] && a[i] == b[i])
        i++;
    cr_assert(a[i] == b[i], "the resumed file differs from the uninterrupted one at byte %zu: ...%.60s... vs "
              "...%.60s...", i, a + (i > 30 ? i - 30 : 0), b + (i > 30 ? i - 30 : 0));
    free(a), free(b);
    free(m), free(d), free(full), free(part), free(err), free(dir);
}

Test(resume, sigkill_then_resume_gives_the_uninterrupted_counts, .timeout = 300) { kill_and_resume(SIGKILL); }
Test(resume, sigint_then_resume_gives_the_uninterrupted_counts, .timeout = 300) { kill_and_resume(SIGINT); }
Test(resume, sigterm_then_resume_gives_the_uninterrupted_counts, .timeout = 300) { kill_and_resume(SIGTERM); }
