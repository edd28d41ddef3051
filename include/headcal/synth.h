/* Random GPT-2 checkpoints in the HF layout, for tests and benchmarks. */
#ifndef HEADCAL_SYNTH_H
#define HEADCAL_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include "headcal/model.h"
#include "headcal/safetensors.h"

typedef struct {
    hc_config cfg;
    enum hc_dtype dtype;
    uint64_t seed;
    bool prefix;      /* names with "transformer." (as many HF repos have) */
    bool lm_head;     /* an untied lm_head.weight */
    bool extras;      /* h.N.attn.bias / masked_bias buffers, to be ignored */
    const char *tokenizer_dir; /* vocab.json and merges.txt copied from here */
} hc_synth_opts;

/* Fills m's parameters with seeded random values.  Embeddings are large
 * enough that predictions are confident, LayerNorm weights and biases are
 * not trivial, so that weight processing is exercised. */
void hc_synth_params(hc_model *m, uint64_t seed);
/* GPT-2's own initialisation for training: weights N(0, 0.02), the two
 * residual projections (attn.c_proj, mlp.c_proj) N(0, 0.02/sqrt(2L)),
 * position embeddings N(0, 0.01), biases 0, LayerNorm weights 1; w_u tied. */
void hc_gpt2_init(hc_model *m, uint64_t seed);
/* splitmix64: the seeded generator behind synth and training. */
uint64_t hc_splitmix64(uint64_t *state);
/* Writes config.json, model.safetensors, vocab.json and merges.txt to dir
 * (created if missing). */
int hc_synth_write(const char *dir, const hc_synth_opts *o);

#endif
