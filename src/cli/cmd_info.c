/* headcal info: what a checkpoint is, without running it. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/model.h"
#include "headcal/safetensors.h"

int cmd_info(int argc, char **argv)
{
    static const cli_option opts[] = {
        {0, "model", 'm', "DIR", "the model directory"},
        {0},
    };
    cli_getopt g;
    if (cli_getopt_init(&g, "info --model DIR", opts, NULL, NULL, argc, argv))
        return 0;
    const char *dir = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
        if (ch != 'm') {
            cli_bad_option("info", argc, argv);
            return HC_EUSAGE;
        }
        dir = optarg;
    }
    if (!dir || optind < argc) {
        hc_fail(HC_EUSAGE, "info: usage: headcal info --model DIR");
        return HC_EUSAGE;
    }
    /* Loading validates every tensor; the header alone says what is stored. */
    hc_model m;
    if (hc_model_load(&m, dir))
        return hc_errstatus();
    char path[4200];
    hc_safetensors st;
    if (hc_path_join(path, sizeof path, dir, "model.safetensors") || hc_st_open(&st, path)) {
        hc_model_free(&m);
        return hc_errstatus();
    }
    const hc_config *c = &m.cfg;
    const hc_st_tensor *wte = hc_st_find(&st, "wte.weight");
    printf("model: %s\n", dir);
    printf("n_layers: %d\nn_heads: %d\nd_model: %d\nd_head: %d\nd_mlp: %d\nn_ctx: %d\nd_vocab: %d\n", c->n_layer,
           c->n_head, c->d_model, c->d_head, c->d_mlp, c->n_ctx, c->d_vocab);
    printf("layer_norm_epsilon: %g\nbos_token_id: %d\n", c->ln_eps, c->bos);
    printf("dtype: %s\ntensors: %d\n", wte ? wte->dtype_name : "?", st.n_tensors);
    int tied = !hc_st_find(&st, "lm_head.weight");
    printf("unembedding: %s\n", tied ? "tied to wte" : "lm_head.weight");
    /* w_u and b_u are headcal's own: b_u is always zero in GPT-2, and a
     * tied w_u is wte again */
    size_t V = (size_t)c->d_vocab;
    printf("parameters: %zu\n", m.n_floats - V - (tied ? V * (size_t)c->d_model : 0));
    hc_st_close(&st);
    hc_model_free(&m);
    return 0;
}
