/* A GPT-2 model in memory: config, one float32 slab for all parameters, and
 * the TransformerLens weight processing (docs/design.md, "Weight processing"). */
#ifndef HEADCAL_MODEL_H
#define HEADCAL_MODEL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int n_layer, n_head, d_model, d_head, d_mlp, n_ctx, d_vocab;
    float ln_eps;
    int bos;                /* bos_token_id (50256 for GPT-2) */
} hc_config;

/* Reads and validates config.json (GPT-2 fields, docs/design.md, "The model"); anything
 * headcal cannot run is rejected by name. */
int hc_config_load(hc_config *cfg, const char *path);

/* Shapes are written [rows, cols] in HF Conv1D layout: y = x · W + b.
 * Per-layer tensors are contiguous over layers: w_qkv[l] is at
 * w_qkv + l * D * 3D, and so on. */
typedef struct {
    float *w_e;     /* [V, D]    token embedding                            */
    float *w_pos;   /* [C, D]    position embedding                         */
    float *ln1_w;   /* [L, D]                                               */
    float *ln1_b;   /* [L, D]                                               */
    float *w_qkv;   /* [L, D, 3D] columns q | k | v, head h at h*dh..       */
    float *b_qkv;   /* [L, 3D]                                              */
    float *w_o;     /* [L, D, D]  rows h*dh..h*dh+dh-1 belong to head h     */
    float *b_o;     /* [L, D]                                               */
    float *ln2_w;   /* [L, D]                                               */
    float *ln2_b;   /* [L, D]                                               */
    float *w_in;    /* [L, D, F]                                            */
    float *b_in;    /* [L, F]                                               */
    float *w_out;   /* [L, F, D]                                            */
    float *b_out;   /* [L, D]                                               */
    float *lnf_w;   /* [D]                                                  */
    float *lnf_b;   /* [D]                                                  */
    float *w_u;     /* [D, V]    unembedding (wte transposed, or lm_head)   */
    float *b_u;     /* [V]       zero in HF GPT-2; set by fold_ln           */
} hc_params;

typedef struct {
    hc_config cfg;
    hc_params p;
    float *slab;            /* every parameter lives here */
    size_t n_floats;
    bool processed;         /* hc_model_process has run */
    char dir[4096];
} hc_model;

/* Number of floats the slab needs for a config (0 on overflow). */
size_t hc_params_size(const hc_config *cfg);
/* Points p's fields into slab according to cfg. */
void hc_params_layout(hc_params *p, const hc_config *cfg, float *slab);

/* Loads DIR/config.json and DIR/model.safetensors (F32, F16 or BF16).
 * Validates every tensor's shape against the config. */
int hc_model_load(hc_model *m, const char *dir);
/* Allocates a zeroed model for cfg (used by synth and tests). */
int hc_model_alloc(hc_model *m, const hc_config *cfg);
void hc_model_free(hc_model *m);
/* Writes an unprocessed model as DIR/model.safetensors (HF names) and
 * DIR/config.json.  prefix: names with "transformer."; lm_head: an untied
 * lm_head.weight from w_u; extras: the attn.bias / masked_bias buffers HF
 * checkpoints carry (readers must ignore them). */
int hc_model_save(const hc_model *m, const char *dir, int dtype, bool prefix, bool lm_head, bool extras);
int hc_config_save(const hc_config *cfg, const char *path);

/* TransformerLens fold_ln, center_writing_weights, center_unembed,
 * fold_value_biases, in that order.  Probabilities are unchanged; logits
 * change by a per-position constant.  After this, LayerNorm weights are 1
 * and biases 0 (the forward pass still applies them). */
void hc_model_process(hc_model *m);

#endif
