/* headcal run: the sweep as a batch job (ncdu's no-UI mode): results JSON,
 * a progress bar on a terminal, checkpoints after every batch. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "headcal/analysis.h"
#include "headcal/clock.h"
#include "headcal/error.h"
#include "headcal/fileio.h"
#include "run_opts.h"

static atomic_int interrupted;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&interrupted, 1);
}

typedef struct {
    double start;
    int tty;
} progress_state;


static void progress(void *ctx, const char *phase, int done, int total)
{
    progress_state *ps = ctx;
    if (!ps->tty)
        return;
    if (done == 0)
        ps->start = hc_seconds();
    double el = hc_seconds() - ps->start, eta = done ? el / done * (total - done) : 0;
    int w = 30, fill = total ? w * done / total : w;
    fprintf(stderr, "\r%-6s [%.*s%*s] %d/%d batches  %4.0fs elapsed", phase, fill,
            "##############################", w - fill, "", done, total, el);
    if (done && done < total)
        fprintf(stderr, "  ETA %.0fs ", eta);
    else
        fprintf(stderr, "%10s", "");
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

/* Whether two paths name one existing file. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int parse_shard(const char *s, int *i, int *n)
{
    char extra;
    if (sscanf(s, "%d/%d%c", i, n, &extra) != 2 || *n < 1 || *i < 0 || *i >= *n)
        return hc_fail(HC_EUSAGE, "--shard: '%s' is not I/N with 0 <= I < N", s);
    return 0;
}

int cmd_run(int argc, char **argv)
{
    enum { O_HEADS = 1, O_MLP, O_SETS, O_SHARD, O_RESUME, O_OUT, O_QUIET };
    static const cli_option own[] = {
        {0, "heads", O_HEADS, "all|none|L.H,...", "the heads ablated one at a time (default all)"},
        {0, "mlp", O_MLP, NULL, "also ablate each layer's MLP, one at a time"},
        {0, "sets", O_SETS, "A+B,C+D,...", "sets of components ablated together"},
        {0, "shard", O_SHARD, "I/N", "only shard I of N: the batches b with b % N == I"},
        {0, "resume", O_RESUME, NULL, "continue the --out file from its last completed batch"},
        {0, "out", O_OUT, "FILE.json", "the results file, rewritten after every batch"},
        {0, "quiet", O_QUIET, NULL, "no progress bar"},
        {0},
    };
    cli_getopt g;
    run_opts o;
    int init = run_opts_init(&o, &g, "run --model DIR --data SRC [run options] [--heads all|none|L.H,...] [--mlp] "
                                     "[--sets S] [--shard I/N] [--resume] [--quiet] --out FILE.json",
                             own, argc, argv);
    if (init)
        return init > 0 ? 0 : hc_errstatus();
    const char *heads = "all", *sets = NULL, *out = NULL;
    int mlp = 0, resume = 0, quiet = 0, shard_i = 0, shard_n = 1, ch, rc = 0;
    while (!rc && (ch = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
        switch (ch) {
        case O_HEADS: heads = optarg; break;
        case O_MLP: mlp = 1; break;
        case O_SETS: sets = optarg; break;
        case O_SHARD: rc = parse_shard(optarg, &shard_i, &shard_n); break;
        case O_RESUME: resume = 1; break;
        case O_OUT: out = optarg; break;
        case O_QUIET: quiet = 1; break;
        default:
            rc = run_opts_apply(&o, ch, optarg, "run", argc, argv);
        }
    }
    if (!rc)
        rc = cli_no_operands("run", argc, argv);
    if (!rc && !out)
        rc = hc_fail(HC_EUSAGE, "run: --out FILE.json is required");
    if (!rc && o.data && same_file(out, o.data))
        rc = hc_fail(HC_EUSAGE, "run: --out %s is the --data file; it would be overwritten", out);
    if (rc)
        return hc_errstatus();

    hc_model m;
    hc_tokenizer *tk;
    hc_dataset *ds;
    if (run_open(&o, &m, 1, &tk, &ds))
        return hc_errstatus();
    hc_results r = {0};
    rc = run_describe(&r, &o, &m, ds, shard_i, shard_n, heads, mlp, sets);
    if (!rc && resume && access(out, F_OK) == 0) {
        /* continue from the batches the file already holds */
        hc_results prev;
        rc = hc_results_read(&prev, out);
        if (!rc && hc_results_compatible(&r, &prev, out)) {
            /* the options differ from the interrupted run's: a usage error */
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", hc_errmsg());
            rc = hc_fail(HC_EUSAGE, "%s (--resume needs the options of the run that wrote it)", msg);
        }
        if (!rc && (prev.params.shard_index != shard_i || prev.params.shard_count != shard_n))
            rc = hc_fail(HC_EUSAGE, "%s: written by shard %d/%d, not %d/%d", out, prev.params.shard_index,
                         prev.params.shard_count, shard_i, shard_n);
        if (!rc) {
            hc_results_free(&r);
            r = prev;
        } else if (prev.variants) {
            hc_results_free(&prev);
        }
    }
    progress_state ps = {.tty = !quiet && isatty(2)};
    hc_analysis a = {.model = &m, .ds = ds,
                     .sweep = run_opts_sweep(&o),
                     .checkpoint = out, .cancel = &interrupted, .progress = progress, .progress_ctx = &ps};
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (!rc)
        rc = hc_analysis_run(&a, &r);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc && atomic_load(&interrupted)) {
        int done = 0;
        for (int b = 0; b < r.params.batches; b++)
            done += r.done[b];
        if (ps.tty)
            fputc('\n', stderr);
        hc_fail(HC_EBAD, "interrupted: %d of %d batches saved in %s (run again with --resume to continue)", done,
                r.params.batches, out);
    }
    if (!rc && !quiet) {
        hc_metrics mt;
        if (!hc_results_metrics(&r, hc_results_baseline(&r), &mt))
            fprintf(stderr, "%s: %llu positions, baseline OC %.4f, ECE %.4f, NLL %.3f\n", out,
                    (unsigned long long)hc_results_positions(&r), mt.value[HC_OC], mt.value[HC_ECE],
                    mt.value[HC_NLL]);
    }
    hc_results_free(&r);
    hc_dataset_free(ds);
    hc_tokenizer_free(tk);
    hc_model_free(&m);
    return rc ? hc_errstatus() : 0;
}
