/* The GPT-2 forward pass (llm.c's structure, OpenBLAS for every matmul).
 * Row-major throughout; N = B*S tokens. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/error.h"
#include "headcal/forward.h"

float hc_layernorm_row(float *out, const float *x, const float *w, const float *b, int D, float eps)
{
    double s = 0, ss = 0;
    for (int i = 0; i < D; i++)
        s += x[i];
    double mean = s / D;
    for (int i = 0; i < D; i++) {
        double d = x[i] - mean;
        ss += d * d;
    }
    float scale = (float)sqrt(ss / D + eps), inv = 1.0f / scale, m = (float)mean;
    for (int i = 0; i < D; i++) {
        float n = (x[i] - m) * inv;
        out[i] = w ? n * w[i] + b[i] : n;
    }
    return scale;
}

void hc_layernorm(float *out, float *scale, const float *x, const float *w, const float *b, size_t N, int D,
                  float eps)
{
    for (size_t t = 0; t < N; t++) {
        float s = hc_layernorm_row(out + t * D, x + t * D, w, b, D, eps);
        if (scale)
            scale[t] = s;
    }
}

/* y[N, cols] = x[N, rows] · W[rows, cols] + bias[cols]; beta = 1 adds to y */
static void matmul(float *y, const float *x, const float *W, const float *bias, size_t N, int rows, int cols,
                   float beta)
{
    if (beta == 0.0f) {
        for (size_t t = 0; t < N; t++)
            memcpy(y + t * cols, bias, (size_t)cols * sizeof(float));
    } else {
        for (size_t t = 0; t < N; t++)
            for (int j = 0; j < cols; j++)
                y[t * cols + j] += bias[j];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, cols, rows, 1.0f, x, rows, W, cols, 1.0f, y,
                cols);
}

/* gelu_new(x) = 0.5·x·(1 + tanh(u)) = x·sigmoid(2u), u = √(2/π)(x + 0.044715x³):
 * the sigmoid form vectorises through expf where tanhf stays scalar. */
void hc_gelu_new(float *x, size_t n)
{
    const float k = -2.0f * 0.7978845608028654f;
    for (size_t i = 0; i < n; i++) {
        float v = x[i], e = k * (v + 0.044715f * v * v * v);
        e = e > 80.0f ? 80.0f : e; /* keeps expf finite */
        x[i] = v / (1.0f + expf(e));
    }
}

void hc_attention_head(float *z, float *att, const float *q, const float *k, const float *v, int S, int dh,
                       int ld_qkv, int ld_z)
{
    float alpha = 1.0f / sqrtf((float)dh);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, S, S, dh, alpha, q, ld_qkv, k, ld_qkv, 0.0f, att, S);
    for (int i = 0; i < S; i++) {
        float *row = att + (size_t)i * S, mx = row[0], sum = 0;
        for (int j = 1; j <= i; j++)
            mx = row[j] > mx ? row[j] : mx;
        for (int j = 0; j <= i; j++) {
            row[j] = expf(row[j] - mx);
            sum += row[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j <= i; j++)
            row[j] *= inv;
        for (int j = i + 1; j < S; j++)
            row[j] = 0.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, S, dh, S, 1.0f, att, S, v, ld_qkv, 0.0f, z, ld_z);
}

/* z[S, D] (head columns) for one sequence; qkv[S, 3D]; att[S, S] scratch. */
static void attention(float *z, const float *qkv, float *att, int S, int D, int H)
{
    int dh = D / H;
    for (int h = 0; h < H; h++)
        hc_attention_head(z + h * dh, att, qkv + h * dh, qkv + D + h * dh, qkv + 2 * D + h * dh, S, dh, 3 * D, D);
}

int hc_forward(const hc_model *m, const int32_t *tokens, int B, int S, const hc_acts *acts)
{
    const hc_config *c = &m->cfg;
    const hc_params *p = &m->p;
    const int D = c->d_model, F = c->d_mlp, V = c->d_vocab, L = c->n_layer;
    if (B < 1 || S < 1 || S > c->n_ctx)
        return hc_fail(HC_EBAD, "forward: %d positions do not fit the context of %d", S, c->n_ctx);
    size_t N = (size_t)B * S;
    for (size_t t = 0; t < N; t++)
        if (tokens[t] < 0 || tokens[t] >= V)
            return hc_fail(HC_EBAD, "token id %d is outside the vocabulary (size %d)", tokens[t], V);
    float *x = hc_malloc(N * D * sizeof(float)), *h = hc_malloc(N * D * sizeof(float));
    float *qkv = hc_malloc(N * 3 * D * sizeof(float)), *a = hc_malloc(N * F * sizeof(float));
    float *zb = acts->z ? NULL : hc_malloc(N * D * sizeof(float));
    float *mb = acts->mlp_out ? NULL : hc_malloc(N * D * sizeof(float));
    float *att = hc_malloc((size_t)S * S * sizeof(float));
    int rc = (!x || !h || !qkv || !a || (!acts->z && !zb) || (!acts->mlp_out && !mb) || !att) ? -1 : 0;
    if (!rc) {
        /* x[N, D] = W_E[tok] + W_pos[pos] */
        for (size_t t = 0; t < N; t++) {
            const float *e = p->w_e + (size_t)tokens[t] * D, *ps = p->w_pos + (t % S) * D;
            for (int i = 0; i < D; i++)
                x[t * D + i] = e[i] + ps[i];
        }
        for (int l = 0; l < L; l++) {
            float *z = acts->z ? acts->z + (size_t)l * N * D : zb;
            float *mo = acts->mlp_out ? acts->mlp_out + (size_t)l * N * D : mb;
            hc_layernorm(h, NULL, x, p->ln1_w + l * D, p->ln1_b + l * D, N, D, c->ln_eps);
            matmul(qkv, h, p->w_qkv + (size_t)l * D * 3 * D, p->b_qkv + l * 3 * D, N, D, 3 * D, 0.0f);
            for (int b = 0; b < B; b++)
                attention(z + (size_t)b * S * D, qkv + (size_t)b * S * 3 * D, att, S, D, c->n_head);
            matmul(x, z, p->w_o + (size_t)l * D * D, p->b_o + l * D, N, D, D, 1.0f);
            hc_layernorm(h, NULL, x, p->ln2_w + l * D, p->ln2_b + l * D, N, D, c->ln_eps);
            matmul(a, h, p->w_in + (size_t)l * D * F, p->b_in + (size_t)l * F, N, D, F, 0.0f);
            hc_gelu_new(a, N * F);
            matmul(mo, a, p->w_out + (size_t)l * F * D, p->b_out + l * D, N, F, D, 0.0f);
            for (size_t i = 0; i < N * D; i++)
                x[i] += mo[i];
        }
        if (acts->resid)
            memcpy(acts->resid, x, N * D * sizeof(float));
        hc_layernorm(h, acts->scale, x, p->lnf_w, p->lnf_b, N, D, c->ln_eps);
        if (acts->logits)
            matmul(acts->logits, h, p->w_u, p->b_u, N, D, V, 0.0f);
    }
    free(x);
    free(h);
    free(qkv);
    free(a);
    free(zb);
    free(mb);
    free(att);
    return rc;
}
