/* headcal train: a small GPT-2 trained on the CPU from a .tokens file. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "headcal/error.h"
#include "headcal/tokenizer.h"
#include "headcal/train.h"

int cmd_train(int argc, char **argv)
{
    hc_config cfg = {.n_layer = 4, .n_head = 4, .d_model = 128, .n_ctx = 128, .d_vocab = 50257, .ln_eps = 1e-5f,
                     .bos = 50256};
    hc_train_opts o;
    hc_train_defaults(&o);
    o.log = stderr;
    const char *data = NULL, *eval_path = NULL, *out = NULL, *tokenizer = NULL;
    int d_mlp = 0;
    long seed = 1;
    enum { O_DMLP = 256, O_EVAL, O_MINLR, O_WARMUP, O_WD, O_CLIP, O_EVERY, O_SAVE, O_QUIET, O_VOCAB, O_STOP, O_EXTEND,
           O_TOKENIZER };
    static const cli_option opts[] = {
        {0, "data", 'D', "FILE", "the training token file"},
        {0, "eval", O_EVAL, "FILE", "the held-out token file"},
        {0, "out", 'o', "DIR", "output and checkpoint directory (created if missing)"},
        {0, "layers", 'l', "N", "layers (default 4)"},
        {0, "heads", 'h', "N", "heads per layer (default 4)"},
        {0, "d-model", 'd', "N", "residual width (default 128)"},
        {0, "d-mlp", O_DMLP, "N", "MLP width (default 4 x d_model)"},
        {0, "n-ctx", 'c', "N", "context length (default 128)"},
        {0, "vocab", O_VOCAB, "N", "vocabulary size (default 50257, GPT-2's)"},
        {0, "tokenizer", O_TOKENIZER, "DIR",
         "vocab.json and merges.txt to copy beside the model (default GPT-2's where --vocab is 50257)"},
        {0, "steps", 'n', "N", "optimizer steps (default 1000)"},
        {0, "batch-size", 'b', "N", "sequences per step (default 16)"},
        {0, "lr", 'r', "X", "peak learning rate (default 2e-3)"},
        {0, "min-lr", O_MINLR, "X", "final learning rate (default lr/10)"},
        {0, "warmup", O_WARMUP, "N", "warmup steps (default 50)"},
        {0, "weight-decay", O_WD, "X", "AdamW weight decay (default 0.1)"},
        {0, "clip", O_CLIP, "X", "gradient-norm clip (default 1; 0 disables)"},
        {0, "seed", 's', "N", "initialisation and batch sampling (default 1)"},
        {0, "eval-every", O_EVERY, "N", "held-out loss interval in steps (default 100; 0: at the end)"},
        {0, "save-every", O_SAVE, "N", "checkpoint interval in steps (default 100; 0: at the end)"},
        {0, "dtype", 't', "f32|f16|bf16", "storage of model.safetensors (default f32)"},
        {0, "stop-at", O_STOP, "N", "leave, checkpointed, after step N"},
        {0, "quiet", O_QUIET, NULL, "no progress lines"},
        {0, "extend", O_EXTEND, NULL, "a resume may change --steps (and nothing else)"},
        {0},
    };
    cli_getopt g;
    if (cli_getopt_init(&g, "train --data FILE.tokens --eval FILE.tokens --out DIR [options]", opts, NULL, NULL,
                        argc, argv))
        return 0;
    int ch, rc = 0, min_lr_set = 0;
    while (!rc && (ch = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
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
        case O_TOKENIZER: tokenizer = optarg; break;
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
    if (!rc && tokenizer) {
        hc_tokenizer *tk = NULL;
        rc = hc_tokenizer_load_dir(&tk, tokenizer);
        if (!rc && hc_tokenizer_vocab_size(tk) != cfg.d_vocab)
            rc = hc_fail(HC_EUSAGE, "train: %s has %d tokens, not --vocab %d", tokenizer, hc_tokenizer_vocab_size(tk),
                         cfg.d_vocab);
        hc_tokenizer_free(tk);
    }
    if (!tokenizer && cfg.d_vocab == 50257)
        tokenizer = cli_data_dir();
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
         hc_train(&cfg, &o, train, n_train, eval, n_eval, out, tokenizer, &loss);
    if (!rc && eval)
        printf("held-out loss %.4f\n", loss);
    free(train);
    free(eval);
    return rc ? hc_errstatus() : 0;
}
