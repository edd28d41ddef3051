/* headcal synth: a random GPT-2 checkpoint in HF layout. */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "headcal/error.h"
#include "headcal/synth.h"

int cmd_synth(int argc, char **argv)
{
    hc_synth_opts o = {.cfg = {.n_layer = 2, .n_head = 4, .d_model = 64, .n_ctx = 128, .d_vocab = 50257,
                               .ln_eps = 1e-5f, .bos = 50256},
                       .dtype = HC_F32,
                       .seed = 0};
    const char *out = NULL;
    int d_mlp = 0;
    long seed = 0;
    enum { O_PREFIX = 256, O_LMHEAD, O_EXTRAS, O_DMLP };
    static const cli_option opts[] = {
        {0, "out", 'o', "DIR", "the checkpoint directory"},
        {0, "layers", 'l', "L", "layers (default 2)"},
        {0, "heads", 'h', "H", "heads per layer (default 4)"},
        {0, "d-model", 'd', "D", "residual width (default 64)"},
        {0, "n-ctx", 'c', "C", "context length (default 128)"},
        {0, "dtype", 't', "f32|f16|bf16", "storage of the tensors (default f32)"},
        {0, "seed", 's', "S", "the weights' seed (default 0)"},
        {0, "d-mlp", O_DMLP, "F", "MLP width (default 4 x d_model)"},
        {0, "prefix", O_PREFIX, NULL, "name the tensors transformer.*"},
        {0, "lm-head", O_LMHEAD, NULL, "write an untied lm_head.weight"},
        {0, "extras", O_EXTRAS, NULL, "add the attn.bias and masked_bias buffers of HF checkpoints"},
        {0},
    };
    cli_getopt g;
    if (cli_getopt_init(&g, "synth --out DIR [--layers L --heads H --d-model D --d-mlp F --n-ctx C "
                            "--dtype f32|f16|bf16 --seed S] [--prefix] [--lm-head] [--extras]",
                        opts, NULL, NULL, argc, argv))
        return 0;
    int ch, rc = 0;
    while (!rc && (ch = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
        switch (ch) {
        case 'o': out = optarg; break;
        case 'l': rc = cli_int("--layers", optarg, 1, 256, &o.cfg.n_layer); break;
        case 'h': rc = cli_int("--heads", optarg, 1, 256, &o.cfg.n_head); break;
        case 'd': rc = cli_int("--d-model", optarg, 1, 16384, &o.cfg.d_model); break;
        case 'c': rc = cli_int("--n-ctx", optarg, 2, 1 << 16, &o.cfg.n_ctx); break;
        case O_DMLP: rc = cli_int("--d-mlp", optarg, 1, 1 << 17, &d_mlp); break;
        case 's': rc = cli_long("--seed", optarg, 0, 0x7fffffffL, &seed); break;
        case 't': rc = cli_dtype("--dtype", optarg, &o.dtype); break;
        case O_PREFIX: o.prefix = 1; break;
        case O_LMHEAD: o.lm_head = 1; break;
        case O_EXTRAS: o.extras = 1; break;
        default: rc = cli_bad_option("synth", argc, argv);
        }
    }
    if (!rc)
        rc = cli_no_operands("synth", argc, argv);
    if (!rc && !out)
        rc = hc_fail(HC_EUSAGE, "synth: --out DIR is required");
    if (!rc && o.cfg.d_model % o.cfg.n_head)
        rc = hc_fail(HC_EUSAGE, "synth: --d-model %d is not a multiple of --heads %d", o.cfg.d_model, o.cfg.n_head);
    if (rc)
        return hc_errstatus();
    o.cfg.d_head = o.cfg.d_model / o.cfg.n_head;
    o.cfg.d_mlp = d_mlp ? d_mlp : 4 * o.cfg.d_model;
    o.seed = (uint64_t)seed;
    o.tokenizer_dir = cli_data_dir();
    return hc_synth_write(out, &o) ? hc_errstatus() : 0;
}
