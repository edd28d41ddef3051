/* The results file (docs/results-format.md) through cJSON.  Numbers are
 * written as raw text: counts as exact integers, sums with the shortest
 * precision that reads back to the same double, so a file read and written
 * again is the same file. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "headcal/error.h"
#include "headcal/json.h"
#include "headcal/fileio.h"
#include <math.h>
#include "headcal/results.h"
#include "json_number.h"

#define MAX_FILE_BYTES ((size_t)1 << 30)

static const char *const count_names[HC_N_COUNT_TABLES] = {
    [HC_BUCKET_COUNT] = "bucket_count", [HC_BUCKET_CORRECT] = "bucket_correct",
    [HC_TOP1_COUNT] = "top1_count", [HC_TOP1_CORRECT] = "top1_correct",
};
static const char *const conf_names[HC_N_CONF_TABLES] = {
    [HC_BUCKET_CONF] = "bucket_conf", [HC_TOP1_CONF] = "top1_conf",
};

/* Field k of the derived metrics: "oc", "oc_se", "ece", "ece_se", ... */
static void metric_field(char *buf, size_t n, int k)
{
    snprintf(buf, n, "%s%s", hc_metric_name(k / 2), k % 2 ? "_se" : "");
}

/* ---------------------------------------------------------------- writing */

/* Builds a tree, remembering whether any allocation failed (cJSON answers
 * NULL and the item would silently be missing from the file). */
typedef struct {
    int ok;
} builder;

static cJSON *keep(builder *bd, cJSON *item)
{
    bd->ok &= item != NULL;
    return item;
}

static void put(builder *bd, cJSON *parent, const char *key, cJSON *item)
{
    if (!keep(bd, item))
        return;
    if (key)
        cJSON_AddItemToObject(parent, key, item);
    else
        cJSON_AddItemToArray(parent, item);
}

static cJSON *count_json(builder *bd, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return keep(bd, cJSON_CreateRaw(buf));
}

static cJSON *real_json(builder *bd, double v)
{
    return keep(bd, hc_json_real(v));
}

static cJSON *counts_json(builder *bd, const uint64_t *v, int n)
{
    cJSON *a = keep(bd, cJSON_CreateArray());
    for (int i = 0; a && i < n; i++)
        put(bd, a, NULL, count_json(bd, v[i]));
    return a;
}

static cJSON *reals_json(builder *bd, const double *v, int n)
{
    cJSON *a = keep(bd, cJSON_CreateArray());
    for (int i = 0; a && i < n; i++)
        put(bd, a, NULL, real_json(bd, v[i]));
    return a;
}

static cJSON *per_batch_json(builder *bd, const hc_results *r, const hc_calib *c)
{
    cJSON *o = keep(bd, cJSON_CreateObject());
    if (!o)
        return NULL;
    size_t n = (size_t)c->n_bins;
    for (int t = 0; t < HC_N_COUNT_TABLES + HC_N_CONF_TABLES; t++) {
        cJSON *rows = keep(bd, cJSON_CreateArray());
        for (int b = 0; rows && b < c->n_batches; b++)
            if (r->done[b])
                put(bd, rows, NULL,
                    t < HC_N_COUNT_TABLES ? counts_json(bd, c->count[t] + b * n, c->n_bins)
                                          : reals_json(bd, c->conf[t - HC_N_COUNT_TABLES] + b * n, c->n_bins));
        put(bd, o, t < HC_N_COUNT_TABLES ? count_names[t] : conf_names[t - HC_N_COUNT_TABLES], rows);
    }
    cJSON *nll = keep(bd, cJSON_CreateArray()), *ent = keep(bd, cJSON_CreateArray());
    for (int b = 0; nll && ent && b < c->n_batches; b++)
        if (r->done[b]) {
            put(bd, nll, NULL, real_json(bd, c->nll[b]));
            put(bd, ent, NULL, real_json(bd, c->entropy[b]));
        }
    put(bd, o, "nll_sum", nll);
    put(bd, o, "entropy_sum", ent);
    return o;
}

static cJSON *variant_json(builder *bd, const hc_results *r, int vi, hc_calib_sum *sum)
{
    const hc_variant *v = &r->variants[vi];
    cJSON *o = keep(bd, cJSON_CreateObject());
    if (!o)
        return NULL;
    put(bd, o, "id", cJSON_CreateString(v->id));
    put(bd, o, "kind", cJSON_CreateString(hc_variant_kind_names[v->kind]));
    if (v->kind == HC_VARIANT_HEAD || v->kind == HC_VARIANT_MLP)
        put(bd, o, "layer", count_json(bd, (uint64_t)v->members[0].layer));
    if (v->kind == HC_VARIANT_HEAD)
        put(bd, o, "head", count_json(bd, (uint64_t)v->members[0].head));
    if (v->kind == HC_VARIANT_SET) {
        cJSON *m = keep(bd, cJSON_CreateArray());
        for (int i = 0; m && i < v->n_members; i++) {
            char name[32];
            hc_component_name(v->members[i], name, sizeof name);
            put(bd, m, NULL, cJSON_CreateString(name));
        }
        put(bd, o, "members", m);
    }
    hc_calib_sum_batches(sum, &v->calib, r->done);
    for (int t = 0; t < HC_N_COUNT_TABLES; t++)
        put(bd, o, count_names[t], counts_json(bd, sum->count[t], sum->n_bins));
    for (int t = 0; t < HC_N_CONF_TABLES; t++)
        put(bd, o, conf_names[t], reals_json(bd, sum->conf[t], sum->n_bins));
    put(bd, o, "nll_sum", real_json(bd, sum->nll));
    put(bd, o, "entropy_sum", real_json(bd, sum->entropy));
    put(bd, o, "per_batch", per_batch_json(bd, r, &v->calib));
    if (r->params.examples && v->kind != HC_VARIANT_BASELINE)
        put(bd, o, "examples", hc_examples_json(&v->examples));

    hc_metrics m;
    if (hc_results_metrics(r, vi, &m)) {
        bd->ok = 0;
        return o;
    }
    for (int k = 0; k < 2 * HC_N_METRICS; k++) {
        char name[40];
        metric_field(name, sizeof name, k);
        put(bd, o, name, real_json(bd, k % 2 ? m.se[k / 2] : m.value[k / 2]));
    }
    return o;
}

static cJSON *results_json(builder *bd, const hc_results *r)
{
    cJSON *root = keep(bd, cJSON_CreateObject()), *o;
    if (!root)
        return NULL;
    put(bd, root, "format", cJSON_CreateString(HC_RESULTS_FORMAT));
    put(bd, root, "headcal_version", cJSON_CreateString(PACKAGE_VERSION));

    put(bd, root, "model", o = cJSON_CreateObject());
    if (o) {
        put(bd, o, "path", cJSON_CreateString(r->model.path));
        put(bd, o, "sha256", cJSON_CreateString(r->model.sha256));
        if (*r->model.config_sha256)
            put(bd, o, "config_sha256", cJSON_CreateString(r->model.config_sha256));
        put(bd, o, "n_layers", count_json(bd, (uint64_t)r->model.n_layers));
        put(bd, o, "n_heads", count_json(bd, (uint64_t)r->model.n_heads));
        put(bd, o, "d_model", count_json(bd, (uint64_t)r->model.d_model));
        put(bd, o, "d_vocab", count_json(bd, (uint64_t)r->model.d_vocab));
    }
    put(bd, root, "data", o = cJSON_CreateObject());
    if (o) {
        put(bd, o, "source", cJSON_CreateString(r->data.source));
        put(bd, o, "sha256", cJSON_CreateString(r->data.sha256));
        put(bd, o, "shuffle_seed", r->data.shuffle_seed < 0 ? cJSON_CreateNull()
                                                            : count_json(bd, (uint64_t)r->data.shuffle_seed));
        put(bd, o, "mode", cJSON_CreateString(hc_data_mode_names[r->data.chunk]));
        put(bd, o, "min_len", count_json(bd, (uint64_t)r->data.min_len));
    }
    const hc_results_params *p = &r->params;
    put(bd, root, "params", o = cJSON_CreateObject());
    if (o) {
        put(bd, o, "batch_size", count_json(bd, (uint64_t)p->batch_size));
        put(bd, o, "batches", count_json(bd, (uint64_t)p->batches));
        put(bd, o, "seq_len", count_json(bd, (uint64_t)p->seq_len));
        put(bd, o, "top_k", count_json(bd, (uint64_t)p->top_k));
        put(bd, o, "bins", count_json(bd, (uint64_t)p->bins));
        put(bd, o, "ablation", cJSON_CreateString(hc_ablation_names[p->ablation]));
        put(bd, o, "ln", cJSON_CreateString(hc_ln_names[p->ln]));
        cJSON *shard = keep(bd, cJSON_CreateArray());
        if (shard) {
            put(bd, shard, NULL, count_json(bd, (uint64_t)p->shard_index));
            put(bd, shard, NULL, count_json(bd, (uint64_t)p->shard_count));
        }
        put(bd, o, "shard", shard);
        put(bd, o, "examples", count_json(bd, (uint64_t)p->examples));
        if (*p->kernel)
            put(bd, o, "kernel", cJSON_CreateString(p->kernel));
    }
    put(bd, root, "positions", count_json(bd, hc_results_positions(r)));
    cJSON *done = keep(bd, cJSON_CreateArray()), *pos = keep(bd, cJSON_CreateArray());
    for (int b = 0; done && pos && b < p->batches; b++)
        if (r->done[b]) {
            put(bd, done, NULL, count_json(bd, (uint64_t)b));
            put(bd, pos, NULL, count_json(bd, r->variants[0].calib.positions[b]));
        }
    put(bd, root, "completed_batches", done);
    put(bd, root, "batch_positions", pos);

    /* empty and last: hc_results_print writes the variants into it */
    put(bd, root, "variants", cJSON_CreateArray());
    return root;
}

int hc_results_print(const hc_results *r, FILE *f, const char *what, int pretty)
{
    if (hc_results_validate(r, what))
        return -1;
    builder bd = {1};
    cJSON *root = results_json(&bd, r);
    char *top = !bd.ok ? NULL : pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    hc_calib_sum sum;
    if (!top || hc_calib_sum_init(&sum, r->params.bins)) {
        free(top);
        return hc_fail(HC_EBAD, "%s: out of memory while writing", what);
    }
    /* the last '[' opens the empty "variants" array */
    char *hole = strrchr(top, '[');
    fwrite(top, 1, (size_t)(hole + 1 - top), f);
    for (int i = 0; i < r->n_variants && bd.ok; i++) {
        cJSON *v = variant_json(&bd, r, i, &sum);
        char *text = !bd.ok ? NULL : pretty ? cJSON_Print(v) : cJSON_PrintUnformatted(v);
        cJSON_Delete(v);
        bd.ok = text != NULL;
        fputs(i ? (pretty ? ",\n" : ",") : pretty ? "\n" : "", f);
        if (text)
            fputs(text, f);
        free(text);
    }
    fputs(pretty ? "\n" : "", f);
    fputs(hole + 1, f);
    free(top);
    hc_calib_sum_free(&sum);
    return bd.ok ? 0 : hc_fail(HC_EBAD, "%s: out of memory while writing", what);
}

int hc_results_write(const hc_results *r, const char *path)
{
    hc_atomic_file af;
    if (hc_atomic_open(&af, path))
        return -1;
    if (hc_results_print(r, af.f, path, 1)) {
        hc_atomic_abort(&af);
        return -1;
    }
    fputc('\n', af.f);
    return hc_atomic_commit(&af);
}

/* ------------------------------------------------------- batch records */

static void put_counts(FILE *f, const char *name, const uint64_t *v, int n)
{
    fprintf(f, "\"%s\":[", name);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%" PRIu64, i ? "," : "", v[i]);
    fputc(']', f);
}

static void put_real(FILE *f, double v)
{
    char buf[40];
    hc_json_real_text(v, buf);
    fputs(buf, f);
}

/* The examples batch b contributes, as ',"examples":{...}' on the line. */
static int put_batch_examples(FILE *f, const hc_examples *ex, int b)
{
    hc_examples mine;
    if (hc_examples_of_batch(&mine, ex, b))
        return -1;
    cJSON *o = hc_examples_json(&mine);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    hc_examples_free(&mine);
    if (!text)
        return hc_fail(HC_EBAD, "out of memory");
    fprintf(f, ",\"examples\":%s", text);
    free(text);
    return 0;
}

int hc_results_batch_write(const hc_results *r, int b, FILE *f)
{
    size_t n = (size_t)r->params.bins;
    fprintf(f, "{\"batch\":%d,\"positions\":%" PRIu64 ",\"variants\":[", b,
            r->variants[0].calib.positions[b]);
    for (int v = 0; v < r->n_variants; v++) {
        const hc_calib *c = &r->variants[v].calib;
        fputs(v ? ",{" : "{", f);
        for (int t = 0; t < HC_N_COUNT_TABLES; t++) {
            put_counts(f, count_names[t], c->count[t] + (size_t)b * n, (int)n);
            fputc(',', f);
        }
        for (int t = 0; t < HC_N_CONF_TABLES; t++) {
            fprintf(f, "\"%s\":[", conf_names[t]);
            for (size_t i = 0; i < n; i++) {
                if (i)
                    fputc(',', f);
                put_real(f, c->conf[t][(size_t)b * n + i]);
            }
            fputs("],", f);
        }
        fputs("\"nll_sum\":", f);
        put_real(f, c->nll[b]);
        fputs(",\"entropy_sum\":", f);
        put_real(f, c->entropy[b]);
        if (r->params.examples && v != hc_results_baseline(r) && put_batch_examples(f, &r->variants[v].examples, b))
            return -1;
        fputc('}', f);
    }
    fputs("]}\n", f);
    return ferror(f) ? -1 : 0;
}


/* ---------------------------------------------------------------- reading */

/* Records "FILE: WHERE: what" ("FILE: what" at the top level). */
static int bad(const char *file, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(const char *file, const char *where, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return hc_fail(HC_EBAD, "%s: %s%s%s", file, where, *where ? ": " : "", what);
}

typedef struct {
    const char *file;
    char where[256];   /* the object being read, "variants[3]" */
} reader;

static const cJSON *field(reader *rd, const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it)
        bad(rd->file, rd->where, "missing field \"%s\"", key);
    return it;
}

static int as_count(reader *rd, const cJSON *it, const char *name, uint64_t *out)
{
    double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || !(v >= 0 && v < (double)HC_COUNT_LIMIT) || v != (double)(uint64_t)v)
        return bad(rd->file, rd->where, "%s must be a non-negative integer below 2^53", name);
    *out = (uint64_t)v;
    return 0;
}

/* An integer that fits an int; the ranges that matter are checked where
 * the values are used (hc_results_init, hc_results_add_variant). */
static int as_int(reader *rd, const cJSON *it, const char *name, int *out)
{
    uint64_t v = 0;
    if (as_count(rd, it, name, &v))
        return -1;
    if (v > INT32_MAX)
        return bad(rd->file, rd->where, "%s: %" PRIu64 " is too large", name, v);
    *out = (int)v;
    return 0;
}

static int get_int(reader *rd, const cJSON *obj, const char *key, int *out)
{
    const cJSON *it = field(rd, obj, key);
    return it ? as_int(rd, it, key, out) : -1;
}

static int get_string(reader *rd, const cJSON *obj, const char *key, char *buf, size_t n)
{
    const cJSON *it = field(rd, obj, key);
    if (!it)
        return -1;
    if (!cJSON_IsString(it))
        return bad(rd->file, rd->where, "%s must be a string", key);
    if (strlen(it->valuestring) >= n)
        return bad(rd->file, rd->where, "%s is too long", key);
    strcpy(buf, it->valuestring);
    return 0;
}

static int get_enum(reader *rd, const cJSON *obj, const char *key, const char *const *names, int n,
                    int *out)
{
    char s[32];
    if (get_string(rd, obj, key, s, sizeof s))
        return -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    return bad(rd->file, rd->where, "%s: unknown value \"%s\"", key, s);
}

static const cJSON *get_object(reader *rd, const cJSON *obj, const char *key)
{
    const cJSON *it = field(rd, obj, key);
    if (it && !cJSON_IsObject(it)) {
        bad(rd->file, rd->where, "%s must be an object", key);
        return NULL;
    }
    return it;
}

/* An array of exactly n elements (n < 0: any length). */
static const cJSON *get_array(reader *rd, const cJSON *it, const char *name, int n)
{
    if (!it)
        return NULL;
    if (!cJSON_IsArray(it)) {
        bad(rd->file, rd->where, "%s must be an array", name);
        return NULL;
    }
    int len = cJSON_GetArraySize(it);
    if (n >= 0 && len != n) {
        bad(rd->file, rd->where, "%s has %d elements, expected %d", name, len, n);
        return NULL;
    }
    return it;
}

static int read_counts(reader *rd, const cJSON *arr, const char *name, int n, uint64_t *out)
{
    if (!get_array(rd, arr, name, n))
        return -1;
    int i = 0;
    for (const cJSON *it = arr->child; it; it = it->next, i++) {
        char el[96];
        snprintf(el, sizeof el, "%s[%d]", name, i);
        if (as_count(rd, it, el, &out[i]))
            return -1;
    }
    return 0;
}

static int read_reals(reader *rd, const cJSON *arr, const char *name, int n, double *out)
{
    if (!get_array(rd, arr, name, n))
        return -1;
    int i = 0;
    for (const cJSON *it = arr->child; it; it = it->next, i++) {
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
            return bad(rd->file, rd->where, "%s[%d] must be a finite number", name, i);
        out[i] = it->valuedouble;
    }
    return 0;
}

/* Prefixes the message of a failed library call with the file and place. */
static int wrap(reader *rd)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", hc_errmsg());
    return bad(rd->file, rd->where, "%s", msg);
}

static int read_description(reader *rd, const cJSON *root, hc_results *r)
{
    hc_results_model m = {0};
    hc_results_data d = {0};
    hc_results_params p = {0};
    const cJSON *o, *it;

    strcpy(rd->where, "model");
    if (!(o = get_object(rd, root, "model")) || get_string(rd, o, "path", m.path, sizeof m.path) ||
        get_string(rd, o, "sha256", m.sha256, sizeof m.sha256) ||
        (cJSON_HasObjectItem(o, "config_sha256") &&
         get_string(rd, o, "config_sha256", m.config_sha256, sizeof m.config_sha256)) ||
        get_int(rd, o, "n_layers", &m.n_layers) ||
        get_int(rd, o, "n_heads", &m.n_heads) ||
        get_int(rd, o, "d_model", &m.d_model) ||
        get_int(rd, o, "d_vocab", &m.d_vocab))
        return -1;

    strcpy(rd->where, "data");
    if (!(o = get_object(rd, root, "data")) ||
        get_string(rd, o, "source", d.source, sizeof d.source) ||
        get_string(rd, o, "sha256", d.sha256, sizeof d.sha256) ||
        get_enum(rd, o, "mode", hc_data_mode_names, 2, &d.chunk) ||
        !(it = field(rd, o, "shuffle_seed")))
        return -1;
    d.shuffle_seed = -1;
    if (!cJSON_IsNull(it)) {
        uint64_t s = 0;
        if (as_count(rd, it, "shuffle_seed", &s))
            return -1;
        if (s > UINT32_MAX)
            return bad(rd->file, rd->where, "shuffle_seed %" PRIu64 " is not below 2^32", s);
        d.shuffle_seed = (int64_t)s;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(o, "min_len")) && as_int(rd, it, "min_len", &d.min_len))
        return -1;

    strcpy(rd->where, "params");
    if (!(o = get_object(rd, root, "params")) ||
        get_int(rd, o, "batch_size", &p.batch_size) ||
        get_int(rd, o, "batches", &p.batches) ||
        get_int(rd, o, "seq_len", &p.seq_len) ||
        get_int(rd, o, "top_k", &p.top_k) ||
        get_int(rd, o, "bins", &p.bins) ||
        get_enum(rd, o, "ablation", hc_ablation_names, 2, &p.ablation) ||
        get_enum(rd, o, "ln", hc_ln_names, 2, &p.ln) ||
        !(it = get_array(rd, field(rd, o, "shard"), "shard", 2)))
        return -1;
    if (as_int(rd, it->child, "shard[0]", &p.shard_index) ||
        as_int(rd, it->child->next, "shard[1]", &p.shard_count) ||
        (cJSON_HasObjectItem(o, "kernel") && get_string(rd, o, "kernel", p.kernel, sizeof p.kernel)))
        return -1;
    /* absent in files written before examples were kept: none */
    if ((it = cJSON_GetObjectItemCaseSensitive(o, "examples")) && as_int(rd, it, "examples", &p.examples))
        return -1;

    rd->where[0] = 0;
    return hc_results_init(r, &m, &d, &p) ? wrap(rd) : 0;
}

/* Which batches are complete, and how many positions each scored. */
static int read_batches(reader *rd, const cJSON *root, hc_results *r, int *n_done, uint64_t *positions)
{
    rd->where[0] = 0;
    const cJSON *done = get_array(rd, field(rd, root, "completed_batches"), "completed_batches", -1);
    if (!done)
        return -1;
    int n = cJSON_GetArraySize(done), i = 0, prev = -1;
    for (const cJSON *it = done->child; it; it = it->next, i++) {
        char el[48];
        uint64_t b = 0;
        snprintf(el, sizeof el, "completed_batches[%d]", i);
        if (as_count(rd, it, el, &b))
            return -1;
        if (b >= (uint64_t)r->params.batches)
            return bad(rd->file, el, "batch %" PRIu64 " is out of range (%d batches)", b,
                       r->params.batches);
        if ((int)b <= prev)
            return bad(rd->file, el, "batch %" PRIu64 " is out of order (not after %d)", b, prev);
        r->done[b] = 1;
        prev = (int)b;
    }
    uint64_t total = 0;
    if (read_counts(rd, field(rd, root, "batch_positions"), "batch_positions", n, positions) ||
        !field(rd, root, "positions") || as_count(rd, field(rd, root, "positions"), "positions", &total))
        return -1;
    uint64_t sum = 0;
    for (int k = 0; k < n; k++)
        if ((sum += positions[k]) >= HC_COUNT_LIMIT)
            return bad(rd->file, "batch_positions", "more than 2^53 positions in all");
    if (sum != total)
        return bad(rd->file, "positions", "%" PRIu64 " is not the sum of batch_positions (%" PRIu64 ")",
                   total, sum);
    *n_done = n;
    return 0;
}

/* A set member: a component written in canonical form. */
static int parse_member(const cJSON *it, hc_component *c)
{
    char name[32];
    if (!cJSON_IsString(it) || hc_component_parse(it->valuestring, c))
        return -1;
    hc_component_name(*c, name, sizeof name);
    return strcmp(name, it->valuestring) ? -1 : 0;
}

/* The variant's identity: kind and members, checked against its id;
 * returns its index. */
static int read_identity(reader *rd, const cJSON *o, hc_results *r)
{
    int kind = 0, n = 0;
    hc_component one, *mem = &one;
    const cJSON *id = field(rd, o, "id");
    if (!id || get_enum(rd, o, "kind", hc_variant_kind_names, 4, &kind))
        return -1;
    if (!cJSON_IsString(id))
        return bad(rd->file, rd->where, "id must be a string");
    if (kind == HC_VARIANT_HEAD || kind == HC_VARIANT_MLP) {
        n = 1;
        one.head = HC_MLP;
        if (get_int(rd, o, "layer", &one.layer) ||
            (kind == HC_VARIANT_HEAD && get_int(rd, o, "head", &one.head)))
            return -1;
    } else if (kind == HC_VARIANT_SET) {
        const cJSON *m = get_array(rd, field(rd, o, "members"), "members", -1);
        if (!m || !(mem = hc_malloc((size_t)cJSON_GetArraySize(m) * sizeof *mem)))
            return -1;
        for (const cJSON *it = m->child; it; it = it->next, n++) {
            const char *wrong = parse_member(it, &mem[n]) ? "is not a head (L10H7) or an MLP (MLP3)"
                                : n > 0 && hc_component_cmp(&mem[n - 1], &mem[n]) > 0
                                    ? "is out of forward-pass order" : NULL;
            if (wrong) {
                free(mem);
                return bad(rd->file, rd->where, "members[%d] %s", n, wrong);
            }
        }
    }
    int vi = hc_results_add_variant(r, (hc_variant_kind)kind, mem, n);
    if (mem != &one)
        free(mem);
    if (vi < 0)
        return wrap(rd);
    if (strcmp(id->valuestring, r->variants[vi].id))
        return bad(rd->file, rd->where, "id \"%.200s\" does not match its kind and members (\"%.200s\")",
                   id->valuestring, r->variants[vi].id);
    return vi;
}

static int close_enough(double a, double b)
{
    double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= 1e-9 * m + 1e-12;
}

/* Reads n_done rows of n numbers, row j into batch row done[j] of dst
 * (stride n), or one number per batch when n is 0. */
static int read_rows(reader *rd, const cJSON *pb, const char *name, const hc_results *r, int n_done,
                     int n, uint64_t *counts, double *reals)
{
    char where[64];
    snprintf(where, sizeof where, "per_batch.%s", name);
    const cJSON *rows = get_array(rd, field(rd, pb, name), where, n_done);
    if (!rows)
        return -1;
    const cJSON *row = rows->child;
    for (int b = 0, j = 0; b < r->params.batches; b++) {
        if (!r->done[b])
            continue;
        char el[96];
        snprintf(el, sizeof el, "%s[%d]", where, j++);
        if (n == 0) {
            if (!cJSON_IsNumber(row) || !isfinite(row->valuedouble))
                return bad(rd->file, rd->where, "%s must be a finite number", el);
            reals[b] = row->valuedouble;
        } else if (counts ? read_counts(rd, row, el, n, counts + (size_t)b * (size_t)n)
                          : read_reals(rd, row, el, n, reals + (size_t)b * (size_t)n)) {
            return -1;
        }
        row = row->next;
    }
    return 0;
}

/* The variant's counts: per batch, then the totals, which must be the sums
 * of the batches. */
static int read_tables(reader *rd, const cJSON *o, const hc_results *r, hc_variant *v, int n_done,
                       const uint64_t *positions, hc_calib_sum *sum, uint64_t *counts, double *reals)
{
    hc_calib *c = &v->calib;
    int n = r->params.bins;
    const cJSON *pb = get_object(rd, o, "per_batch");
    if (!pb)
        return -1;
    for (int t = 0; t < HC_N_COUNT_TABLES; t++)
        if (read_rows(rd, pb, count_names[t], r, n_done, n, c->count[t], NULL))
            return -1;
    for (int t = 0; t < HC_N_CONF_TABLES; t++)
        if (read_rows(rd, pb, conf_names[t], r, n_done, n, NULL, c->conf[t]))
            return -1;
    if (read_rows(rd, pb, "nll_sum", r, n_done, 0, NULL, c->nll) ||
        read_rows(rd, pb, "entropy_sum", r, n_done, 0, NULL, c->entropy))
        return -1;
    for (int b = 0, j = 0; b < r->params.batches; b++)
        if (r->done[b])
            c->positions[b] = positions[j++];

    hc_calib_sum_batches(sum, c, r->done);
    for (int t = 0; t < HC_N_COUNT_TABLES; t++) {
        if (read_counts(rd, field(rd, o, count_names[t]), count_names[t], n, counts))
            return -1;
        for (int i = 0; i < n; i++)
            if (counts[i] != sum->count[t][i])
                return bad(rd->file, rd->where, "%s[%d] is %" PRIu64 " but its batches sum to %" PRIu64,
                           count_names[t], i, counts[i], sum->count[t][i]);
    }
    for (int t = 0; t < HC_N_CONF_TABLES; t++) {
        if (read_reals(rd, field(rd, o, conf_names[t]), conf_names[t], n, reals))
            return -1;
        for (int i = 0; i < n; i++)
            if (!close_enough(reals[i], sum->conf[t][i]))
                return bad(rd->file, rd->where, "%s[%d] is %.17g but its batches sum to %.17g",
                           conf_names[t], i, reals[i], sum->conf[t][i]);
    }
    const char *scalar[2] = {"nll_sum", "entropy_sum"};
    double want[2] = {sum->nll, sum->entropy};
    for (int k = 0; k < 2; k++) {
        const cJSON *it = field(rd, o, scalar[k]);
        if (!it)
            return -1;
        if (!cJSON_IsNumber(it) || !close_enough(it->valuedouble, want[k]))
            return bad(rd->file, rd->where, "%s is not the sum of its batches (%.17g)", scalar[k], want[k]);
    }
    /* Derived metrics are recomputed, never read; they need only be numbers. */
    for (int k = 0; k < 2 * HC_N_METRICS; k++) {
        char name[40];
        metric_field(name, sizeof name, k);
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
        if (it && !cJSON_IsNumber(it) && !cJSON_IsNull(it))
            return bad(rd->file, rd->where, "%s must be a number or null", name);
    }
    return 0;
}

/* Every variant holds batches × bins counts whether or not the file fills
 * them, so a small hostile file could ask for terabytes: refused before
 * allocating when the tables would not fit this machine's memory. */
static int too_big(const char *file, const hc_results *r, int n_variants)
{
    double per = (double)r->params.batches * r->params.bins *
                 (HC_N_COUNT_TABLES * sizeof(uint64_t) + HC_N_CONF_TABLES * sizeof(double));
    double need = per * n_variants, have = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    if (have > 0 && need > have)
        return hc_fail(HC_EBAD, "%s: %d variants of %d batches x %d bins need %.0f GiB, more than this machine's "
                       "%.0f GiB", file, n_variants, r->params.batches, r->params.bins, need / (1u << 30),
                       have / (1u << 30));
    return 0;
}

static int parse(reader *rd, const cJSON *root, hc_results *r)
{
    if (!cJSON_IsObject(root))
        return bad(rd->file, "", "not a JSON object");
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(f) || strcmp(f->valuestring, HC_RESULTS_FORMAT))
        return bad(rd->file, "", "not a headcal results file (\"format\" is not \"%s\")", HC_RESULTS_FORMAT);
    char version[64];
    if (get_string(rd, root, "headcal_version", version, sizeof version) || read_description(rd, root, r))
        return -1;

    int n_done = 0, rc = -1, n = r->params.bins;
    const cJSON *listed = cJSON_GetObjectItemCaseSensitive(root, "variants");
    if (too_big(rd->file, r, cJSON_IsArray(listed) ? cJSON_GetArraySize(listed) : 0))
        return -1;
    uint64_t *positions = hc_malloc((size_t)r->params.batches * sizeof *positions);
    /* Room for one row of totals of either type. */
    uint64_t *counts = hc_malloc((size_t)n * sizeof *counts);
    double *reals = hc_malloc((size_t)n * sizeof *reals);
    hc_calib_sum sum = {0};
    const cJSON *vars;
    if (!positions || !counts || !reals || hc_calib_sum_init(&sum, n) ||
        read_batches(rd, root, r, &n_done, positions) ||
        !(vars = get_array(rd, field(rd, root, "variants"), "variants", -1)))
        goto out;
    int i = 0;
    for (const cJSON *o = vars->child; o; o = o->next, i++) {
        snprintf(rd->where, sizeof rd->where, "variants[%d]", i);
        if (!cJSON_IsObject(o)) {
            bad(rd->file, rd->where, "not an object");
            goto out;
        }
        int vi = read_identity(rd, o, r);
        if (vi < 0)
            goto out;
        snprintf(rd->where, sizeof rd->where, "variants[%d] (%.200s)", i, r->variants[vi].id);
        if (read_tables(rd, o, r, &r->variants[vi], n_done, positions, &sum, counts, reals))
            goto out;
        if (r->params.examples && vi != hc_results_baseline(r) &&
            hc_examples_from_json(&r->variants[vi].examples, field(rd, o, "examples"), r->params.examples,
                                  rd->file, rd->where))
            goto out;
    }
    rc = hc_results_validate(r, rd->file);
out:
    free(positions);
    free(counts);
    free(reals);
    hc_calib_sum_free(&sum);
    return rc;
}

int hc_results_read(hc_results *r, const char *path)
{
    memset(r, 0, sizeof *r);
    char *text;
    size_t len;
    if (hc_read_file(path, MAX_FILE_BYTES, &text, &len))
        return -1;
    int rc = hc_results_parse(r, text, len, path);
    free(text);
    return rc;
}

int hc_results_parse(hc_results *r, const char *text, size_t len, const char *what)
{
    memset(r, 0, sizeof *r);
    cJSON *root;
    int rc = hc_json_parse(text, len, what, &root);
    if (!rc) {
        reader rd = {.file = what};
        rc = parse(&rd, root, r);
        cJSON_Delete(root);
    }
    if (rc)
        hc_results_free(r);
    return rc;
}

int hc_results_batch_parse(hc_results *r, const char *line, size_t len, const char *what)
{
    cJSON *root;
    if (hc_json_parse(line, len, what, &root))
        return -1;
    reader rd = {.file = what};
    int rc = -1, n = r->params.bins, b = 0;
    uint64_t pos = 0;
    const cJSON *vars;
    if (!cJSON_IsObject(root)) {
        bad(what, "", "not a JSON object");
        goto out;
    }
    if (get_int(&rd, root, "batch", &b) || !field(&rd, root, "positions") ||
        as_count(&rd, field(&rd, root, "positions"), "positions", &pos) ||
        !(vars = get_array(&rd, field(&rd, root, "variants"), "variants", r->n_variants)))
        goto out;
    if (b >= r->params.batches || !hc_shard_has(r->params.shard_index, r->params.shard_count, b) || r->done[b]) {
        bad(what, "", "batch %d is out of range, of another shard or recorded twice", b);
        goto out;
    }
    const cJSON *o = vars->child;
    for (int v = 0; v < r->n_variants; v++, o = o->next) {
        hc_calib *c = &r->variants[v].calib;
        snprintf(rd.where, sizeof rd.where, "variants[%d]", v);
        if (!cJSON_IsObject(o)) {
            bad(what, rd.where, "not an object");
            goto out;
        }
        for (int t = 0; t < HC_N_COUNT_TABLES; t++)
            if (read_counts(&rd, field(&rd, o, count_names[t]), count_names[t], n, c->count[t] + (size_t)b * n))
                goto out;
        for (int t = 0; t < HC_N_CONF_TABLES; t++)
            if (read_reals(&rd, field(&rd, o, conf_names[t]), conf_names[t], n, c->conf[t] + (size_t)b * n))
                goto out;
        const cJSON *nll = field(&rd, o, "nll_sum"), *ent = field(&rd, o, "entropy_sum");
        if (!nll || !ent)
            goto out;
        if (!cJSON_IsNumber(nll) || !isfinite(nll->valuedouble) || !cJSON_IsNumber(ent) ||
            !isfinite(ent->valuedouble)) {
            bad(what, rd.where, "nll_sum and entropy_sum must be finite numbers");
            goto out;
        }
        c->nll[b] = nll->valuedouble;
        c->entropy[b] = ent->valuedouble;
        c->positions[b] = pos;
        if (r->params.examples && v != hc_results_baseline(r)) {
            hc_examples ex;
            if (hc_examples_from_json(&ex, field(&rd, o, "examples"), r->params.examples, what, rd.where))
                goto out;
            int merged = hc_examples_merge(&r->variants[v].examples, &ex, r->params.examples);
            hc_examples_free(&ex);
            if (merged)
                goto out;
        }
    }
    r->done[b] = 1;
    rc = 0;
out:
    /* a batch half read leaves no data behind */
    for (int v = 0; rc && b >= 0 && b < r->params.batches && !r->done[b] && v < r->n_variants; v++)
        hc_calib_reset_batch(&r->variants[v].calib, b);
    cJSON_Delete(root);
    return rc;
}
