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

int hc_trace_alloc(hc_trace *t, const hc_config *cfg, int B, int S)
{
    size_t L = (size_t)cfg->n_layer, N = (size_t)B * S, D = (size_t)cfg->d_model, F = (size_t)cfg->d_mlp;
    *t = (hc_trace){
        .x = hc_malloc((L + 1) * N * D * sizeof(float)),
        .h1 = hc_malloc(L * N * D * sizeof(float)),
        .qkv = hc_malloc(L * N * 3 * D * sizeof(float)),
        .att = hc_malloc(L * N * (size_t)cfg->n_head * S * sizeof(float)),
        .z = hc_malloc(L * N * D * sizeof(float)),
        .xm = hc_malloc(L * N * D * sizeof(float)),
        .h2 = hc_malloc(L * N * D * sizeof(float)),
        .a = hc_malloc(L * N * F * sizeof(float)),
        .g = hc_malloc(L * N * F * sizeof(float)),
        .hf = hc_malloc(N * D * sizeof(float)),
    };
    if (t->x && t->h1 && t->qkv && t->att && t->z && t->xm && t->h2 && t->a && t->g && t->hf)
        return 0;
    hc_trace_free(t);
    return -1;
}

void hc_trace_free(hc_trace *t)
{
    float *f[] = {t->x, t->h1, t->qkv, t->att, t->z, t->xm, t->h2, t->a, t->g, t->hf};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(f[i]);
    *t = (hc_trace){0};
}

void hc_unembed(float *logits, const hc_model *m, const float *h, size_t rows, int tied)
{
    const int D = m->cfg.d_model, V = m->cfg.d_vocab;
    if (tied)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, V, D, 1.0f, h, D, m->p.w_e, D, 0.0f,
                    logits, V);
    else
        matmul(logits, h, m->p.w_u, m->p.b_u, rows, D, V, 0.0f);
}

/* The intermediates of layer l: in the trace when there is one, otherwise
 * in the pass's own scratch (reused by every layer, the residual updated in
 * place). */
typedef struct {
    float *x, *h1, *qkv, *att, *z, *xm, *h2, *a, *g, *mo, *xo;
} layer_bufs;

int hc_forward_trace(const hc_model *m, const int32_t *tokens, int B, int S, const hc_acts *acts, const hc_trace *tr)
{
    const hc_config *c = &m->cfg;
    const hc_params *p = &m->p;
    const int D = c->d_model, F = c->d_mlp, V = c->d_vocab, L = c->n_layer, H = c->n_head, dh = D / H;
    if (B < 1 || S < 1 || S > c->n_ctx)
        return hc_fail(HC_EBAD, "forward: %d positions do not fit the context of %d", S, c->n_ctx);
    size_t N = (size_t)B * S;
    for (size_t t = 0; t < N; t++)
        if (tokens[t] < 0 || tokens[t] >= V)
            return hc_fail(HC_EBAD, "token id %d is outside the vocabulary (size %d)", tokens[t], V);
    /* scratch for what neither the trace nor acts holds */
    float *x = tr ? NULL : hc_malloc(N * D * sizeof(float)), *h = tr ? NULL : hc_malloc(N * D * sizeof(float));
    float *qkv = tr ? NULL : hc_malloc(N * 3 * D * sizeof(float)), *a = tr ? NULL : hc_malloc(N * F * sizeof(float));
    float *zb = acts->z || tr ? NULL : hc_malloc(N * D * sizeof(float));
    float *mb = acts->mlp_out ? NULL : hc_malloc(N * D * sizeof(float));
    float *att = tr ? NULL : hc_malloc((size_t)S * S * sizeof(float));
    int rc = (!tr && (!x || !h || !qkv || !a || !att)) || (!acts->z && !tr && !zb) || (!acts->mlp_out && !mb) ? -1
                                                                                                                : 0;
    if (!rc) {
        float *x0 = tr ? tr->x : x;
        /* x[N, D] = W_E[tok] + W_pos[pos] */
        for (size_t t = 0; t < N; t++) {
            const float *e = p->w_e + (size_t)tokens[t] * D, *ps = p->w_pos + (t % S) * D;
            for (int i = 0; i < D; i++)
                x0[t * D + i] = e[i] + ps[i];
        }
        for (int l = 0; l < L; l++) {
            size_t nd = (size_t)l * N * D;
            layer_bufs b;
            if (tr)
                b = (layer_bufs){tr->x + nd, tr->h1 + nd, tr->qkv + 3 * nd, tr->att + (size_t)l * N * H * S,
                                 tr->z + nd, tr->xm + nd, tr->h2 + nd, tr->a + (size_t)l * N * F,
                                 tr->g + (size_t)l * N * F, NULL, tr->x + nd + N * D};
            else
                b = (layer_bufs){x, h, qkv, att, NULL, x, h, a, a, NULL, x};
            b.z = acts->z ? acts->z + nd : tr ? tr->z + nd : zb;
            b.mo = acts->mlp_out ? acts->mlp_out + nd : mb;
            hc_layernorm(b.h1, NULL, b.x, p->ln1_w + l * D, p->ln1_b + l * D, N, D, c->ln_eps);
            matmul(b.qkv, b.h1, p->w_qkv + (size_t)l * D * 3 * D, p->b_qkv + l * 3 * D, N, D, 3 * D, 0.0f);
            for (int s = 0; s < B; s++)
                for (int hd = 0; hd < H; hd++) {
                    const float *q = b.qkv + (size_t)s * S * 3 * D + hd * dh;
                    float *pa = tr ? b.att + ((size_t)s * H + hd) * S * S : b.att;
                    hc_attention_head(b.z + (size_t)s * S * D + hd * dh, pa, q, q + D, q + 2 * D, S, dh, 3 * D, D);
                }
            if (b.xm != b.x)
                memcpy(b.xm, b.x, N * D * sizeof(float));
            matmul(b.xm, b.z, p->w_o + (size_t)l * D * D, p->b_o + l * D, N, D, D, 1.0f);
            hc_layernorm(b.h2, NULL, b.xm, p->ln2_w + l * D, p->ln2_b + l * D, N, D, c->ln_eps);
            matmul(b.a, b.h2, p->w_in + (size_t)l * D * F, p->b_in + (size_t)l * F, N, D, F, 0.0f);
            if (b.g != b.a)
                memcpy(b.g, b.a, N * F * sizeof(float));
            hc_gelu_new(b.g, N * F);
            matmul(b.mo, b.g, p->w_out + (size_t)l * F * D, p->b_out + l * D, N, F, D, 0.0f);
            for (size_t i = 0; i < N * D; i++)
                b.xo[i] = b.xm[i] + b.mo[i];
            if (tr && acts->z && b.z != tr->z + nd)
                memcpy(tr->z + nd, b.z, N * D * sizeof(float));
        }
        const float *xf = tr ? tr->x + (size_t)L * N * D : x;
        float *hf = tr ? tr->hf : h;
        if (acts->resid)
            memcpy(acts->resid, xf, N * D * sizeof(float));
        hc_layernorm(hf, acts->scale, xf, p->lnf_w, p->lnf_b, N, D, c->ln_eps);
        if (acts->logits)
            hc_unembed(acts->logits, m, hf, N, 0);
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

int hc_forward(const hc_model *m, const int32_t *tokens, int B, int S, const hc_acts *acts)
{
    return hc_forward_trace(m, tokens, B, S, acts, NULL);
}

/* gelu_new'(x) in the sigmoid form: with s = sigmoid(2u),
 * d/dx x·s = s + x·s·(1-s)·2u'(x), u' = √(2/π)(1 + 3·0.044715x²). */
void hc_gelu_new_backward(float *d, const float *x, size_t n)
{
    const float k = 2.0f * 0.7978845608028654f;
    for (size_t i = 0; i < n; i++) {
        float v = x[i], e = -k * (v + 0.044715f * v * v * v);
        e = e > 80.0f ? 80.0f : e;
        float s = 1.0f / (1.0f + expf(e));
        d[i] *= s + v * s * (1.0f - s) * k * (1.0f + 3.0f * 0.044715f * v * v);
    }
}

/* A tenth of a training step's time at the default build's SSE width:
 * cloned for AVX2 and AVX-512, the CPU's widest taken at load time. */
__attribute__((target_clones("avx512f", "avx2", "default")))
void hc_exp_rows(float *a, size_t ld, int rows, int cols, float *max, float *sum)
{
    for (int r = 0; r < rows; r++) {
        float *row = a + (size_t)r * ld, mx = row[0], s = 0;
        for (int i = 1; i < cols; i++)
            mx = row[i] > mx ? row[i] : mx;
        for (int i = 0; i < cols; i++) {
            row[i] = expf(row[i] - mx);
            s += row[i];
        }
        max[r] = mx;
        sum[r] = s;
    }
}
