#include <cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/forward.h"
#include "headcal/means.h"
#include "headcal/safetensors.h"

/* Fixed point: 32 fractional bits resolve 2.3e-10, far below a float
 * mean's rounding at the sizes activations have, and leave 31 integer bits
 * for the sum: a billion sequences of activations up to 2. */
#define FRAC_BITS 32
#define ACT_LIMIT 0x1p31 /* |activation| below this: one term fits in 63 bits */

hc_means_id hc_means_id_of(const hc_results *r, int shard_index, int shard_count)
{
    return (hc_means_id){.model = r->model, .data = r->data, .batch_size = r->params.batch_size,
                         .batches = r->params.batches, .seq_len = r->params.seq_len,
                         .shard_index = shard_index, .shard_count = shard_count};
}

int hc_mean_sums_init(hc_mean_sums *s, const hc_config *cfg, int S)
{
    memset(s, 0, sizeof *s);
    s->L = cfg->n_layer;
    s->S = S;
    s->D = cfg->d_model;
    size_t n = (size_t)s->L * S * s->D;
    s->z_sum = hc_calloc(n, sizeof(int64_t));
    s->mlp_sum = s->z_sum ? hc_calloc(n, sizeof(int64_t)) : NULL;
    s->count = s->mlp_sum ? hc_calloc((size_t)S, sizeof(int64_t)) : NULL;
    if (!s->count) {
        hc_mean_sums_free(s);
        return -1;
    }
    return 0;
}

void hc_mean_sums_free(hc_mean_sums *s)
{
    free(s->z_sum);
    free(s->mlp_sum);
    free(s->count);
    memset(s, 0, sizeof *s);
}

/* Adds n activations to n sums.  Rounding each term on its own, before
 * any addition, is what makes the total independent of the order. */
static int add_exact(int64_t *sum, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        if (!(fabs(v) < ACT_LIMIT))
            return hc_fail(HC_EBAD, "an activation is %g: too large to average (is the model broken?)", v);
        int64_t t = (int64_t)llrint(ldexp(v, FRAC_BITS));
        if (__builtin_add_overflow(sum[i], t, &sum[i]))
            return hc_fail(HC_EBAD, "the activation sums overflow 64 bits (too many sequences for mean ablation)");
    }
    return 0;
}

int hc_mean_sums_add_batch(hc_mean_sums *s, const hc_model *m, const int32_t *tokens, const int *lengths, int B,
                           int S)
{
    /* One sequence at a time, without its padding: the activations of a
     * row, not of the batch, are what a means task holds in memory. */
    size_t D = (size_t)s->D, n = (size_t)s->L * S * D;
    float *z = hc_malloc(n * sizeof(float)), *mlp = z ? hc_malloc(n * sizeof(float)) : NULL;
    int rc = mlp ? 0 : -1;
    for (int b = 0; b < B && !rc; b++) {
        int T = lengths[b] < s->S ? lengths[b] : s->S;
        if (T < 1)
            continue;
        rc = hc_forward(m, tokens + (size_t)b * S, 1, T, &(hc_acts){.z = z, .mlp_out = mlp});
        for (int t = 0; t < T && !rc; t++) {
            s->count[t]++;
            for (int l = 0; l < s->L && !rc; l++) {
                size_t from = ((size_t)l * T + t) * D, to = ((size_t)l * s->S + t) * D;
                rc = add_exact(s->z_sum + to, z + from, D) || add_exact(s->mlp_sum + to, mlp + from, D) ? -1 : 0;
            }
        }
    }
    free(z);
    free(mlp);
    return rc;
}

int hc_mean_sums_run(hc_mean_sums *s, const hc_model *m, const hc_dataset *ds,
                     int (*step)(void *ctx, int done, int total), void *ctx)
{
    int nb = hc_dataset_n_batches(ds), todo = 0, done = 0, rc = 0;
    for (int b = 0; b < nb; b++)
        todo += hc_shard_has(s->id.shard_index, s->id.shard_count, b);
    for (int b = 0; b < nb && !rc; b++) {
        if (!hc_shard_has(s->id.shard_index, s->id.shard_count, b))
            continue;
        hc_batch bt;
        rc = step && step(ctx, done, todo) ? -1 : hc_dataset_batch(ds, b, &bt);
        if (rc)
            break;
        rc = hc_mean_sums_add_batch(s, m, bt.tokens, bt.lens, bt.rows, bt.cols);
        hc_batch_free(&bt);
        done++;
    }
    if (!rc && step)
        rc = step(ctx, done, todo) ? -1 : 0;
    return rc;
}

/* -- identity */

static int differs(const char *path, const char *what, const char *have, const char *want)
{
    return hc_fail(HC_EBAD, "%s: means of another run: %s is %s, this run's is %s", path, what, have, want);
}

/* The same model, data and options, whatever the shards. */
static int same_run(const hc_means_id *have, const hc_means_id *want, const char *path)
{
    const struct {
        const char *name;
        long long have, want;
    } fields[] = {
        {"model.n_layers", have->model.n_layers, want->model.n_layers},
        {"model.d_model", have->model.d_model, want->model.d_model},
        {"model.n_heads", have->model.n_heads, want->model.n_heads},
        {"model.d_vocab", have->model.d_vocab, want->model.d_vocab},
        {"data.shuffle_seed (-1: none)", have->data.shuffle_seed, want->data.shuffle_seed},
        {"data.chunk", have->data.chunk, want->data.chunk},
        {"params.batch_size", have->batch_size, want->batch_size},
        {"params.batches", have->batches, want->batches},
        {"params.seq_len", have->seq_len, want->seq_len},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].have != fields[i].want) {
            char a[32], b[32];
            snprintf(a, sizeof a, "%lld", fields[i].have);
            snprintf(b, sizeof b, "%lld", fields[i].want);
            return differs(path, fields[i].name, a, b);
        }
    /* the hashes last: a different option changes the data's hash too, and
     * the option is the more useful thing to name */
    if (strcmp(have->model.sha256, want->model.sha256))
        return differs(path, "model.sha256", have->model.sha256, want->model.sha256);
    if (strcmp(have->data.sha256, want->data.sha256))
        return differs(path, "data.sha256", have->data.sha256, want->data.sha256);
    return 0;
}

int hc_means_id_check(const hc_means_id *have, const hc_means_id *want, const char *path)
{
    if (have->shard_count != 1)
        return hc_fail(HC_EBAD, "%s: holds only shard %d/%d of the means (merge the shards: headcal means --merge)",
                       path, have->shard_index, have->shard_count);
    return same_run(have, want, path);
}

/* -- the file */

typedef struct {
    const char *key;
    char val[4200];
} meta_kv;

enum { M_FORMAT, M_MPATH, M_MSHA, M_LAYERS, M_HEADS, M_DMODEL, M_VOCAB, M_DSRC, M_DSHA, M_SEED, M_CHUNK,
       M_BSIZE, M_BATCHES, M_SEQ, M_SHARD, M_N };
static const char *const meta_keys[M_N] = {
    "format", "model.path", "model.sha256", "model.n_layers", "model.n_heads", "model.d_model",
    "model.d_vocab", "data.source", "data.sha256", "data.shuffle_seed", "data.chunk", "params.batch_size",
    "params.batches", "params.seq_len", "shard",
};

static cJSON *metadata(const hc_means_id *id)
{
    char v[M_N][4200];
    snprintf(v[M_FORMAT], sizeof v[0], "%s", HC_MEANS_FORMAT);
    snprintf(v[M_MPATH], sizeof v[0], "%s", id->model.path);
    snprintf(v[M_MSHA], sizeof v[0], "%s", id->model.sha256);
    snprintf(v[M_LAYERS], sizeof v[0], "%d", id->model.n_layers);
    snprintf(v[M_HEADS], sizeof v[0], "%d", id->model.n_heads);
    snprintf(v[M_DMODEL], sizeof v[0], "%d", id->model.d_model);
    snprintf(v[M_VOCAB], sizeof v[0], "%d", id->model.d_vocab);
    snprintf(v[M_DSRC], sizeof v[0], "%s", id->data.source);
    snprintf(v[M_DSHA], sizeof v[0], "%s", id->data.sha256);
    snprintf(v[M_SEED], sizeof v[0], "%" PRId64, id->data.shuffle_seed);
    snprintf(v[M_CHUNK], sizeof v[0], "%d", id->data.chunk);
    snprintf(v[M_BSIZE], sizeof v[0], "%d", id->batch_size);
    snprintf(v[M_BATCHES], sizeof v[0], "%d", id->batches);
    snprintf(v[M_SEQ], sizeof v[0], "%d", id->seq_len);
    snprintf(v[M_SHARD], sizeof v[0], "%d/%d", id->shard_index, id->shard_count);
    cJSON *meta = cJSON_CreateObject();
    for (int i = 0; i < M_N && meta; i++)
        if (!cJSON_AddStringToObject(meta, meta_keys[i], v[i])) {
            cJSON_Delete(meta);
            meta = NULL;
        }
    return meta;
}

int hc_mean_sums_write(const hc_mean_sums *s, const char *path)
{
    const struct {
        const char *name;
        const int64_t *data;
        int ndim;
        int64_t shape[3];
    } t[] = {
        {"z_sum", s->z_sum, 3, {s->L, s->S, s->D}},
        {"mlp_sum", s->mlp_sum, 3, {s->L, s->S, s->D}},
        {"count", s->count, 1, {s->S}},
    };
    cJSON *root = cJSON_CreateObject(), *meta = metadata(&s->id);
    int ok = root && meta && cJSON_AddItemToObject(root, "__metadata__", meta);
    if (!ok)
        cJSON_Delete(meta);
    size_t off = 0, n[3];
    for (int i = 0; i < 3 && ok; i++) {
        cJSON *e = cJSON_AddObjectToObject(root, t[i].name), *sh = cJSON_AddArrayToObject(e, "shape");
        cJSON *of = cJSON_AddArrayToObject(e, "data_offsets");
        ok = e && sh && of && cJSON_AddStringToObject(e, "dtype", "I64");
        n[i] = 1;
        for (int d = 0; d < t[i].ndim && ok; d++) {
            n[i] *= (size_t)t[i].shape[d];
            ok = cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t[i].shape[d]));
        }
        ok = ok && cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        off += n[i] * sizeof(int64_t);
        ok = ok && cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
    }
    if (!ok) {
        cJSON_Delete(root);
        root = NULL;
    }
    hc_atomic_file af;
    if (hc_st_begin_write(&af, path, root))
        return -1;
    for (int i = 0; i < 3; i++) /* little-endian host, as the format is */
        fwrite(t[i].data, sizeof(int64_t), n[i], af.f);
    return hc_atomic_commit(&af);
}

/* The header's __metadata__, which the tensor reader passes over. */
static int read_metadata(const char *path, meta_kv kv[M_N])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return hc_fail(HC_EBAD, "%s: cannot open", path);
    uint8_t len8[8];
    uint64_t hlen = 0;
    int rc = fread(len8, 1, 8, f) == 8 ? 0 : hc_fail(HC_EBAD, "%s: not a means file (too short)", path);
    for (int i = 0; i < 8; i++)
        hlen |= (uint64_t)len8[i] << (8 * i);
    if (!rc && hlen > (1u << 20))
        rc = hc_fail(HC_EBAD, "%s: not a means file (header of %" PRIu64 " bytes)", path, hlen);
    char *text = rc ? NULL : hc_malloc(hlen + 1);
    if (!rc && (!text || fread(text, 1, hlen, f) != hlen))
        rc = text ? hc_fail(HC_EBAD, "%s: not a means file (truncated header)", path) : -1;
    fclose(f);
    cJSON *root = NULL;
    if (!rc) {
        text[hlen] = 0;
        root = cJSON_Parse(text);
    }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(meta, "format");
    if (!rc && (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, HC_MEANS_FORMAT)))
        rc = hc_fail(HC_EBAD, "%s: not a means file (no format \"%s\" in its metadata)", path, HC_MEANS_FORMAT);
    for (int i = 0; i < M_N && !rc; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, meta_keys[i]);
        kv[i].key = meta_keys[i];
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof kv[i].val)
            rc = hc_fail(HC_EBAD, "%s: metadata: %s is missing or too long", path, meta_keys[i]);
        else
            snprintf(kv[i].val, sizeof kv[i].val, "%s", v->valuestring);
    }
    cJSON_Delete(root);
    free(text);
    return rc;
}

static int meta_long(const char *path, const meta_kv *kv, long long lo, long long hi, long long *out)
{
    char *end;
    long long v = strtoll(kv->val, &end, 10);
    if (!*kv->val || *end || v < lo || v > hi)
        return hc_fail(HC_EBAD, "%s: metadata: %s is '%s', not an integer in [%lld, %lld]", path, kv->key,
                       kv->val, lo, hi);
    *out = v;
    return 0;
}

/* A string field into dst; a hash must be 64 lowercase hex digits. */
static int copy_text(const char *path, const meta_kv *kv, char *dst, size_t n, int sha)
{
    size_t len = strlen(kv->val);
    int ok = len < n && (!sha || (len == 64 && strspn(kv->val, "0123456789abcdef") == 64));
    if (!ok)
        return hc_fail(HC_EBAD, "%s: metadata: %s is %s", path, kv->key,
                       sha ? "not 64 lowercase hex digits" : "too long");
    memcpy(dst, kv->val, len + 1);
    return 0;
}

static int parse_id(const char *path, const meta_kv kv[M_N], hc_means_id *id)
{
    static const struct {
        int key;
        long long lo, hi;
    } ints[] = {
        {M_LAYERS, 1, 4096}, {M_HEADS, 1, 4096},   {M_DMODEL, 1, 1 << 20},  {M_VOCAB, 1, 1 << 30},
        {M_SEED, -1, 4294967295LL}, {M_CHUNK, 0, 1}, {M_BSIZE, 1, 1 << 20}, {M_BATCHES, 1, 1 << 20},
        {M_SEQ, 2, 1 << 20},
    };
    long long v[M_N];
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (meta_long(path, &kv[ints[i].key], ints[i].lo, ints[i].hi, &v[ints[i].key]))
            return -1;
    memset(id, 0, sizeof *id);
    id->model = (hc_results_model){.n_layers = (int)v[M_LAYERS], .n_heads = (int)v[M_HEADS],
                                   .d_model = (int)v[M_DMODEL], .d_vocab = (int)v[M_VOCAB]};
    id->data = (hc_results_data){.shuffle_seed = v[M_SEED], .chunk = (int)v[M_CHUNK]};
    id->batch_size = (int)v[M_BSIZE];
    id->batches = (int)v[M_BATCHES];
    id->seq_len = (int)v[M_SEQ];
    if (copy_text(path, &kv[M_MPATH], id->model.path, sizeof id->model.path, 0) ||
        copy_text(path, &kv[M_MSHA], id->model.sha256, sizeof id->model.sha256, 1) ||
        copy_text(path, &kv[M_DSRC], id->data.source, sizeof id->data.source, 0) ||
        copy_text(path, &kv[M_DSHA], id->data.sha256, sizeof id->data.sha256, 1))
        return -1;
    char extra;
    if (sscanf(kv[M_SHARD].val, "%d/%d%c", &id->shard_index, &id->shard_count, &extra) != 2 ||
        id->shard_count < 1 || id->shard_index < 0 || id->shard_index >= id->shard_count)
        return hc_fail(HC_EBAD, "%s: metadata: shard is '%s', not I/N with 0 <= I < N", path, kv[M_SHARD].val);
    return 0;
}

/* Copies tensor `name` of shape [dims...] (I64) into dst. */
static int get_tensor(const hc_safetensors *st, const char *name, int ndim, const int64_t *shape, int64_t *dst)
{
    const hc_st_tensor *t = hc_st_find(st, name);
    if (!t)
        return hc_fail(HC_EBAD, "%s: no tensor %s", st->path, name);
    int ok = !strcmp(t->dtype_name, "I64") && t->ndim == ndim;
    for (int d = 0; d < ndim && ok; d++)
        ok = t->shape[d] == shape[d];
    if (!ok)
        return hc_fail(HC_EBAD, "%s: tensor %s is not I64 of the model's shape", st->path, name);
    memcpy(dst, t->data, t->nbytes);
    return 0;
}

int hc_mean_sums_read(hc_mean_sums *s, const char *path)
{
    meta_kv kv[M_N];
    hc_means_id id;
    if (read_metadata(path, kv) || parse_id(path, kv, &id))
        return -1;
    hc_config cfg = {.n_layer = id.model.n_layers, .d_model = id.model.d_model};
    hc_safetensors st;
    if (hc_mean_sums_init(s, &cfg, id.seq_len))
        return -1;
    s->id = id;
    int64_t shape[3] = {s->L, s->S, s->D};
    int rc = hc_st_open(&st, path);
    if (!rc) {
        rc = get_tensor(&st, "z_sum", 3, shape, s->z_sum) || get_tensor(&st, "mlp_sum", 3, shape, s->mlp_sum) ||
             get_tensor(&st, "count", 1, &shape[1], s->count);
        hc_st_close(&st);
    }
    for (int t = 0; t < s->S && !rc; t++)
        if (s->count[t] < 0)
            rc = hc_fail(HC_EBAD, "%s: count[%d] is negative", path, t);
    if (rc)
        hc_mean_sums_free(s);
    return rc ? -1 : 0;
}

/* -- merging */

static int add_sums(int64_t *dst, const int64_t *src, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (__builtin_add_overflow(dst[i], src[i], &dst[i]))
            return hc_fail(HC_EBAD, "%s: the sums overflow 64 bits when added", path);
    return 0;
}

/* "2, 5 and 7" into buf: the indices that are not marked; returns how many. */
int hc_list_unmarked(char *buf, size_t n, const int *mark, int count)
{
    size_t len = 0;
    int total = 0, listed = 0;
    for (int i = 0; i < count; i++)
        total += !mark[i];
    buf[0] = 0;
    for (int i = 0; i < count && len < n; i++) {
        if (mark[i])
            continue;
        listed++;
        const char *sep = listed == 1 ? "" : listed == total ? " and " : ", ";
        len += (size_t)snprintf(buf + len, n - len, "%s%d", sep, i);
    }
    return total;
}

int hc_mean_sums_merge(hc_mean_sums *out, char *const *paths, int n)
{
    if (hc_mean_sums_read(out, paths[0]))
        return -1;
    int N = out->id.shard_count, rc = 0;
    int *from = hc_calloc((size_t)N, sizeof *from); /* 1 + the input holding each shard; 0: none yet */
    if (!from) {
        hc_mean_sums_free(out);
        return -1;
    }
    from[out->id.shard_index] = 1;
    size_t cells = (size_t)out->L * out->S * out->D;
    for (int i = 1; i < n && !rc; i++) {
        hc_mean_sums s;
        if (hc_mean_sums_read(&s, paths[i])) {
            rc = -1;
            break;
        }
        int I = s.id.shard_index;
        rc = same_run(&s.id, &out->id, paths[i]);
        if (!rc && s.id.shard_count != N)
            rc = hc_fail(HC_EBAD, "%s: shard %d/%d, but %s is shard %d/%d (merge the shards of one split)",
                         paths[i], I, s.id.shard_count, paths[0], out->id.shard_index, N);
        if (!rc && from[I])
            rc = hc_fail(HC_EBAD, "%s: shard %d/%d again (%s holds it too)", paths[i], I, N, paths[from[I] - 1]);
        if (!rc)
            rc = add_sums(out->z_sum, s.z_sum, cells, paths[i]) || add_sums(out->mlp_sum, s.mlp_sum, cells, paths[i]) ||
                 add_sums(out->count, s.count, (size_t)out->S, paths[i]);
        from[I] = i + 1;
        hc_mean_sums_free(&s);
    }
    char list[4096];
    int missing = rc ? 0 : hc_list_unmarked(list, sizeof list, from, N);
    if (missing)
        rc = hc_fail(HC_EBAD, "means: shard%s %s of %d missing", missing > 1 ? "s" : "", list, N);
    free(from);
    if (rc) {
        hc_mean_sums_free(out);
        return -1;
    }
    out->id.shard_index = 0;
    out->id.shard_count = 1;
    return 0;
}

int hc_means_finish(hc_means *mn, const hc_mean_sums *s)
{
    size_t n = (size_t)s->L * s->S * s->D, D = (size_t)s->D;
    *mn = (hc_means){.L = s->L, .S = s->S, .D = s->D, .z_mean = hc_malloc(n * sizeof(float))};
    mn->mlp_mean = mn->z_mean ? hc_malloc(n * sizeof(float)) : NULL;
    if (!mn->mlp_mean) {
        hc_means_free(mn);
        return -1;
    }
    for (int l = 0; l < s->L; l++)
        for (int t = 0; t < s->S; t++) {
            /* positions no sequence reaches: mean zero */
            double scale = s->count[t] ? ldexp(1.0, -FRAC_BITS) / (double)s->count[t] : 0.0;
            size_t o = ((size_t)l * s->S + t) * D;
            for (size_t i = 0; i < D; i++) {
                mn->z_mean[o + i] = (float)((double)s->z_sum[o + i] * scale);
                mn->mlp_mean[o + i] = (float)((double)s->mlp_sum[o + i] * scale);
            }
        }
    return 0;
}

void hc_means_free(hc_means *mn)
{
    free(mn->z_mean);
    free(mn->mlp_mean);
    memset(mn, 0, sizeof *mn);
}
