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
    int threads;     /* threads for the steps between the products (layer
                        norms, attention, GELU); 0: as many as OpenBLAS
                        has, which is one inside a pool task.  The results
                        are the same bits on any number.                  */
} hc_acts;

/* Runs the model on tokens[B*S] (ids < d_vocab, S <= n_ctx). */
int hc_forward(const hc_model *m, const int32_t *tokens, int B, int S, const hc_acts *acts);

/* Every intermediate of one forward pass, kept for the training backward
 * pass (N = B*S rows, per layer l at l*N*width).  Training runs the same
 * hc_forward_trace as the analysis, so a trained model is evaluated by the
 * network it was trained as. */
typedef struct {
    float *x;   /* [L+1, N, D] residual entering layer l; x[L] enters ln_f */
    float *h1;  /* [L, N, D]   ln_1 output                                 */
    float *qkv; /* [L, N, 3D]                                              */
    float *att; /* [L, B, H, S, S] attention probabilities                 */
    float *z;   /* [L, N, D]   heads concatenated, before W_O              */
    float *xm;  /* [L, N, D]   residual after attention                    */
    float *h2;  /* [L, N, D]   ln_2 output                                 */
    float *a;   /* [L, N, F]   MLP pre-activation                          */
    float *g;   /* [L, N, F]   gelu_new(a)                                 */
    float *hf;  /* [N, D]      ln_f output                                 */
} hc_trace;

int hc_trace_alloc(hc_trace *t, const hc_config *cfg, int B, int S);
void hc_trace_free(hc_trace *t);

/* hc_forward that also fills tr (when not NULL). */
int hc_forward_trace(const hc_model *m, const int32_t *tokens, int B, int S, const hc_acts *acts, const hc_trace *tr);

/* logits[rows, V] = h[rows, D] · W_U + b_U, the forward pass's last
 * product.  tied: W_U is read as w_eᵀ and there is no bias (a model in
 * training, whose w_u is not kept). */
void hc_unembed(float *logits, const hc_model *m, const float *h, size_t rows, int tied);

/* The first half of a softmax over a [rows, cols] block of a matrix whose
 * rows are ld floats apart (a slice of the vocabulary, for the trainer's
 * cross-entropy): max[r] = the row's largest entry, each entry replaced by
 * exp(entry - max[r]), sum[r] = their sum (in float, vectorised). */
void hc_exp_rows(float *a, size_t ld, int rows, int cols, float *max, float *sum);

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
/* d[i] *= gelu_new'(x[i]): the derivative of the same function. */
void hc_gelu_new_backward(float *d, const float *x, size_t n);

#endif
