/* headcal run: the sweep as a batch job (ncdu's no-UI mode): results JSON,
 * a progress bar on a terminal, each batch checkpointed to a side file. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "explorer.h"
#include "cli.h"
#include "config.h"
#include "headcal/analysis.h"
#include "headcal/clock.h"
#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/means.h"
#include "headcal/journal.h"
#include "run_opts.h"

static atomic_int interrupted;
static int wake[2] = {-1, -1}; /* the signal handler -> the watchdog */

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&interrupted, 1);
    if (wake[1] >= 0 && write(wake[1], "", 1) < 0) {
        /* a full pipe already holds a wake-up */
    }
}

/* A signal asks the sweep to stop between tasks, but a thread stuck inside
 * OpenBLAS (which retries a refused buffer allocation forever under
 * `ulimit -v`) never gets there.  The watchdog gives the run a grace
 * period after the first signal and exits at once on a second; the side
 * file only ever holds synced, complete batches, so nothing is lost.
 * Closing the pipe's write end (the run ended) dismisses it. */
enum { GRACE_MS = 5000 };

static void *watchdog(void *side)
{
    char c;
    if (read(wake[0], &c, 1) != 1)
        return NULL;
    struct pollfd p = {.fd = wake[0], .events = POLLIN};
    if (poll(&p, 1, GRACE_MS) > 0 && read(wake[0], &c, 1) != 1)
        return NULL;
    char msg[4400];
    int n = snprintf(msg, sizeof msg, "headcal: interrupted: the computation did not stop; the completed batches "
                     "are saved in %s (run again with --resume to continue)\n", (const char *)side);
    if (write(2, msg, (size_t)n) < 0) {
        /* nothing more to do: exiting is the point */
    }
    _exit(HC_EBAD);
}

typedef struct {
    double start;
    int tty;
    const char *phase;
    int done, total;
    int part, variants; /* variants finished inside the running batch (hc_analysis.partial), of how many */
} progress_state;

static void progress_draw(const progress_state *ps)
{
    int done = ps->done, total = ps->total;
    double el = hc_seconds() - ps->start, eta = done ? el / done * (total - done) : 0;
    int w = 30, fill = total ? w * done / total : w;
    fprintf(stderr, "\r%-6s [%.*s%*s] %d/%d batches  %4.0fs elapsed", ps->phase, fill,
            "##############################", w - fill, "", done, total, el);
    /* padded to clear what a longer line left */
    if (ps->part)
        fprintf(stderr, "  %d of %d variants of this batch done", ps->part, ps->variants);
    else if (done && done < total)
        fprintf(stderr, "  ETA %.0fs%24s", eta, "");
    else
        fprintf(stderr, "%34s", "");
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

static void progress(void *ctx, const char *phase, int done, int total)
{
    progress_state *ps = ctx;
    if (!ps->tty)
        return;
    if (done == 0)
        ps->start = hc_seconds();
    *ps = (progress_state){ps->start, ps->tty, phase, done, total, 0, ps->variants};
    progress_draw(ps);
}

/* The first batch's heads come out a layer at a time. */
static void partial(void *ctx, const hc_results *part)
{
    progress_state *ps = ctx;
    ps->part = part->n_variants;
    progress_draw(ps);
}

/* The side file's first line when the options are accepted, then a line
 * per completed batch. */
static int journal_save(void *ctx, const hc_results *r, int batch)
{
    return batch < 0 ? hc_journal_start(ctx, r) : hc_journal_append(ctx, r, batch);
}

/* The means of `headcal means` for the run r describes. */
static int read_means(hc_means *mn, const char *path, const hc_results *r)
{
    hc_mean_sums s;
    if (hc_mean_sums_read(&s, path))
        return -1;
    hc_means_id want = hc_means_id_of(r, 0, 1);
    int rc = hc_means_id_check(&s.id, &want, path);
    if (!rc)
        rc = hc_means_finish(mn, &s);
    hc_mean_sums_free(&s);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    enum { O_HEADS = 1, O_MLP, O_SETS, O_SHARD, O_RESUME, O_OUT, O_QUIET, O_MEANS };
    static const cli_option own[] = {
        {0, "heads", O_HEADS, "all|none|L.H,...", "the heads ablated one at a time (default all)"},
        {0, "mlp", O_MLP, NULL, "also ablate each layer's MLP, one at a time"},
        {0, "sets", O_SETS, "A+B,C+D,...", "sets of components ablated together"},
        {0, "shard", O_SHARD, "I/N", "only shard I of N: the batches b with b % N == I"},
        {0, "resume", O_RESUME, NULL, "continue from the side file (or --out) at its last completed batch"},
        {0, "out", O_OUT, "FILE.json", "the results file, written when the run completes (until then: FILE.json.partial)"},
        {0, "quiet", O_QUIET, NULL, "no progress bar"},
        {0, "means", O_MEANS, "FILE", "mean ablation with the means of headcal means (FILE)"},
        {0},
    };
    cli_getopt g;
    run_opts o;
    int init = run_opts_init(&o, &g, "run --model DIR --data SRC [run options] [--heads all|none|L.H,...] [--mlp] "
                                     "[--sets S] [--shard I/N] [--resume] [--means FILE] [--quiet] --out FILE.json",
                             own, argc, argv);
    if (init)
        return init > 0 ? 0 : hc_errstatus();
    const char *heads = "all", *sets = NULL, *out = NULL, *means_path = NULL;
    int mlp = 0, resume = 0, quiet = 0, shard_i = 0, shard_n = 1, ch, rc = 0;
    while (!rc && (ch = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
        switch (ch) {
        case O_HEADS: heads = optarg; break;
        case O_MLP: mlp = 1; break;
        case O_SETS: sets = optarg; break;
        case O_SHARD: rc = cli_shard(optarg, &shard_i, &shard_n); break;
        case O_RESUME: resume = 1; break;
        case O_OUT: out = optarg; break;
        case O_QUIET: quiet = 1; break;
        case O_MEANS: means_path = optarg; break;
        default:
            rc = run_opts_apply(&o, ch, optarg, "run", argc, argv);
        }
    }
    if (!rc)
        rc = cli_no_operands("run", argc, argv);
    if (!rc && !out)
        rc = hc_fail(HC_EUSAGE, "run: --out FILE.json is required");
    if (!rc && means_path && o.ablation != HC_ABLATION_MEAN)
        rc = hc_fail(HC_EUSAGE, "run: --means %s needs --ablation mean", means_path);
    if (!rc && o.data)
        rc = hc_refuse_input(out, o.data, "the --data file");
    if (rc)
        return hc_errstatus();

    /* Locked before anything long: a second run on this --out stops now. */
    hc_journal j;
    if (hc_journal_open(&j, out))
        return hc_errstatus();
    hc_model m;
    hc_tokenizer *tk;
    hc_dataset *ds;
    if (run_open(&o, &m, 1, &tk, &ds)) {
        hc_journal_close(&j);
        return hc_errstatus();
    }
    hc_results r = {0};
    rc = run_describe(&r, &o, &m, ds, shard_i, shard_n, heads, mlp, sets);
    int in_side = 0;
    hc_results prev;
    /* continue from the side file of an interrupted run, else from a
     * results file with batches still to do (a merge of some shards) */
    if (!rc && resume)
        rc = hc_journal_load(&j, &prev, &in_side);
    if (!rc && resume && (in_side || access(out, F_OK) == 0)) {
        const char *from = in_side ? j.path : out;
        if (!in_side)
            rc = hc_results_read(&prev, out);
        if (!rc && hc_results_compatible(&r, &prev, from)) {
            /* the options differ from the interrupted run's: a usage error */
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", hc_errmsg());
            rc = hc_fail(HC_EUSAGE, "%s (--resume needs the options of the run that wrote it)", msg);
        }
        if (!rc && (prev.params.shard_index != shard_i || prev.params.shard_count != shard_n))
            rc = hc_fail(HC_EUSAGE, "%s: written by shard %d/%d, not %d/%d", from, prev.params.shard_index,
                         prev.params.shard_count, shard_i, shard_n);
        if (!rc) {
            hc_results_free(&r);
            r = prev;
        } else if (prev.variants) {
            hc_results_free(&prev);
        }
    }
    hc_means mn = {0};
    if (!rc && means_path)
        rc = read_means(&mn, means_path, &r);
    progress_state ps = {.tty = !quiet && isatty(2), .variants = r.n_variants};
    hc_analysis a = {.model = &m, .ds = ds,
                     .sweep = run_opts_sweep(&o), .means = means_path ? &mn : NULL,
                     .saved = journal_save, .saved_ctx = &j,
                     .cancel = &interrupted, .progress = progress, .partial = ps.tty ? partial : NULL,
                     .progress_ctx = &ps};
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    pthread_t dog;
    int watched = !rc && pipe(wake) == 0;
    if (watched && pthread_create(&dog, NULL, watchdog, j.path) != 0) {
        close(wake[0]), close(wake[1]);
        wake[0] = wake[1] = -1;
        watched = 0;
    }
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (!rc)
        rc = hc_analysis_run(&a, &r);
    if (!rc)
        rc = hc_journal_finish(&j, &r);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (watched) {
        int w = wake[1];
        wake[1] = -1;
        close(w);
        pthread_join(dog, NULL);
        close(wake[0]);
        wake[0] = -1;
    }
    if (rc && atomic_load(&interrupted)) {
        int done = 0;
        for (int b = 0; b < r.params.batches; b++)
            done += r.done[b];
        if (ps.tty)
            fputc('\n', stderr);
        hc_fail(HC_EBAD, "interrupted: %d of %d batches saved in %s (run again with --resume to continue)", done,
                r.params.batches, j.path);
    }
    if (!rc && r.params.shard_count == 1) {
        /* the explorer opens the same analysis from its cache at once; the
         * cache is a convenience, so a failure there is no failure here */
        explorer_cache c;
        if (cache_locate(&c, &r) || cache_store(&c, &r, NULL) < 0)
            hc_clear_error();
    }
    if (!rc && !quiet) {
        hc_metrics mt;
        if (!hc_results_metrics(&r, hc_results_baseline(&r), &mt))
            fprintf(stderr, "%s: %llu positions, baseline OC %.4f, ECE %.4f, NLL %.3f\n", out,
                    (unsigned long long)hc_results_positions(&r), mt.value[HC_OC], mt.value[HC_ECE],
                    mt.value[HC_NLL]);
    }
    hc_means_free(&mn);
    hc_journal_close(&j);
    hc_results_free(&r);
    hc_dataset_free(ds);
    hc_tokenizer_free(tk);
    hc_model_free(&m);
    return rc ? hc_errstatus() : 0;
}
