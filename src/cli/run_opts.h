/* The options every analysis command shares (headcal(1), RUN OPTIONS):
 * which model and data, how they are batched, and how the calibration is
 * measured.  `run`, `data` and `tui` parse them the same way. */
#ifndef HEADCAL_RUN_OPTS_H
#define HEADCAL_RUN_OPTS_H

#include <getopt.h>
#include <stddef.h>

#include "headcal/dataset.h"
#include "headcal/model.h"
#include "headcal/results.h"
#include "headcal/sweep.h"
#include "headcal/tokenizer.h"

typedef struct {
    const char *model, *data;
    hc_dataset_opts ds;
    int top_k, bins, ablation, ln, threads;
    int paper_sign;   /* the preset's preferred display metric */
    size_t mem;       /* bytes for the W_OU cache; 0 = no limit */
} run_opts;

/* getopt_long entries for the shared options; values >= RUN_OPT_BASE. */
enum { RUN_OPT_BASE = 1000 };
extern const struct option run_longopts[];
#define RUN_LONGOPTS_N 16

/* Defaults (the notebook preset), then --preset wherever it appears on the
 * command line, so that explicit flags override the preset; and the
 * longopts array for getopt_long: the command's own options followed by
 * the run options (longopts must hold n_own + RUN_LONGOPTS_N + 1 entries). */
int run_opts_init(run_opts *o, struct option *longopts, const struct option *own, int n_own, int argc, char **argv);
/* Applies one option getopt_long returned; an option that is not a run
 * option is a usage error of command cmd. */
int run_opts_apply(run_opts *o, int ch, const char *arg, const char *cmd, int argc, char **argv);
/* The sweep's options among o's. */
hc_sweep_opts run_opts_sweep(const run_opts *o);

/* Loads the tokenizer and the model (processed when `process`), checks
 * the options against it, and opens the dataset. */
int run_open(run_opts *o, hc_model *m, int process, hc_tokenizer **tk, hc_dataset **ds);

/* Describes the run of o on m and ds in r (model and data hashes,
 * parameters, shard I/N) with the variants hc_analysis_variants adds for
 * heads, mlp and sets. */
int run_describe(hc_results *r, const run_opts *o, const hc_model *m, const hc_dataset *ds, int shard_i,
                 int shard_n, const char *heads, int mlp, const char *sets);

#endif
