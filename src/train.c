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
#include "headcal/sha256.h"
#include "headcal/synth.h"
#include "headcal/train.h"

#define HEAD_ROWS 256              /* logits rows in flight: [256, V] */

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

/* Backward of linear: dx[N, rows] (+)= dy · Wᵀ, dW[rows, cols] += xᵀ · dy,
 * db[cols] += Σ_t dy.  beta 0 overwrites dx, 1 adds to it. */
static void linear_back(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W, size_t N,
                        int rows, int cols, float beta)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, rows, cols, 1.0f, dy, cols, W, cols, beta, dx,
                rows);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, cols, (int)N, 1.0f, x, rows, dy, cols, 1.0f, dW,
                cols);
    for (size_t t = 0; t < N; t++)
        for (int j = 0; j < cols; j++)
            db[j] += dy[t * cols + j];
}

/* dx[N, D] += LN'(x)ᵀ dy; dw, db [D] accumulate.  With x̂ = (x - μ)/σ:
 * dx = (ĝ - mean(ĝ) - x̂·mean(ĝ·x̂)) / σ where ĝ = dy ⊙ w. */
static void ln_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, size_t N,
                        int D, float eps)
{
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
 * page by page every step. */
struct hc_train_ws {
    int B, S;
    hc_trace tr;
    float *lg;      /* [HEAD_ROWS, V] logits, then their gradient       */
    double *rl;     /* [HEAD_ROWS]    per-row loss                      */
    float *dhf, *dx; /* [N, D]                                           */
    float *scratch; /* the backward pass's: dh1 | dxm | dz | dqkv | da | datt */
};

hc_train_ws *hc_train_ws_new(const hc_config *cfg, int B, int S)
{
    size_t N = (size_t)B * S, D = (size_t)cfg->d_model, F = (size_t)cfg->d_mlp, V = (size_t)cfg->d_vocab;
    size_t R = N < HEAD_ROWS ? N : HEAD_ROWS;
    hc_train_ws *w = hc_calloc(1, sizeof *w);
    if (!w)
        return NULL;
    *w = (hc_train_ws){.B = B, .S = S, .lg = hc_malloc(R * V * sizeof(float)), .rl = hc_malloc(R * sizeof(double)),
                       .dhf = hc_malloc(N * D * sizeof(float)), .dx = hc_malloc(N * D * sizeof(float)),
                       .scratch = hc_malloc((N * 6 * D + N * F + (size_t)S * S) * sizeof(float))};
    if (w->lg && w->rl && w->dhf && w->dx && w->scratch && !hc_trace_alloc(&w->tr, cfg, B, S))
        return w;
    hc_train_ws_free(w);
    return NULL;
}

void hc_train_ws_free(hc_train_ws *w)
{
    if (!w)
        return;
    hc_trace_free(&w->tr);
    free(w->lg);
    free(w->rl);
    free(w->dhf);
    free(w->dx);
    free(w->scratch);
    free(w);
}

/* The tied head, HEAD_ROWS rows at a time so [N, V] logits never exist:
 * logits by the forward pass's own unembedding, loss = -log softmax[target];
 * with grad, dhf[N, D] = dlogits · w_e and dw_e = dlogitsᵀ · hf (written
 * by the first block, added by the others), dlogits = (softmax -
 * onehot)/N. */
static int head(const hc_model *m, hc_train_ws *w, const float *hf, const int32_t *targets, size_t N, float *dhf,
                float *dw_e, double *loss)
{
    const int D = m->cfg.d_model, V = m->cfg.d_vocab;
    int rc = 0;
    double total = 0;
    for (size_t t0 = 0; !rc && t0 < N; t0 += HEAD_ROWS) {
        int r = (int)(N - t0 < HEAD_ROWS ? N - t0 : HEAD_ROWS);
        hc_unembed(w->lg, m, hf + t0 * D, (size_t)r, 1);
        rc = hc_xent_rows(w->lg, targets + t0, (size_t)r, V, dhf ? 1.0f / (float)N : 0.0f, w->rl);
        for (int i = 0; !rc && i < r; i++)
            total += w->rl[i]; /* in row order: the same sum however the rows were shared out */
        if (!rc && dhf) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, D, V, 1.0f, w->lg, V, m->p.w_e, D, 0.0f,
                        dhf + t0 * D, D);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, D, r, 1.0f, w->lg, V, hf + t0 * D, D,
                        t0 ? 1.0f : 0.0f, dw_e, D);
        }
    }
    *loss = total / (double)N;
    return rc;
}

static void backward(const hc_model *m, const int32_t *tokens, int B, int S, const hc_trace *c, float *dx, hc_params *g,
                     float *scratch)
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
    for (size_t t = 0; t < N; t++)
        for (int i = 0; i < D; i++) {
            g->w_e[(size_t)tokens[t] * D + i] += dx[t * D + i];
            g->w_pos[(t % S) * D + i] += dx[t * D + i];
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

/* The forward pass (hc_forward_trace, the analysis's own), the head, and
 * with grad the backward pass. */
static int pass(const hc_model *m, hc_train_ws *w, const int32_t *tokens, const int32_t *targets, int B, int S,
                float *grad, double *loss)
{
    if (check_batch(m, tokens, targets, B, S))
        return -1;
    if (w->S != S || w->B < B)
        return hc_fail(HC_EBAD, "train: a workspace for %d×%d used for %d×%d", w->B, w->S, B, S);
    const hc_config *cf = &m->cfg;
    size_t N = (size_t)B * S, D = (size_t)cf->d_model;
    int rc = hc_forward_trace(m, tokens, B, S, &(hc_acts){0}, &w->tr);
    if (!rc && !grad)
        return head(m, w, w->tr.hf, targets, N, NULL, NULL, loss);
    if (rc)
        return rc;
    hc_params g;
    hc_params_layout(&g, cf, grad);
    /* everything but w_e, which the head writes first */
    size_t ve = (size_t)cf->d_vocab * D, at = (size_t)(g.w_e - grad);
    memset(grad, 0, at * sizeof(float));
    memset(g.w_e + ve, 0, (m->n_floats - at - ve) * sizeof(float));
    rc = head(m, w, w->tr.hf, targets, N, w->dhf, g.w_e, loss);
    if (!rc) {
        memset(w->dx, 0, N * D * sizeof(float));
        ln_backward(w->dx, g.lnf_w, g.lnf_b, w->dhf, w->tr.x + (size_t)cf->n_layer * N * D, m->p.lnf_w, N, (int)D,
                    cf->ln_eps);
        backward(m, tokens, B, S, &w->tr, w->dx, &g, w->scratch);
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
    hc_trace tr;
    if (check_batch(m, tokens, tokens, B, S) || hc_trace_alloc(&tr, &m->cfg, B, S))
        return -1;
    int rc = hc_forward_trace(m, tokens, B, S, &(hc_acts){0}, &tr);
    if (!rc)
        hc_unembed(logits, m, tr.hf, (size_t)B * S, 1);
    hc_trace_free(&tr);
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

/* Step k's batch: B random windows of S+1 tokens, from a generator seeded
 * by (seed, k) alone, so a resumed run sees the same batches. */
static void sample_batch(int32_t *tok, int32_t *tgt, const int32_t *train, size_t n, int B, int S, uint64_t seed,
                         int step)
{
    uint64_t s = seed ^ ((uint64_t)(step + 1) * 0x9e3779b97f4a7c15ull);
    size_t span = n - (size_t)S;
    for (int b = 0; b < B; b++) {
        size_t at = (size_t)(hc_splitmix64(&s) % span);
        memcpy(tok + (size_t)b * S, train + at, (size_t)S * sizeof(int32_t));
        memcpy(tgt + (size_t)b * S, train + at + 1, (size_t)S * sizeof(int32_t));
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
    hc_train_ws *ws = hc_train_ws_new(cfg, B, S);
    char data_sha[65];
    hc_sha256_buf(train, n_train * sizeof *train, data_sha);
    int rc = (!a.m || !a.v || !grad || !decay || !tok || !tgt || !ws) ? -1 : load_state(dir, &m, &a, o, data_sha);
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
        sample_batch(tok, tgt, train, n_train, B, S, o->seed, k);
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
    hc_model_free(&m);
    return rc;
}
