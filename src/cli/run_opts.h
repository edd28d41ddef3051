/* The options every analysis command shares (headcal(1), RUN OPTIONS):
 * which model and data, how they are batched, and how the calibration is
 * measured.  `run`, `data` and `tui` parse them the same way. */
#ifndef HEADCAL_RUN_OPTS_H
#define HEADCAL_RUN_OPTS_H

#include <stddef.h>

#include "cli.h"
#include "headcal/dataset.h"
#include "headcal/model.h"
#include "headcal/results.h"
#include "headcal/sweep.h"
#include "headcal/tokenizer.h"

typedef struct {
    const char *model, *data;
    hc_dataset_opts ds;
    int top_k, bins, ablation, ln, threads;
    int examples;     /* --examples N: per list and variant, 0 = none */
    int paper_sign;   /* the preset's preferred display metric */
    size_t mem;       /* bytes for the W_OU cache; 0 = no limit */
    long positions;   /* run_open: the data's scored positions, every batch (the sweep's cost model) */
    int fit_data;     /* run_open: with too few sequences, fewer or smaller batches instead of an error */
    char fitted[256]; /* then: what was done, for the user */
} run_opts;

/* The shared options; their values are >= RUN_OPT_BASE. */
enum { RUN_OPT_BASE = 1000 };
extern const cli_option run_options[];

/* Defaults (the notebook preset), then --preset wherever it appears on the
 * command line, so that explicit flags override the preset; and g for
 * getopt_long: the command's own options followed by the run options.
 * Returns 1 when --help was asked for and printed (cli_getopt_init). */
int run_opts_init(run_opts *o, cli_getopt *g, const char *usage, const cli_option *own, int argc, char **argv);
/* Applies one option getopt_long returned; an option that is not a run
 * option is a usage error of command cmd. */
int run_opts_apply(run_opts *o, int ch, const char *arg, const char *cmd, int argc, char **argv);
/* The sweep's options among o's (after run_open, with the run's length:
 * a short run takes the direct path, hc_sweep_direct). */
hc_sweep_opts run_opts_sweep(const run_opts *o);

/* Loads the tokenizer and the model (processed when `process`), checks
 * the options against it, and opens the dataset.  When the data holds too
 * few sequences, the message names the options that would fit, or, with
 * o->fit_data, the batches shrink to what there is (o->fitted says how). */
int run_open(run_opts *o, hc_model *m, int process, hc_tokenizer **tk, hc_dataset **ds);

/* Describes the run of o on m and ds in r (model and data hashes,
 * parameters, shard I/N) with the variants hc_analysis_variants adds for
 * heads, mlp and sets. */
int run_describe(hc_results *r, const run_opts *o, const hc_model *m, const hc_dataset *ds, int shard_i,
                 int shard_n, const char *heads, int mlp, const char *sets);

#endif
