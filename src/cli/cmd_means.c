/* headcal means: mean ablation's activation means as a step of their own,
 * so that a cluster computes them once (in shards, then merged) and every
 * ablation shard reads them with `headcal run --means FILE`. */
#include <stdio.h>

#include "cli.h"
#include "headcal/error.h"
#include "headcal/means.h"
#include "run_opts.h"

static int merge(const char *out, int n, char **in)
{
    hc_mean_sums s;
    if (hc_mean_sums_merge(&s, in, n)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", hc_errmsg());
        return hc_fail(hc_errstatus(), "%s; nothing written to %s", msg, out);
    }
    int rc = hc_mean_sums_write(&s, out);
    hc_mean_sums_free(&s);
    return rc;
}

static int compute(run_opts *o, const char *out, int shard_i, int shard_n, int quiet)
{
    hc_model m;
    hc_tokenizer *tk;
    hc_dataset *ds;
    if (run_open(o, &m, 1, &tk, &ds))
        return -1;
    hc_results r = {0};
    hc_mean_sums s = {0};
    /* the run's identity, as `headcal run` describes it, without variants */
    int rc = run_describe(&r, o, &m, ds, shard_i, shard_n, "none", 0, NULL);
    if (!rc && !(rc = hc_mean_sums_init(&s, &m.cfg, o->ds.seq_len))) {
        s.id = hc_means_id_of(&r, shard_i, shard_n);
        rc = hc_mean_sums_run(&s, &m, ds, NULL, NULL);
    }
    if (!rc)
        rc = hc_mean_sums_write(&s, out);
    if (!rc && !quiet)
        fprintf(stderr, "%s: means of shard %d/%d (%d of %d batches)\n", out, shard_i, shard_n,
                (r.params.batches - shard_i + shard_n - 1) / shard_n, r.params.batches);
    hc_mean_sums_free(&s);
    hc_results_free(&r);
    hc_dataset_free(ds);
    hc_tokenizer_free(tk);
    hc_model_free(&m);
    return rc;
}

int cmd_means(int argc, char **argv)
{
    enum { O_SHARD = 1, O_MERGE, O_OUT, O_QUIET, O_VARIANTS, O_MLP };
    /* run's --heads, --mlp and --sets are accepted and ignored, so that
     * both steps of a job take the same options */
    static const cli_option own[] = {
        {0, "shard", O_SHARD, "I/N", "only the batches b with b % N == I"},
        {0, "merge", O_MERGE, NULL, "add up the shard files given as operands"},
        {0, "out", O_OUT, "FILE", "the means file"},
        {0, "quiet", O_QUIET, NULL, "no summary line"},
        {0, "heads", O_VARIANTS, "...", "accepted and ignored (as run takes it)"},
        {0, "sets", O_VARIANTS, "...", "accepted and ignored (as run takes it)"},
        {0, "mlp", O_MLP, NULL, "accepted and ignored (as run takes it)"},
        {0},
    };
    cli_getopt g;
    run_opts o;
    int init = run_opts_init(&o, &g, "means --model DIR --data SRC [run options] [--shard I/N] [--quiet] --out FILE\n"
                                     "       headcal means --merge --out FILE IN...",
                             own, argc, argv);
    if (init)
        return init > 0 ? 0 : hc_errstatus();
    const char *out = NULL;
    int merging = 0, quiet = 0, shard_i = 0, shard_n = 1, ch, rc = 0;
    while (!rc && (ch = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
        switch (ch) {
        case O_SHARD: rc = cli_shard(optarg, &shard_i, &shard_n); break;
        case O_MERGE: merging = 1; break;
        case O_OUT: out = optarg; break;
        case O_QUIET: quiet = 1; break;
        case O_VARIANTS: case O_MLP: break;
        default: rc = run_opts_apply(&o, ch, optarg, "means", argc, argv);
        }
    }
    if (!rc && !out)
        rc = hc_fail(HC_EUSAGE, "means: --out FILE is required");
    if (!rc && merging && optind >= argc)
        rc = hc_fail(HC_EUSAGE, "means --merge: no input files (usage: headcal means --merge --out FILE IN...)");
    if (!rc && !merging)
        rc = cli_no_operands("means", argc, argv);
    if (!rc)
        rc = merging ? merge(out, argc - optind, argv + optind) : compute(&o, out, shard_i, shard_n, quiet);
    return rc ? hc_errstatus() : 0;
}
