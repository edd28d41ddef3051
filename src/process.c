/* TransformerLens weight processing (docs/design.md, "Weight
 * processing"): fold_ln, center_writing_weights, center_unembed,
 * fold_value_biases.  After it the direct effect of a head is simply
 * (z_h · W_O^h) / σ · W_U. */
#include <stdlib.h>

#include "headcal/model.h"

/* Folds a LayerNorm (w, b) into the matrix it feeds, W[rows=D, cols] with
 * bias[cols], then centres W over its input axis: the normalised input has
 * zero mean, so a constant per column never reaches the output. */
static void fold_norm(float *W, float *bias, float *w, float *b, size_t D, size_t cols)
{
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < cols; j++)
            bias[j] += b[i] * W[i * cols + j];
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < cols; j++)
            W[i * cols + j] *= w[i];
    /* column means a block of columns at a time: rows stay contiguous and
     * the sums need no allocation that could fail */
    for (size_t j0 = 0; j0 < cols; j0 += 512) {
        size_t nj = cols - j0 < 512 ? cols - j0 : 512;
        double acc[512] = {0};
        for (size_t i = 0; i < D; i++)
            for (size_t j = 0; j < nj; j++)
                acc[j] += W[i * cols + j0 + j];
        for (size_t i = 0; i < D; i++)
            for (size_t j = 0; j < nj; j++)
                W[i * cols + j0 + j] -= (float)(acc[j] / (double)D);
    }
    for (size_t i = 0; i < D; i++) {
        w[i] = 1.0f;
        b[i] = 0.0f;
    }
}

/* Subtracts from each row of X[rows, D] its mean: what a component writes
 * into the residual stream then has zero mean, which LayerNorm removes. */
static void center_rows(float *X, size_t rows, size_t D)
{
    for (size_t r = 0; r < rows; r++) {
        double s = 0;
        for (size_t i = 0; i < D; i++)
            s += X[r * D + i];
        float mean = (float)(s / (double)D);
        for (size_t i = 0; i < D; i++)
            X[r * D + i] -= mean;
    }
}

void hc_model_process(hc_model *m)
{
    if (m->processed)
        return;
    const hc_config *c = &m->cfg;
    hc_params *p = &m->p;
    size_t D = (size_t)c->d_model, F = (size_t)c->d_mlp, V = (size_t)c->d_vocab;
    for (int l = 0; l < c->n_layer; l++) {
        fold_norm(p->w_qkv + l * D * 3 * D, p->b_qkv + l * 3 * D, p->ln1_w + l * D, p->ln1_b + l * D, D, 3 * D);
        fold_norm(p->w_in + l * D * F, p->b_in + l * F, p->ln2_w + l * D, p->ln2_b + l * D, D, F);
    }
    fold_norm(p->w_u, p->b_u, p->lnf_w, p->lnf_b, D, V);

    center_rows(p->w_e, V, D);
    center_rows(p->w_pos, (size_t)c->n_ctx, D);
    for (int l = 0; l < c->n_layer; l++) {
        center_rows(p->w_o + l * D * D, D, D);
        center_rows(p->b_o + l * D, 1, D);
        center_rows(p->w_out + l * F * D, F, D);
        center_rows(p->b_out + l * D, 1, D);
    }

    /* center_unembed: a per-position constant on the logits */
    center_rows(p->w_u, D, V);
    center_rows(p->b_u, 1, V);

    /* fold_value_biases: b_O += b_V · W_O, b_V = 0.  Attention weights sum
     * to one, so the value bias reaches the output unchanged. */
    for (int l = 0; l < c->n_layer; l++) {
        float *bv = p->b_qkv + l * 3 * D + 2 * D, *W = p->w_o + l * D * D, *bo = p->b_o + l * D;
        for (size_t i = 0; i < D; i++)
            for (size_t j = 0; j < D; j++)
                bo[j] += bv[i] * W[i * D + j];
        for (size_t i = 0; i < D; i++)
            bv[i] = 0.0f;
    }
    m->processed = true;
}
