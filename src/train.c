/* GPT-2 training: the analysis's forward pass (hc_forward_trace keeps what
 * the backward pass needs), the tied head, the backward pass, and the AdamW
 * loop with checkpoints.  Row-major
 * throughout; N = B*S tokens; matmuls in HF Conv1D layout y = x · W + b. */
#include <cJSON.h>
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "headcal/clock.h"
#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/forward.h"
#include "headcal/pool.h"
#include "headcal/sha256.h"
#include "headcal/synth.h"
#include "headcal/train.h"

#define HEAD_ROWS 256  /* logits rows in flight: [256, V] */
#define HEAD_COLS 1024 /* vocabulary ids per head task: [256, 1024] logits, 1 MB, stay in a core's L2 */
#define SHARD_ROWS 128 /* tokens per shard of the layers' passes, at least */
/* the shards' copies of the layers' gradient, at most (but for two shards):
 * a model of GPT-2 small's size has 340 MB of them per shard */
#define SHARD_BYTES ((size_t)256 << 20)

void hc_train_defaults(hc_train_opts *o)
{
    *o = (hc_train_opts){.batch = 16, .steps = 1000, .warmup = 50, .lr = 2e-3f, .min_lr = 2e-4f,
                         .weight_decay = 0.1f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .clip = 1.0f,
                         .seed = 1, .eval_every = 100, .save_every = 100, .dtype = HC_F32};
}

int hc_tokens_load(const char *path, int vocab, int32_t **ids, size_t *n)
{
    char *buf;
    size_t len;
    if (hc_read_file(path, (size_t)1 << 34, &buf, &len))
        return -1;
    if (len % 2 || len < 4) {
        free(buf);
        return hc_fail(HC_EBAD, "%s: not a .tokens file (uint16 ids; %zu bytes)", path, len);
    }
    *n = len / 2;
    *ids = hc_malloc(*n * sizeof(int32_t));
    for (size_t i = 0; *ids && i < *n; i++) {
        const unsigned char *b = (const unsigned char *)buf + 2 * i;
        (*ids)[i] = b[0] | b[1] << 8;
        if ((*ids)[i] >= vocab) {
            int bad = (*ids)[i];
            free(*ids);
            *ids = NULL;
            free(buf);
            return hc_fail(HC_EBAD, "%s: token %zu is %d, outside the vocabulary (%d)", path, i, bad, vocab);
        }
    }
    free(buf);
    return *ids ? 0 : -1;
}

/* ------------------------------------------------------------ kernels */

/* Backward of linear: dx[N, rows] (+)= dy · Wᵀ, dW[rows, cols] = xᵀ · dy,
 * db[cols] = Σ_t dy (a pass uses each weight once, so the gradients are
 * written, not added to).  beta 0 overwrites dx, 1 adds to it. */
static void linear_back(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W, size_t N,
                        int rows, int cols, float beta)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, rows, cols, 1.0f, dy, cols, W, cols, beta, dx,
                rows);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, cols, (int)N, 1.0f, x, rows, dy, cols, 0.0f, dW,
                cols);
    memset(db, 0, (size_t)cols * sizeof(float));
    for (size_t t = 0; t < N; t++)
        for (int j = 0; j < cols; j++)
            db[j] += dy[t * cols + j];
}

/* dx[N, D] += LN'(x)ᵀ dy; dw, db [D] written.  With x̂ = (x - μ)/σ:
 * dx = (ĝ - mean(ĝ) - x̂·mean(ĝ·x̂)) / σ where ĝ = dy ⊙ w. */
static void ln_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, size_t N,
                        int D, float eps)
{
    memset(dw, 0, (size_t)D * sizeof(float));
    memset(db, 0, (size_t)D * sizeof(float));
    for (size_t t = 0; t < N; t++) {
        const float *xr = x + t * D, *g = dy + t * D;
        double s = 0, ss = 0;
        for (int i = 0; i < D; i++)
            s += xr[i];
        float mean = (float)(s / D);
        for (int i = 0; i < D; i++)
            ss += (double)(xr[i] - mean) * (xr[i] - mean);
        float rstd = 1.0f / (float)sqrt(ss / D + eps);
        float mg = 0, mgx = 0;
        for (int i = 0; i < D; i++) {
            float xh = (xr[i] - mean) * rstd, gh = g[i] * w[i];
            dw[i] += g[i] * xh;
            db[i] += g[i];
            mg += gh;
            mgx += gh * xh;
        }
        mg /= D;
        mgx /= D;
        for (int i = 0; i < D; i++) {
            float xh = (xr[i] - mean) * rstd;
            dx[t * D + i] += (g[i] * w[i] - mg - xh * mgx) * rstd;
        }
    }
}

/* ------------------------------------------------------------ model passes */

/* Backward of hc_attention_head given dz: dq, dk, dv (strided like q, k, v) are
 * written; datt[S, S] is scratch.  dP = dz·vᵀ, dS = P ⊙ (dP - Σ_j P dP). */
static void attn_backward(float *dq, float *dk, float *dv, float *datt, const float *dz, const float *att,
                          const float *q, const float *k, const float *v, int S, int dh, int ld_qkv, int ld_z)
{
    float alpha = 1.0f / sqrtf((float)dh);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, S, S, dh, 1.0f, dz, ld_z, v, ld_qkv, 0.0f, datt, S);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, S, dh, S, 1.0f, att, S, dz, ld_z, 0.0f, dv, ld_qkv);
    for (int i = 0; i < S; i++) {
        const float *p = att + (size_t)i * S;
        float *d = datt + (size_t)i * S, dot = 0;
        for (int j = 0; j <= i; j++)
            dot += p[j] * d[j];
        for (int j = 0; j <= i; j++)
            d[j] = p[j] * (d[j] - dot) * alpha;
        memset(d + i + 1, 0, (size_t)(S - i - 1) * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, S, dh, S, 1.0f, datt, S, k, ld_qkv, 0.0f, dq, ld_qkv);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, S, dh, S, 1.0f, datt, S, q, ld_qkv, 0.0f, dk, ld_qkv);
}

/* Buffers of a step, reused from step to step: allocated afresh, the
 * hundreds of megabytes of a step at the default shape would be faulted in
 * page by page every step.
 *
 * The layers run data-parallel: the batch is cut into shards of G
 * sequences (about SHARD_ROWS tokens), each a pool task that runs the
 * forward pass, and later the backward pass, of its own sequences with
 * single-threaded products, its weight gradients into its own copy of the
 * layers' section of the gradient (gp), which are then added in shard
 * order.  The shards depend on B and S only, so the gradient is the same
 * on any number of threads. */
struct hc_train_ws {
    int B, S;
    int G, n_shard;   /* sequences per shard, shards                        */
    size_t P;         /* floats of the layers' gradient: ln1_w up to w_u     */
    size_t n_scratch; /* floats of a shard's backward scratch               */
    hc_trace *tr;     /* [n_shard] each shard's forward pass                 */
    float *gp;        /* [n_shard, P]                                        */
    float *scratch;   /* [n_shard, n_scratch]: dh1 | dxm | dz | dqkv | da | datt */
    int R, NS;        /* head: rows per block, vocabulary slices             */
    float *lg;        /* [R, V]     logits, then exp(logit - the slice's max) */
    float *mx, *se;   /* [NS, R]    per slice and row: max, Σ exp(logit - max) */
    float *sc;        /* [NS, R]    per slice and row: the gradient's scale   */
    float *zt;        /* [R]        the target's logit                       */
    double *rl;       /* [R]        the row's loss                           */
    float *dhp;       /* [NS, R, D] P_s, then c_s ⊙ hf (head())              */
    float *hf;        /* [N, D]     ln_f output, gathered from the shards    */
    float *dhf, *dx;  /* [N, D]                                              */
};

hc_train_ws *hc_train_ws_new(const hc_config *cfg, int B, int S)
{
    size_t N = (size_t)B * S, D = (size_t)cfg->d_model, F = (size_t)cfg->d_mlp, V = (size_t)cfg->d_vocab;
    size_t R = N < HEAD_ROWS ? N : HEAD_ROWS, NS = (V + HEAD_COLS - 1) / HEAD_COLS;
    /* every section but w_e, w_pos, w_u and b_u: ln1_w up to w_u */
    size_t P = hc_params_size(cfg) - V * D - (size_t)cfg->n_ctx * D - D * V - V;
    size_t most = SHARD_BYTES / (P * sizeof(float)) > 2 ? SHARD_BYTES / (P * sizeof(float)) : 2;
    /* whole sequences, about SHARD_ROWS tokens a shard, no more shards than
     * SHARD_BYTES of gradient copies hold */
    int G = (SHARD_ROWS + S - 1) / S;
    if ((size_t)(B + G - 1) / (size_t)G > most)
        G = (int)((B + most - 1) / most);
    G = G < B ? G : B;
    int n_shard = (B + G - 1) / G;
    size_t rows = (size_t)G * S;
    size_t n_scratch = rows * 6 * D + rows * F + (size_t)S * S;
    hc_train_ws *w = hc_calloc(1, sizeof *w);
    if (!w)
        return NULL;
    *w = (hc_train_ws){.B = B, .S = S, .G = G, .n_shard = n_shard, .P = P, .n_scratch = n_scratch,
                       .tr = hc_calloc((size_t)n_shard, sizeof(hc_trace)),
                       .gp = hc_malloc(n_shard * P * sizeof(float)),
                       .scratch = hc_malloc(n_shard * n_scratch * sizeof(float)), .R = (int)R, .NS = (int)NS,
                       .lg = hc_malloc(R * V * sizeof(float)), .mx = hc_malloc(NS * R * sizeof(float)),
                       .se = hc_malloc(NS * R * sizeof(float)), .sc = hc_malloc(NS * R * sizeof(float)),
                       .zt = hc_malloc(R * sizeof(float)), .rl = hc_malloc(R * sizeof(double)),
                       .dhp = hc_malloc(NS * R * D * sizeof(float)),
                       .hf = hc_malloc(N * D * sizeof(float)), .dhf = hc_malloc(N * D * sizeof(float)),
                       .dx = hc_malloc(N * D * sizeof(float))};
    int ok = w->tr && w->gp && w->scratch && w->lg && w->mx && w->se && w->sc && w->zt && w->rl && w->dhp &&
             w->hf && w->dhf && w->dx;
    for (int k = 0; ok && k < n_shard; k++)
        ok = !hc_trace_alloc(&w->tr[k], cfg, G, S);
    if (ok)
        return w;
    hc_train_ws_free(w);
    return NULL;
}

void hc_train_ws_free(hc_train_ws *w)
{
    if (!w)
        return;
    for (int k = 0; w->tr && k < w->n_shard; k++)
        hc_trace_free(&w->tr[k]);
    free(w->tr);
    float *f[] = {w->gp, w->scratch, w->lg, w->mx, w->se, w->sc, w->zt, w->dhp, w->hf, w->dhf, w->dx};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(f[i]);
    free(w->rl);
    free(w);
}

/* lg[rows, ids v0..v0+cols) (rows V apart) = h[rows, D] · w_eᵀ: the tied
 * head's logits, one task's slice; hc_train_logits computes them by the
 * same calls, so the test that they are hc_forward's tests these. */
static void logits_slice(float *lg, const hc_model *m, const float *h, int rows, int v0, int cols)
{
    const int D = m->cfg.d_model;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, D, 1.0f, h, D, m->p.w_e + (size_t)v0 * D, D,
                0.0f, lg, m->cfg.d_vocab);
}

/* One block of the head's rows, its vocabulary cut into the workspace's
 * NS slices of HEAD_COLS ids: a task is one slice (its own columns of the
 * logits, its own rows of dw_e), so the slices run on every core, each
 * product single-threaded, and what a task computes does not depend on
 * how many threads there are.  The softmax needs each row's normaliser
 * over every slice, so a block runs in three rounds:
 *   1. per slice s: logits, e = exp(logit - m_s) with m_s the row's max in
 *      the slice, the row sums, and P_s = e · w_e[s] while e is in cache;
 *   2. per row: the normaliser Z = Σ_s sum_s·exp(m_s - M), the loss, and
 *      c_s = exp(m_s - M)/(Z·N), so that d logits = c_s·e - onehot/N in
 *      slice s, and dhf = Σ_s c_s·P_s - w_e[target]/N (in slice order);
 *   3. per slice s: dw_e[s] (+)= eᵀ · (c_s ⊙ hf), less hf/N at the targets.
 * e is read twice and never rewritten. */
typedef struct {
    const hc_model *m;
    hc_train_ws *w;
    const float *hf;      /* [r, D] the block's final hidden states        */
    const int32_t *tgt;   /* [r]                                           */
    int r;
    float gs;             /* 1/N                                           */
    float *dhf;           /* [r, D] the block's rows of d hf (NULL: loss only) */
    float *dw_e, beta;    /* beta 0: the first block writes dw_e            */
} head_job;

static int slice_cols(const head_job *j, int s)
{
    int left = j->m->cfg.d_vocab - s * HEAD_COLS;
    return left < HEAD_COLS ? left : HEAD_COLS;
}

static int head_slice_task(void *ctx, int s, int worker)
{
    const head_job *j = ctx;
    hc_train_ws *w = j->w;
    const int D = j->m->cfg.d_model, V = j->m->cfg.d_vocab, v0 = s * HEAD_COLS, cols = slice_cols(j, s);
    float *e = w->lg + v0;
    logits_slice(e, j->m, j->hf, j->r, v0, cols);
    for (int i = 0; i < j->r; i++)
        if (j->tgt[i] >= v0 && j->tgt[i] < v0 + cols)
            w->zt[i] = e[(size_t)i * V + (j->tgt[i] - v0)];
    hc_exp_rows(e, (size_t)V, j->r, cols, w->mx + (size_t)s * w->R, w->se + (size_t)s * w->R);
    if (j->dhf)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->r, D, cols, 1.0f, e, V,
                    j->m->p.w_e + (size_t)v0 * D, D, 0.0f, w->dhp + (size_t)s * w->R * D, D);
    return 0;
}

#define NORM_ROWS 16 /* rows per task of round 2 */

static int head_norm_task(void *ctx, int c, int worker)
{
    const head_job *j = ctx;
    hc_train_ws *w = j->w;
    const int D = j->m->cfg.d_model, R = w->R, NS = w->NS;
    for (int i = c * NORM_ROWS; i < j->r && i < (c + 1) * NORM_ROWS; i++) {
        float mx = w->mx[i];
        for (int s = 1; s < NS; s++)
            mx = w->mx[(size_t)s * R + i] > mx ? w->mx[(size_t)s * R + i] : mx;
        double z = 0;
        for (int s = 0; s < NS; s++) {
            size_t k = (size_t)s * R + i;
            double f = exp((double)w->mx[k] - mx);
            w->sc[k] = (float)f;
            z += f * w->se[k];
        }
        w->rl[i] = log(z) + mx - w->zt[i];
        if (!j->dhf)
            continue;
        float *d = j->dhf + (size_t)i * D;
        memset(d, 0, (size_t)D * sizeof(float));
        for (int s = 0; s < NS; s++) {
            size_t k = (size_t)s * R + i;
            const float *p = w->dhp + k * D, cs = w->sc[k] = (float)(w->sc[k] / z * j->gs);
            for (int q = 0; q < D; q++)
                d[q] += cs * p[q];
        }
        const float *et = j->m->p.w_e + (size_t)j->tgt[i] * D;
        for (int q = 0; q < D; q++)
            d[q] -= j->gs * et[q];
    }
    return 0;
}

static int head_grad_task(void *ctx, int s, int worker)
{
    const head_job *j = ctx;
    hc_train_ws *w = j->w;
    const int D = j->m->cfg.d_model, V = j->m->cfg.d_vocab, v0 = s * HEAD_COLS, cols = slice_cols(j, s);
    float *hs = w->dhp + (size_t)s * w->R * D, *dw = j->dw_e + (size_t)v0 * D;
    const float *sc = w->sc + (size_t)s * w->R;
    for (int i = 0; i < j->r; i++)
        for (int q = 0; q < D; q++)
            hs[(size_t)i * D + q] = sc[i] * j->hf[(size_t)i * D + q];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, D, j->r, 1.0f, w->lg + v0, V, hs, D, j->beta, dw, D);
    for (int i = 0; i < j->r; i++)
        if (j->tgt[i] >= v0 && j->tgt[i] < v0 + cols)
            for (int q = 0; q < D; q++)
                dw[(size_t)(j->tgt[i] - v0) * D + q] -= j->gs * j->hf[(size_t)i * D + q];
    return 0;
}

/* The tied head, R rows at a time so [N, V] logits never exist: loss =
 * -log softmax[target]; with grad, dhf[N, D] = dlogits · w_e and dw_e =
 * dlogitsᵀ · hf, dlogits = (softmax - onehot)/N. */
static int head(const hc_model *m, hc_train_ws *w, const float *hf, const int32_t *targets, size_t N, float *dhf,
                float *dw_e, double *loss)
{
    const int D = m->cfg.d_model, R = w->R, NS = w->NS, threads = openblas_get_num_threads();
    int rc = 0;
    double total = 0;
    for (size_t t0 = 0; !rc && t0 < N; t0 += (size_t)R) {
        int r = (int)(N - t0 < (size_t)R ? N - t0 : (size_t)R);
        head_job j = {m, w, hf + t0 * D, targets + t0, r, 1.0f / (float)N, dhf ? dhf + t0 * D : NULL, dw_e,
                      t0 ? 1.0f : 0.0f};
        rc = hc_pool_run(threads, NS, head_slice_task, &j, NULL);
        if (!rc)
            rc = hc_pool_run(threads, (r + NORM_ROWS - 1) / NORM_ROWS, head_norm_task, &j, NULL);
        for (int i = 0; !rc && i < r; i++)
            total += w->rl[i]; /* in row order */
        if (!rc && dhf)
            rc = hc_pool_run(threads, NS, head_grad_task, &j, NULL);
    }
    *loss = total / (double)N;
    return rc;
}

static void backward(const hc_model *m, int B, int S, const hc_trace *c, float *dx, hc_params *g, float *scratch)
{
    const hc_config *cf = &m->cfg;
    const hc_params *p = &m->p;
    const int D = cf->d_model, F = cf->d_mlp, H = cf->n_head, dh = D / H;
    size_t N = (size_t)B * S;
    /* scratch: dh1 | dxm | dz | dqkv | da | datt */
    float *dn = scratch, *dxm = dn + N * D, *dz = dxm + N * D, *dqkv = dz + N * D, *da = dqkv + N * 3 * D;
    float *datt = da + N * F;
    for (int l = cf->n_layer - 1; l >= 0; l--) {
        const float *x = c->x + l * N * D, *h1 = c->h1 + l * N * D, *qkv = c->qkv + l * N * 3 * D;
        const float *z = c->z + l * N * D, *xm = c->xm + l * N * D, *h2 = c->h2 + l * N * D;
        const float *a = c->a + l * N * F, *gl = c->g + l * N * F, *att = c->att + (size_t)l * B * H * S * S;
        /* MLP: dx is d(loss)/d(residual out of layer l) */
        linear_back(da, g->w_out + (size_t)l * F * D, g->b_out + l * D, dx, gl, p->w_out + (size_t)l * F * D, N, F,
                    D, 0.0f);
        hc_gelu_new_backward(da, a, N * F);
        linear_back(dn, g->w_in + (size_t)l * D * F, g->b_in + (size_t)l * F, da, h2, p->w_in + (size_t)l * D * F,
                    N, D, F, 0.0f);
        memcpy(dxm, dx, N * D * sizeof(float));
        ln_backward(dxm, g->ln2_w + l * D, g->ln2_b + l * D, dn, xm, p->ln2_w + l * D, N, D, cf->ln_eps);
        /* attention */
        linear_back(dz, g->w_o + (size_t)l * D * D, g->b_o + l * D, dxm, z, p->w_o + (size_t)l * D * D, N, D, D,
                    0.0f);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                size_t qo = (size_t)b * S * 3 * D + h * dh;
                attn_backward(dqkv + qo, dqkv + qo + D, dqkv + qo + 2 * D, datt, dz + (size_t)b * S * D + h * dh,
                              att + ((size_t)b * H + h) * S * S, qkv + qo, qkv + qo + D, qkv + qo + 2 * D, S, dh,
                              3 * D, D);
            }
        linear_back(dn, g->w_qkv + (size_t)l * D * 3 * D, g->b_qkv + l * 3 * D, dqkv, h1,
                    p->w_qkv + (size_t)l * D * 3 * D, N, D, 3 * D, 0.0f);
        memcpy(dx, dxm, N * D * sizeof(float));
        ln_backward(dx, g->ln1_w + l * D, g->ln1_b + l * D, dn, x, p->ln1_w + l * D, N, D, cf->ln_eps);
    }
}

static int check_batch(const hc_model *m, const int32_t *tokens, const int32_t *targets, int B, int S)
{
    if (B < 1 || S < 1 || S > m->cfg.n_ctx)
        return hc_fail(HC_EBAD, "train: %d positions do not fit the context of %d", S, m->cfg.n_ctx);
    if (m->cfg.d_model % m->cfg.n_head)
        return hc_fail(HC_EBAD, "train: d_model %d is not a multiple of n_head %d", m->cfg.d_model, m->cfg.n_head);
    for (size_t t = 0; t < (size_t)B * S; t++)
        if (tokens[t] < 0 || tokens[t] >= m->cfg.d_vocab || targets[t] < 0 || targets[t] >= m->cfg.d_vocab)
            return hc_fail(HC_EBAD, "train: token id outside the vocabulary (size %d)", m->cfg.d_vocab);
    return 0;
}

/* The shards of a B×S batch (B may be below the workspace's). */
typedef struct {
    const hc_model *m;
    hc_train_ws *w;
    const int32_t *tokens;
    int B, S;
    const hc_params *g; /* the gradient, for the backward pass */
} shard_job;

static int shard_seqs(const shard_job *j, int k, size_t *t0)
{
    int b0 = k * j->w->G;
    *t0 = (size_t)b0 * j->S;
    return j->B - b0 < j->w->G ? j->B - b0 : j->w->G;
}

/* shard k's forward pass, the analysis's own (hc_forward_trace), and its
 * ln_f output copied to the head's rows */
static int forward_task(void *ctx, int k, int worker)
{
    const shard_job *j = ctx;
    size_t t0, D = (size_t)j->m->cfg.d_model;
    int nb = shard_seqs(j, k, &t0);
    int rc = hc_forward_trace(j->m, j->tokens + t0, nb, j->S, &(hc_acts){0}, &j->w->tr[k]);
    memcpy(j->w->hf + t0 * D, j->w->tr[k].hf, (size_t)nb * j->S * D * sizeof(float));
    return rc;
}

static int forward(const hc_model *m, hc_train_ws *w, const int32_t *tokens, int B, int S)
{
    shard_job j = {m, w, tokens, B, S, NULL};
    return hc_pool_run(openblas_get_num_threads(), (B + w->G - 1) / w->G, forward_task, &j, NULL);
}

/* shard k's backward pass from d hf to dx (d embedding input) of its rows;
 * its weight gradients go to its own gp, laid out like the gradient's
 * section from ln1_w */
static int backward_task(void *ctx, int k, int worker)
{
    const shard_job *j = ctx;
    hc_train_ws *w = j->w;
    const hc_config *cf = &j->m->cfg;
    size_t t0, D = (size_t)cf->d_model;
    int nb = shard_seqs(j, k, &t0);
    size_t n = (size_t)nb * j->S;
    float *part = w->gp + (size_t)k * w->P;
    hc_params g = *j->g;
    float **moved[] = {&g.ln1_w, &g.ln1_b, &g.w_qkv, &g.b_qkv, &g.w_o,  &g.b_o,   &g.ln2_w,
                       &g.ln2_b, &g.w_in,  &g.b_in,  &g.w_out, &g.b_out, &g.lnf_w, &g.lnf_b};
    for (size_t i = 0; i < sizeof moved / sizeof moved[0]; i++)
        *moved[i] = part + (*moved[i] - j->g->ln1_w);
    memset(w->dx + t0 * D, 0, n * D * sizeof(float));
    ln_backward(w->dx + t0 * D, g.lnf_w, g.lnf_b, w->dhf + t0 * D, w->tr[k].x + (size_t)cf->n_layer * n * D,
                j->m->p.lnf_w, n, (int)D, cf->ln_eps);
    backward(j->m, nb, j->S, &w->tr[k], w->dx + t0 * D, &g, w->scratch + (size_t)k * w->n_scratch);
    return 0;
}

#define SUM_CHUNK 16384 /* gradient floats per task of the shards' sum */

/* the layers' gradient = the shards' copies added in shard order */
static int sum_task(void *ctx, int c, int worker)
{
    const shard_job *j = ctx;
    const hc_train_ws *w = j->w;
    size_t i0 = (size_t)c * SUM_CHUNK, n = w->P - i0 < SUM_CHUNK ? w->P - i0 : SUM_CHUNK;
    float *out = j->g->ln1_w + i0;
    memcpy(out, w->gp + i0, n * sizeof(float));
    for (int k = 1; k < (j->B + w->G - 1) / w->G; k++) {
        const float *p = w->gp + (size_t)k * w->P + i0;
        for (size_t i = 0; i < n; i++)
            out[i] += p[i];
    }
    return 0;
}

/* The forward pass, the head, and with grad the backward pass: every part
 * on the pool, each thread's products single-threaded, so OpenBLAS's own
 * threads stay asleep instead of spinning against the pool's. */
static int pass(const hc_model *m, hc_train_ws *w, const int32_t *tokens, const int32_t *targets, int B, int S,
                float *grad, double *loss)
{
    if (check_batch(m, tokens, targets, B, S))
        return -1;
    if (w->S != S || w->B < B)
        return hc_fail(HC_EBAD, "train: a workspace for %d×%d used for %d×%d", w->B, w->S, B, S);
    const hc_config *cf = &m->cfg;
    const int threads = openblas_get_num_threads();
    size_t N = (size_t)B * S, D = (size_t)cf->d_model;
    int rc = forward(m, w, tokens, B, S);
    if (!rc && !grad)
        return head(m, w, w->hf, targets, N, NULL, NULL, loss);
    if (rc)
        return rc;
    hc_params g;
    hc_params_layout(&g, cf, grad);
    /* the head writes w_e, the shards' sum the layers' section; the rest
     * (w_pos, and w_u, b_u, which training leaves alone) starts at zero */
    memset(g.w_pos, 0, (size_t)(g.ln1_w - g.w_pos) * sizeof(float));
    memset(g.w_u, 0, (size_t)(grad + m->n_floats - g.w_u) * sizeof(float));
    rc = head(m, w, w->hf, targets, N, w->dhf, g.w_e, loss);
    shard_job j = {m, w, tokens, B, S, &g};
    if (!rc)
        rc = hc_pool_run(threads, (B + w->G - 1) / w->G, backward_task, &j, NULL);
    if (!rc)
        rc = hc_pool_run(threads, (int)((w->P + SUM_CHUNK - 1) / SUM_CHUNK), sum_task, &j, NULL);
    /* the embeddings' share, in token order */
    for (size_t t = 0; !rc && t < N; t++)
        for (size_t i = 0; i < D; i++) {
            g.w_e[(size_t)tokens[t] * D + i] += w->dx[t * D + i];
            g.w_pos[(t % S) * D + i] += w->dx[t * D + i];
        }
    return rc;
}

int hc_train_grad(const hc_model *m, hc_train_ws *ws, const int32_t *tokens, const int32_t *targets, int B, int S,
                  float *grad, double *loss)
{
    hc_train_ws *own = ws ? NULL : hc_train_ws_new(&m->cfg, B, S);
    if (!ws && !own)
        return -1;
    int rc = pass(m, ws ? ws : own, tokens, targets, B, S, grad, loss);
    hc_train_ws_free(own);
    return rc;
}

int hc_train_logits(const hc_model *m, const int32_t *tokens, int B, int S, float *logits)
{
    if (check_batch(m, tokens, tokens, B, S))
        return -1;
    hc_train_ws *w = hc_train_ws_new(&m->cfg, B, S);
    int rc = w ? forward(m, w, tokens, B, S) : -1;
    const int D = m->cfg.d_model, V = m->cfg.d_vocab;
    size_t N = (size_t)B * S;
    for (size_t t0 = 0; !rc && t0 < N; t0 += (size_t)w->R) {
        int r = (int)(N - t0 < (size_t)w->R ? N - t0 : (size_t)w->R);
        for (int v0 = 0; v0 < V; v0 += HEAD_COLS)
            logits_slice(logits + t0 * V + v0, m, w->hf + t0 * D, r, v0, V - v0 < HEAD_COLS ? V - v0 : HEAD_COLS);
    }
    hc_train_ws_free(w);
    return rc;
}

int hc_train_eval(const hc_model *m, hc_train_ws *ws, const int32_t *eval, size_t n, int B, int S, double *loss)
{
    size_t windows = n > (size_t)S ? (n - 1) / S : 0;
    if (!windows)
        return hc_fail(HC_EBAD, "train: the held-out set has %zu tokens, fewer than one window of %d", n, S + 1);
    int32_t *tok = hc_malloc((size_t)B * S * sizeof(int32_t)), *tgt = hc_malloc((size_t)B * S * sizeof(int32_t));
    double total = 0;
    int rc = (!tok || !tgt) ? -1 : 0;
    for (size_t w0 = 0; !rc && w0 < windows; w0 += (size_t)B) {
        int b = (int)(windows - w0 < (size_t)B ? windows - w0 : (size_t)B);
        for (int i = 0; i < b; i++) {
            memcpy(tok + (size_t)i * S, eval + (w0 + i) * S, (size_t)S * sizeof(int32_t));
            memcpy(tgt + (size_t)i * S, eval + (w0 + i) * S + 1, (size_t)S * sizeof(int32_t));
        }
        double l;
        rc = hc_train_grad(m, ws, tok, tgt, b, S, NULL, &l);
        total += l * b;
    }
    free(tok);
    free(tgt);
    *loss = total / (double)windows;
    return rc;
}

/* ------------------------------------------------------------ optimizer */

typedef struct {
    float *m, *v;   /* Adam moments, [n] each */
    size_t n;       /* trained floats: the slab up to w_u */
    int step;       /* steps done */
} adam;

static float lr_at(const hc_train_opts *o, int step)
{
    if (step < o->warmup)
        return o->lr * (float)(step + 1) / (float)o->warmup;
    int span = o->steps - o->warmup;
    float t = span > 0 ? (float)(step - o->warmup) / (float)span : 1.0f;
    return o->min_lr + 0.5f * (o->lr - o->min_lr) * (1.0f + cosf((float)M_PI * t));
}

/* Weight decay applies to matrices and embeddings, not to biases or
 * LayerNorm parameters: these sections of the slab, in slab order. */
static void decay_mask(const hc_model *m, unsigned char *mask)
{
    const hc_params *p = &m->p;
    const hc_config *c = &m->cfg;
    size_t L = (size_t)c->n_layer, D = (size_t)c->d_model, F = (size_t)c->d_mlp;
    struct {
        const float *at;
        size_t n;
    } mats[] = {{p->w_e, (size_t)c->d_vocab * D}, {p->w_pos, (size_t)c->n_ctx * D}, {p->w_qkv, L * D * 3 * D},
                {p->w_o, L * D * D},               {p->w_in, L * D * F},              {p->w_out, L * F * D}};
    for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++)
        memset(mask + (mats[i].at - m->slab), 1, mats[i].n);
}

static void adamw_step(adam *a, float *w, const float *g, const unsigned char *decay, const hc_train_opts *o,
                       float lr, float gscale)
{
    a->step++;
    float bc1 = 1.0f - powf(o->beta1, (float)a->step), bc2 = 1.0f - powf(o->beta2, (float)a->step);
    for (size_t i = 0; i < a->n; i++) {
        float gi = g[i] * gscale;
        a->m[i] = o->beta1 * a->m[i] + (1.0f - o->beta1) * gi;
        a->v[i] = o->beta2 * a->v[i] + (1.0f - o->beta2) * gi * gi;
        float upd = (a->m[i] / bc1) / (sqrtf(a->v[i] / bc2) + o->eps);
        if (decay[i])
            upd += o->weight_decay * w[i];
        w[i] -= lr * upd;
    }
}

/* ------------------------------------------------------------ checkpoints */

/* What a run is: every option that changes the trained numbers, recorded
 * in DIR/train-options.json when the run starts, so that a resume with
 * other options is refused instead of training a model of two runs.  Each
 * field with the command-line option that sets it. */
typedef struct {
    const char *key, *option;
    double value;
} run_field;

enum { N_FIELDS = 14 };

static void run_fields(run_field f[N_FIELDS], const hc_config *c, const hc_train_opts *o)
{
    const run_field all[N_FIELDS] = {
        {"n_layer", "--layers", c->n_layer},       {"n_head", "--heads", c->n_head},
        {"d_model", "--d-model", c->d_model},      {"d_mlp", "--d-mlp", c->d_mlp},
        {"n_ctx", "--n-ctx", c->n_ctx},            {"d_vocab", "--vocab", c->d_vocab},
        {"steps", "--steps", o->steps},            {"batch", "--batch-size", o->batch},
        {"lr", "--lr", o->lr},                     {"min_lr", "--min-lr", o->min_lr},
        {"warmup", "--warmup", o->warmup},         {"weight_decay", "--weight-decay", o->weight_decay},
        {"clip", "--clip", o->clip},               {"seed", "--seed", (double)o->seed},
    };
    memcpy(f, all, sizeof all);
}

static int options_save(const char *dir, const hc_config *c, const hc_train_opts *o, const char *data_sha)
{
    char path[4200];
    run_field f[N_FIELDS];
    run_fields(f, c, o);
    cJSON *root = cJSON_CreateObject();
    for (int i = 0; root && i < N_FIELDS; i++)
        cJSON_AddNumberToObject(root, f[i].key, f[i].value);
    if (root)
        cJSON_AddStringToObject(root, "data_sha256", data_sha);
    char *json = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    hc_atomic_file af;
    int rc = !json ? hc_fail(HC_EBAD, "out of memory")
                   : hc_path_join(path, sizeof path, dir, "train-options.json") || hc_atomic_open(&af, path);
    if (!rc) {
        fputs(json, af.f);
        fputc('\n', af.f);
        rc = hc_atomic_commit(&af);
    }
    free(json);
    return rc;
}

/* 0 when DIR/train-options.json records this run (a different --steps is
 * allowed with o->extend), else one line naming the first difference. */
static int options_check(const char *dir, const hc_config *c, const hc_train_opts *o, const char *data_sha)
{
    char path[4200], *text;
    size_t len;
    if (hc_path_join(path, sizeof path, dir, "train-options.json"))
        return -1;
    if (access(path, F_OK) != 0)
        return hc_fail(HC_EBAD, "%s: a training state without train-options.json; use another --out to start afresh",
                       dir);
    if (hc_read_file(path, 1 << 20, &text, &len))
        return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root)
        return hc_fail(HC_EBAD, "%s: not valid JSON", path);
    run_field f[N_FIELDS];
    run_fields(f, c, o);
    int rc = 0;
    for (int i = 0; !rc && i < N_FIELDS; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, f[i].key);
        if (!cJSON_IsNumber(v))
            rc = hc_fail(HC_EBAD, "%s: no number \"%s\"", path, f[i].key);
        /* floats compared as the floats they were recorded from */
        else if ((float)v->valuedouble != (float)f[i].value && !(o->extend && !strcmp(f[i].key, "steps")))
            rc = hc_fail(HC_EBAD, "%s: the run there was started with %s %.7g, not %.7g; use another --out to "
                                  "start afresh%s",
                         dir, f[i].option, (float)v->valuedouble, (float)f[i].value,
                         strcmp(f[i].key, "steps") ? "" : " (or --extend to continue it to the new --steps)");
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "data_sha256");
    if (!rc && (!cJSON_IsString(d) || strcmp(d->valuestring, data_sha)))
        rc = hc_fail(HC_EBAD, "%s: the run there was started on other --data (sha256 of the tokens %.12s…, not "
                              "%.12s…); use another --out to start afresh",
                     dir, cJSON_IsString(d) ? d->valuestring : "?", data_sha);
    cJSON_Delete(root);
    return rc;
}

/* A checkpoint: the model files, then the state.  The state is written
 * last, atomically, so its presence says the files beside it are complete;
 * a resume reads only the state and train-options.json, so a run killed
 * anywhere in a checkpoint resumes from the previous one (or starts afresh
 * if there was none). */
static int save_state(const char *dir, const hc_model *m, const adam *a, const hc_train_opts *o,
                      const char *tokenizer_dir)
{
    char path[4200];
    float step = (float)a->step;
    hc_st_out outs[] = {{"params", 1, {(int64_t)a->n}, m->slab},
                        {"adam_m", 1, {(int64_t)a->n}, a->m},
                        {"adam_v", 1, {(int64_t)a->n}, a->v},
                        {"step", 1, {1}, &step}};
    if (hc_model_save(m, dir, o->dtype, false, false, false) ||
        (tokenizer_dir &&
         (hc_copy_into(tokenizer_dir, dir, "vocab.json") || hc_copy_into(tokenizer_dir, dir, "merges.txt"))))
        return -1;
    return hc_path_join(path, sizeof path, dir, "train-state.safetensors") || hc_st_write(path, outs, 4, HC_F32)
               ? -1
               : 0;
}

/* Resumes from dir/train-state.safetensors if there is one, after checking
 * that it is this run's (0: fresh start or resumed, -1: refused).  A fresh
 * start, or an extended one, records the run's options. */
static int load_state(const char *dir, hc_model *m, adam *a, const hc_train_opts *o, const char *data_sha)
{
    char path[4200];
    struct stat sb;
    if (hc_path_join(path, sizeof path, dir, "train-state.safetensors"))
        return -1;
    if (stat(path, &sb) != 0)
        return options_save(dir, &m->cfg, o, data_sha);
    if (options_check(dir, &m->cfg, o, data_sha) || (o->extend && options_save(dir, &m->cfg, o, data_sha)))
        return -1;
    hc_safetensors st;
    if (hc_st_open(&st, path))
        return -1;
    const char *names[] = {"params", "adam_m", "adam_v", "step"};
    float *dst[] = {m->slab, a->m, a->v, NULL};
    float step = -1;
    int rc = 0;
    for (int i = 0; i < 4 && !rc; i++) {
        const hc_st_tensor *t = hc_st_find(&st, names[i]);
        size_t want = i == 3 ? 1 : a->n;
        if (!t || t->dtype != HC_F32 || t->n_elems != want)
            rc = hc_fail(HC_EBAD, "%s: tensor '%s' is missing or not F32[%zu]", path, names[i], want);
        else
            rc = hc_st_to_f32(t, dst[i] ? dst[i] : &step);
    }
    hc_st_close(&st);
    if (!rc && (step < 0 || step != floorf(step)))
        rc = hc_fail(HC_EBAD, "%s: bad step %g", path, step);
    if (!rc)
        a->step = (int)step;
    return rc;
}

/* ------------------------------------------------------------ the loop */

void hc_train_window_starts(uint64_t seed, int step, int B, size_t span, size_t *starts)
{
    /* Hashed, not just offset: streams started at seed ^ k·φ advance by φ
     * themselves, so step k + 2's draws would be step k's shifted by two
     * and a run would see about two new windows a step. */
    uint64_t h = seed ^ ((uint64_t)(step + 1) * 0x9e3779b97f4a7c15ull), s = hc_splitmix64(&h);
    for (int b = 0; b < B; b++)
        starts[b] = (size_t)(hc_splitmix64(&s) % span);
}

/* Step k's batch: B random windows of S+1 tokens. */
static void sample_batch(int32_t *tok, int32_t *tgt, const int32_t *train, size_t n, int B, int S, uint64_t seed,
                         int step, size_t *starts)
{
    hc_train_window_starts(seed, step, B, n - (size_t)S, starts);
    for (int b = 0; b < B; b++) {
        memcpy(tok + (size_t)b * S, train + starts[b], (size_t)S * sizeof(int32_t));
        memcpy(tgt + (size_t)b * S, train + starts[b] + 1, (size_t)S * sizeof(int32_t));
    }
}

int hc_train(const hc_config *cfg, const hc_train_opts *o, const int32_t *train, size_t n_train,
             const int32_t *eval, size_t n_eval, const char *dir, const char *tokenizer_dir, double *final_eval)
{
    *final_eval = NAN;
    if (n_train <= (size_t)o->seq + 1)
        return hc_fail(HC_EBAD, "train: the training set has %zu tokens, fewer than one window of %d", n_train,
                       o->seq + 1);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return hc_fail(HC_EBAD, "%s: cannot create directory: %s", dir, strerror(errno));
    hc_model m;
    if (hc_model_alloc(&m, cfg))
        return -1;
    hc_gpt2_init(&m, o->seed);
    adam a = {.n = (size_t)(m.p.w_u - m.slab)};
    int B = o->batch, S = o->seq;
    a.m = hc_calloc(a.n, sizeof(float));
    a.v = hc_calloc(a.n, sizeof(float));
    float *grad = hc_malloc(m.n_floats * sizeof(float));
    unsigned char *decay = hc_calloc(a.n, 1);
    int32_t *tok = hc_malloc((size_t)B * S * sizeof(int32_t)), *tgt = hc_malloc((size_t)B * S * sizeof(int32_t));
    size_t *starts = hc_malloc((size_t)B * sizeof *starts);
    hc_train_ws *ws = hc_train_ws_new(cfg, B, S);
    char data_sha[65];
    hc_sha256_buf(train, n_train * sizeof *train, data_sha);
    int rc = (!a.m || !a.v || !grad || !decay || !tok || !tgt || !starts || !ws) ? -1
                                                                                : load_state(dir, &m, &a, o, data_sha);
    if (!rc && a.step > o->steps)
        rc = hc_fail(HC_EBAD, "%s: the run there is at step %d, past --steps %d", dir, a.step, o->steps);
    if (!rc) {
        decay_mask(&m, decay);
        if (a.step && o->log)
            fprintf(o->log, "train: resuming %s at step %d\n", dir, a.step);
    }
    double t0 = hc_seconds(), tl = t0, loss_sum = 0;
    int start = a.step, logged = a.step, log_every = 10;
    int stop = o->stop_at > 0 && o->stop_at < o->steps ? o->stop_at : o->steps;
    while (!rc && a.step < stop) {
        int k = a.step;
        double loss;
        sample_batch(tok, tgt, train, n_train, B, S, o->seed, k, starts);
        rc = hc_train_grad(&m, ws, tok, tgt, B, S, grad, &loss);
        if (rc)
            break;
        double sq = 0;
        for (size_t i = 0; i < a.n; i++)
            sq += (double)grad[i] * grad[i];
        float norm = (float)sqrt(sq), scale = o->clip > 0 && norm > o->clip ? o->clip / norm : 1.0f;
        float lr = lr_at(o, k);
        adamw_step(&a, m.slab, grad, decay, o, lr, scale);
        loss_sum += loss;
        if (o->log && (a.step % log_every == 0 || a.step == o->steps)) {
            double t = hc_seconds(), tps = (double)(a.step - logged) * B * S / (t - tl);
            fprintf(o->log, "step %d/%d  loss %.4f  lr %.2e  |g| %.3f  %.0f tok/s  eta %.0f min\n", a.step,
                    o->steps, loss_sum / (a.step - logged), lr, norm, tps,
                    (double)(o->steps - a.step) * B * S / tps / 60.0);
            fflush(o->log);
            tl = t;
            logged = a.step;
            loss_sum = 0;
        }
        int last = a.step == o->steps || a.step == stop;
        if (eval && (last || (o->eval_every && a.step % o->eval_every == 0))) {
            rc = hc_train_eval(&m, ws, eval, n_eval, B, S, final_eval);
            if (!rc && o->log) {
                fprintf(o->log, "step %d  held-out loss %.4f  (%.0f s)\n", a.step, *final_eval, hc_seconds() - t0);
                fflush(o->log);
            }
        }
        if (!rc && (last || (o->save_every && a.step % o->save_every == 0)))
            rc = save_state(dir, &m, &a, o, tokenizer_dir);
    }
    /* nothing left to train (a finished run resumed): report, and rewrite
     * the checkpoint, in the dtype asked for now */
    if (!rc && a.step == start) {
        if (eval)
            rc = hc_train_eval(&m, ws, eval, n_eval, B, S, final_eval);
        if (!rc)
            rc = save_state(dir, &m, &a, o, tokenizer_dir);
    }
    free(a.m);
    free(a.v);
    free(grad);
    hc_train_ws_free(ws);
    free(decay);
    free(tok);
    free(tgt);
    free(starts);
    hc_model_free(&m);
    return rc;
}
