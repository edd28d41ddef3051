/* The GPT-2 forward pass (llm.c's structure, OpenBLAS for every matmul).
 * Row-major throughout; N = B*S tokens. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/error.h"
#include "headcal/forward.h"
#include "headcal/pool.h"

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
static inline __attribute__((always_inline)) void gelu_new(float *x, size_t n)
{
    const float k = -2.0f * 0.7978845608028654f;
    for (size_t i = 0; i < n; i++) {
        float v = x[i], e = k * (v + 0.044715f * v * v * v);
        e = e > 80.0f ? 80.0f : e; /* keeps expf finite */
        x[i] = v / (1.0f + expf(e));
    }
}

/* The loops through expf are compiled for AVX-512, AVX2 and the default
 * build's SSE, and the CPU's widest runs: at SSE width hc_exp_rows took a
 * tenth of a training step.  The choice is made here rather than by
 * target_clones, whose ifunc resolver runs before a sanitizer's runtime
 * is ready. */
enum { SIMD_SSE, SIMD_AVX2, SIMD_AVX512 };

static int simd_width(void)
{
    if (__builtin_cpu_supports("avx512f"))
        return SIMD_AVX512;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? SIMD_AVX2 : SIMD_SSE;
}

__attribute__((target("avx512f"))) static void gelu_new_avx512(float *x, size_t n) { gelu_new(x, n); }
__attribute__((target("avx2,fma"))) static void gelu_new_avx2(float *x, size_t n) { gelu_new(x, n); }

void hc_gelu_new(float *x, size_t n)
{
    switch (simd_width()) {
    case SIMD_AVX512: gelu_new_avx512(x, n); break;
    case SIMD_AVX2: gelu_new_avx2(x, n); break;
    default: gelu_new(x, n);
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

/* The steps between the products run on the pool (hc_acts.threads): on
 * one core they took about a third of the forward pass's time on two.  A task's
 * work does not depend on which thread runs it, nor on how many there
 * are, so neither do the results. */
enum { ROWS_PER_TASK = 32 };

typedef enum { STEP_LN, STEP_GELU, STEP_ADD, STEP_ATTENTION } step_kind;

typedef struct {
    step_kind kind;
    size_t N;
    int D;
    float *out, *scale;
    const float *x, *y, *w, *b;
    float eps;
    /* attention: B sequences of S positions, H heads of dh; att is per
     * worker ([threads, S, S]) or, with per_head, per (sequence, head) */
    int B, S, H, dh, per_head;
    float *att;
} step_job;

static int step_task(void *ctx, int task, int worker)
{
    const step_job *j = ctx;
    const size_t r0 = (size_t)task * ROWS_PER_TASK, n = j->N - r0 < ROWS_PER_TASK ? j->N - r0 : ROWS_PER_TASK;
    const size_t at = r0 * (size_t)j->D, len = n * (size_t)j->D;
    switch (j->kind) {
    case STEP_LN:
        hc_layernorm(j->out + at, j->scale ? j->scale + r0 : NULL, j->x + at, j->w, j->b, n, j->D, j->eps);
        break;
    case STEP_GELU:
        hc_gelu_new(j->out + at, len);
        break;
    case STEP_ADD:
        for (size_t i = 0; i < len; i++)
            j->out[at + i] = j->x[at + i] + j->y[at + i];
        break;
    case STEP_ATTENTION: {
        /* task = sequence · H + head */
        const int s = task / j->H, hd = task % j->H, D = j->H * j->dh;
        const float *q = j->x + (size_t)s * j->S * 3 * D + hd * j->dh;
        float *att = j->att + (j->per_head ? (size_t)task : (size_t)worker) * j->S * j->S;
        hc_attention_head(j->out + (size_t)s * j->S * D + hd * j->dh, att, q, q + D, q + 2 * D, j->S, j->dh, 3 * D,
                          D);
        break;
    }
    }
    return 0;
}

static int run_step(const step_job *j, int threads)
{
    const int tasks = j->kind == STEP_ATTENTION ? j->B * j->H : (int)((j->N + ROWS_PER_TASK - 1) / ROWS_PER_TASK);
    return hc_pool_run(threads, tasks, step_task, (void *)j, NULL);
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
    const int threads = acts->threads > 0 ? acts->threads : openblas_get_num_threads();
    float *att = tr ? NULL : hc_malloc((size_t)threads * S * S * sizeof(float));
    int rc = (!tr && (!x || !h || !qkv || !a || !att)) || (!acts->z && !tr && !zb) || (!acts->mlp_out && !mb) ? -1
                                                                                                                : 0;
    step_job ln = {.kind = STEP_LN, .N = N, .D = D, .eps = c->ln_eps}, gelu = {.kind = STEP_GELU, .N = N, .D = F};
    step_job add = {.kind = STEP_ADD, .N = N, .D = D};
    step_job heads = {.kind = STEP_ATTENTION, .B = B, .S = S, .H = H, .dh = dh, .per_head = tr != NULL};
    if (!rc) {
        float *x0 = tr ? tr->x : x;
        /* x[N, D] = W_E[tok] + W_pos[pos] */
        for (size_t t = 0; t < N; t++) {
            const float *e = p->w_e + (size_t)tokens[t] * D, *ps = p->w_pos + (t % S) * D;
            for (int i = 0; i < D; i++)
                x0[t * D + i] = e[i] + ps[i];
        }
        for (int l = 0; l < L && !rc; l++) {
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
            ln.out = b.h1, ln.x = b.x, ln.w = p->ln1_w + l * D, ln.b = p->ln1_b + l * D;
            rc = run_step(&ln, threads);
            matmul(b.qkv, b.h1, p->w_qkv + (size_t)l * D * 3 * D, p->b_qkv + l * 3 * D, N, D, 3 * D, 0.0f);
            heads.out = b.z, heads.x = b.qkv, heads.att = b.att;
            rc = rc ? rc : run_step(&heads, threads);
            if (b.xm != b.x)
                memcpy(b.xm, b.x, N * D * sizeof(float));
            matmul(b.xm, b.z, p->w_o + (size_t)l * D * D, p->b_o + l * D, N, D, D, 1.0f);
            ln.out = b.h2, ln.x = b.xm, ln.w = p->ln2_w + l * D, ln.b = p->ln2_b + l * D;
            rc = rc ? rc : run_step(&ln, threads);
            matmul(b.a, b.h2, p->w_in + (size_t)l * D * F, p->b_in + (size_t)l * F, N, D, F, 0.0f);
            if (b.g != b.a)
                memcpy(b.g, b.a, N * F * sizeof(float));
            gelu.out = b.g;
            rc = rc ? rc : run_step(&gelu, threads);
            matmul(b.mo, b.g, p->w_out + (size_t)l * F * D, p->b_out + l * D, N, F, D, 0.0f);
            add.out = b.xo, add.x = b.xm, add.y = b.mo;
            rc = rc ? rc : run_step(&add, threads);
            if (tr && acts->z && b.z != tr->z + nd)
                memcpy(tr->z + nd, b.z, N * D * sizeof(float));
        }
        const float *xf = tr ? tr->x + (size_t)L * N * D : x;
        float *hf = tr ? tr->hf : h;
        if (acts->resid)
            memcpy(acts->resid, xf, N * D * sizeof(float));
        ln.out = hf, ln.scale = acts->scale, ln.x = xf, ln.w = p->lnf_w, ln.b = p->lnf_b;
        rc = rc ? rc : run_step(&ln, threads);
        if (acts->logits && !rc)
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

static inline __attribute__((always_inline)) void exp_rows(float *a, size_t ld, int rows, int cols, float *max,
                                                           float *sum)
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

__attribute__((target("avx512f"))) static void exp_rows_avx512(float *a, size_t ld, int rows, int cols, float *max,
                                                               float *sum)
{
    exp_rows(a, ld, rows, cols, max, sum);
}

__attribute__((target("avx2,fma"))) static void exp_rows_avx2(float *a, size_t ld, int rows, int cols, float *max,
                                                              float *sum)
{
    exp_rows(a, ld, rows, cols, max, sum);
}

void hc_exp_rows(float *a, size_t ld, int rows, int cols, float *max, float *sum)
{
    switch (simd_width()) {
    case SIMD_AVX512: exp_rows_avx512(a, ld, rows, cols, max, sum); break;
    case SIMD_AVX2: exp_rows_avx2(a, ld, rows, cols, max, sum); break;
    default: exp_rows(a, ld, rows, cols, max, sum);
    }
}
