/* Sweep orchestration: the forward pass, the W_OU cache, and the fused
 * tile loop (token tiles across workers, vocabulary tiles inside). */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/error.h"
#include "headcal/forward.h"
#include "headcal/pool.h"
#include "headcal/sweep.h"
#include "kernels/sweep_kernel.h"

enum { TILE_T = 128, TILE_V = 1024 };

/* Variants are processed in groups whose heads' W_OU fit the memory
 * budget together; with one group the matrices are computed once. */
typedef struct {
    int v0, v1;   /* variants [v0, v1) */
    int n_slots;
    int *slot;    /* [L*H] → slot of that head's W_OU in this group, or -1 */
    int *heads;   /* [n_slots] the head (l*H + h) in each slot */
} group;

struct hc_sweep {
    const hc_model *m;
    hc_sweep_opts o;
    int n_var;
    hc_variant_spec *vars;
    hc_component *comps;
    int n_groups;
    group *groups;
    int max_slots;
    int kind;      /* HCK_*: with a fused kernel wou is packed (hck_pack) */
    size_t slot_floats;
    float *wou;    /* [max_slots] × slot_floats: W_OU^h[dh, V], or packed */
    int wou_group; /* which group wou holds, -1 none */
    const hc_means *means;
    atomic_int *cancel;
};

static void group_free(group *g)
{
    free(g->slot);
    free(g->heads);
}

void hc_sweep_free(hc_sweep *sw)
{
    if (!sw)
        return;
    for (int g = 0; g < sw->n_groups; g++)
        group_free(&sw->groups[g]);
    free(sw->groups);
    free(sw->vars);
    free(sw->comps);
    free(sw->wou);
    free(sw);
}

static int check_component(const hc_config *c, const hc_component *x)
{
    if (x->layer < 0 || x->layer >= c->n_layer)
        return hc_fail(HC_EUSAGE, "layer %d does not exist (the model has %d layers)", x->layer, c->n_layer);
    if (x->head != HC_MLP && (x->head < 0 || x->head >= c->n_head))
        return hc_fail(HC_EUSAGE, "head %d.%d does not exist (the model has %d heads per layer)", x->layer, x->head,
                       c->n_head);
    return 0;
}

int hc_sweep_kernel_available(int kernel)
{
    return kernel == HC_KERNEL_AMX ? hck_amx_available() : kernel == HC_KERNEL_AVX512 ? hck_fused_available() : 1;
}

/* HC_KERNEL_* → HCK_*: AUTO takes AMX where d_head fills whole tiles
 * (GPT-2's 64), else AVX-512, else the portable path. */
static int kernel_kind(int k, const hc_config *c)
{
    if (k == HC_KERNEL_AUTO)
        k = hck_amx_available() && c->d_head % 32 == 0 ? HC_KERNEL_AMX
            : hck_fused_available()                    ? HC_KERNEL_AVX512
                                                       : HC_KERNEL_GENERIC;
    return k == HC_KERNEL_AMX ? HCK_AMX : k == HC_KERNEL_AVX512 ? HCK_AVX512 : HCK_GENERIC;
}

size_t hc_sweep_head_bytes(const hc_config *c, int kernel)
{
    int kind = kernel_kind(kernel, c);
    return (kind == HCK_GENERIC ? (size_t)c->d_head * c->d_vocab : hck_packed_floats(kind, c->d_head, c->d_vocab)) *
           sizeof(float);
}

const char *hc_sweep_kernel_name(const hc_sweep *sw)
{
    return sw->kind == HCK_AMX ? "amx" : sw->kind == HCK_AVX512 ? "avx512" : "generic";
}

static int pick_kernel(hc_sweep *sw)
{
    int k = sw->o.kernel;
    const char *env = getenv("HEADCAL_KERNEL");
    if (k == HC_KERNEL_AUTO && env && *env) {
        if (!strcmp(env, "generic"))
            k = HC_KERNEL_GENERIC;
        else if (!strcmp(env, "avx512"))
            k = HC_KERNEL_AVX512;
        else if (!strcmp(env, "amx"))
            k = HC_KERNEL_AMX;
        else
            return hc_fail(HC_EUSAGE, "HEADCAL_KERNEL=%s: expected generic, avx512 or amx", env);
    }
    if (!hc_sweep_kernel_available(k))
        return hc_fail(HC_EUSAGE, k == HC_KERNEL_AMX
                                      ? "the amx kernel needs a CPU with AMX-BF16 and AVX-512, and Linux's permission"
                                      : "the avx512 kernel needs a CPU with AVX-512F and DQ; this one lacks them");
    sw->o.kernel = k;
    sw->kind = kernel_kind(k, &sw->m->cfg);
    return 0;
}

/* Partitions the variants into groups of at most max_slots distinct heads. */
static int make_groups(hc_sweep *sw)
{
    const hc_config *c = &sw->m->cfg;
    int LH = c->n_layer * c->n_head;
    sw->groups = hc_calloc((size_t)sw->n_var, sizeof *sw->groups);
    if (!sw->groups)
        return -1;
    group *g = NULL;
    for (int v = 0; v < sw->n_var; v++) {
        const hc_variant_spec *vs = &sw->vars[v];
        int need = 0;
        for (int pass = 0; pass < 2; pass++) {
            if (!g) {
                g = &sw->groups[sw->n_groups++];
                g->v0 = v;
                g->slot = hc_malloc((size_t)LH * sizeof *g->slot);
                g->heads = hc_malloc((size_t)LH * sizeof *g->heads);
                if (!g->slot || !g->heads)
                    return -1;
                for (int i = 0; i < LH; i++)
                    g->slot[i] = -1;
            }
            need = 0;
            for (int i = 0; i < vs->n; i++) {
                const hc_component *x = &vs->c[i];
                if (x->head != HC_MLP && g->slot[x->layer * c->n_head + x->head] < 0)
                    need++;
            }
            if (g->n_slots + need <= sw->max_slots)
                break;
            if (g->v0 == v) /* already a fresh group: this variant alone is too big */
                return hc_fail(HC_EUSAGE, "variant %d needs %d heads' W_OU at once, more than --mem allows (%d)",
                               v, need, sw->max_slots);
            g->v1 = v;
            g = NULL;
        }
        for (int i = 0; i < vs->n; i++) {
            const hc_component *x = &vs->c[i];
            int hid = x->layer * c->n_head + x->head;
            if (x->head != HC_MLP && g->slot[hid] < 0) {
                g->slot[hid] = g->n_slots;
                g->heads[g->n_slots++] = hid;
            }
        }
        g->v1 = v + 1;
    }
    return 0;
}

int hc_sweep_new(hc_sweep **out, const hc_model *m, const hc_variant_spec *vars, int n_var, const hc_sweep_opts *o)
{
    *out = NULL;
    if (!m->processed)
        return hc_fail(HC_EBAD, "sweep: the model must be processed first");
    if (o->top_k < 1 || o->top_k > HC_TOPK_MAX || o->top_k > m->cfg.d_vocab)
        return hc_fail(HC_EUSAGE, "--top-k %d is out of range [1, %d]", o->top_k, HC_TOPK_MAX);
    if (n_var < 1)
        return hc_fail(HC_EUSAGE, "sweep: no variants");
    hc_sweep *sw = hc_calloc(1, sizeof *sw);
    if (!sw)
        return -1;
    sw->m = m;
    sw->o = *o;
    if (sw->o.threads <= 0)
        sw->o.threads = hc_ncores();
    sw->n_var = n_var;
    sw->wou_group = -1;
    int total = 0;
    for (int v = 0; v < n_var; v++)
        total += vars[v].n;
    sw->vars = hc_calloc((size_t)n_var, sizeof *sw->vars);
    sw->comps = hc_calloc((size_t)total + 1, sizeof *sw->comps);
    if (!sw->vars || !sw->comps) {
        hc_sweep_free(sw);
        return -1;
    }
    hc_component *next = sw->comps;
    for (int v = 0; v < n_var; v++) {
        sw->vars[v] = (hc_variant_spec){vars[v].n, next};
        for (int i = 0; i < vars[v].n; i++) {
            if (check_component(&m->cfg, &vars[v].c[i])) {
                hc_sweep_free(sw);
                return -1;
            }
            *next++ = vars[v].c[i];
        }
    }
    if (pick_kernel(sw)) {
        hc_sweep_free(sw);
        return -1;
    }
    size_t per_slot = hc_sweep_head_bytes(&m->cfg, sw->o.kernel);
    sw->slot_floats = per_slot / sizeof(float);
    size_t lh = (size_t)m->cfg.n_layer * m->cfg.n_head;
    sw->max_slots = o->mem_budget ? (int)(o->mem_budget / per_slot < lh ? o->mem_budget / per_slot : lh) : (int)lh;
    for (int i = 0; sw->max_slots == 0 && i < total; i++)
        if (sw->comps[i].head != HC_MLP) {
            hc_sweep_free(sw);
            return hc_fail(HC_EUSAGE, "--mem %zu MB cannot hold one head's W_OU (%zu MB); raise --mem",
                           o->mem_budget >> 20, (per_slot + (1u << 20) - 1) >> 20);
        }
    if (make_groups(sw)) {
        hc_sweep_free(sw);
        return -1;
    }
    int slots = 0;
    for (int g = 0; g < sw->n_groups; g++)
        slots = sw->groups[g].n_slots > slots ? sw->groups[g].n_slots : slots;
    sw->max_slots = slots;
    /* 64-byte alignment: the fused kernel loads whole cache lines */
    if (slots && !(sw->wou = aligned_alloc(64, ((size_t)slots * per_slot + 63) & ~(size_t)63))) {
        hc_sweep_free(sw);
        return hc_fail(HC_EBAD, "out of memory for W_OU (%zu MB); lower --mem", (size_t)slots * per_slot >> 20);
    }
    *out = sw;
    return 0;
}

void hc_sweep_set_means(hc_sweep *sw, const hc_means *mn) { sw->means = mn; }
void hc_sweep_set_cancel(hc_sweep *sw, atomic_int *cancel) { sw->cancel = cancel; }

/* W_OU^h[dh, V] = W_O^h[dh, D] · W_U[D, V] for every head of group g,
 * packed for the fused kernel.  Runs outside the pool so OpenBLAS may use
 * every core. */
static int load_group(hc_sweep *sw, int gi)
{
    if (sw->wou_group == gi)
        return 0;
    const hc_config *c = &sw->m->cfg;
    const group *g = &sw->groups[gi];
    int D = c->d_model, dh = c->d_head, V = c->d_vocab;
    float *tmp = NULL;
    if (sw->kind != HCK_GENERIC && g->n_slots && !(tmp = hc_malloc((size_t)dh * V * sizeof(float))))
        return -1;
    for (int s = 0; s < g->n_slots; s++) {
        int l = g->heads[s] / c->n_head, h = g->heads[s] % c->n_head;
        const float *wo = sw->m->p.w_o + (size_t)l * D * D + (size_t)h * dh * D;
        float *dst = sw->wou + (size_t)s * sw->slot_floats;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, dh, V, D, 1.0f, wo, D, sw->m->p.w_u, V, 0.0f,
                    sw->kind != HCK_GENERIC ? tmp : dst, V);
        if (sw->kind != HCK_GENERIC)
            hck_pack(sw->kind, tmp, dh, V, dst);
    }
    free(tmp);
    sw->wou_group = gi;
    return 0;
}

/* Everything the tile tasks of one batch and one group share. */
typedef struct {
    hc_sweep *sw;
    int gi, N, S, P;
    const float *z, *mlp, *resid, *scale, *xn; /* forward activations */
    const int32_t *tok_of;                     /* [P] token index (b*S + t) of each scored position */
    hc_sweep_out *out;
    /* per-worker scratch, sized for the group */
    float **scratch;
    size_t scratch_floats;
    hck_seg **seg; /* per worker: the head members of one variant (fused kernel) */
} batch_ctx;

static int member_k(const hc_config *c, const hc_component *x)
{
    return x->head != HC_MLP ? c->d_head : c->d_model;
}

/* The activation of member x at token n, minus its per-position mean
 * under mean ablation: a[K]. */
static void member_act(const batch_ctx *bc, const hc_component *x, int n, float *a)
{
    const hc_config *c = &bc->sw->m->cfg;
    int D = c->d_model, K = member_k(c, x), col = x->head != HC_MLP ? x->head * c->d_head : 0;
    const float *src = (x->head != HC_MLP ? bc->z : bc->mlp) + ((size_t)x->layer * bc->N + n) * D + col;
    memcpy(a, src, (size_t)K * sizeof(float));
    const hc_means *mn = bc->sw->means;
    if (bc->sw->o.ablation == HC_ABLATION_MEAN && mn) {
        int pos = n % bc->S;
        if (pos < mn->S) {
            const float *mu = (x->head != HC_MLP ? mn->z_mean : mn->mlp_mean) +
                              ((size_t)x->layer * mn->S + (size_t)pos) * D + col;
            for (int i = 0; i < K; i++)
                a[i] -= mu[i];
        }
    }
}

/* Floats of scratch for the members' activations of group g: a (all
 * members) and a16 (the heads' activations split for AMX). */
static void member_floats(const hc_sweep *sw, const group *g, size_t *a, size_t *a16)
{
    const hc_config *c = &sw->m->cfg;
    *a = *a16 = 0;
    for (int v = g->v0; v < g->v1; v++)
        for (int i = 0; i < sw->vars[v].n; i++) {
            int K = member_k(c, &sw->vars[v].c[i]);
            *a += (size_t)TILE_T * K;
            if (sw->kind == HCK_AMX && sw->vars[v].c[i].head != HC_MLP)
                *a16 += (size_t)TILE_T * hck_amx_depth(K);
        }
}

static int tile_task(void *vctx, int task, int worker)
{
    const batch_ctx *bc = vctx;
    hc_sweep *sw = bc->sw;
    const hc_config *c = &sw->m->cfg;
    const group *g = &sw->groups[bc->gi];
    const int D = c->d_model, V = c->d_vocab, k = sw->o.top_k, nv = g->v1 - g->v0;
    const int p0 = task * TILE_T, T = bc->P - p0 < TILE_T ? bc->P - p0 : TILE_T;
    /* rows of each member's activations, padded for the fused kernel's row blocks */
    const int Tp = (T + HCK_ROW_PAD - 1) / HCK_ROW_PAD * HCK_ROW_PAD;
    const float *W_U = sw->m->p.w_u, *b_U = sw->m->p.b_u;

    /* scratch layout: base[T, TILE_V] | buf[T, TILE_V] | r[T, D] | alpha[nv, T] |
     * A (all members of all variants, [T, K] each) | A16 (AMX: the heads' A split) | rows | tk | ti */
    float *base = bc->scratch[worker], *buf = base + TILE_T * TILE_V;
    float *r = buf + TILE_T * TILE_V, *alpha = r + (size_t)TILE_T * D, *A = alpha + (size_t)nv * TILE_T;
    size_t a_floats, a16_floats;
    member_floats(sw, g, &a_floats, &a16_floats);
    uint16_t *A16 = (uint16_t *)(A + a_floats), *a16 = A16;
    hck_row *rows = (hck_row *)(A + a_floats + a16_floats);
    float *tk = (float *)(rows + (size_t)nv * TILE_T);
    int32_t *ti = (int32_t *)(tk + (size_t)nv * TILE_T * k);
    int32_t target[TILE_T];

    for (int t = 0; t < T; t++)
        target[t] = bc->out->target[p0 + t];
    const float *xn = bc->xn + (size_t)p0 * D;
    /* Per variant: members' activations scaled by 1/σ' and the base scale α. */
    float *a = A;
    for (int v = g->v0; v < g->v1; v++) {
        const hc_variant_spec *vs = &sw->vars[v];
        float *alpha_v = alpha + (size_t)(v - g->v0) * TILE_T, *a_v = a;
        if (sw->o.ln == HC_LN_RECOMPUTE && vs->n)
            memset(r, 0, (size_t)T * D * sizeof(float));
        for (int i = 0; i < vs->n; i++) {
            const hc_component *x = &vs->c[i];
            int K = member_k(c, x);
            for (int t = 0; t < T; t++)
                member_act(bc, x, bc->tok_of[p0 + t], a + (size_t)t * K);
            memset(a + (size_t)T * K, 0, (size_t)(Tp - T) * K * sizeof(float));
            if (sw->o.ln == HC_LN_RECOMPUTE) {
                /* r[T, D] += a[T, K] · (W_O^h[K, D] or I) */
                if (x->head != HC_MLP)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, K, 1.0f, a, K,
                                sw->m->p.w_o + (size_t)x->layer * D * D + (size_t)x->head * K * D, D, 1.0f, r, D);
                else
                    for (size_t j = 0; j < (size_t)T * D; j++)
                        r[j] += a[j];
            }
            a += (size_t)Tp * K;
        }
        for (int t = 0; t < T; t++) {
            float sigma = bc->scale[bc->tok_of[p0 + t]], sigma2 = sigma;
            if (sw->o.ln == HC_LN_RECOMPUTE && vs->n) {
                /* σ' of the residual without the members' output */
                const float *x0 = bc->resid + (size_t)bc->tok_of[p0 + t] * D, *rt = r + (size_t)t * D;
                double s = 0, ss = 0;
                for (int j = 0; j < D; j++)
                    s += x0[j] - rt[j];
                double mean = s / D;
                for (int j = 0; j < D; j++) {
                    double d = x0[j] - rt[j] - mean;
                    ss += d * d;
                }
                sigma2 = (float)sqrt(ss / D + c->ln_eps);
            }
            alpha_v[t] = sigma / sigma2;
            float inv = 1.0f / sigma2;
            float *row = a_v;
            for (int i = 0; i < vs->n; i++) {
                int K = member_k(c, &vs->c[i]);
                for (int j = 0; j < K; j++)
                    row[(size_t)t * K + j] *= inv;
                row += (size_t)Tp * K;
            }
        }
        for (int i = 0; sw->kind == HCK_AMX && i < vs->n; i++) {
            int K = member_k(c, &vs->c[i]);
            if (vs->c[i].head != HC_MLP) {
                hck_split_rows(a_v, Tp, K, a16);
                a16 += (size_t)2 * Tp * hck_amx_depth(K);
            }
            a_v += (size_t)Tp * K;
        }
    }
    hck_rows_init(rows, tk, ti, nv * TILE_T, k);
    for (int v0 = 0; v0 < V; v0 += TILE_V) {
        int vt = V - v0 < TILE_V ? V - v0 : TILE_V;
        /* base[T, vt] = x̂[T, D] · W_U[D, v0:v0+vt] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, vt, D, 1.0f, xn, D, W_U + v0, V, 0.0f, base, vt);
        if (sw->kind != HCK_GENERIC) /* the baseline's logits, which frozen-scale variants start from */
            for (int t = 0; t < T; t++)
                for (int j = 0; j < vt; j++)
                    base[t * vt + j] += b_U[v0 + j];
        a = A;
        a16 = A16;
        for (int v = g->v0; v < g->v1; v++) {
            const hc_variant_spec *vs = &sw->vars[v];
            const float *alpha_v = alpha + (size_t)(v - g->v0) * TILE_T;
            size_t ro = (size_t)(v - g->v0) * TILE_T;
            if (sw->kind != HCK_GENERIC) {
                /* MLP members (rank d_model) go through OpenBLAS into buf,
                 * which then stands in for α·base; heads go to the kernel. */
                int has_mlp = 0, ns = 0;
                for (int i = 0; i < vs->n; i++)
                    has_mlp |= vs->c[i].head == HC_MLP;
                /* α = 1 exactly with the scale frozen (σ/σ) and for the baseline */
                const float *al = sw->o.ln == HC_LN_RECOMPUTE && vs->n ? alpha_v : NULL;
                if (has_mlp)
                    for (int t = 0; t < T; t++)
                        for (int j = 0; j < vt; j++)
                            buf[t * vt + j] = al ? al[t] * (base[t * vt + j] - b_U[v0 + j]) + b_U[v0 + j]
                                                 : base[t * vt + j];
                for (int i = 0; i < vs->n; i++) {
                    const hc_component *x = &vs->c[i];
                    int K = member_k(c, x);
                    if (x->head == HC_MLP)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, vt, K, -1.0f, a, K, W_U + v0, V,
                                    1.0f, buf, vt);
                    else {
                        bc->seg[worker][ns++] = (hck_seg){
                            a, a16, K, Tp, sw->wou + (size_t)g->slot[x->layer * c->n_head + x->head] * sw->slot_floats};
                        if (sw->kind == HCK_AMX)
                            a16 += (size_t)2 * Tp * hck_amx_depth(K);
                    }
                    a += (size_t)Tp * K;
                }
                (sw->kind == HCK_AMX ? hck_amx_update : hck_avx512_update)(
                    bc->seg[worker], ns, T, has_mlp ? buf : base, vt, has_mlp ? NULL : al, b_U + v0, v0, vt, target,
                    rows + ro, tk + ro * k, ti + ro * k, k);
                continue;
            }
            for (int t = 0; t < T; t++)
                for (int j = 0; j < vt; j++)
                    buf[t * vt + j] = alpha_v[t] * base[t * vt + j] + b_U[v0 + j];
            for (int i = 0; i < vs->n; i++) {
                const hc_component *x = &vs->c[i];
                int K = member_k(c, x);
                const float *B = x->head != HC_MLP ? sw->wou + (size_t)g->slot[x->layer * c->n_head + x->head] *
                                                                   sw->slot_floats
                                                   : W_U;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, vt, K, -1.0f, a, K, B + v0, V, 1.0f, buf,
                            vt);
                a += (size_t)Tp * K;
            }
            hck_update(buf, T, vt, v0, target, rows + ro, tk + ro * k, ti + ro * k, k);
        }
    }
    hc_sweep_out *o = bc->out;
    for (int v = g->v0; v < g->v1; v++)
        for (int t = 0; t < T; t++) {
            size_t ro = (size_t)(v - g->v0) * TILE_T + t, oi = (size_t)v * o->n_pos + (size_t)(p0 + t);
            hck_finish(&rows[ro], tk + ro * k, k, o->topk_p + oi * k, &o->nll[oi], &o->entropy[oi]);
            memcpy(o->topk_id + oi * k, ti + ro * k, (size_t)k * sizeof(int32_t));
        }
    return 0;
}

static size_t scratch_floats(const hc_sweep *sw, const group *g)
{
    const hc_config *c = &sw->m->cfg;
    int nv = g->v1 - g->v0, k = sw->o.top_k;
    size_t a, a16;
    member_floats(sw, g, &a, &a16);
    size_t n = 2 * (size_t)TILE_T * TILE_V + (size_t)TILE_T * c->d_model + (size_t)nv * TILE_T + a + a16;
    /* rows are hck_row (24 bytes = 6 floats), then tk and ti */
    n += (size_t)nv * TILE_T * (sizeof(hck_row) / sizeof(float) + 2 * (size_t)k);
    return n + 16;
}

void hc_sweep_out_free(hc_sweep_out *o)
{
    free(o->target);
    free(o->row);
    free(o->pos);
    free(o->topk_p);
    free(o->topk_id);
    free(o->nll);
    free(o->entropy);
    memset(o, 0, sizeof *o);
}

static int alloc_out(hc_sweep_out *o, int n_var, int P, int k)
{
    memset(o, 0, sizeof *o);
    o->n_var = n_var;
    o->n_pos = P;
    o->k = k;
    size_t vp = (size_t)n_var * P;
    o->target = hc_malloc((size_t)P * sizeof *o->target + 1);
    o->row = hc_malloc((size_t)P * sizeof *o->row + 1);
    o->pos = hc_malloc((size_t)P * sizeof *o->pos + 1);
    o->topk_p = hc_malloc(vp * k * sizeof *o->topk_p + 1);
    o->topk_id = hc_malloc(vp * k * sizeof *o->topk_id + 1);
    o->nll = hc_malloc(vp * sizeof *o->nll + 1);
    o->entropy = hc_malloc(vp * sizeof *o->entropy + 1);
    if (!o->target || !o->row || !o->pos || !o->topk_p || !o->topk_id || !o->nll || !o->entropy) {
        hc_sweep_out_free(o);
        return -1;
    }
    return 0;
}

static int needs_mlp(const hc_sweep *sw)
{
    for (int v = 0; v < sw->n_var; v++)
        for (int i = 0; i < sw->vars[v].n; i++)
            if (sw->vars[v].c[i].head == HC_MLP)
                return 1;
    return 0;
}

int hc_sweep_batch(hc_sweep *sw, const int32_t *tokens, const int *lengths, int B, int S, hc_sweep_out *out)
{
    const hc_config *c = &sw->m->cfg;
    const int L = c->n_layer, D = c->d_model;
    const size_t N = (size_t)B * S;
    if (sw->o.ablation == HC_ABLATION_MEAN && !sw->means)
        return hc_fail(HC_EBAD, "sweep: mean ablation needs the dataset means");
    int P = 0;
    for (int b = 0; b < B; b++) {
        if (lengths[b] < 0 || lengths[b] > S)
            return hc_fail(HC_EBAD, "sweep: row %d has length %d outside [0, %d]", b, lengths[b], S);
        P += lengths[b] > 1 ? lengths[b] - 1 : 0;
    }
    if (alloc_out(out, sw->n_var, P, sw->o.top_k))
        return -1;
    float *z = hc_malloc((size_t)L * N * D * sizeof(float));
    float *mlp = needs_mlp(sw) ? hc_malloc((size_t)L * N * D * sizeof(float)) : NULL;
    float *resid = hc_malloc(N * D * sizeof(float)), *scale = hc_malloc(N * sizeof(float));
    float *xn = hc_malloc(((size_t)P + 1) * D * sizeof(float));
    int32_t *tok_of = hc_malloc(((size_t)P + 1) * sizeof *tok_of);
    int rc = (!z || (needs_mlp(sw) && !mlp) || !resid || !scale || !xn || !tok_of) ? -1 : 0;
    if (!rc) {
        hc_acts acts = {.z = z, .mlp_out = mlp, .resid = resid, .scale = scale};
        rc = hc_forward(sw->m, tokens, B, S, &acts);
    }
    if (!rc) {
        int p = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t + 1 < lengths[b]; t++, p++) {
                size_t n = (size_t)b * S + t;
                tok_of[p] = (int32_t)n;
                out->row[p] = b;
                out->pos[p] = t;
                out->target[p] = tokens[n + 1];
                hc_layernorm_row(xn + (size_t)p * D, resid + n * D, sw->m->p.lnf_w, sw->m->p.lnf_b, D, c->ln_eps);
            }
    }
    for (int gi = 0; gi < sw->n_groups && !rc; gi++) {
        if ((rc = load_group(sw, gi)))
            break;
        const group *g = &sw->groups[gi];
        batch_ctx bc = {.sw = sw, .gi = gi, .N = (int)N, .S = S, .P = P, .z = z, .mlp = mlp, .resid = resid,
                        .scale = scale, .xn = xn, .tok_of = tok_of, .out = out};
        int nt = sw->o.threads;
        bc.scratch_floats = scratch_floats(sw, g);
        int members = 1;
        for (int v = g->v0; v < g->v1; v++)
            members = sw->vars[v].n > members ? sw->vars[v].n : members;
        bc.scratch = hc_calloc((size_t)nt, sizeof *bc.scratch);
        bc.seg = hc_calloc((size_t)nt, sizeof *bc.seg);
        rc = bc.scratch && bc.seg ? 0 : -1;
        for (int w = 0; w < nt && !rc; w++)
            if (!(bc.scratch[w] = hc_malloc(bc.scratch_floats * sizeof(float))) ||
                !(bc.seg[w] = hc_malloc((size_t)members * sizeof **bc.seg)))
                rc = -1;
        if (!rc)
            rc = hc_pool_run(nt, (P + TILE_T - 1) / TILE_T, tile_task, &bc, sw->cancel);
        for (int w = 0; w < nt; w++) {
            free(bc.scratch ? bc.scratch[w] : NULL);
            free(bc.seg ? bc.seg[w] : NULL);
        }
        free(bc.scratch);
        free(bc.seg);
    }
    free(z);
    free(mlp);
    free(resid);
    free(scale);
    free(xn);
    free(tok_of);
    if (rc)
        hc_sweep_out_free(out);
    return rc;
}

int hc_means_init(hc_means *mn, const hc_config *cfg, int S)
{
    memset(mn, 0, sizeof *mn);
    mn->L = cfg->n_layer;
    mn->S = S;
    mn->D = cfg->d_model;
    size_t n = (size_t)mn->L * S * mn->D;
    mn->z_sum = hc_calloc(n, sizeof(double));
    mn->mlp_sum = hc_calloc(n, sizeof(double));
    mn->count = hc_calloc((size_t)S, sizeof(uint64_t));
    mn->z_mean = hc_calloc(n, sizeof(float));
    mn->mlp_mean = hc_calloc(n, sizeof(float));
    if (!mn->z_sum || !mn->mlp_sum || !mn->count || !mn->z_mean || !mn->mlp_mean) {
        hc_means_free(mn);
        return -1;
    }
    return 0;
}

void hc_means_add(hc_means *mn, const float *z, const float *mlp_out, const int *lengths, int B, int S)
{
    size_t N = (size_t)B * S, D = (size_t)mn->D;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < lengths[b] && t < mn->S; t++) {
            mn->count[t]++;
            for (int l = 0; l < mn->L; l++) {
                const float *zs = z + ((size_t)l * N + (size_t)b * S + t) * D;
                const float *ms = mlp_out + ((size_t)l * N + (size_t)b * S + t) * D;
                double *zd = mn->z_sum + ((size_t)l * mn->S + t) * D, *md = mn->mlp_sum + ((size_t)l * mn->S + t) * D;
                for (size_t i = 0; i < D; i++) {
                    zd[i] += zs[i];
                    md[i] += ms[i];
                }
            }
        }
}

void hc_means_finish(hc_means *mn)
{
    size_t D = (size_t)mn->D;
    for (int l = 0; l < mn->L; l++)
        for (int t = 0; t < mn->S; t++) {
            double inv = mn->count[t] ? 1.0 / (double)mn->count[t] : 0.0;
            size_t o = ((size_t)l * mn->S + t) * D;
            for (size_t i = 0; i < D; i++) {
                mn->z_mean[o + i] = (float)(mn->z_sum[o + i] * inv);
                mn->mlp_mean[o + i] = (float)(mn->mlp_sum[o + i] * inv);
            }
        }
}

void hc_means_free(hc_means *mn)
{
    free(mn->z_sum);
    free(mn->mlp_sum);
    free(mn->count);
    free(mn->z_mean);
    free(mn->mlp_mean);
    memset(mn, 0, sizeof *mn);
}

int hc_sweep_means_batch(const hc_model *m, hc_means *mn, const int32_t *tokens, const int *lengths, int B, int S)
{
    size_t n = (size_t)m->cfg.n_layer * B * S * m->cfg.d_model;
    float *z = hc_malloc(n * sizeof(float)), *mlp = hc_malloc(n * sizeof(float));
    int rc = (!z || !mlp) ? -1 : 0;
    if (!rc) {
        hc_acts acts = {.z = z, .mlp_out = mlp};
        rc = hc_forward(m, tokens, B, S, &acts);
    }
    if (!rc)
        hc_means_add(mn, z, mlp, lengths, B, S);
    free(z);
    free(mlp);
    return rc;
}
