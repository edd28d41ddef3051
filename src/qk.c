/* The bag-of-words QK panel (qk.h).  Only the bags' tokens get embeddings
 * (block 0 run on [n, D] rows, OpenBLAS for the matmuls); the scores are
 * accumulated in double. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/forward.h"
#include "headcal/mt19937.h"
#include "headcal/qk.h"

const char *const hc_qk_query_names[HC_QK_SIDES] = {"W_U", "MLP0", "W_EE"};
const char *const hc_qk_key_names[HC_QK_SIDES] = {"W_EE", "W_E", "MLP0"};

enum { X_WE, X_MLP0, X_WEE, X_WU, N_X };
static const int query_src[HC_QK_SIDES] = {X_WU, X_MLP0, X_WEE};
static const int key_src[HC_QK_SIDES] = {X_WEE, X_WE, X_MLP0};

struct hc_qk_embeds {
    const hc_model *m;
    int n_bags, bag_size, n_tok;
    int32_t *row;   /* [n_bags * bag_size] each bag entry's row in x[]  */
    float *x[N_X];  /* [n_tok, D] per embedding, distinct tokens only   */
};

void hc_qk_embeds_free(hc_qk_embeds *e)
{
    if (!e)
        return;
    for (int i = 0; i < N_X; i++)
        free(e->x[i]);
    free(e->row);
    free(e);
}

/* y[n, cols] = bias + x[n, rows] · W[rows, cols] (W's row stride ldw) */
static void affine(float *y, const float *x, const float *W, int ldw, const float *bias, int n, int rows, int cols)
{
    for (int t = 0; t < n; t++) {
        if (bias)
            memcpy(y + (size_t)t * cols, bias, (size_t)cols * sizeof(float));
        else
            memset(y + (size_t)t * cols, 0, (size_t)cols * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, cols, rows, 1.0f, x, rows, W, ldw, 1.0f, y, cols);
}

/* x[WE], x[MLP0], x[WEE] for tokens tok[n]: block 0 with self-attention only */
static int embed_block0(hc_qk_embeds *e, const int32_t *tok)
{
    const hc_config *c = &e->m->cfg;
    const hc_params *p = &e->m->p;
    int n = e->n_tok, D = c->d_model, F = c->d_mlp;
    float *we = e->x[X_WE], *mlp = e->x[X_MLP0], *res = e->x[X_WEE];
    float *a = hc_malloc((size_t)n * D * sizeof(float));
    float *z = hc_malloc((size_t)n * D * sizeof(float));
    float *f = hc_malloc((size_t)n * F * sizeof(float));
    if (!a || !z || !f) {
        free(a), free(z), free(f);
        return -1;
    }
    for (int t = 0; t < n; t++)
        memcpy(we + (size_t)t * D, p->w_e + (size_t)tok[t] * D, (size_t)D * sizeof(float));
    /* attending only to itself, a head's z is its value: Σ_h z_h·W_O^h is
     * the concatenated values times the whole W_O */
    hc_layernorm(a, NULL, we, p->ln1_w, p->ln1_b, n, D, c->ln_eps);
    affine(z, a, p->w_qkv + 2 * D, 3 * D, NULL, n, D, D);
    memcpy(res, we, (size_t)n * D * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, D, D, 1.0f, z, D, p->w_o, D, 1.0f, res, D);
    hc_layernorm(a, NULL, res, p->ln2_w, p->ln2_b, n, D, c->ln_eps);
    affine(f, a, p->w_in, F, p->b_in, n, D, F);
    hc_gelu_new(f, (size_t)n * F);
    affine(mlp, f, p->w_out, D, p->b_out, n, F, D);
    for (size_t i = 0; i < (size_t)n * D; i++)
        res[i] += mlp[i];
    free(a), free(z), free(f);
    return 0;
}

/* x[WU]: (w_u ⊙ γ_f) centred over d_model, then over the vocabulary.
 * Centring over d_model commutes with the vocabulary mean, so the latter
 * is one D-vector mu - mean(mu). */
static int embed_unembed(hc_qk_embeds *e, const int32_t *tok)
{
    const hc_config *c = &e->m->cfg;
    const float *wu = e->m->p.w_u, *g = e->m->p.lnf_w;
    int D = c->d_model;
    size_t V = (size_t)c->d_vocab;
    double *mu = hc_malloc((size_t)D * sizeof *mu), mmu = 0;
    if (!mu)
        return -1;
    for (int d = 0; d < D; d++) {
        double s = 0;
        for (size_t v = 0; v < V; v++)
            s += wu[d * V + v];
        mu[d] = s / (double)V * g[d];
        mmu += mu[d];
    }
    mmu /= D;
    for (int t = 0; t < e->n_tok; t++) {
        float *u = e->x[X_WU] + (size_t)t * D;
        double s = 0;
        for (int d = 0; d < D; d++)
            s += (double)wu[d * V + (size_t)tok[t]] * g[d];
        s /= D;
        for (int d = 0; d < D; d++)
            u[d] = (float)((double)wu[d * V + (size_t)tok[t]] * g[d] - s - (mu[d] - mmu));
    }
    free(mu);
    return 0;
}

int hc_qk_embed(const hc_model *m, const int32_t *bags, int n_bags, int bag_size, hc_qk_embeds **out)
{
    *out = NULL;
    if (m->processed)
        return hc_fail(HC_EBAD, "qk: the model's weights are processed; the panel needs them as loaded");
    if (hc_qk_check_bags("qk", bags, n_bags, bag_size, m->cfg.d_vocab))
        return -1;
    size_t n = (size_t)n_bags * bag_size, D = (size_t)m->cfg.d_model;
    hc_qk_embeds *e = hc_calloc(1, sizeof *e);
    int32_t *slot = hc_malloc((size_t)m->cfg.d_vocab * sizeof *slot);
    int32_t *tok = hc_malloc(n * sizeof *tok);
    int rc = (!e || !slot || !tok) ? -1 : 0;
    if (!rc) {
        e->m = m;
        e->n_bags = n_bags;
        e->bag_size = bag_size;
        e->row = hc_malloc(n * sizeof *e->row);
        rc = e->row ? 0 : -1;
    }
    if (!rc) {
        for (int v = 0; v < m->cfg.d_vocab; v++)
            slot[v] = -1;
        for (size_t i = 0; i < n; i++) {
            if (slot[bags[i]] < 0) {
                slot[bags[i]] = e->n_tok;
                tok[e->n_tok++] = bags[i];
            }
            e->row[i] = slot[bags[i]];
        }
        for (int i = 0; i < N_X && !rc; i++)
            rc = (e->x[i] = hc_malloc((size_t)e->n_tok * D * sizeof(float))) ? 0 : -1;
    }
    rc = rc || embed_block0(e, tok) || embed_unembed(e, tok);
    free(slot);
    free(tok);
    if (rc) {
        hc_qk_embeds_free(e);
        return -1;
    }
    *out = e;
    return 0;
}

/* mean_i (S_ii − logsumexp_j S_ij) for one bag; q, k are [n_tok, dh]
 * tables indexed through row[N]; s is scratch [N]. */
static double bag_score(const float *q, const float *k, const int32_t *row, int N, int dh, double *s)
{
    double inv = 1.0 / sqrt((double)dh), total = 0;
    for (int i = 0; i < N; i++) {
        const float *qi = q + (size_t)row[i] * dh;
        double mx = -INFINITY;
        for (int j = 0; j < N; j++) {
            const float *kj = k + (size_t)row[j] * dh;
            double d = 0;
            for (int c = 0; c < dh; c++)
                d += (double)qi[c] * kj[c];
            s[j] = d * inv;
            mx = fmax(mx, s[j]);
        }
        double sum = 0;
        for (int j = 0; j < N; j++)
            sum += exp(s[j] - mx);
        total += s[i] - (mx + log(sum));
    }
    return total / N;
}

static int check_head(const hc_config *c, int layer, int head)
{
    if (layer < 0 || layer >= c->n_layer)
        return hc_fail(HC_EUSAGE, "head %d.%d does not exist (the model has %d layers)", layer, head, c->n_layer);
    if (head < 0 || head >= c->n_head)
        return hc_fail(HC_EUSAGE, "head %d.%d does not exist (the model has %d heads per layer)", layer, head,
                       c->n_head);
    return 0;
}

int hc_qk_scores(const hc_qk_embeds *e, int layer, int head, hc_qk_result *out)
{
    const hc_config *c = &e->m->cfg;
    const hc_params *p = &e->m->p;
    if (check_head(c, layer, head))
        return -1;
    int n = e->n_tok, D = c->d_model, dh = c->d_head, N = e->bag_size, B = e->n_bags;
    const float *W = p->w_qkv + (size_t)layer * D * 3 * D, *bias = p->b_qkv + (size_t)layer * 3 * D;
    float *a = hc_malloc((size_t)n * D * sizeof(float));
    float *q = hc_malloc((size_t)N_X * n * dh * sizeof(float));
    float *k = hc_malloc((size_t)N_X * n * dh * sizeof(float));
    double *s = hc_malloc((size_t)N * sizeof *s);
    double *v = hc_malloc((size_t)B * HC_QK_SIDES * HC_QK_SIDES * sizeof *v);
    if (!a || !q || !k || !s || !v) {
        free(a), free(q), free(k), free(s), free(v);
        return -1;
    }
    /* q and k of every embedding ([n, dh] each at q + x·n·dh); the few
     * unused ones cost less than tracking them */
    for (int x = 0; x < N_X; x++) {
        hc_layernorm(a, NULL, e->x[x], p->ln1_w + (size_t)layer * D, p->ln1_b + (size_t)layer * D, n, D, c->ln_eps);
        affine(q + (size_t)x * n * dh, a, W + head * dh, 3 * D, bias + head * dh, n, D, dh);
        affine(k + (size_t)x * n * dh, a, W + D + head * dh, 3 * D, bias + D + head * dh, n, D, dh);
    }
    for (int b = 0; b < B; b++)
        for (int i = 0; i < HC_QK_SIDES; i++)
            for (int j = 0; j < HC_QK_SIDES; j++)
                v[(b * HC_QK_SIDES + i) * HC_QK_SIDES + j] =
                    bag_score(q + (size_t)query_src[i] * n * dh, k + (size_t)key_src[j] * n * dh,
                              e->row + (size_t)b * N, N, dh, s);
    *out = (hc_qk_result){.layer = layer, .head = head, .n_bags = B, .bag_size = N};
    for (int i = 0; i < HC_QK_SIDES; i++)
        for (int j = 0; j < HC_QK_SIDES; j++) {
            double sum = 0, ss = 0;
            for (int b = 0; b < B; b++)
                sum += v[(b * HC_QK_SIDES + i) * HC_QK_SIDES + j];
            double mean = sum / B;
            for (int b = 0; b < B; b++) {
                double d = v[(b * HC_QK_SIDES + i) * HC_QK_SIDES + j] - mean;
                ss += d * d;
            }
            out->score[i][j] = mean;
            out->sem[i][j] = B > 1 ? sqrt(ss / (B - 1) / B) : NAN;
        }
    free(a), free(q), free(k), free(s), free(v);
    return 0;
}

int hc_qk_compute(const hc_model *m, int layer, int head, const int32_t *bags, int n_bags, int bag_size,
                  hc_qk_result *out)
{
    hc_qk_embeds *e;
    /* a bad head fails before the costly part */
    if (check_head(&m->cfg, layer, head) || hc_qk_embed(m, bags, n_bags, bag_size, &e))
        return -1;
    int rc = hc_qk_scores(e, layer, head, out);
    hc_qk_embeds_free(e);
    return rc;
}

int hc_qk_check_bags(const char *what, const int32_t *bags, int n_bags, int bag_size, int d_vocab)
{
    if (n_bags < 1)
        return hc_fail(HC_EBAD, "%s: no bags", what);
    if (bag_size < 2)
        return hc_fail(HC_EBAD, "%s: bags of %d token%s (a bag needs at least 2)", what, bag_size,
                       bag_size == 1 ? "" : "s");
    /* seen[v] = 1 + the last bag holding v */
    int *seen = hc_calloc((size_t)d_vocab, sizeof *seen);
    if (!seen)
        return -1;
    int rc = 0;
    for (int b = 0; b < n_bags && !rc; b++) {
        const int32_t *bag = bags + (size_t)b * bag_size;
        for (int i = 0; i < bag_size && !rc; i++) {
            if (bag[i] < 0 || bag[i] >= d_vocab)
                rc = hc_fail(HC_EBAD, "%s: bag %d: token %d is out of range (the model has %d tokens)", what, b,
                             (int)bag[i], d_vocab);
            else if (seen[bag[i]] == b + 1)
                rc = hc_fail(HC_EBAD, "%s: bag %d: token %d appears twice (a bag's tokens are distinct)", what, b,
                             (int)bag[i]);
            else
                seen[bag[i]] = b + 1;
        }
    }
    free(seen);
    return rc;
}

/* One bag's ids into out[size]; non-integers are refused by position. */
static int parse_bag(const char *path, const cJSON *bag, int b, int32_t *out)
{
    int i = 0;
    const cJSON *id;
    cJSON_ArrayForEach(id, bag)
    {
        double x = cJSON_IsNumber(id) ? id->valuedouble : NAN;
        if (!(x >= INT32_MIN && x <= INT32_MAX) || x != floor(x))
            return hc_fail(HC_EBAD, "%s: bag %d, entry %d: not a token id (an integer)", path, b, i);
        out[i++] = (int32_t)x;
    }
    return 0;
}

int hc_qk_bags_load(const char *path, int d_vocab, int32_t **bags, int *n_bags, int *bag_size)
{
    *bags = NULL;
    char *text;
    size_t len;
    if (hc_read_file(path, (size_t)1 << 30, &text, &len))
        return -1;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, NULL, 1);
    free(text);
    if (!root)
        return hc_fail(HC_EBAD, "%s: not valid JSON", path);
    int rc = 0, B = cJSON_GetArraySize(root), N = 0;
    if (!cJSON_IsArray(root))
        rc = hc_fail(HC_EBAD, "%s: not a JSON array of bags", path);
    else if (B == 0)
        rc = hc_fail(HC_EBAD, "%s: no bags", path);
    for (int b = 0; !rc && b < B; b++) {
        const cJSON *bag = cJSON_GetArrayItem(root, b);
        int size = cJSON_GetArraySize(bag);
        if (!cJSON_IsArray(bag))
            rc = hc_fail(HC_EBAD, "%s: bag %d is not an array of token ids", path, b);
        else if (b > 0 && size != N)
            rc = hc_fail(HC_EBAD, "%s: bag %d has %d tokens, bag 0 has %d (all bags must be the same size)", path,
                         b, size, N);
        N = size;
    }
    size_t total;
    if (!rc && (!hc_mul_ok((size_t)B, (size_t)N, &total) || total > INT32_MAX))
        rc = hc_fail(HC_EBAD, "%s: too many tokens", path);
    int32_t *ids = rc ? NULL : hc_malloc((total ? total : 1) * sizeof *ids);
    rc = rc || !ids;
    for (int b = 0; !rc && b < B; b++)
        rc = parse_bag(path, cJSON_GetArrayItem(root, b), b, ids + (size_t)b * N);
    cJSON_Delete(root);
    rc = rc || hc_qk_check_bags(path, ids, B, N, d_vocab);
    if (rc) {
        free(ids);
        return -1;
    }
    *bags = ids;
    *n_bags = B;
    *bag_size = N;
    return 0;
}

int hc_qk_random_bags(uint32_t seed, int d_vocab, int n_bags, int bag_size, int32_t *bags)
{
    if (bag_size > d_vocab)
        return hc_fail(HC_EUSAGE, "qk: bags of %d distinct tokens from a vocabulary of %d", bag_size, d_vocab);
    int32_t *perm = hc_malloc((size_t)d_vocab * sizeof *perm);
    if (!perm)
        return -1;
    hc_mt19937 r;
    hc_mt_seed(&r, seed);
    for (int b = 0; b < n_bags; b++) {
        for (int v = 0; v < d_vocab; v++)
            perm[v] = v;
        hc_np_shuffle(&r, perm, (size_t)d_vocab, sizeof *perm);
        memcpy(bags + (size_t)b * bag_size, perm, (size_t)bag_size * sizeof *perm);
    }
    free(perm);
    return 0;
}
