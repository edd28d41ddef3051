/* headcal data: prints, one line per sequence, exactly the batches a run
 * with the same data options feeds the model. */
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
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},
        {"data", required_argument, 0, 'd'},
        {"batch-size", required_argument, 0, 'b'},
        {"batches", required_argument, 0, 'n'},
        {"seq-len", required_argument, 0, 's'},
        {"min-len", required_argument, 0, 'l'},
        {"shuffle-seed", required_argument, 0, 'S'},
        {"chunk", no_argument, 0, 'c'},
        {"format", required_argument, 0, 'f'},
        {0, 0, 0, 0},
    };
    /* The notebook preset's data shape: 5 batches of 50 sequences of 100. */
    hc_dataset_opts o = {.batch_size = 50, .n_batches = 5, .seq_len = 100};
    const char *model = NULL, *src = NULL;
    hc_data_format fmt = HC_DATA_JSONL;
    long seed;
    int c, rc = 0;
    optind = 1;
    opterr = 0;     /* cli_bad_option reports it, once */
    while (rc == 0 && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'd': src = optarg; break;
        case 'b': rc = cli_int("--batch-size", optarg, 1, 1 << 20, &o.batch_size); break;
        case 'n': rc = cli_int("--batches", optarg, 1, 1 << 20, &o.n_batches); break;
        case 's': rc = cli_int("--seq-len", optarg, 2, 1 << 20, &o.seq_len); break;
        case 'l': rc = cli_int("--min-len", optarg, 0, 1 << 20, &o.min_len); break;
        case 'S':
            rc = cli_long("--shuffle-seed", optarg, 0, 4294967295L, &seed);
            o.shuffle = true;
            o.shuffle_seed = (uint32_t)seed;
            break;
        case 'c': o.chunk = true; break;
        case 'f': rc = hc_data_format_parse(optarg, &fmt); break;
        default: rc = cli_bad_option("data", argc, argv);
        }
    }
    if (rc)
        return hc_errstatus();
    if (optind < argc) {
        hc_fail(HC_EUSAGE, "data: unexpected argument '%s'", argv[optind]);
        return hc_errstatus();
    }
    if (!model || !src) {
        hc_fail(HC_EUSAGE, "data: --model DIR and --data SRC are required");
        return hc_errstatus();
    }

    hc_tokenizer *tk = NULL;
    hc_dataset *ds = NULL;
    if (hc_tokenizer_load_dir(&tk, model))
        return hc_errstatus();
    o.tk = tk;
    rc = model_limits(model, tk, &o);
    if (rc == 0)
        rc = hc_dataset_open(&ds, src, &o);
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
