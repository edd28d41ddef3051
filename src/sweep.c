/* Sweep orchestration: the forward pass, the W_OU cache, and the fused
 * tile loop (token tiles across workers, vocabulary tiles inside). */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/bigmem.h"
#include "headcal/clock.h"
#include "headcal/error.h"
#include "headcal/forward.h"
#include "headcal/pool.h"
#include "headcal/sweep.h"
#include "kernels/sweep_kernel.h"

enum { TILE_T = 128, TILE_V = 1024 };

/* A batch's activations, kept for the next batch: allocated afresh, the
 * 60-odd MB of GPT-2 small's at 16 × 100 tokens were first writes to fresh
 * pages every batch, which a virtual machine makes expensive. */
typedef struct {
    size_t n_tok, n_pos; /* room for B·S tokens and that many scored positions */
    float *z, *mlp, *resid, *scale, *xn;
    int32_t *tok_of;
} batch_ws;

static void ws_free(batch_ws *w)
{
    free(w->z);
    free(w->mlp);
    free(w->resid);
    free(w->scale);
    free(w->xn);
    free(w->tok_of);
    *w = (batch_ws){0};
}

/* Room in w for N tokens and P scored positions, and the MLPs' outputs
 * when mlp. */
static int ws_fit(batch_ws *w, const hc_config *c, size_t N, size_t P, int mlp)
{
    if (N <= w->n_tok && P <= w->n_pos && (!mlp || w->mlp))
        return 0;
    ws_free(w);
    const size_t L = (size_t)c->n_layer, D = (size_t)c->d_model;
    w->z = hc_malloc(L * N * D * sizeof(float));
    w->mlp = mlp ? hc_malloc(L * N * D * sizeof(float)) : NULL;
    w->resid = hc_malloc(N * D * sizeof(float));
    w->scale = hc_malloc(N * sizeof(float));
    w->xn = hc_malloc((P + 1) * D * sizeof(float));
    w->tok_of = hc_malloc((P + 1) * sizeof *w->tok_of);
    if (!w->z || (mlp && !w->mlp) || !w->resid || !w->scale || !w->xn || !w->tok_of) {
        ws_free(w);
        return -1;
    }
    w->n_tok = N, w->n_pos = P;
    return 0;
}

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
    int kind;      /* HCK_*: wou is packed for it (hck_pack) */
    hck_fused_fn *fused; /* its fused kernel; NULL on the generic path */
    int direct;    /* heads multiply W_U directly, W_OU is never formed (hc_sweep_direct) */
    size_t slot_floats;
    float *wou;    /* [max_slots] × slot_floats: W_OU^h[dh, V] packed */
    size_t wou_bytes;
    int wou_group; /* which group wou holds, -1 none */
    double wou_seconds; /* spent forming W_OU so far */
    int *need;     /* [n_var] the last layer whose W_OU the variant needs, -1 none */
    long batches;  /* hc_sweep_batch calls completed */
    int (*part)(void *ctx, const hc_sweep_out *out, const char *final);
    void *part_ctx;
    const hc_means *means;
    atomic_int *cancel;
    /* progress inside a batch: tiles finished of the batch's total */
    void (*tick)(void *ctx, int done, int total);
    void *tick_ctx;
    atomic_int tiles_done;
    int tiles_total;
    batch_ws ws;
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
    free(sw->need);
    hc_bigmem_free(sw->wou, sw->wou_bytes);
    ws_free(&sw->ws);
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

/* HC_KERNEL_* ↔ its name ↔ HCK_*. */
static const struct {
    int kernel, kind;
    const char *name;
} kernels[] = {{HC_KERNEL_GENERIC, HCK_GENERIC, "generic"},
               {HC_KERNEL_AVX512, HCK_AVX512, "avx512"},
               {HC_KERNEL_AVX512BF16, HCK_BF16, "avx512bf16"},
               {HC_KERNEL_AMX, HCK_AMX, "amx"}};
enum { N_KERNELS = sizeof kernels / sizeof kernels[0] };

static int kind_of(int kernel)
{
    for (int i = 0; i < N_KERNELS; i++)
        if (kernels[i].kernel == kernel)
            return kernels[i].kind;
    return HCK_GENERIC;
}

const char *hc_kernel_name(int kernel)
{
    for (int i = 0; i < N_KERNELS; i++)
        if (kernels[i].kernel == kernel)
            return kernels[i].name;
    return "auto";
}

int hc_sweep_kernel_available(int kernel)
{
    int kind = kind_of(kernel);
    return kind == HCK_GENERIC || hck_fused(kind);
}

/* AUTO takes AMX where d_head fills whole tiles (GPT-2's 64), else the
 * float AVX-512 kernel — on CPUs with AVX512_BF16 but no AMX (AMD Zen 4
 * and 5) the vdpbf16ps kernel measured slower than float FMAs
 * (docs/benchmarks.md) — else the portable path. */
static int resolve(int k, const hc_config *c)
{
    if (k != HC_KERNEL_AUTO)
        return k;
    return hck_fused(HCK_AMX) && c->d_head % 32 == 0 ? HC_KERNEL_AMX
           : hck_fused(HCK_AVX512)                   ? HC_KERNEL_AVX512
                                                     : HC_KERNEL_GENERIC;
}

size_t hc_sweep_head_bytes(const hc_config *c, int kernel)
{
    return hck_packed_floats(kind_of(resolve(kernel, c)), c->d_head, c->d_vocab) * sizeof(float);
}

int hc_sweep_direct(const hc_config *c, long positions)
{
    return positions > 0 && positions * (c->d_model - c->d_head) < (long)c->d_head * c->d_model;
}

const char *hc_sweep_kernel_name(const hc_sweep *sw) { return hc_kernel_name(sw->o.kernel); }

static int pick_kernel(hc_sweep *sw)
{
    int k = sw->o.kernel;
    const char *env = getenv("HEADCAL_KERNEL");
    if (k == HC_KERNEL_AUTO && env && *env) {
        int i = 0;
        while (i < N_KERNELS && strcmp(env, kernels[i].name))
            i++;
        if (i == N_KERNELS)
            return hc_fail(HC_EUSAGE, "HEADCAL_KERNEL=%s: expected generic, avx512, avx512bf16 or amx", env);
        k = kernels[i].kernel;
    }
    k = resolve(k, &sw->m->cfg);
    if (!hc_sweep_kernel_available(k))
        return hc_fail(HC_EUSAGE,
                       k == HC_KERNEL_AMX          ? "the amx kernel needs a CPU with AMX-BF16 and AVX-512, and Linux's permission"
                       : k == HC_KERNEL_AVX512BF16 ? "the avx512bf16 kernel needs a CPU with AVX512_BF16; this one lacks it"
                                                   : "the avx512 kernel needs a CPU with AVX-512F and DQ; this one lacks them");
    sw->o.kernel = k;
    sw->kind = kind_of(k);
    sw->fused = hck_fused(sw->kind);
    return 0;
}

int hc_sweep_kernel_choose(const hc_model *m, const hc_sweep_opts *o, const char **name)
{
    hc_sweep sw = {.m = m, .o = *o};
    if (pick_kernel(&sw))
        return -1;
    *name = hc_sweep_kernel_name(&sw);
    return 0;
}

/* Whether member x multiplies W_U itself (rank d_model): an MLP, or a
 * head when the run takes the direct path. */
static int through_wu(const hc_sweep *sw, const hc_component *x) { return x->head == HC_MLP || sw->direct; }

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
                if (!through_wu(sw, x) && g->slot[x->layer * c->n_head + x->head] < 0)
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
            if (!through_wu(sw, x) && g->slot[hid] < 0) {
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
    sw->direct = hc_sweep_direct(&m->cfg, o->positions);
    size_t per_slot = hc_sweep_head_bytes(&m->cfg, sw->o.kernel);
    sw->slot_floats = per_slot / sizeof(float);
    size_t lh = (size_t)m->cfg.n_layer * m->cfg.n_head;
    sw->max_slots = o->mem_budget ? (int)(o->mem_budget / per_slot < lh ? o->mem_budget / per_slot : lh) : (int)lh;
    for (int i = 0; sw->max_slots == 0 && i < total; i++)
        if (!through_wu(sw, &sw->comps[i])) {
            hc_sweep_free(sw);
            return hc_fail(HC_EUSAGE, "--mem %zu MB cannot hold one head's W_OU (%zu MB); raise --mem",
                           o->mem_budget >> 20, (per_slot + (1u << 20) - 1) >> 20);
        }
    if (make_groups(sw) || !(sw->need = hc_malloc((size_t)n_var * sizeof *sw->need))) {
        hc_sweep_free(sw);
        return -1;
    }
    for (int v = 0; v < n_var; v++) {
        sw->need[v] = -1;
        for (int i = 0; i < sw->vars[v].n; i++)
            if (!through_wu(sw, &sw->vars[v].c[i]) && sw->vars[v].c[i].layer > sw->need[v])
                sw->need[v] = sw->vars[v].c[i].layer;
    }
    int slots = 0;
    for (int g = 0; g < sw->n_groups; g++)
        slots = sw->groups[g].n_slots > slots ? sw->groups[g].n_slots : slots;
    sw->max_slots = slots;
    /* page-aligned, as the kernels load whole cache lines (GPT-2 small's
     * cache is 1.8 GB) */
    sw->wou_bytes = (size_t)slots * per_slot;
    if (slots)
        sw->wou = hc_bigmem_alloc(sw->wou_bytes);
    if (slots && !sw->wou) {
        hc_sweep_free(sw);
        return hc_fail(HC_EBAD, "out of memory for W_OU (%zu MB); lower --mem", (size_t)slots * per_slot >> 20);
    }
    *out = sw;
    return 0;
}

void hc_sweep_set_means(hc_sweep *sw, const hc_means *mn) { sw->means = mn; }
void hc_sweep_set_cancel(hc_sweep *sw, atomic_int *cancel) { sw->cancel = cancel; }
void hc_sweep_set_tick(hc_sweep *sw, void (*tick)(void *ctx, int done, int total), void *ctx)
{
    sw->tick = tick;
    sw->tick_ctx = ctx;
}
void hc_sweep_set_part(hc_sweep *sw, int (*part)(void *ctx, const hc_sweep_out *out, const char *final), void *ctx)
{
    sw->part = part;
    sw->part_ctx = ctx;
}

/* Columns of W_U per W_OU product: a layer's heads at once are a
 * [d_model, 8192] block (25 MB for GPT-2).  Wider blocks mean fewer,
 * larger products: on Zen 5 8192 columns formed GPT-2 small's W_OU about
 * 10% faster than 2048 (docs/benchmarks.md, "W_OU"). */
enum { WOU_COLS = 8192 };

/* One product's packing: each head of the layer's range [h0, h1) that the
 * group holds, its rows of tmp[(h1−h0)·dh, nc] packed into its slot. */
typedef struct {
    hc_sweep *sw;
    const int *slot;
    const float *tmp;
    int l, h0, c0, nc;
} pack_ctx;

static int pack_task(void *vctx, int task, int worker)
{
    const pack_ctx *pc = vctx;
    const hc_sweep *sw = pc->sw;
    const hc_config *c = &sw->m->cfg;
    int slot = pc->slot[pc->l * c->n_head + pc->h0 + task];
    if (slot >= 0)
        hck_pack(sw->kind, pc->tmp + (size_t)task * c->d_head * WOU_COLS, WOU_COLS, c->d_head, c->d_vocab, pc->c0,
                 pc->nc, sw->wou + (size_t)slot * sw->slot_floats);
    return 0;
}

/* W_OU^h[dh, V] = W_O^h[dh, D] · W_U[D, V] for the heads of layer l
 * that have a slot (slot[l·H + h] ≥ 0), packed there for the kernel: the
 * rows of W_O from the first to the last such head go through W_U
 * together, a block of columns at a time — one large sgemm on every core
 * (outside the pool, so OpenBLAS threads it), then the heads' slices
 * packed in the pool.  tmp holds [d_model, WOU_COLS] floats. */
static int form_layer(hc_sweep *sw, const int *slot, int l, float *tmp)
{
    const hc_config *c = &sw->m->cfg;
    int D = c->d_model, dh = c->d_head, V = c->d_vocab, H = c->n_head;
    int h0 = H, h1 = 0, rc = 0;
    const double t0 = hc_seconds();
    for (int h = 0; h < H; h++)
        if (slot[l * H + h] >= 0) {
            h0 = h < h0 ? h : h0;
            h1 = h + 1;
        }
    for (int c0 = 0; c0 < V && h0 < h1 && !rc; c0 += WOU_COLS) {
        int nc = V - c0 < WOU_COLS ? V - c0 : WOU_COLS;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (h1 - h0) * dh, nc, D, 1.0f,
                    sw->m->p.w_o + (size_t)l * D * D + (size_t)h0 * dh * D, D, sw->m->p.w_u + c0, V, 0.0f, tmp,
                    WOU_COLS);
        pack_ctx pc = {sw, slot, tmp, l, h0, c0, nc};
        rc = hc_pool_run(sw->o.threads, h1 - h0, pack_task, &pc, sw->cancel);
    }
    sw->wou_seconds += hc_seconds() - t0;
    return rc;
}

static float *wou_tmp(const hc_sweep *sw, const group *g)
{
    return g->n_slots ? hc_malloc((size_t)sw->m->cfg.d_model * WOU_COLS * sizeof(float)) : NULL;
}

/* Every layer's W_OU of group gi, unless the cache holds them. */
static int load_group(hc_sweep *sw, int gi)
{
    if (sw->wou_group == gi)
        return 0;
    const group *g = &sw->groups[gi];
    float *tmp = wou_tmp(sw, g);
    if (g->n_slots && !tmp)
        return -1;
    int rc = 0;
    for (int l = 0; l < sw->m->cfg.n_layer && !rc; l++)
        rc = form_layer(sw, g->slot, l, tmp);
    free(tmp);
    sw->wou_group = rc ? -1 : gi;
    return rc ? hc_fail(HC_EBAD, "cancelled") : 0;
}

static int member_k(const hc_sweep *sw, const hc_component *x)
{
    return through_wu(sw, x) ? sw->m->cfg.d_model : sw->m->cfg.d_head;
}

/* Per-worker scratch of one tile task, carved from one allocation by a
 * layout computed once per group (scratch_plan): every part is
 * 64-byte aligned for the kernels' whole-cache-line loads. */
typedef struct {
    float *base;  /* [TILE_T, TILE_V] the baseline logits of a vocabulary tile */
    float *buf;   /* [TILE_T, TILE_V] one variant's logits (generic) or its MLP-updated base (fused) */
    float *r;     /* [TILE_T, D] the members' output, for the recomputed scale */
    float *zh;    /* [TILE_T, d_head] a head's activation before W_O (direct path) */
    float *alpha; /* [nv, TILE_T] the base scale σ/σ' per variant */
    float *a;     /* every member of every variant: [Tp, K] scaled by 1/σ' */
    uint16_t *a16;/* bf16x3 kernels: the heads' a split (hck_split_rows) */
    hck_row *rows;/* [nv, TILE_T] */
    float *tk;    /* [nv, TILE_T, k] */
    int32_t *ti;  /* [nv, TILE_T, k] */
    hck_seg *seg; /* fused kernels: one variant's head members */
} tile_scratch;

typedef struct {
    size_t base, buf, r, zh, alpha, a, a16, rows, tk, ti, seg, bytes;
} scratch_layout;

static scratch_layout scratch_plan(const hc_sweep *sw, const group *g)
{
    const hc_config *c = &sw->m->cfg;
    const size_t nv = (size_t)(g->v1 - g->v0), k = (size_t)sw->o.top_k;
    size_t a = 0, a16 = 0, members = 1;
    for (int v = g->v0; v < g->v1; v++) {
        members = (size_t)sw->vars[v].n > members ? (size_t)sw->vars[v].n : members;
        for (int i = 0; i < sw->vars[v].n; i++) {
            const hc_component *x = &sw->vars[v].c[i];
            a += (size_t)TILE_T * member_k(sw, x);
            if (hck_splits(sw->kind) && !through_wu(sw, x))
                a16 += (size_t)2 * TILE_T * hck_amx_depth(c->d_head);
        }
    }
    scratch_layout l;
    size_t at = 0;
#define PART(field, bytes) (l.field = at, at = (at + (bytes) + 63) & ~(size_t)63)
    PART(base, (size_t)TILE_T * TILE_V * sizeof(float));
    PART(buf, (size_t)TILE_T * TILE_V * sizeof(float));
    PART(r, (size_t)TILE_T * c->d_model * sizeof(float));
    PART(zh, (size_t)TILE_T * c->d_head * sizeof(float));
    PART(alpha, nv * TILE_T * sizeof(float));
    PART(a, a * sizeof(float));
    PART(a16, a16 * sizeof(uint16_t));
    PART(rows, nv * TILE_T * sizeof(hck_row));
    PART(tk, nv * TILE_T * k * sizeof(float));
    PART(ti, nv * TILE_T * k * sizeof(int32_t));
    PART(seg, members * sizeof(hck_seg));
#undef PART
    l.bytes = at;
    return l;
}

static tile_scratch scratch_carve(const scratch_layout *l, char *mem)
{
    return (tile_scratch){(float *)(mem + l->base), (float *)(mem + l->buf),   (float *)(mem + l->r),
                          (float *)(mem + l->zh),   (float *)(mem + l->alpha), (float *)(mem + l->a),
                          (uint16_t *)(mem + l->a16), (hck_row *)(mem + l->rows), (float *)(mem + l->tk),
                          (int32_t *)(mem + l->ti), (hck_seg *)(mem + l->seg)};
}

/* Everything the tile tasks of one batch and one pass share: the pass
 * sweeps variants vl[0..nv) of group gi. */
typedef struct {
    hc_sweep *sw;
    int gi, N, S, P;
    const int *slot; /* [L·H] each head's slot in the W_OU cache for this pass */
    float *base;     /* [P, V] the baseline logits kept between passes (keep_base), or NULL */
    int base_ready;  /* base holds them: a pass has run */
    int *vl;
    int nv;
    const float *z, *mlp, *resid, *scale, *xn; /* forward activations */
    const int32_t *tok_of;                     /* [P] token index (b*S + t) of each scored position */
    hc_sweep_out *out;
    scratch_layout layout;
    char **scratch; /* per worker, layout.bytes */
} batch_ctx;

/* The activation of member x (its own width: d_head or d_model) at token
 * n, minus its per-position mean under mean ablation: a[K]. */
static void member_act(const batch_ctx *bc, const hc_component *x, int n, float *a)
{
    const hc_config *c = &bc->sw->m->cfg;
    int D = c->d_model, K = x->head != HC_MLP ? c->d_head : D, col = x->head != HC_MLP ? x->head * c->d_head : 0;
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

/* Fills a[Tp, K] with member x's activations at the tile's T positions
 * (rows past T zero, for the kernels' row blocks); a head on the direct
 * path is taken through its W_O, to rank d_model. */
static void member_rows(const batch_ctx *bc, const tile_scratch *ts, const hc_component *x, int p0, int T, int Tp,
                        float *a)
{
    const hc_sweep *sw = bc->sw;
    const hc_config *c = &sw->m->cfg;
    const int K = member_k(sw, x), D = c->d_model, dh = c->d_head;
    const int wide_head = x->head != HC_MLP && sw->direct;
    for (int t = 0; t < T; t++)
        member_act(bc, x, bc->tok_of[p0 + t], wide_head ? ts->zh + (size_t)t * dh : a + (size_t)t * K);
    if (wide_head)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, dh, 1.0f, ts->zh, dh,
                    sw->m->p.w_o + (size_t)x->layer * D * D + (size_t)x->head * dh * D, D, 0.0f, a, D);
    memset(a + (size_t)T * K, 0, (size_t)(Tp - T) * K * sizeof(float));
}

/* Per variant of the group: every member's activations at the tile's
 * positions, scaled by 1/σ', the base scale α = σ/σ', and for the bf16x3
 * kernels the heads' activations split. */
static void prepare_members(const batch_ctx *bc, const tile_scratch *ts, int p0, int T, int Tp)
{
    hc_sweep *sw = bc->sw;
    const hc_config *c = &sw->m->cfg;
    const int D = c->d_model;
    float *a = ts->a;
    uint16_t *a16 = ts->a16;
    for (int vi = 0; vi < bc->nv; vi++) {
        const hc_variant_spec *vs = &sw->vars[bc->vl[vi]];
        float *alpha_v = ts->alpha + (size_t)vi * TILE_T, *a_v = a;
        const int recompute = sw->o.ln == HC_LN_RECOMPUTE && vs->n;
        if (recompute)
            memset(ts->r, 0, (size_t)T * D * sizeof(float));
        for (int i = 0; i < vs->n; i++) {
            const hc_component *x = &vs->c[i];
            const int K = member_k(sw, x);
            member_rows(bc, ts, x, p0, T, Tp, a);
            if (recompute) {
                /* r[T, D] += a[T, K] · (W_O^h[K, D] or I) */
                if (!through_wu(sw, x))
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, K, 1.0f, a, K,
                                sw->m->p.w_o + (size_t)x->layer * D * D + (size_t)x->head * K * D, D, 1.0f, ts->r,
                                D);
                else
                    for (size_t j = 0; j < (size_t)T * D; j++)
                        ts->r[j] += a[j];
            }
            a += (size_t)Tp * K;
        }
        for (int t = 0; t < T; t++) {
            float sigma = bc->scale[bc->tok_of[p0 + t]], sigma2 = sigma;
            if (recompute) {
                /* σ' of the residual without the members' output */
                const float *x0 = bc->resid + (size_t)bc->tok_of[p0 + t] * D, *rt = ts->r + (size_t)t * D;
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
            float inv = 1.0f / sigma2, *row = a_v;
            for (int i = 0; i < vs->n; i++) {
                int K = member_k(sw, &vs->c[i]);
                for (int j = 0; j < K; j++)
                    row[(size_t)t * K + j] *= inv;
                row += (size_t)Tp * K;
            }
        }
        for (int i = 0; hck_splits(sw->kind) && i < vs->n; i++) {
            const int K = member_k(sw, &vs->c[i]);
            if (!through_wu(sw, &vs->c[i])) {
                hck_split_rows(a_v, Tp, K, a16);
                a16 += (size_t)2 * Tp * hck_amx_depth(K);
            }
            a_v += (size_t)Tp * K;
        }
    }
}

/* The generic path for one vocabulary tile: per variant, its logits
 * α·base + b_U − Σ a·B by OpenBLAS into buf, then the statistics. */
static void generic_tile(const batch_ctx *bc, const tile_scratch *ts, int T, int v0, int vt, const int32_t *target)
{
    const hc_sweep *sw = bc->sw;
    const hc_config *c = &sw->m->cfg;
    const int V = c->d_vocab, k = sw->o.top_k;
    const float *b_U = sw->m->p.b_u, *a = ts->a;
    for (int vi = 0; vi < bc->nv; vi++) {
        const hc_variant_spec *vs = &sw->vars[bc->vl[vi]];
        const float *alpha_v = ts->alpha + (size_t)vi * TILE_T;
        const size_t ro = (size_t)vi * TILE_T;
        for (int t = 0; t < T; t++)
            for (int j = 0; j < vt; j++)
                ts->buf[t * vt + j] = alpha_v[t] * ts->base[t * vt + j] + b_U[v0 + j];
        for (int i = 0; i < vs->n; i++) {
            const hc_component *x = &vs->c[i];
            const int K = member_k(sw, x), Tp = (T + HCK_ROW_PAD - 1) / HCK_ROW_PAD * HCK_ROW_PAD;
            const float *B = through_wu(sw, x)
                                 ? sw->m->p.w_u
                                 : sw->wou + (size_t)bc->slot[x->layer * c->n_head + x->head] * sw->slot_floats;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, vt, K, -1.0f, a, K, B + v0, V, 1.0f, ts->buf,
                        vt);
            a += (size_t)Tp * K;
        }
        hck_update(ts->buf, T, vt, v0, target, ts->rows + ro, ts->tk + ro * k, ts->ti + ro * k, k);
    }
}

/* The fused path for one vocabulary tile (base holding b_U): members that
 * multiply W_U go through OpenBLAS into buf, which then stands in for
 * α·base; the heads go to the kernel with the statistics. */
static void fused_tile(const batch_ctx *bc, const tile_scratch *ts, int T, int v0, int vt, const int32_t *target)
{
    const hc_sweep *sw = bc->sw;
    const hc_config *c = &sw->m->cfg;
    const int V = c->d_vocab, k = sw->o.top_k, Tp = (T + HCK_ROW_PAD - 1) / HCK_ROW_PAD * HCK_ROW_PAD;
    const float *b_U = sw->m->p.b_u + v0, *a = ts->a;
    const uint16_t *a16 = ts->a16;
    for (int vi = 0; vi < bc->nv; vi++) {
        const hc_variant_spec *vs = &sw->vars[bc->vl[vi]];
        const size_t ro = (size_t)vi * TILE_T;
        int wide = 0, ns = 0;
        for (int i = 0; i < vs->n; i++)
            wide |= through_wu(sw, &vs->c[i]);
        /* α = 1 exactly with the scale frozen (σ/σ) and for the baseline */
        const float *al = sw->o.ln == HC_LN_RECOMPUTE && vs->n ? ts->alpha + (size_t)vi * TILE_T : NULL;
        if (wide)
            for (int t = 0; t < T; t++)
                for (int j = 0; j < vt; j++)
                    ts->buf[t * vt + j] = al ? al[t] * (ts->base[t * vt + j] - b_U[j]) + b_U[j] : ts->base[t * vt + j];
        for (int i = 0; i < vs->n; i++) {
            const hc_component *x = &vs->c[i];
            const int K = member_k(sw, x);
            if (through_wu(sw, x))
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, vt, K, -1.0f, a, K, sw->m->p.w_u + v0, V,
                            1.0f, ts->buf, vt);
            else {
                ts->seg[ns++] = (hck_seg){a, a16, K, Tp,
                                          sw->wou + (size_t)bc->slot[x->layer * c->n_head + x->head] * sw->slot_floats};
                if (hck_splits(sw->kind))
                    a16 += (size_t)2 * Tp * hck_amx_depth(K);
            }
            a += (size_t)Tp * K;
        }
        sw->fused(ts->seg, ns, T, wide ? ts->buf : ts->base, vt, wide ? NULL : al, b_U, v0, vt, target, ts->rows + ro,
                  ts->tk + ro * k, ts->ti + ro * k, k);
    }
}

/* One tile of up to TILE_T scored positions for every variant of the
 * group: the members' activations, then per vocabulary tile the baseline
 * logits and each variant's statistics, then the finished rows. */
static int tile_task(void *vctx, int task, int worker)
{
    const batch_ctx *bc = vctx;
    hc_sweep *sw = bc->sw;
    const hc_config *c = &sw->m->cfg;
    const int D = c->d_model, V = c->d_vocab, k = sw->o.top_k;
    const int p0 = task * TILE_T, T = bc->P - p0 < TILE_T ? bc->P - p0 : TILE_T;
    const int Tp = (T + HCK_ROW_PAD - 1) / HCK_ROW_PAD * HCK_ROW_PAD;
    const tile_scratch ts = scratch_carve(&bc->layout, bc->scratch[worker]);
    int32_t target[TILE_T];
    for (int t = 0; t < T; t++)
        target[t] = bc->out->target[p0 + t];
    prepare_members(bc, &ts, p0, T, Tp);
    hck_rows_init(ts.rows, ts.tk, ts.ti, bc->nv * TILE_T, k);
    const float *xn = bc->xn + (size_t)p0 * D;
    for (int v0 = 0; v0 < V; v0 += TILE_V) {
        const int vt = V - v0 < TILE_V ? V - v0 : TILE_V;
        float *kept = bc->base ? bc->base + (size_t)p0 * V + v0 : NULL;
        if (kept && bc->base_ready)
            for (int t = 0; t < T; t++)
                memcpy(ts.base + (size_t)t * vt, kept + (size_t)t * V, (size_t)vt * sizeof(float));
        else {
            /* base[T, vt] = x̂[T, D] · W_U[D, v0:v0+vt] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, vt, D, 1.0f, xn, D, sw->m->p.w_u + v0, V, 0.0f,
                        ts.base, vt);
            /* the fused kernels start frozen-scale variants from the baseline's logits */
            for (int t = 0; sw->fused && t < T; t++)
                for (int j = 0; j < vt; j++)
                    ts.base[t * vt + j] += sw->m->p.b_u[v0 + j];
            for (int t = 0; kept && t < T; t++)
                memcpy(kept + (size_t)t * V, ts.base + (size_t)t * vt, (size_t)vt * sizeof(float));
        }
        if (sw->fused)
            fused_tile(bc, &ts, T, v0, vt, target);
        else
            generic_tile(bc, &ts, T, v0, vt, target);
    }
    /* Every row of the tile is final here, for the baseline and each variant. */
    hc_sweep_out *o = bc->out;
    for (int vi = 0; vi < bc->nv; vi++)
        for (int t = 0; t < T; t++) {
            size_t ro = (size_t)vi * TILE_T + t, oi = (size_t)bc->vl[vi] * o->n_pos + (size_t)(p0 + t);
            hck_finish(&ts.rows[ro], ts.tk + ro * k, k, o->topk_p + oi * k, &o->nll[oi], &o->entropy[oi]);
            memcpy(o->topk_id + oi * k, ts.ti + ro * k, (size_t)k * sizeof(int32_t));
        }
    if (sw->tick)
        sw->tick(sw->tick_ctx, atomic_fetch_add(&sw->tiles_done, 1) + 1, sw->tiles_total);
    return 0;
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

/* Whether group gi's W_OU is formed in this batch a layer at a time, the
 * variants swept as soon as their W_OU exists (pass_ends): in the first
 * batch, so that the first heads' results come out long before the last
 * W_OU is formed.  Later batches find a lone group's W_OU in the cache
 * and take one pass. */
static int group_split(const hc_sweep *sw, int gi)
{
    return sw->batches == 0 && sw->wou_group != gi && sw->groups[gi].n_slots;
}

/* Whether the first batch's passes keep its baseline logits [P, V] for
 * the next pass rather than recompute them: when they take at most a
 * quarter of the --mem budget (318 MB for GPT-2 small at 16 × 100 tokens). */
static int keep_base(const hc_sweep *sw, int P)
{
    return !sw->o.mem_budget || (size_t)P * sw->m->cfg.d_vocab * sizeof(float) <= sw->o.mem_budget / 4;
}

typedef struct {
    long depth;  /* Σ d_head over the heads whose W_OU was formed since the last pass */
    int pending; /* a variant whose W_OU is complete waits for a pass */
    int passes;
} pass_plan;

/* Whether a pass runs once layer l's W_OU of group g is formed: when some
 * variant's W_OU is complete, on the first layer that completes one (the
 * first heads show early), on the last, and in between only where the
 * W_OU formed since the previous pass cost at least as much as a baseline
 * — P·d_model·V multiply-adds against d_head·d_model·V per head formed —
 * so the split costs at most one baseline more than forming W_OU where
 * each pass recomputes the baseline logits.  Where they are kept
 * (keep_base) a pass adds less, but a pass on every layer measured slower
 * all the same: each pass ends with a core idle on its last tile. */
static int pass_ends(const hc_sweep *sw, const group *g, int l, int P, pass_plan *pp)
{
    const hc_config *c = &sw->m->cfg;
    int last = -1;
    for (int v = g->v0; v < g->v1; v++) {
        pp->pending |= sw->need[v] == l;
        last = sw->need[v] > last ? sw->need[v] : last;
    }
    for (int h = 0; h < c->n_head; h++)
        pp->depth += g->slot[l * c->n_head + h] >= 0 ? c->d_head : 0;
    if (!pp->pending || (pp->passes && pp->depth < P && l < last))
        return 0;
    *pp = (pass_plan){0, 0, pp->passes + 1};
    return 1;
}

/* Sweep passes of group gi in this batch of P positions. */
static int group_passes(const hc_sweep *sw, int gi, int P)
{
    if (!group_split(sw, gi))
        return 1;
    pass_plan pp = {0};
    for (int l = 0; l < sw->m->cfg.n_layer; l++)
        pass_ends(sw, &sw->groups[gi], l, P, &pp);
    return pp.passes;
}

/* One pass over every tile of the batch for the variants bc->vl[0..nv),
 * which are final afterwards; between passes of a batch that has variants
 * left, the finished ones are offered to the part callback. */
static int sweep_pass(hc_sweep *sw, const batch_ctx *bc, char *final)
{
    int rc = hc_pool_run(sw->o.threads, (bc->P + TILE_T - 1) / TILE_T, tile_task, (void *)bc, sw->cancel);
    int left = 0;
    for (int i = 0; i < bc->nv; i++)
        final[bc->vl[i]] = 1;
    for (int v = 0; v < sw->n_var; v++)
        left += !final[v];
    if (!rc && left && sw->part)
        rc = sw->part(sw->part_ctx, bc->out, final);
    return rc;
}

/* A run's only batch keeps no W_OU for later: its heads take slots as
 * their layer is formed and give them back once every variant that needs
 * them is final, so the cache holds a few layers at a time instead of
 * every head.  The saving is in first writes to fresh memory, which on a
 * virtual machine cost more than the products (docs/benchmarks.md). */
typedef struct {
    int *slot;    /* [L·H] the head's slot, or -1 */
    char *used;   /* [group's n_slots] */
    char *needed; /* [L·H] ring_give's scratch */
} slot_ring;

static int ring_new(slot_ring *r, const hc_sweep *sw, const group *g)
{
    const size_t lh = (size_t)sw->m->cfg.n_layer * sw->m->cfg.n_head;
    r->slot = hc_malloc(lh * sizeof *r->slot);
    r->used = hc_calloc((size_t)g->n_slots, 1);
    r->needed = hc_malloc(lh);
    if (!r->slot || !r->used || !r->needed)
        return -1;
    for (size_t i = 0; i < lh; i++)
        r->slot[i] = -1;
    return 0;
}

static void ring_free(slot_ring *r)
{
    free(r->slot);
    free(r->used);
    free(r->needed);
}

/* Slots, lowest free first, for the group's heads of layer l. */
static void ring_take(slot_ring *r, const hc_sweep *sw, const group *g, int l)
{
    const int H = sw->m->cfg.n_head;
    for (int h = 0, s = 0; h < H; h++)
        if (g->slot[l * H + h] >= 0) {
            while (r->used[s])
                s++;
            r->used[s] = 1;
            r->slot[l * H + h] = s;
        }
}

/* Frees the slots of heads that no variant left unfinished needs. */
static void ring_give(slot_ring *r, const hc_sweep *sw, const group *g, const char *final)
{
    const int H = sw->m->cfg.n_head, LH = sw->m->cfg.n_layer * H;
    char *needed = memset(r->needed, 0, (size_t)LH);
    for (int v = g->v0; v < g->v1; v++)
        for (int i = 0; !final[v] && i < sw->vars[v].n; i++)
            if (!through_wu(sw, &sw->vars[v].c[i]))
                needed[sw->vars[v].c[i].layer * H + sw->vars[v].c[i].head] = 1;
    for (int hid = 0; hid < LH; hid++)
        if (r->slot[hid] >= 0 && !needed[hid]) {
            r->used[r->slot[hid]] = 0;
            r->slot[hid] = -1;
        }
}

/* Group bc->gi's W_OU and its variants' passes (group_split). */
static int sweep_group(hc_sweep *sw, batch_ctx *bc, char *final)
{
    const group *g = &sw->groups[bc->gi];
    const int split = group_split(sw, bc->gi);
    slot_ring ring = {0};
    /* both are savings: without the memory for them the batch goes on */
    const int recycle = split && sw->o.positions == bc->P && !ring_new(&ring, sw, g);
    int *vl = bc->vl;
    bc->layout = scratch_plan(sw, g);
    bc->scratch = hc_calloc((size_t)sw->o.threads, sizeof *bc->scratch);
    bc->slot = recycle ? ring.slot : g->slot;
    float *tmp = split ? wou_tmp(sw, g) : NULL;
    pass_plan pp = {0};
    const int kept = split && group_passes(sw, bc->gi, bc->P) > 1 && keep_base(sw, bc->P);
    const size_t base_bytes = kept ? (size_t)bc->P * sw->m->cfg.d_vocab * sizeof(float) : 0;
    bc->base = kept ? hc_bigmem_alloc(base_bytes) : NULL;
    bc->base_ready = 0;
    int rc = bc->scratch && (!split || tmp) ? 0 : -1;
    for (int w = 0; w < sw->o.threads && !rc; w++)
        if (!(bc->scratch[w] = aligned_alloc(64, bc->layout.bytes)))
            rc = hc_fail(HC_EBAD, "out of memory for the sweep's scratch (%zu MB a worker)", bc->layout.bytes >> 20);
    if (!rc && !split) {
        bc->nv = 0;
        for (int v = g->v0; v < g->v1; v++)
            vl[bc->nv++] = v;
        rc = load_group(sw, bc->gi);
        if (!rc)
            rc = sweep_pass(sw, bc, final);
    }
    if (split)
        sw->wou_group = -1;
    for (int l = 0; split && l < sw->m->cfg.n_layer && !rc; l++) {
        if (recycle)
            ring_take(&ring, sw, g, l);
        if ((rc = form_layer(sw, bc->slot, l, tmp))) {
            rc = hc_fail(HC_EBAD, "cancelled");
            break;
        }
        if (!pass_ends(sw, g, l, bc->P, &pp))
            continue;
        bc->nv = 0;
        for (int v = g->v0; v < g->v1; v++)
            if (!final[v] && sw->need[v] <= l)
                vl[bc->nv++] = v;
        rc = sweep_pass(sw, bc, final);
        bc->base_ready = 1;
        if (recycle)
            ring_give(&ring, sw, g, final);
    }
    if (split && !recycle && !rc)
        sw->wou_group = bc->gi;
    ring_free(&ring);
    hc_bigmem_free(bc->base, base_bytes);
    free(tmp);
    for (int w = 0; w < sw->o.threads && bc->scratch; w++)
        free(bc->scratch[w]);
    free(bc->scratch);
    return rc;
}

double hc_sweep_wou_seconds(const hc_sweep *sw) { return sw->wou_seconds; }

int hc_sweep_batch(hc_sweep *sw, const int32_t *tokens, const int *lengths, int B, int S, hc_sweep_out *out)
{
    const hc_config *c = &sw->m->cfg;
    const int D = c->d_model;
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
    atomic_store(&sw->tiles_done, 0);
    int rc = ws_fit(&sw->ws, c, N, (size_t)P, needs_mlp(sw));
    float *z = sw->ws.z, *mlp = sw->ws.mlp, *resid = sw->ws.resid, *scale = sw->ws.scale, *xn = sw->ws.xn;
    int32_t *tok_of = sw->ws.tok_of;
    if (!rc) {
        hc_acts acts = {.z = z, .mlp_out = mlp, .resid = resid, .scale = scale, .threads = sw->o.threads};
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
    char *final = hc_calloc((size_t)sw->n_var, 1);
    int *vl = hc_malloc((size_t)sw->n_var * sizeof *vl);
    if (!rc && (!final || !vl))
        rc = -1;
    sw->tiles_total = 0;
    for (int gi = 0; gi < sw->n_groups; gi++)
        sw->tiles_total += group_passes(sw, gi, P) * ((P + TILE_T - 1) / TILE_T);
    for (int gi = 0; gi < sw->n_groups && !rc; gi++) {
        batch_ctx bc = {.sw = sw, .gi = gi, .N = (int)N, .S = S, .P = P, .z = z, .mlp = mlp, .resid = resid,
                        .scale = scale, .xn = xn, .tok_of = tok_of, .vl = vl, .out = out};
        rc = sweep_group(sw, &bc, final);
    }
    if (!rc)
        sw->batches++;
    free(final);
    free(vl);
    if (rc)
        hc_sweep_out_free(out);
    return rc;
}
