/* Results in memory: the run's description, its variants, their
 * invariants, and merging.  The file format is in results_io.c. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/error.h"
#include <math.h>
#include "headcal/results.h"

/* Per-variant cells (batches x bins) kept in memory, 48 bytes each. */
#define CELL_LIMIT (1 << 22)

const char *const hc_variant_kind_names[4] = {"baseline", "head", "mlp", "set"};
const char *const hc_ablation_names[2] = {"zero", "mean"};
const char *const hc_ln_names[2] = {"frozen", "recompute"};
const char *const hc_data_mode_names[2] = {"truncate", "chunk"};



static int cmp_qsort(const void *a, const void *b)
{
    return hc_component_cmp(a, b);
}

static int in_range(const char *name, long long v, long long lo, long long hi)
{
    if (v < lo || v > hi)
        return hc_fail(HC_EBAD, "%s: %lld is out of range [%lld, %lld]", name, v, lo, hi);
    return 0;
}

static int check_sha(const char *name, const char *hex)
{
    size_t n = strspn(hex, "0123456789abcdef");
    if (n != 64 || hex[n])
        return hc_fail(HC_EBAD, "%s: not 64 lowercase hex digits", name);
    return 0;
}

static int check_description(const hc_results_model *m, const hc_results_data *d,
                             const hc_results_params *p)
{
    if (check_sha("model.sha256", m->sha256) ||
        in_range("model.n_layers", m->n_layers, 1, 1 << 20) ||
        in_range("model.n_heads", m->n_heads, 1, 1 << 20) ||
        in_range("model.d_model", m->d_model, 1, 1 << 30) ||
        in_range("model.d_vocab", m->d_vocab, 1, 1 << 30) ||
        check_sha("data.sha256", d->sha256) ||
        in_range("data.shuffle_seed", d->shuffle_seed, -1, UINT32_MAX) ||
        in_range("data.mode", d->chunk, 0, 1) ||
        in_range("params.batch_size", p->batch_size, 1, 1 << 30) ||
        in_range("params.batches", p->batches, 1, CELL_LIMIT) ||
        in_range("params.seq_len", p->seq_len, 2, 1 << 30) ||
        in_range("params.top_k", p->top_k, 1, m->d_vocab) ||
        in_range("params.bins", p->bins, 1, 100000) ||
        in_range("params.ablation", p->ablation, HC_ABLATION_ZERO, HC_ABLATION_MEAN) ||
        in_range("params.ln", p->ln, HC_LN_FROZEN, HC_LN_RECOMPUTE) ||
        in_range("params.shard count", p->shard_count, 1, 1 << 30) ||
        in_range("params.shard index", p->shard_index, 0, p->shard_count - 1LL))
        return -1;
    if ((long long)p->batches * p->bins > CELL_LIMIT)
        return hc_fail(HC_EBAD, "params: %d batches x %d bins exceeds the limit of %d cells",
                       p->batches, p->bins, CELL_LIMIT);
    return 0;
}

int hc_results_init(hc_results *r, const hc_results_model *model, const hc_results_data *data,
                    const hc_results_params *params)
{
    memset(r, 0, sizeof *r);
    if (check_description(model, data, params))
        return -1;
    r->model = *model;
    r->data = *data;
    r->params = *params;
    r->done = hc_calloc((size_t)params->batches, 1);
    return r->done ? 0 : -1;
}

void hc_results_free(hc_results *r)
{
    for (int i = 0; i < r->n_variants; i++) {
        free(r->variants[i].id);
        free(r->variants[i].members);
        hc_calib_free(&r->variants[i].calib);
    }
    free(r->variants);
    free(r->done);
    memset(r, 0, sizeof *r);
}

int hc_results_find(const hc_results *r, const char *id)
{
    for (int i = 0; i < r->n_variants; i++)
        if (!strcmp(r->variants[i].id, id))
            return i;
    return -1;
}

int hc_results_baseline(const hc_results *r)
{
    return hc_results_find(r, "baseline");
}

static int check_members(const hc_results *r, hc_variant_kind kind, const hc_component *m, int n)
{
    static const int min_n[] = {0, 1, 1, 2}, max_n[] = {0, 1, 1, 1 << 20};
    if (n < min_n[kind] || n > max_n[kind])
        return hc_fail(HC_EBAD, "a %s variant cannot have %d members", hc_variant_kind_names[kind], n);
    for (int i = 0; i < n; i++) {
        char name[32];
        hc_component_name(m[i], name, sizeof name);
        if (m[i].layer < 0 || m[i].layer >= r->model.n_layers ||
            m[i].head < HC_MLP || m[i].head >= r->model.n_heads)
            return hc_fail(HC_EBAD, "%s is not in a model of %d layers x %d heads", name,
                           r->model.n_layers, r->model.n_heads);
        if ((kind == HC_VARIANT_HEAD && m[i].head == HC_MLP) ||
            (kind == HC_VARIANT_MLP && m[i].head != HC_MLP))
            return hc_fail(HC_EBAD, "%s is not a %s", name, kind == HC_VARIANT_HEAD ? "head" : "MLP");
        if (i > 0 && !hc_component_cmp(&m[i - 1], &m[i]))
            return hc_fail(HC_EBAD, "%s appears twice in a set", name);
    }
    return 0;
}

int hc_results_add_variant(hc_results *r, hc_variant_kind kind, const hc_component *members,
                           int n_members)
{
    if ((unsigned)kind > HC_VARIANT_SET || n_members < 0)
        return hc_fail(HC_EBAD, "invalid variant (kind %d, %d members)", (int)kind, n_members);
    hc_variant v = {.kind = kind, .n_members = n_members};
    if (!(v.members = hc_malloc((size_t)n_members * sizeof *members)))
        return -1;
    if (n_members)
        memcpy(v.members, members, (size_t)n_members * sizeof *members);
    qsort(v.members, (size_t)n_members, sizeof *members, cmp_qsort);
    if (check_members(r, kind, v.members, n_members))
        goto fail;

    size_t len = kind == HC_VARIANT_BASELINE ? 9 : (size_t)n_members * 32;
    if (!(v.id = hc_malloc(len)))
        goto fail;
    if (kind == HC_VARIANT_BASELINE)
        strcpy(v.id, "baseline");
    for (int i = 0, at = 0; i < n_members; i++) {
        if (i)
            v.id[at++] = '+';
        hc_component_name(v.members[i], v.id + at, len - (size_t)at);
        at += (int)strlen(v.id + at);
    }
    if (hc_results_find(r, v.id) >= 0) {
        hc_fail(HC_EBAD, "variant %s appears twice", v.id);
        goto fail;
    }
    hc_variant *grown = hc_realloc(r->variants, (size_t)(r->n_variants + 1) * sizeof *grown);
    if (!grown)
        goto fail;
    r->variants = grown;
    if (hc_calib_init(&v.calib, r->params.bins, r->params.top_k, r->params.batches))
        goto fail;
    r->variants[r->n_variants] = v;
    return r->n_variants++;
fail:
    free(v.members);
    free(v.id);
    return -1;
}

uint64_t hc_results_positions(const hc_results *r)
{
    uint64_t n = 0;
    if (r->n_variants)
        for (int b = 0; b < r->params.batches; b++)
            n += r->done[b] ? r->variants[0].calib.positions[b] : 0;
    return n;
}

int hc_results_metrics(const hc_results *r, int v, hc_metrics *m)
{
    int base = hc_results_baseline(r);
    return hc_metrics_compute(m, &r->variants[v].calib, base >= 0 ? &r->variants[base].calib : NULL,
                              r->done);
}

static int batch_fail(const char *what, const hc_variant *v, int b, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int batch_fail(const char *what, const hc_variant *v, int b, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return hc_fail(HC_EBAD, "%s: variant %s, batch %d: %s", what, v->id, b, detail);
}

/* The invariants of batch b of variant v (docs/results-format.md). */
static int check_batch(const hc_results *r, const hc_variant *v, int b, const char *what)
{
#define BAD(...) batch_fail(what, v, b, __VA_ARGS__)
    const hc_calib *c = &v->calib, *base = &r->variants[0].calib;
    int n = c->n_bins;
    size_t off = (size_t)b * (size_t)n;
    const uint64_t *cnt = c->count[HC_BUCKET_COUNT] + off, *cor = c->count[HC_BUCKET_CORRECT] + off,
                   *t1n = c->count[HC_TOP1_COUNT] + off, *t1c = c->count[HC_TOP1_CORRECT] + off;
    uint64_t pos = c->positions[b], events = 0, top1 = 0, correct = 0;
    if (!r->done[b]) {
        int empty = pos == 0 && c->nll[b] == 0 && c->entropy[b] == 0;
        for (int i = 0; i < n && empty; i++)
            empty = !cnt[i] && !cor[i] && !t1n[i] && !t1c[i] && !c->conf[HC_BUCKET_CONF][off + i] &&
                    !c->conf[HC_TOP1_CONF][off + i];
        return empty ? 0 : BAD("has counts but is not marked completed");
    }
    if (!hc_shard_has(r->params.shard_index, r->params.shard_count, b))
        return BAD("is not part of shard %d/%d", r->params.shard_index, r->params.shard_count);
    if (pos != base->positions[b])
        return BAD("%" PRIu64 " positions where %s has %" PRIu64, pos, r->variants[0].id,
                   base->positions[b]);
    /* Bounding pos first keeps every sum below from overflowing. */
    if (pos >= HC_COUNT_LIMIT / (uint64_t)c->top_k)
        return BAD("%" PRIu64 " positions x top-k %d is not below 2^53", pos, c->top_k);
    uint64_t want = pos * (uint64_t)c->top_k;
    for (int i = 0; i < n; i++) {
        if (cor[i] > cnt[i] || t1c[i] > t1n[i])
            return BAD("bin %d: more correct events than events", i);
        if (t1n[i] > cnt[i] || t1c[i] > cor[i])
            return BAD("bin %d: more top-1 events than events", i);
        for (int t = 0; t < HC_N_CONF_TABLES; t++) {
            /* Probabilities in bin i lie in [i/n, (i+1)/n]; a little slack
             * for float softmax rounding (p may exceed 1 by an ulp). */
            double s = c->conf[t][off + i];
            double k = (double)(t == HC_BUCKET_CONF ? cnt[i] : t1n[i]), tol = 1e-5 * k + 1e-9;
            if (!isfinite(s) || s < k * i / n - tol || s > k * (i + 1) / n + tol)
                return BAD("bin %d: confidence sum %.17g is not that of %.0f events in [%g, %g]",
                           i, s, k, (double)i / n, (double)(i + 1) / n);
        }
        events += cnt[i];
        top1 += t1n[i];
        correct += cor[i];
        if (events > want)
            break;
    }
    if (events != want || top1 != pos)
        return BAD("the bins hold %s%" PRIu64 " events and %" PRIu64 " top-1 events, but %" PRIu64
                   " positions with top-k %d make %" PRIu64 " and %" PRIu64,
                   events > want ? "at least " : "", events, top1, pos, c->top_k, want, pos);
    if (correct > pos)
        return BAD("%" PRIu64 " correct events for %" PRIu64 " positions", correct, pos);
    double tol = 1e-5 * (double)pos;
    if (!isfinite(c->nll[b]) || c->nll[b] < -tol)
        return BAD("NLL sum %g is not a finite non-negative number", c->nll[b]);
    if (!isfinite(c->entropy[b]) || c->entropy[b] < -tol ||
        c->entropy[b] > (double)pos * log(r->model.d_vocab) * (1 + 1e-6) + tol)
        return BAD("entropy sum %g is outside [0, positions x ln(d_vocab)]", c->entropy[b]);
#undef BAD
    return 0;
}

int hc_results_validate(const hc_results *r, const char *what)
{
    if (hc_results_baseline(r) != 0)
        return hc_fail(HC_EBAD, "%s: the first variant must be the baseline", what);
    for (int i = 0; i < r->n_variants; i++)
        for (int b = 0; b < r->params.batches; b++)
            if (check_batch(r, &r->variants[i], b, what))
                return -1;
    /* Each batch's positions are below the limit, so the sum cannot wrap
     * before it passes it. */
    uint64_t total = 0, limit = HC_COUNT_LIMIT / (uint64_t)r->params.top_k;
    for (int b = 0; b < r->params.batches && total < limit; b++)
        total += r->done[b] ? r->variants[0].calib.positions[b] : 0;
    if (total >= limit)
        return hc_fail(HC_EBAD, "%s: too many positions for exact counts (2^53 events)", what);
    return 0;
}

static int differs(const char *path, const char *field, const char *mine, const char *theirs)
{
    return hc_fail(HC_EBAD, "%s: cannot be merged: %s is %s, expected %s", path, field, theirs, mine);
}

/* An integer field, or an enumeration when names is not NULL. */
static int differs_int(const char *path, const char *field, const char *const *names,
                       long long mine, long long theirs)
{
    char a[32], b[32];
    snprintf(a, sizeof a, "%lld", mine);
    snprintf(b, sizeof b, "%lld", theirs);
    return differs(path, field, names ? names[mine] : a, names ? names[theirs] : b);
}

int hc_results_compatible(const hc_results *r, const hc_results *o, const char *o_path)
{
    const struct {
        const char *name;
        const char *const *names;
        long long mine, theirs;
    } fields[] = {
        {"model.n_layers", NULL, r->model.n_layers, o->model.n_layers},
        {"model.n_heads", NULL, r->model.n_heads, o->model.n_heads},
        {"model.d_model", NULL, r->model.d_model, o->model.d_model},
        {"model.d_vocab", NULL, r->model.d_vocab, o->model.d_vocab},
        {"data.shuffle_seed (-1: none)", NULL, r->data.shuffle_seed, o->data.shuffle_seed},
        {"data.mode", hc_data_mode_names, r->data.chunk, o->data.chunk},
        {"params.batch_size", NULL, r->params.batch_size, o->params.batch_size},
        {"params.batches", NULL, r->params.batches, o->params.batches},
        {"params.seq_len", NULL, r->params.seq_len, o->params.seq_len},
        {"params.top_k", NULL, r->params.top_k, o->params.top_k},
        {"params.bins", NULL, r->params.bins, o->params.bins},
        {"params.ablation", hc_ablation_names, r->params.ablation, o->params.ablation},
        {"params.ln", hc_ln_names, r->params.ln, o->params.ln},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].mine != fields[i].theirs)
            return differs_int(o_path, fields[i].name, fields[i].names, fields[i].mine,
                               fields[i].theirs);
    /* The hashes last: different parameters change the data's hash too, and
     * the parameter is the more useful thing to name. */
    if (strcmp(r->model.sha256, o->model.sha256))
        return differs(o_path, "model.sha256", r->model.sha256, o->model.sha256);
    if (strcmp(r->data.sha256, o->data.sha256))
        return differs(o_path, "data.sha256", r->data.sha256, o->data.sha256);
    if (r->n_variants != o->n_variants)
        return differs_int(o_path, "the number of variants", NULL, r->n_variants, o->n_variants);
    for (int i = 0; i < r->n_variants; i++)
        if (hc_results_find(o, r->variants[i].id) < 0)
            return hc_fail(HC_EBAD, "%s: cannot be merged: it has no variant %s", o_path,
                           r->variants[i].id);
    return 0;
}

int hc_results_merge(hc_results *dst, const hc_results *src, const char *src_path)
{
    if (hc_results_compatible(dst, src, src_path))
        return -1;
    for (int b = 0; b < dst->params.batches; b++)
        if (dst->done[b] && src->done[b])
            return hc_fail(HC_EBAD, "%s: cannot be merged: batch %d is already complete (overlapping shards)",
                           src_path, b);
    for (int i = 0; i < dst->n_variants; i++) {
        const hc_variant *s = &src->variants[hc_results_find(src, dst->variants[i].id)];
        for (int b = 0; b < dst->params.batches; b++)
            if (src->done[b] && hc_calib_merge_batch(&dst->variants[i].calib, &s->calib, b))
                return -1;
    }
    for (int b = 0; b < dst->params.batches; b++)
        dst->done[b] |= src->done[b];
    if (dst->params.shard_index != src->params.shard_index ||
        dst->params.shard_count != src->params.shard_count) {
        dst->params.shard_index = 0;
        dst->params.shard_count = 1;
    }
    return 0;
}
