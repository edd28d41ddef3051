#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "headcal/analysis.h"
#include "headcal/component.h"
#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/sha256.h"
#include "headcal/sweep.h"
#include "run_opts.h"

enum {
    O_MODEL = RUN_OPT_BASE, O_DATA, O_BATCH, O_BATCHES, O_SEQ, O_MINLEN, O_TOPK, O_BINS, O_ABL, O_LN, O_THREADS,
    O_PRESET, O_SHUFFLE, O_CHUNK, O_MEM, O_EXAMPLES, O_LAST
};

const cli_option run_options[] = {
    {0, "model", O_MODEL, "DIR", "a Hugging Face GPT-2 directory (config.json, model.safetensors, tokenizer)"},
    {0, "data", O_DATA, "SRC", "FILE.jsonl, FILE.txt, a directory of them, or ioi (see DATA SOURCES)"},
    {0, "batch-size", O_BATCH, "B", "sequences per batch"},
    {0, "batches", O_BATCHES, "N", "batches (the jackknife's samples)"},
    {0, "seq-len", O_SEQ, "S", "tokens per sequence, BOS included"},
    {0, "min-len", O_MINLEN, "M", "skip sequences shorter than M tokens"},
    {0, "top-k", O_TOPK, "K", "events per position: the K most probable tokens"},
    {0, "bins", O_BINS, "N", "calibration bins"},
    {0, "ablation", O_ABL, "zero|mean", "remove a component's direct effect, or replace it by its mean"},
    {0, "ln", O_LN, "frozen|recompute", "the final LayerNorm scale of the unablated residual, or recomputed"},
    {0, "threads", O_THREADS, "T", "worker threads (default: the cores available)"},
    {0, "preset", O_PRESET, "notebook|paper", "the notebook's (default) or the paper's settings; options win"},
    {0, "shuffle-seed", O_SHUFFLE, "S", "shuffle the documents as numpy's np.random.shuffle with seed S"},
    {0, "chunk", O_CHUNK, NULL, "split long documents into windows instead of cutting them"},
    {0, "mem", O_MEM, "MB", "memory for the per-head W_OU matrices (default 2048)"},
    {0, "examples", O_EXAMPLES, "N", "keep each component's N most changed positions per list (default 20, 0: none)"},
    {0},
};

static int apply_preset(run_opts *o, const char *name)
{
    if (!strcmp(name, "notebook")) {
        /* measure_calibration_minus_heads as the notebook ran it */
        o->top_k = 5;
        o->bins = 40;
        o->ds.n_batches = 5;
        o->ds.batch_size = 50;
        o->ds.seq_len = 100;
        o->ds.min_len = 0;
        o->ablation = HC_ABLATION_ZERO;
        o->paper_sign = 0;
    } else if (!strcmp(name, "paper")) {
        /* the copy-suppression paper's appendix figure: 100 sequences of
         * 1000 tokens (shorter documents skipped), in 10 batches for the
         * jackknife */
        o->top_k = 3;
        o->bins = 100;
        o->ds.n_batches = 10;
        o->ds.batch_size = 10;
        o->ds.seq_len = 1000;
        o->ds.min_len = 1000;
        o->ablation = HC_ABLATION_MEAN;
        o->paper_sign = 1;
    } else {
        return hc_fail(HC_EUSAGE, "--preset: '%s' is not notebook or paper", name);
    }
    return 0;
}

int run_opts_init(run_opts *o, cli_getopt *g, const char *usage, const cli_option *own, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    if (cli_getopt_init(g, usage, own, run_options, "run options", argc, argv))
        return 1;
    o->ln = HC_LN_FROZEN;
    o->mem = (size_t)2 << 30;
    o->examples = HC_EXAMPLES_DEFAULT;
    apply_preset(o, "notebook");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            break;
        if (!strncmp(a, "--preset=", 9) && apply_preset(o, a + 9))
            return -1;
        if (!strcmp(a, "--preset") && i + 1 < argc && apply_preset(o, argv[++i]))
            return -1;
    }
    return 0;
}

int run_opts_apply(run_opts *o, int ch, const char *arg, const char *cmd, int argc, char **argv)
{
    long v;
    switch (ch) {
    case O_MODEL: o->model = arg; return 0;
    case O_DATA: o->data = arg; return 0;
    case O_BATCH: return cli_int("--batch-size", arg, 1, 1 << 20, &o->ds.batch_size);
    case O_BATCHES: return cli_int("--batches", arg, 1, 1 << 20, &o->ds.n_batches);
    case O_SEQ: return cli_int("--seq-len", arg, 2, 1 << 20, &o->ds.seq_len);
    case O_MINLEN: return cli_int("--min-len", arg, 0, 1 << 20, &o->ds.min_len);
    case O_TOPK: return cli_int("--top-k", arg, 1, HC_TOPK_MAX, &o->top_k);
    case O_BINS: return cli_int("--bins", arg, 1, 100000, &o->bins);
    case O_THREADS: return cli_int("--threads", arg, 1, 1024, &o->threads);
    case O_PRESET: return 0; /* applied by run_opts_init */
    case O_CHUNK: o->ds.chunk = true; return 0;
    case O_EXAMPLES: return cli_int("--examples", arg, 0, HC_EXAMPLES_MAX, &o->examples);
    case O_SHUFFLE:
        if (cli_long("--shuffle-seed", arg, 0, 4294967295L, &v))
            return -1;
        o->ds.shuffle = true;
        o->ds.shuffle_seed = (uint32_t)v;
        return 0;
    case O_MEM:
        if (cli_long("--mem", arg, 64, 1L << 22, &v))
            return -1;
        o->mem = (size_t)v << 20;
        return 0;
    case O_ABL:
        if (!strcmp(arg, "zero"))
            o->ablation = HC_ABLATION_ZERO;
        else if (!strcmp(arg, "mean"))
            o->ablation = HC_ABLATION_MEAN;
        else
            return hc_fail(HC_EUSAGE, "--ablation: '%s' is not zero or mean", arg);
        return 0;
    case O_LN:
        if (!strcmp(arg, "frozen"))
            o->ln = HC_LN_FROZEN;
        else if (!strcmp(arg, "recompute"))
            o->ln = HC_LN_RECOMPUTE;
        else
            return hc_fail(HC_EUSAGE, "--ln: '%s' is not frozen or recompute", arg);
        return 0;
    }
    return cli_bad_option(cmd, argc, argv);
}

hc_sweep_opts run_opts_sweep(const run_opts *o)
{
    return (hc_sweep_opts){
        .top_k = o->top_k, .ablation = o->ablation, .ln = o->ln, .threads = o->threads, .mem_budget = o->mem,
        .positions = o->positions};
}

/* hc_dataset_open, fitted to a source with too few sequences as
 * run_open promises. */
static int open_data(run_opts *o, hc_dataset **ds)
{
    size_t have = 0;
    o->ds.available = &have;
    int rc = hc_dataset_open(ds, o->data, &o->ds);
    o->ds.available = NULL;
    if (!rc || !have)
        return rc;
    int B = o->ds.batch_size, N = o->ds.n_batches, n = have > (size_t)INT_MAX ? INT_MAX : (int)have;
    if (o->fit_data) {
        /* as many batches as asked for while each can hold a sequence */
        int nb = n / B >= 2 ? n / B : n < N ? n : N, bs = n / B >= 2 ? B : n / nb;
        snprintf(o->fitted, sizeof o->fitted, "small data: %d batches of %d (asked for %d of %d)", nb, bs, N, B);
        o->ds.n_batches = nb;
        o->ds.batch_size = bs;
        return hc_dataset_open(ds, o->data, &o->ds);
    }
    char msg[1024], fit[128];
    snprintf(msg, sizeof msg, "%s", hc_errmsg());
    if (n / B >= 1 && n / N >= 1)
        snprintf(fit, sizeof fit, "--batches %d or --batch-size %d", n / B, n / N);
    else if (n / B >= 1)
        snprintf(fit, sizeof fit, "--batches %d", n / B);
    else if (n / N >= 1)
        snprintf(fit, sizeof fit, "--batch-size %d", n / N);
    else
        snprintf(fit, sizeof fit, "--batch-size 1 --batches %d", n);
    return hc_fail(hc_errstatus(), "%s; %s would fit", msg, fit);
}

int run_open(run_opts *o, hc_model *m, int process, hc_tokenizer **tk, hc_dataset **ds)
{
    *tk = NULL;
    *ds = NULL;
    if (!o->model || !o->data)
        return hc_fail(HC_EUSAGE, "--model DIR and --data SRC are required");
    if (o->ds.min_len > o->ds.seq_len)
        return hc_fail(HC_EUSAGE, "--min-len %d exceeds --seq-len %d", o->ds.min_len, o->ds.seq_len);
    if (hc_tokenizer_load_dir(tk, o->model))
        return -1;
    if (hc_model_load(m, o->model)) {
        hc_tokenizer_free(*tk);
        *tk = NULL;
        return -1;
    }
    int rc = 0;
    if (o->ds.seq_len > m->cfg.n_ctx)
        rc = hc_fail(HC_EUSAGE, "--seq-len %d exceeds the model's context of %d tokens", o->ds.seq_len, m->cfg.n_ctx);
    else if (o->top_k > m->cfg.d_vocab)
        rc = hc_fail(HC_EUSAGE, "--top-k %d exceeds the vocabulary of %d", o->top_k, m->cfg.d_vocab);
    if (!rc) {
        o->ds.bos = m->cfg.bos;
        o->ds.vocab_size = m->cfg.d_vocab;
        o->ds.tk = *tk;
        rc = open_data(o, ds);
    }
    /* Every batch's, not a shard's: the shards and resumptions of a run
     * take the same path as the run would whole. */
    if (!rc)
        o->positions = hc_dataset_n_scored(*ds);
    if (!rc && process)
        hc_model_process(m);
    if (rc) {
        hc_model_free(m);
        hc_tokenizer_free(*tk);
        *tk = NULL;
    }
    return rc ? -1 : 0;
}

int run_describe(hc_results *r, const run_opts *o, const hc_model *m, const hc_dataset *ds, int shard_i,
                 int shard_n, const char *heads, int mlp, const char *sets)
{
    hc_results_model rm = {.n_layers = m->cfg.n_layer, .n_heads = m->cfg.n_head, .d_model = m->cfg.d_model,
                           .d_vocab = m->cfg.d_vocab};
    hc_results_data rd = {.shuffle_seed = o->ds.shuffle ? (int64_t)o->ds.shuffle_seed : -1, .chunk = o->ds.chunk,
                          .min_len = o->ds.min_len};
    hc_results_params rp = {.batch_size = o->ds.batch_size, .batches = o->ds.n_batches, .seq_len = o->ds.seq_len,
                            .top_k = o->top_k, .bins = o->bins, .ablation = o->ablation, .ln = o->ln,
                            .shard_index = shard_i, .shard_count = shard_n, .examples = o->examples};
    char path[4200];
    const char *kernel;
    snprintf(rm.path, sizeof rm.path, "%s", o->model);
    snprintf(rd.source, sizeof rd.source, "%s", o->data);
    hc_sweep_opts so = run_opts_sweep(o);
    if (hc_sweep_kernel_choose(m, &so, &kernel))
        return -1;
    snprintf(rp.kernel, sizeof rp.kernel, "%s", kernel);
    /* the data's hash is of the token sequences, so it covers the tokenizer */
    if (hc_path_join(path, sizeof path, o->model, "model.safetensors") || hc_sha256_file(path, rm.sha256) ||
        hc_path_join(path, sizeof path, o->model, "config.json") || hc_sha256_file(path, rm.config_sha256) ||
        hc_analysis_data_sha256(ds, rd.sha256))
        return -1;
    if (hc_results_init(r, &rm, &rd, &rp)) {
        /* what it refuses here came from the options (--bins x --batches) */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", hc_errmsg());
        return hc_fail(HC_EUSAGE, "%s", msg);
    }
    return hc_analysis_variants(r, heads, mlp, sets);
}
