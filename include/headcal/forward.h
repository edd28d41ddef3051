/* The GPT-2 forward pass on the CPU (OpenBLAS).  Tokens are a [B, S] batch;
 * right padding is harmless because attention is causal.  Every output is
 * optional: pass NULL for what you do not need. */
#ifndef HEADCAL_FORWARD_H
#define HEADCAL_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "headcal/model.h"

typedef struct {
    float *logits;   /* [B*S, V]    ln_f(resid) · W_U + b_U                  */
    float *resid;    /* [B*S, D]    residual stream entering ln_f            */
    float *scale;    /* [B*S]       ln_f scale sqrt(var + eps) of resid      */
    float *z;        /* [L, B*S, D] attention z per layer, heads concatenated
                                    (head h at columns h*dh..), before W_O   */
    float *mlp_out;  /* [L, B*S, D] MLP output per layer, bias included      */
} hc_acts;

/* Runs the model on tokens[B*S] (ids < d_vocab, S <= n_ctx). */
int hc_forward(const hc_model *m, const int32_t *tokens, int B, int S, const hc_acts *acts);

/* One head of causal attention over one sequence: att[S, S] = softmax(
 * mask(q·kᵀ/√dh)), z[S, dh] = att · v.  q, k, v are views with rows ld_qkv
 * floats apart, z with rows ld_z apart (head columns of a wider array). */
void hc_attention_head(float *z, float *att, const float *q, const float *k, const float *v, int S, int dh,
                       int ld_qkv, int ld_z);

/* LayerNorm of one row (biased variance, eps inside the sqrt); returns the
 * scale.  w and b may be NULL (the "pre" norm of a processed model). */
/* out[N, D] = LN(x[N, D]) row by row; scale[N] receives each row's scale
 * when not NULL. */
void hc_layernorm(float *out, float *scale, const float *x, const float *w, const float *b, size_t N, int D,
                  float eps);
float hc_layernorm_row(float *out, const float *x, const float *w, const float *b, int D, float eps);
/* GPT-2's gelu_new (tanh approximation), in place on x[n]. */
void hc_gelu_new(float *x, size_t n);

#endif
