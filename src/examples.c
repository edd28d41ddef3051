/* Bounded keepers of per-position examples (examples.h): sorted arrays of
 * at most N entries, insertion by the total order, merge of two lists, and
 * their JSON form in the results file. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/error.h"
#include "headcal/examples.h"
#include "json_number.h"

const char *const hc_example_list_names[HC_EX_LISTS] = {"logprob_up", "logprob_down", "confidence_up",
                                                         "confidence_down"};

void hc_examples_free(hc_examples *ex)
{
    for (int l = 0; l < HC_EX_LISTS; l++)
        free(ex->list[l].v);
    memset(ex, 0, sizeof *ex);
}

double hc_example_delta(const hc_example *e, int list)
{
    return list == HC_EX_LOGPROB_UP || list == HC_EX_LOGPROB_DOWN ? e->lp_after - e->lp_before
                                                                  : (double)e->p_after[0] - (double)e->p_before[0];
}

static int is_up(int list)
{
    return list == HC_EX_LOGPROB_UP || list == HC_EX_CONF_UP;
}

/* The order on (Δ, batch, row, pos) without building an example. */
static int ranks_before(double da, int32_t ba, int32_t ra, int32_t pa, double db, int32_t bb, int32_t rb,
                        int32_t pb, int up)
{
    if (da != db)
        return up ? da > db : da < db;
    if (ba != bb)
        return ba < bb;
    return ra != rb ? ra < rb : pa < pb;
}

int hc_example_before(const hc_example *a, const hc_example *b, int list)
{
    return ranks_before(hc_example_delta(a, list), a->batch, a->row, a->pos, hc_example_delta(b, list), b->batch,
                        b->row, b->pos, is_up(list));
}

/* Whether a candidate with this Δ and place would enter list l. */
static int qualifies(const hc_example_list *l, int list, int n, double d, int32_t batch, int32_t row, int32_t pos)
{
    int up = is_up(list);
    if (!isfinite(d) || !(up ? d > 0 : d < 0)) /* an infinite log p could not be written */
        return 0;
    if (l->len < n)
        return 1;
    const hc_example *w = &l->v[n - 1];
    return ranks_before(d, batch, row, pos, hc_example_delta(w, list), w->batch, w->row, w->pos, up);
}

static int insert(hc_example_list *l, int list, int n, const hc_example *e)
{
    if (!l->v && !(l->v = hc_malloc((size_t)n * sizeof *l->v)))
        return -1;
    int i = l->len < n ? l->len : n - 1;
    while (i > 0 && hc_example_before(e, &l->v[i - 1], list))
        i--;
    int keep = (l->len < n ? l->len : n - 1) - i;
    memmove(&l->v[i + 1], &l->v[i], (size_t)keep * sizeof *l->v);
    l->v[i] = *e;
    if (l->len < n)
        l->len++;
    return 0;
}

int hc_examples_offer(hc_examples *ex, int n, const hc_example *e)
{
    for (int l = 0; l < HC_EX_LISTS; l++)
        if (qualifies(&ex->list[l], l, n, hc_example_delta(e, l), e->batch, e->row, e->pos) &&
            insert(&ex->list[l], l, n, e))
            return -1;
    return 0;
}

int hc_examples_collect(hc_examples *ex, int n, int batch, const hc_sweep_out *out, int v, int base)
{
    if (n <= 0 || v == base)
        return 0;
    int k = out->k < HC_EXAMPLE_TOP ? out->k : HC_EXAMPLE_TOP;
    for (int i = 0; i < out->n_pos; i++) {
        size_t ob = (size_t)base * out->n_pos + i, ov = (size_t)v * out->n_pos + i;
        const float *pb = out->topk_p + ob * out->k, *pv = out->topk_p + ov * out->k;
        /* the same expressions as hc_example_delta, so the order agrees */
        double lb = -out->nll[ob], la = -out->nll[ov];
        double d[HC_EX_LISTS];
        d[HC_EX_LOGPROB_UP] = d[HC_EX_LOGPROB_DOWN] = la - lb;
        d[HC_EX_CONF_UP] = d[HC_EX_CONF_DOWN] = (double)pv[0] - (double)pb[0];
        int any = 0;
        for (int l = 0; l < HC_EX_LISTS && !any; l++)
            any = qualifies(&ex->list[l], l, n, d[l], batch, out->row[i], out->pos[i]);
        if (!any)
            continue;
        hc_example e = {.batch = batch, .row = out->row[i], .pos = out->pos[i], .target = out->target[i],
                        .lp_before = lb, .lp_after = la, .k = k};
        memcpy(e.id_before, out->topk_id + ob * out->k, (size_t)k * sizeof *e.id_before);
        memcpy(e.id_after, out->topk_id + ov * out->k, (size_t)k * sizeof *e.id_after);
        memcpy(e.p_before, pb, (size_t)k * sizeof *e.p_before);
        memcpy(e.p_after, pv, (size_t)k * sizeof *e.p_after);
        if (hc_examples_offer(ex, n, &e))
            return -1;
    }
    return 0;
}

int hc_examples_merge(hc_examples *dst, const hc_examples *src, int n)
{
    hc_example *tmp[HC_EX_LISTS] = {0};
    for (int l = 0; l < HC_EX_LISTS; l++)
        if (src->list[l].len && !(tmp[l] = hc_malloc((size_t)n * sizeof *tmp[l]))) {
            for (int j = 0; j < l; j++)
                free(tmp[j]);
            return -1;
        }
    /* Nothing can fail past here, so dst is never left half merged. */
    for (int l = 0; l < HC_EX_LISTS; l++) {
        if (!tmp[l])
            continue;
        hc_example_list *a = &dst->list[l];
        const hc_example_list *b = &src->list[l];
        int i = 0, j = 0, m = 0;
        while (m < n && (i < a->len || j < b->len)) {
            int from_a = j == b->len || (i < a->len && hc_example_before(&a->v[i], &b->v[j], l));
            tmp[l][m++] = from_a ? a->v[i++] : b->v[j++];
        }
        free(a->v);
        a->v = tmp[l];
        a->len = m;
    }
    return 0;
}

int hc_examples_of_batch(hc_examples *dst, const hc_examples *src, int b)
{
    memset(dst, 0, sizeof *dst);
    for (int l = 0; l < HC_EX_LISTS; l++) {
        const hc_example_list *a = &src->list[l];
        if (!a->len)
            continue;
        if (!(dst->list[l].v = hc_malloc((size_t)a->len * sizeof *a->v))) {
            hc_examples_free(dst);
            return -1;
        }
        for (int i = 0; i < a->len; i++)
            if (a->v[i].batch == b)
                dst->list[l].v[dst->list[l].len++] = a->v[i];
    }
    return 0;
}

static int ex_fail(const char *what, int list, int i, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int ex_fail(const char *what, int list, int i, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hc_fail(HC_EBAD, "%s: examples.%s[%d]: %s", what, hc_example_list_names[list], i, msg);
}

static int check_one(const hc_example *e, const hc_examples_bounds *b, const char *what, int l, int i)
{
    if (e->batch < 0 || e->batch >= b->batches || !b->done[e->batch])
        return ex_fail(what, l, i, "batch %d is not a completed batch", e->batch);
    if (e->row < 0 || e->row >= b->batch_size)
        return ex_fail(what, l, i, "row %d is outside the batch of %d", e->row, b->batch_size);
    if (e->pos < 0 || e->pos + 1 >= b->seq_len)
        return ex_fail(what, l, i, "position %d is not scored with seq_len %d", e->pos, b->seq_len);
    if (e->k != b->k)
        return ex_fail(what, l, i, "has %d top tokens, expected %d", e->k, b->k);
    if (e->target < 0 || e->target >= b->d_vocab)
        return ex_fail(what, l, i, "target %d is not in the vocabulary", e->target);
    if (!isfinite(e->lp_before) || !isfinite(e->lp_after))
        return ex_fail(what, l, i, "log-probabilities must be finite");
    for (int j = 0; j < e->k; j++) {
        if (e->id_before[j] < 0 || e->id_before[j] >= b->d_vocab || e->id_after[j] < 0 ||
            e->id_after[j] >= b->d_vocab)
            return ex_fail(what, l, i, "top token %d is not in the vocabulary", j);
        if (!(e->p_before[j] >= 0 && e->p_before[j] <= 1 && e->p_after[j] >= 0 && e->p_after[j] <= 1))
            return ex_fail(what, l, i, "top probability %d is not in [0, 1]", j);
    }
    double d = hc_example_delta(e, l);
    if (!(is_up(l) ? d > 0 : d < 0))
        return ex_fail(what, l, i, "change %.17g has the wrong sign for this list", d);
    return 0;
}

int hc_examples_check(const hc_examples *ex, const hc_examples_bounds *b, const char *what)
{
    for (int l = 0; l < HC_EX_LISTS; l++) {
        const hc_example_list *x = &ex->list[l];
        if (x->len > b->n)
            return ex_fail(what, l, b->n, "%d examples, but the run keeps %d", x->len, b->n);
        for (int i = 0; i < x->len; i++) {
            if (check_one(&x->v[i], b, what, l, i))
                return -1;
            if (i > 0 && !hc_example_before(&x->v[i - 1], &x->v[i], l))
                return ex_fail(what, l, i, "out of order (by change, then batch, row, position)");
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- JSON */

static cJSON *ints_json(const int32_t *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) {
        cJSON *it = cJSON_CreateNumber(v[i]);
        if (!it) {
            cJSON_Delete(a);
            return NULL;
        }
        cJSON_AddItemToArray(a, it);
    }
    return a;
}

static cJSON *floats_json(const float *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) {
        cJSON *it = hc_json_float(v[i]);
        if (!it) {
            cJSON_Delete(a);
            return NULL;
        }
        cJSON_AddItemToArray(a, it);
    }
    return a;
}

/* Adds item to o; false (and item freed) when it could not be made. */
static int add(cJSON *o, const char *key, cJSON *item)
{
    if (!item)
        return 0;
    cJSON_AddItemToObject(o, key, item);
    return 1;
}

static cJSON *example_json(const hc_example *e, int list)
{
    cJSON *o = cJSON_CreateObject();
    if (o && add(o, "batch", cJSON_CreateNumber(e->batch)) && add(o, "row", cJSON_CreateNumber(e->row)) &&
        add(o, "position", cJSON_CreateNumber(e->pos)) && add(o, "target", cJSON_CreateNumber(e->target)) &&
        add(o, "delta", hc_json_real(hc_example_delta(e, list))) &&
        add(o, "logprob_before", hc_json_real(e->lp_before)) && add(o, "logprob_after", hc_json_real(e->lp_after)) &&
        add(o, "top_ids_before", ints_json(e->id_before, e->k)) &&
        add(o, "top_p_before", floats_json(e->p_before, e->k)) &&
        add(o, "top_ids_after", ints_json(e->id_after, e->k)) && add(o, "top_p_after", floats_json(e->p_after, e->k)))
        return o;
    cJSON_Delete(o);
    return NULL;
}

cJSON *hc_examples_json(const hc_examples *ex)
{
    cJSON *o = cJSON_CreateObject();
    for (int l = 0; o && l < HC_EX_LISTS; l++) {
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; a && i < ex->list[l].len; i++) {
            cJSON *e = example_json(&ex->list[l].v[i], l);
            if (!e) {
                cJSON_Delete(a);
                a = NULL;
            } else {
                cJSON_AddItemToArray(a, e);
            }
        }
        if (!add(o, hc_example_list_names[l], a)) {
            cJSON_Delete(o);
            o = NULL;
        }
    }
    return o;
}

typedef struct {
    const char *file, *where;
    char at[96];   /* "examples.logprob_up[3]" */
} ex_reader;

static int rd_fail(const ex_reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rd_fail(const ex_reader *rd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hc_fail(HC_EBAD, "%s: %s: %s: %s", rd->file, rd->where, rd->at, msg);
}

/* An integer field that fits int32_t (ranges are hc_examples_check's). */
static int rd_int(const ex_reader *rd, const cJSON *o, const char *key, int32_t *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) || fabs(it->valuedouble) > INT32_MAX)
        return rd_fail(rd, "\"%s\" must be an integer", key);
    *out = (int32_t)it->valuedouble;
    return 0;
}

static int rd_real(const ex_reader *rd, const cJSON *o, const char *key, double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return rd_fail(rd, "\"%s\" must be a finite number", key);
    *out = it->valuedouble;
    return 0;
}

/* The two parallel top arrays of one side; they set e->k (both sides and
 * every example must agree, which hc_examples_check sees through k). */
static int rd_top(const ex_reader *rd, const cJSON *o, const char *ids_key, const char *p_key, int32_t *ids,
                  float *p, int *k)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, ids_key), *b = cJSON_GetObjectItemCaseSensitive(o, p_key);
    if (!cJSON_IsArray(a) || !cJSON_IsArray(b))
        return rd_fail(rd, "\"%s\" and \"%s\" must be arrays", ids_key, p_key);
    int n = cJSON_GetArraySize(a);
    if (n < 1 || n > HC_EXAMPLE_TOP || cJSON_GetArraySize(b) != n || (*k && n != *k))
        return rd_fail(rd, "\"%s\" and \"%s\" must have the same 1 to %d elements on both sides", ids_key, p_key,
                       HC_EXAMPLE_TOP);
    *k = n;
    const cJSON *x = a->child, *y = b->child;
    for (int i = 0; i < n; i++, x = x->next, y = y->next) {
        if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble) || fabs(x->valuedouble) > INT32_MAX ||
            !cJSON_IsNumber(y) || !isfinite(y->valuedouble))
            return rd_fail(rd, "\"%s\"[%d] or \"%s\"[%d] is not a number of its kind", ids_key, i, p_key, i);
        ids[i] = (int32_t)x->valuedouble;
        p[i] = (float)y->valuedouble;
    }
    return 0;
}

int hc_examples_from_json(hc_examples *ex, const cJSON *o, int n, const char *file, const char *where)
{
    ex_reader rd = {.file = file, .where = where};
    snprintf(rd.at, sizeof rd.at, "examples");
    memset(ex, 0, sizeof *ex);
    if (!o)
        return rd_fail(&rd, "missing (the run keeps %d per list)", n);
    if (!cJSON_IsObject(o))
        return rd_fail(&rd, "must be an object");
    for (int l = 0; l < HC_EX_LISTS; l++) {
        snprintf(rd.at, sizeof rd.at, "examples.%s", hc_example_list_names[l]);
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, hc_example_list_names[l]);
        if (!cJSON_IsArray(a))
            return rd_fail(&rd, "missing, or not an array");
        int len = cJSON_GetArraySize(a);
        if (len > n)
            return rd_fail(&rd, "%d examples, but the run keeps %d", len, n);
        hc_example_list *x = &ex->list[l];
        if (len && !(x->v = hc_malloc((size_t)n * sizeof *x->v)))
            return -1;
        int i = 0;
        for (const cJSON *it = a->child; it; it = it->next, i++) {
            snprintf(rd.at, sizeof rd.at, "examples.%s[%d]", hc_example_list_names[l], i);
            hc_example *e = &x->v[i];
            memset(e, 0, sizeof *e);
            if (!cJSON_IsObject(it))
                return rd_fail(&rd, "not an object");
            if (rd_int(&rd, it, "batch", &e->batch) || rd_int(&rd, it, "row", &e->row) ||
                rd_int(&rd, it, "position", &e->pos) || rd_int(&rd, it, "target", &e->target) ||
                rd_real(&rd, it, "logprob_before", &e->lp_before) || rd_real(&rd, it, "logprob_after", &e->lp_after) ||
                rd_top(&rd, it, "top_ids_before", "top_p_before", e->id_before, e->p_before, &e->k) ||
                rd_top(&rd, it, "top_ids_after", "top_p_after", e->id_after, e->p_after, &e->k))
                return -1;
            x->len = i + 1;
        }
    }
    return 0;
}
