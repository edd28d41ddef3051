/* headcal data: prints, one line per sequence, exactly the batches a run
 * with the same options feeds the model. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "headcal/dataset.h"
#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/model.h"
#include "headcal/tokenizer.h"
#include "run_opts.h"

/* The model directory's config.json, when there is one, fixes the
 * vocabulary, the BOS id and the longest sequence; a directory holding only
 * a tokenizer gets GPT-2's BOS and the tokenizer's vocabulary. */
static int model_limits(const char *dir, const hc_tokenizer *tk, hc_dataset_opts *o)
{
    char path[4200];
    if (hc_path_join(path, sizeof path, dir, "config.json"))
        return -1;
    if (access(path, F_OK) != 0) {
        o->bos = 50256;
        o->vocab_size = hc_tokenizer_vocab_size(tk);
        return 0;
    }
    hc_config cfg;
    if (hc_config_load(&cfg, path))
        return -1;
    if (o->seq_len > cfg.n_ctx)
        return hc_fail(HC_EUSAGE, "--seq-len %d exceeds the model's context of %d tokens (%s)",
                       o->seq_len, cfg.n_ctx, path);
    o->bos = cfg.bos;
    o->vocab_size = cfg.d_vocab;
    return 0;
}

int cmd_data(int argc, char **argv)
{
    enum { O_FORMAT = 1 };
    static const cli_option own[] = {
        {0, "format", O_FORMAT, "text|tokens|jsonl", "one line per sequence: its text, its ids, or both (default)"},
        {0},
    };
    /* Every run option is accepted, so the same command line shows what
     * `run` would measure; only the data options change the output. */
    cli_getopt g;
    run_opts o;
    int init = run_opts_init(&o, &g, "data --model DIR --data SRC [data options] [--format text|tokens|jsonl]", own,
                             argc, argv);
    if (init)
        return init > 0 ? 0 : hc_errstatus();
    hc_data_format fmt = HC_DATA_JSONL;
    int c, rc = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
        if (c == O_FORMAT)
            rc = hc_data_format_parse(optarg, &fmt);
        else
            rc = run_opts_apply(&o, c, optarg, "data", argc, argv);
    }
    if (rc == 0)
        rc = cli_no_operands("data", argc, argv);
    if (rc == 0 && (!o.model || !o.data))
        rc = hc_fail(HC_EUSAGE, "data: --model DIR and --data SRC are required");
    if (rc)
        return hc_errstatus();

    hc_tokenizer *tk = NULL;
    hc_dataset *ds = NULL;
    if (hc_tokenizer_load_dir(&tk, o.model))
        return hc_errstatus();
    o.ds.tk = tk;
    rc = model_limits(o.model, tk, &o.ds);
    if (rc == 0)
        rc = hc_dataset_open(&ds, o.data, &o.ds);
    for (int i = 0; rc == 0 && i < hc_dataset_n_batches(ds); i++) {
        hc_batch b;
        rc = hc_dataset_batch(ds, i, &b);
        if (rc == 0)
            rc = hc_batch_print(stdout, &b, i, tk, fmt);
        hc_batch_free(&b);
    }
    if (rc == 0 && (fflush(stdout) || ferror(stdout)))
        rc = hc_fail(HC_EBAD, "stdout: write error");
    hc_dataset_free(ds);
    hc_tokenizer_free(tk);
    return rc ? hc_errstatus() : 0;
}
