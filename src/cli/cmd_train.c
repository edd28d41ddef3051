/* headcal train: a small GPT-2 trained on the CPU from a .tokens file. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "headcal/error.h"
#include "headcal/train.h"

int cmd_train(int argc, char **argv)
{
    hc_config cfg = {.n_layer = 4, .n_head = 4, .d_model = 128, .n_ctx = 128, .d_vocab = 50257, .ln_eps = 1e-5f,
                     .bos = 50256};
    hc_train_opts o;
    hc_train_defaults(&o);
    o.log = stderr;
    const char *data = NULL, *eval_path = NULL, *out = NULL;
    int d_mlp = 0;
    long seed = 1;
    enum { O_DMLP = 256, O_EVAL, O_MINLR, O_WARMUP, O_WD, O_CLIP, O_EVERY, O_SAVE, O_QUIET, O_VOCAB, O_STOP, O_EXTEND };
    static const struct option opts[] = {
        {"data", required_argument, 0, 'D'},       {"eval", required_argument, 0, O_EVAL},
        {"out", required_argument, 0, 'o'},        {"layers", required_argument, 0, 'l'},
        {"heads", required_argument, 0, 'h'},      {"d-model", required_argument, 0, 'd'},
        {"d-mlp", required_argument, 0, O_DMLP},   {"n-ctx", required_argument, 0, 'c'},
        {"vocab", required_argument, 0, O_VOCAB},  {"steps", required_argument, 0, 'n'},
        {"batch-size", required_argument, 0, 'b'}, {"lr", required_argument, 0, 'r'},
        {"min-lr", required_argument, 0, O_MINLR}, {"warmup", required_argument, 0, O_WARMUP},
        {"weight-decay", required_argument, 0, O_WD}, {"clip", required_argument, 0, O_CLIP},
        {"seed", required_argument, 0, 's'},       {"eval-every", required_argument, 0, O_EVERY},
        {"save-every", required_argument, 0, O_SAVE}, {"dtype", required_argument, 0, 't'},
        {"stop-at", required_argument, 0, O_STOP}, {"quiet", no_argument, 0, O_QUIET},
        {"extend", no_argument, 0, O_EXTEND},
        {0, 0, 0, 0}};
    int ch, rc = 0, min_lr_set = 0;
    optind = 1;
    while (!rc && (ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'D': data = optarg; break;
        case O_EVAL: eval_path = optarg; break;
        case 'o': out = optarg; break;
        case 'l': rc = cli_int("--layers", optarg, 1, 64, &cfg.n_layer); break;
        case 'h': rc = cli_int("--heads", optarg, 1, 64, &cfg.n_head); break;
        case 'd': rc = cli_int("--d-model", optarg, 1, 4096, &cfg.d_model); break;
        case O_DMLP: rc = cli_int("--d-mlp", optarg, 1, 16384, &d_mlp); break;
        case 'c': rc = cli_int("--n-ctx", optarg, 2, 4096, &cfg.n_ctx); break;
        case O_VOCAB: rc = cli_int("--vocab", optarg, 2, 65536, &cfg.d_vocab); break;
        case 'n': rc = cli_int("--steps", optarg, 1, 1 << 24, &o.steps); break;
        case 'b': rc = cli_int("--batch-size", optarg, 1, 4096, &o.batch); break;
        case 'r': rc = cli_float("--lr", optarg, 0, 1, &o.lr); break;
        case O_MINLR: rc = cli_float("--min-lr", optarg, 0, 1, &o.min_lr), min_lr_set = 1; break;
        case O_WARMUP: rc = cli_int("--warmup", optarg, 0, 1 << 24, &o.warmup); break;
        case O_WD: rc = cli_float("--weight-decay", optarg, 0, 10, &o.weight_decay); break;
        case O_CLIP: rc = cli_float("--clip", optarg, 0, 1e6f, &o.clip); break;
        case 's': rc = cli_long("--seed", optarg, 0, 0x7fffffffL, &seed); break;
        case O_EVERY: rc = cli_int("--eval-every", optarg, 0, 1 << 24, &o.eval_every); break;
        case O_SAVE: rc = cli_int("--save-every", optarg, 0, 1 << 24, &o.save_every); break;
        case O_STOP: rc = cli_int("--stop-at", optarg, 0, 1 << 24, &o.stop_at); break;
        case O_QUIET: o.log = NULL; break;
        case O_EXTEND: o.extend = 1; break;
        case 't': rc = cli_dtype("--dtype", optarg, &o.dtype); break;
        default: rc = cli_bad_option("train", argc, argv);
        }
    }
    if (!rc)
        rc = cli_no_operands("train", argc, argv);
    if (!rc && (!data || !out))
        rc = hc_fail(HC_EUSAGE, "train: --data FILE.tokens and --out DIR are required");
    if (!rc && cfg.d_model % cfg.n_head)
        rc = hc_fail(HC_EUSAGE, "train: --d-model %d is not a multiple of --heads %d", cfg.d_model, cfg.n_head);
    if (rc)
        return hc_errstatus();
    cfg.d_head = cfg.d_model / cfg.n_head;
    cfg.d_mlp = d_mlp ? d_mlp : 4 * cfg.d_model;
    cfg.bos = cfg.d_vocab - 1;
    if (!min_lr_set)
        o.min_lr = o.lr / 10;
    o.seq = cfg.n_ctx;
    o.seed = (uint64_t)seed;

    int32_t *train = NULL, *eval = NULL;
    size_t n_train = 0, n_eval = 0;
    double loss = NAN;
    rc = hc_tokens_load(data, cfg.d_vocab, &train, &n_train) ||
         (eval_path && hc_tokens_load(eval_path, cfg.d_vocab, &eval, &n_eval)) ||
         hc_train(&cfg, &o, train, n_train, eval, n_eval, out, cfg.d_vocab == 50257 ? cli_data_dir() : NULL, &loss);
    if (!rc && eval)
        printf("held-out loss %.4f\n", loss);
    free(train);
    free(eval);
    return rc ? hc_errstatus() : 0;
}
