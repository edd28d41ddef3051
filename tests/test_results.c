/* Results files: round trip, validation of damaged files, merging shards,
 * metrics against the numpy reference, `headcal merge`, SHA-256. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "headcal/error.h"
#include "headcal/fileio.h"
#include <math.h>
#include "headcal/results.h"
#include "headcal/sha256.h"
#include "helpers.h"

#define BATCHES 7
#define BINS 20
#define TOPK 3
#define VOCAB 1000

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
    return ((double)(rng(s) >> 11) + 0.5) * 0x1p-53;
}

/* Batch b of a synthetic run, the same in every shard: per position a
 * "true" distribution over TOPK + 3 tokens (sorted descending), which
 * variant v sees sharpened by temperature 1 + v/2, and a next token drawn
 * from the true distribution. */
static void fill_batch(hc_results *r, uint64_t seed, int b)
{
    uint64_t s = seed * 1000003 + (uint64_t)b;
    int positions = 25 + (int)(rng(&s) % 20);
    enum { T = TOPK + 3 };
    for (int pos = 0; pos < positions; pos++) {
        double q[T], sum = 0;
        for (int i = 0; i < T; i++)
            sum += q[i] = -log(unif(&s)) * (i == 0 && pos % 5 == 0 ? 30 : 1);
        for (int i = 0; i < T; i++)
            q[i] /= sum;
        for (int i = 1; i < T; i++) /* insertion sort, descending */
            for (int j = i; j > 0 && q[j] > q[j - 1]; j--) {
                double t = q[j];
                q[j] = q[j - 1];
                q[j - 1] = t;
            }
        double u = unif(&s), acc = 0;
        int target = T - 1;
        for (int i = 0; i < T; i++)
            if (u < (acc += q[i])) {
                target = i;
                break;
            }
        for (int v = 0; v < r->n_variants; v++) {
            double t = 1 + v * 0.5, p[T], z = 0, ent = 0;
            for (int i = 0; i < T; i++)
                z += p[i] = pow(q[i], t);
            float pk[TOPK];
            int32_t ids[TOPK] = {0, 1, 2};
            for (int i = 0; i < T; i++) {
                p[i] /= z;
                ent -= p[i] > 0 ? p[i] * log(p[i]) : 0;
            }
            for (int i = 0; i < TOPK; i++)
                pk[i] = (float)p[i];
            hc_calib_add(&r->variants[v].calib, b, pk, ids, TOPK, target, -log(p[target]), ent);
        }
    }
    r->done[b] = 1;
}

static hc_results_model test_model(void)
{
    hc_results_model m = {.path = "/models/synth", .n_layers = 4, .n_heads = 3, .d_model = 16,
                          .d_vocab = VOCAB};
    hc_sha256_buf("model", 5, m.sha256);
    return m;
}

/* A run of the synthetic data: baseline, a head, an MLP and a set; the
 * batches of shard I/N (all of them for 0/1) or, with only >= 0, just
 * that batch. */
static void make_results(hc_results *r, uint64_t seed, int shard, int n_shards, int only)
{
    hc_results_model m = test_model();
    hc_results_data d = {.source = "synthetic", .shuffle_seed = 7, .chunk = 0};
    hc_sha256_buf("data", 4, d.sha256);
    hc_results_params p = {.batch_size = 4, .batches = BATCHES, .seq_len = 16, .top_k = TOPK,
                           .bins = BINS, .ablation = HC_ABLATION_MEAN, .ln = HC_LN_FROZEN,
                           .shard_index = shard, .shard_count = n_shards};
    cr_assert_eq(hc_results_init(r, &m, &d, &p), 0, "%s", hc_errmsg());
    cr_assert_eq(hc_results_add_variant(r, HC_VARIANT_BASELINE, NULL, 0), 0);
    cr_assert_eq(hc_results_add_variant(r, HC_VARIANT_HEAD, &(hc_component){1, 2}, 1), 1);
    cr_assert_eq(hc_results_add_variant(r, HC_VARIANT_MLP, &(hc_component){0, HC_MLP}, 1), 2);
    hc_component set[2] = {{3, 0}, {1, HC_MLP}};
    cr_assert_eq(hc_results_add_variant(r, HC_VARIANT_SET, set, 2), 3, "%s", hc_errmsg());
    for (int b = 0; b < BATCHES; b++)
        if (only >= 0 ? b == only : hc_shard_has(shard, n_shards, b))
            fill_batch(r, seed, b);
}

static char *path_in(const char *dir, const char *name)
{
    char *p = malloc(4400);
    snprintf(p, 4400, "%s/%s", dir, name);
    return p;
}

static void assert_same_counts(const hc_results *a, const hc_results *b)
{
    cr_assert_eq(a->n_variants, b->n_variants);
    cr_assert_eq(memcmp(a->done, b->done, (size_t)a->params.batches), 0);
    size_t cells = (size_t)a->params.batches * (size_t)a->params.bins;
    for (int v = 0; v < a->n_variants; v++) {
        const hc_calib *x = &a->variants[v].calib, *y = &b->variants[v].calib;
        cr_assert_str_eq(a->variants[v].id, b->variants[v].id);
        for (int t = 0; t < HC_N_COUNT_TABLES; t++)
            cr_assert_eq(memcmp(x->count[t], y->count[t], cells * sizeof(uint64_t)), 0, "%s", a->variants[v].id);
        for (int t = 0; t < HC_N_CONF_TABLES; t++)
            cr_assert_eq(memcmp(x->conf[t], y->conf[t], cells * sizeof(double)), 0, "%s", a->variants[v].id);
        size_t nb = (size_t)a->params.batches;
        cr_assert_eq(memcmp(x->positions, y->positions, nb * sizeof(uint64_t)), 0);
        cr_assert_eq(memcmp(x->nll, y->nll, nb * sizeof(double)), 0);
        cr_assert_eq(memcmp(x->entropy, y->entropy, nb * sizeof(double)), 0);
    }
}

Test(results, components_and_ids)
{
    hc_component c;
    cr_assert_eq(hc_component_parse("L10H7", &c), 0);
    cr_assert(c.layer == 10 && c.head == 7);
    cr_assert_eq(hc_component_parse("10.7", &c), 0);
    cr_assert(c.layer == 10 && c.head == 7);
    cr_assert_eq(hc_component_parse("MLP3", &c), 0);
    cr_assert(c.layer == 3 && c.head == HC_MLP);
    const char *bad[] = {"", "L10", "L10H", "10.", ".7", "L-1H2", "10.7x", "MLP", "mlp3", "L1H2+",
                         "1234567890.1", "L1.2", "10H7"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(hc_component_parse(bad[i], &c), -1, "'%s' must not parse", bad[i]);
    char name[32];
    hc_component_name((hc_component){11, 10}, name, sizeof name);
    cr_assert_str_eq(name, "L11H10");

    hc_results r;
    make_results(&r, 1, 0, 1, -1);
    cr_assert_str_eq(r.variants[0].id, "baseline");
    cr_assert_str_eq(r.variants[1].id, "L1H2");
    cr_assert_str_eq(r.variants[2].id, "MLP0");
    cr_assert_str_eq(r.variants[3].id, "MLP1+L3H0", "members in forward-pass order");
    /* A layer's MLP comes after its heads. */
    hc_component set[3] = {{2, HC_MLP}, {2, 1}, {0, 2}};
    int v = hc_results_add_variant(&r, HC_VARIANT_SET, set, 3);
    cr_assert_str_eq(r.variants[v].id, "L0H2+L2H1+MLP2");
    cr_assert_eq(hc_results_find(&r, "L1H2"), 1);
    cr_assert_eq(hc_results_add_variant(&r, HC_VARIANT_HEAD, &(hc_component){1, 2}, 1), -1);
    cr_assert(strstr(hc_errmsg(), "L1H2 appears twice"), "%s", hc_errmsg());
    cr_assert_eq(hc_results_add_variant(&r, HC_VARIANT_HEAD, &(hc_component){4, 0}, 1), -1);
    cr_assert(strstr(hc_errmsg(), "not in a model of 4 layers x 3 heads"), "%s", hc_errmsg());
    cr_assert_eq(hc_results_add_variant(&r, HC_VARIANT_SET, set, 1), -1, "a set needs 2 members");
    hc_component twice[2] = {{1, 1}, {1, 1}};
    cr_assert_eq(hc_results_add_variant(&r, HC_VARIANT_SET, twice, 2), -1);
    cr_assert(strstr(hc_errmsg(), "appears twice in a set"), "%s", hc_errmsg());
    cr_assert_eq(hc_results_add_variant(&r, HC_VARIANT_MLP, &(hc_component){1, 1}, 1), -1);
    hc_results_free(&r);
}

Test(results, write_read_round_trip)
{
    char *dir = th_tmpdir("results");
    char *a = path_in(dir, "a.json"), *b = path_in(dir, "b.json");
    hc_results r, back;
    make_results(&r, 2, 0, 1, -1);
    r.done[4] = 0; /* an incomplete batch is simply not in the file */
    hc_calib_reset_batch(&r.variants[0].calib, 4);
    for (int v = 1; v < r.n_variants; v++)
        hc_calib_reset_batch(&r.variants[v].calib, 4);
    cr_assert_eq(hc_results_write(&r, a), 0, "%s", hc_errmsg());
    cr_assert_eq(hc_results_read(&back, a), 0, "%s", hc_errmsg());

    cr_assert_str_eq(back.model.path, r.model.path);
    cr_assert_str_eq(back.model.sha256, r.model.sha256);
    cr_assert_eq(back.model.n_layers, 4);
    cr_assert_eq(back.model.n_heads, 3);
    cr_assert_eq(back.model.d_model, 16);
    cr_assert_eq(back.model.d_vocab, VOCAB);
    cr_assert_str_eq(back.data.source, "synthetic");
    cr_assert_str_eq(back.data.sha256, r.data.sha256);
    cr_assert_eq(back.data.shuffle_seed, 7);
    cr_assert_eq(back.data.chunk, 0);
    cr_assert_eq(memcmp(&back.params, &r.params, sizeof r.params), 0);
    for (int v = 0; v < r.n_variants; v++) {
        cr_assert_eq(back.variants[v].kind, r.variants[v].kind);
        cr_assert_eq(back.variants[v].n_members, r.variants[v].n_members);
        for (int i = 0; i < r.variants[v].n_members; i++)
            cr_assert_eq(hc_component_cmp(&back.variants[v].members[i], &r.variants[v].members[i]), 0);
    }
    assert_same_counts(&r, &back);
    cr_assert_eq(hc_results_positions(&back), hc_results_positions(&r));

    /* Reading and writing again gives the same bytes (numbers included). */
    cr_assert_eq(hc_results_write(&back, b), 0, "%s", hc_errmsg());
    char *ta = th_read(a), *tb = th_read(b);
    cr_assert_str_eq(ta, tb);

    /* The file's fields as docs/results-format.md names them. */
    cJSON *j = cJSON_Parse(ta);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "format")->valuestring, "headcal-results/1");
    cJSON *v1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "variants"), 1);
    cr_assert_str_eq(cJSON_GetObjectItem(v1, "kind")->valuestring, "head");
    cr_assert_eq(cJSON_GetObjectItem(v1, "layer")->valueint, 1);
    cr_assert_eq(cJSON_GetObjectItem(v1, "head")->valueint, 2);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(v1, "bucket_count")), BINS);
    cJSON *v3 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "variants"), 3);
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(v3, "members"), 0)->valuestring, "MLP1");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "completed_batches")), BATCHES - 1);
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(v1, "delta_oc")));
    cJSON_Delete(j);
    free(ta);
    free(tb);
    hc_results_free(&back);
    hc_results_free(&r);
    free(a);
    free(b);
    free(dir);
}

Test(results, exact_counts_up_to_2_53)
{
    char *dir = th_tmpdir("results");
    char *a = path_in(dir, "big.json");
    hc_results r, back;
    make_results(&r, 3, 0, 1, 0);
    /* 2^53 - 1 = 9007199254740991 positions of which the bins are kept
     * consistent; every count must come back exactly. */
    uint64_t big = (UINT64_C(1) << 53) / TOPK - 1;
    for (int v = 0; v < r.n_variants; v++) {
        hc_calib *c = &r.variants[v].calib;
        hc_calib_reset_batch(c, 0);
        c->positions[0] = big;
        c->count[HC_BUCKET_COUNT][BINS - 1] = big * TOPK;
        c->count[HC_BUCKET_CORRECT][BINS - 1] = big - 1;
        c->count[HC_TOP1_COUNT][BINS - 1] = big;
        c->count[HC_TOP1_CORRECT][BINS - 1] = big - 3;
        c->conf[HC_BUCKET_CONF][BINS - 1] = (double)(big * TOPK) * 0.99;
        c->conf[HC_TOP1_CONF][BINS - 1] = (double)big * 0.99;
    }
    cr_assert_eq(hc_results_write(&r, a), 0, "%s", hc_errmsg());
    cr_assert_eq(hc_results_read(&back, a), 0, "%s", hc_errmsg());
    assert_same_counts(&r, &back);
    hc_results_free(&back);

    r.variants[0].calib.count[HC_BUCKET_COUNT][BINS - 1] = UINT64_C(1) << 53;
    cr_assert_eq(hc_results_write(&r, a), -1, "a count of 2^53 cannot be written exactly");
    hc_results_free(&r);
    free(a);
    free(dir);
}

Test(results, write_refuses_inconsistent_results)
{
    char *dir = th_tmpdir("results");
    char *a = path_in(dir, "x.json");
    hc_results r;
    make_results(&r, 4, 0, 1, -1);
    r.done[2] = 0;
    cr_assert_eq(hc_results_write(&r, a), -1);
    cr_assert(strstr(hc_errmsg(), "batch 2: has counts but is not marked completed"), "%s", hc_errmsg());
    r.done[2] = 1;
    r.variants[1].calib.positions[3]++;
    cr_assert_eq(hc_results_write(&r, a), -1);
    cr_assert(strstr(hc_errmsg(), "positions where baseline has"), "%s", hc_errmsg());
    r.variants[1].calib.positions[3]--;
    r.variants[2].calib.nll[0] = NAN;
    cr_assert_eq(hc_results_write(&r, a), -1);
    cr_assert(strstr(hc_errmsg(), "x.json: variant MLP0, batch 0: NLL sum"), "%s", hc_errmsg());
    cr_assert_eq(access(a, F_OK), -1, "nothing written");
    hc_results_free(&r);
    free(a);
    free(dir);
}

/* ---------------------------------------------------------------- damaged files */

/* The item at a '/'-separated path of keys and array indices. */
static cJSON *at(cJSON *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    cJSON *it = root;
    for (char *save, *k = strtok_r(buf, "/", &save); k && it; k = strtok_r(NULL, "/", &save))
        it = cJSON_IsArray(it) ? cJSON_GetArrayItem(it, atoi(k)) : cJSON_GetObjectItemCaseSensitive(it, k);
    cr_assert_not_null(it, "no %s in the file", path);
    return it;
}

static void set_num(cJSON *root, const char *path, double v)
{
    cJSON_SetNumberValue(at(root, path), v);
}

static void add_num(cJSON *root, const char *path, double dv)
{
    cJSON *it = at(root, path);
    cJSON_SetNumberValue(it, it->valuedouble + dv);
}

static void replace(cJSON *root, const char *path, const char *key, cJSON *with)
{
    cJSON *parent = at(root, path);
    if (cJSON_IsArray(parent))
        cJSON_ReplaceItemInArray(parent, atoi(key), with);
    else
        cJSON_ReplaceItemInObjectCaseSensitive(parent, key, with);
}

static void m_format(cJSON *j) { replace(j, "", "format", cJSON_CreateString("headcal-results/2")); }
static void m_short_row(cJSON *j) { cJSON_DeleteItemFromArray(at(j, "variants/1/per_batch/bucket_count/2"), 0); }
static void m_short_total(cJSON *j) { cJSON_DeleteItemFromArray(at(j, "variants/0/top1_conf"), 3); }
static void m_correct_gt_count(cJSON *j)
{
    /* Consistent totals, so the per-bin rule is what trips. */
    int bin = 6;
    char p[128];
    snprintf(p, sizeof p, "variants/1/per_batch/bucket_count/0/%d", bin);
    double count = at(j, p)->valuedouble;
    snprintf(p, sizeof p, "variants/1/per_batch/bucket_correct/0/%d", bin);
    double before = at(j, p)->valuedouble;
    set_num(j, p, count + 1);
    snprintf(p, sizeof p, "variants/1/bucket_correct/%d", bin);
    add_num(j, p, count + 1 - before);
}
static void m_negative(cJSON *j) { set_num(j, "variants/2/per_batch/top1_count/1/3", -1); }
static void m_fraction(cJSON *j) { set_num(j, "variants/0/bucket_count/5", 2.5); }
static void m_string_count(cJSON *j) { replace(j, "variants/0/bucket_correct", "1", cJSON_CreateString("3")); }
static void m_batch_range(cJSON *j) { set_num(j, "completed_batches/6", BATCHES); }
static void m_batch_order(cJSON *j) { set_num(j, "completed_batches/1", 0); }
static void m_dup_variant(cJSON *j)
{
    cJSON_AddItemToArray(at(j, "variants"), cJSON_Duplicate(at(j, "variants/2"), 1));
}
static void m_kind(cJSON *j) { replace(j, "variants/1", "kind", cJSON_CreateString("attention")); }
static void m_id(cJSON *j) { replace(j, "variants/1", "id", cJSON_CreateString("L1H1")); }
static void m_missing(cJSON *j) { cJSON_DeleteItemFromObject(at(j, "params"), "bins"); }
static void m_total(cJSON *j) { add_num(j, "variants/3/top1_count/19", 1); }
static void m_positions(cJSON *j) { add_num(j, "positions", 1); }
static void m_shard(cJSON *j)
{
    set_num(j, "params/shard/0", 1);
    set_num(j, "params/shard/1", 2);
}
static void m_baseline_first(cJSON *j)
{
    cJSON *vars = at(j, "variants");
    cJSON_AddItemToArray(vars, cJSON_DetachItemFromArray(vars, 0));
}
static void m_members(cJSON *j)
{
    replace(j, "variants/3/members", "0", cJSON_CreateString("L3H0"));
    replace(j, "variants/3/members", "1", cJSON_CreateString("MLP1"));
}
static void m_sha(cJSON *j) { replace(j, "model", "sha256", cJSON_CreateString("abc")); }
static void m_layer(cJSON *j) { set_num(j, "variants/1/layer", 4); }
static void m_events(cJSON *j)
{
    /* One more event in a batch than top-k per position allows. */
    add_num(j, "variants/0/per_batch/bucket_count/3/0", 1);
    add_num(j, "variants/0/bucket_count/0", 1);
}
static void m_conf(cJSON *j)
{
    /* Confidences that cannot lie in their bin. */
    add_num(j, "variants/0/per_batch/bucket_conf/0/19", -5);
    add_num(j, "variants/0/bucket_conf/19", -5);
}
static void m_inf(cJSON *j) { set_num(j, "variants/1/per_batch/nll_sum/2", INFINITY); }
static void m_metric(cJSON *j) { replace(j, "variants/1", "oc", cJSON_CreateString("high")); }
static void m_seed(cJSON *j) { set_num(j, "data/shuffle_seed", 4294967296.0); }
static void m_bins(cJSON *j) { set_num(j, "params/bins", 0); }
static void m_shard_index(cJSON *j) { set_num(j, "params/shard/0", 1); }
static void m_not_object(cJSON *j) { replace(j, "variants", "2", cJSON_CreateNumber(3)); }

Test(results, damaged_files_are_rejected_with_a_message)
{
    char *dir = th_tmpdir("results");
    char *good = path_in(dir, "good.json"), *bad = path_in(dir, "bad.json");
    hc_results r;
    make_results(&r, 5, 0, 1, -1);
    cr_assert_eq(hc_results_write(&r, good), 0, "%s", hc_errmsg());
    hc_results_free(&r);
    char *text = th_read(good);

    /* Damaged text. */
    const struct {
        const char *text, *want;
    } texts[] = {
        {"{", "not valid JSON (line 1)"},
        {"", "not valid JSON"},
        {"[1, 2]", "not a JSON object"},
        {"{\"format\": \"headcal-results/1\"}", "missing field \"headcal_version\""},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        cr_assert_eq(th_write_file(bad, texts[i].text, strlen(texts[i].text)), 0);
        cr_assert_eq(hc_results_read(&r, bad), -1, "'%s' accepted", texts[i].text);
        cr_assert(strstr(hc_errmsg(), bad) && strstr(hc_errmsg(), texts[i].want), "%s", hc_errmsg());
    }
    char *garbage = malloc(strlen(text) + 8);
    sprintf(garbage, "%s}", text);
    cr_assert_eq(th_write_file(bad, garbage, strlen(garbage)), 0);
    cr_assert_eq(hc_results_read(&r, bad), -1, "trailing garbage");
    cr_assert(strstr(hc_errmsg(), "not valid JSON"), "%s", hc_errmsg());
    free(garbage);

    const struct {
        void (*mutate)(cJSON *);
        const char *want;
    } cases[] = {
        {m_format, "not a headcal results file"},
        {m_short_row, "per_batch.bucket_count[2] has 19 elements, expected 20"},
        {m_short_total, "top1_conf has 19 elements, expected 20"},
        {m_correct_gt_count, "variant L1H2, batch 0: bin 6: more correct events than events"},
        {m_negative, "per_batch.top1_count[1][3] must be a non-negative integer"},
        {m_fraction, "bucket_count[5] must be a non-negative integer"},
        {m_string_count, "bucket_correct[1] must be a non-negative integer"},
        {m_batch_range, "completed_batches[6]: batch 7 is out of range (7 batches)"},
        {m_batch_order, "completed_batches[1]: batch 0 is out of order (not after 0)"},
        {m_dup_variant, "variants[4]: variant MLP0 appears twice"},
        {m_kind, "variants[1]: kind: unknown value \"attention\""},
        {m_id, "id \"L1H1\" does not match its kind and members (\"L1H2\")"},
        {m_missing, "params: missing field \"bins\""},
        {m_total, "top1_count[19] is"},
        {m_positions, "positions: "},
        {m_shard, "batch 0: is not part of shard 1/2"},
        {m_baseline_first, "the first variant must be the baseline"},
        {m_members, "variants[3]: members[1] is out of forward-pass order"},
        {m_sha, "model.sha256: not 64 lowercase hex digits"},
        {m_layer, "variants[1]: L4H2 is not in a model of 4 layers x 3 heads"},
        {m_events, "batch 3: "},
        {m_conf, "bin 19: confidence sum"},
        {m_inf, "per_batch.nll_sum[2] must be a finite number"},
        {m_metric, "oc must be a number or null"},
        {m_seed, "shuffle_seed 4294967296 is not below 2^32"},
        {m_not_object, "variants[2]: not an object"},
        {m_bins, "params.bins: 0 is out of range [1, 100000]"},
        {m_shard_index, "params.shard index: 1 is out of range [0, 0]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *j = cJSON_Parse(text);
        cases[i].mutate(j);
        char *s = cJSON_Print(j);
        cr_assert_eq(th_write_file(bad, s, strlen(s)), 0);
        cr_assert_eq(hc_results_read(&r, bad), -1, "case %zu (%s) accepted", i, cases[i].want);
        cr_assert(strncmp(hc_errmsg(), bad, strlen(bad)) == 0 && strstr(hc_errmsg(), cases[i].want),
                  "case %zu: wanted '%s', got '%s'", i, cases[i].want, hc_errmsg());
        cr_assert_null(strchr(hc_errmsg(), '\n'), "one line");
        free(s);
        cJSON_Delete(j);
    }
    /* The unchanged text through the same cJSON path still reads. */
    cJSON *j = cJSON_Parse(text);
    char *s = cJSON_Print(j);
    cr_assert_eq(th_write_file(bad, s, strlen(s)), 0);
    cr_assert_eq(hc_results_read(&r, bad), 0, "%s", hc_errmsg());
    hc_results_free(&r);
    free(s);
    cJSON_Delete(j);
    free(text);
    free(good);
    free(bad);
    free(dir);
}

/* ---------------------------------------------------------------- merging */

Test(results, shards_merge_into_exactly_the_full_run)
{
    char *dir = th_tmpdir("results");
    char *full_path = path_in(dir, "full.json"), *merged_path = path_in(dir, "merged.json");
    hc_results full, merged;
    make_results(&full, 6, 0, 1, -1);
    cr_assert_eq(hc_results_write(&full, full_path), 0, "%s", hc_errmsg());

    /* Shards written and read back, merged in a shuffled order. */
    hc_results shard[3];
    const int order[3] = {2, 0, 1};
    for (int i = 0; i < 3; i++) {
        hc_results s;
        char name[32];
        snprintf(name, sizeof name, "shard%d.json", i);
        char *p = path_in(dir, name);
        make_results(&s, 6, i, 3, -1);
        cr_assert_eq(hc_results_write(&s, p), 0, "%s", hc_errmsg());
        hc_results_free(&s);
        cr_assert_eq(hc_results_read(&shard[i], p), 0, "%s", hc_errmsg());
        free(p);
    }
    cr_assert_eq(shard[1].done[4], 1);
    cr_assert_eq(shard[1].done[3], 0, "shard 1/3 runs the batches b %% 3 == 1");
    merged = shard[order[0]];
    for (int i = 1; i < 3; i++)
        cr_assert_eq(hc_results_merge(&merged, &shard[order[i]], "shard"), 0, "%s", hc_errmsg());
    cr_assert_eq(merged.params.shard_index, 0);
    cr_assert_eq(merged.params.shard_count, 1);
    assert_same_counts(&full, &merged);

    cr_assert_eq(hc_results_write(&merged, merged_path), 0, "%s", hc_errmsg());
    char *a = th_read(full_path), *b = th_read(merged_path);
    cr_assert_str_eq(a, b, "the merged file is the unsharded run's file");
    free(a);
    free(b);
    hc_results_free(&merged);
    hc_results_free(&shard[order[1]]);
    hc_results_free(&shard[order[2]]);
    hc_results_free(&full);
    free(full_path);
    free(merged_path);
    free(dir);
}

Test(results, incompatible_merges_are_refused)
{
    hc_results a, b;
    make_results(&a, 7, 0, 2, -1);

    make_results(&b, 7, 0, 2, -1);
    cr_assert_eq(hc_results_merge(&a, &b, "b.json"), -1);
    cr_assert(strstr(hc_errmsg(), "b.json: cannot be merged: batch 0 is already complete"), "%s", hc_errmsg());
    hc_results_free(&b);

    /* Different bins (the rest identical). */
    hc_results_model m = a.model;
    hc_results_data d = a.data;
    hc_results_params p = a.params;
    p.bins = 40;
    p.shard_index = 1;
    cr_assert_eq(hc_results_init(&b, &m, &d, &p), 0);
    cr_assert_eq(hc_results_merge(&a, &b, "b.json"), -1);
    cr_assert(strstr(hc_errmsg(), "b.json: cannot be merged: params.bins is 40, expected 20"), "%s", hc_errmsg());
    hc_results_free(&b);

    p = a.params;
    p.shard_index = 1;
    p.ablation = HC_ABLATION_ZERO;
    cr_assert_eq(hc_results_init(&b, &m, &d, &p), 0);
    cr_assert_eq(hc_results_merge(&a, &b, "b.json"), -1);
    cr_assert(strstr(hc_errmsg(), "params.ablation is zero, expected mean"), "%s", hc_errmsg());
    hc_results_free(&b);

    hc_sha256_buf("another model", 13, m.sha256);
    p = a.params;
    p.shard_index = 1;
    cr_assert_eq(hc_results_init(&b, &m, &d, &p), 0);
    cr_assert_eq(hc_results_merge(&a, &b, "b.json"), -1);
    cr_assert(strstr(hc_errmsg(), "b.json: cannot be merged: model.sha256 is "), "%s", hc_errmsg());
    hc_results_free(&b);

    /* Same run, other variants. */
    make_results(&b, 7, 1, 2, -1);
    hc_results c;
    cr_assert_eq(hc_results_init(&c, &a.model, &a.data, &b.params), 0);
    cr_assert(hc_results_add_variant(&c, HC_VARIANT_BASELINE, NULL, 0) == 0);
    for (int v = 1; v < 3; v++)
        cr_assert(hc_results_add_variant(&c, b.variants[v].kind, b.variants[v].members, 1) == v);
    cr_assert(hc_results_add_variant(&c, HC_VARIANT_HEAD, &(hc_component){0, 0}, 1) == 3);
    cr_assert_eq(hc_results_merge(&a, &c, "c.json"), -1);
    cr_assert(strstr(hc_errmsg(), "c.json: cannot be merged: it has no variant MLP1+L3H0"), "%s", hc_errmsg());
    hc_results_free(&c);

    /* After all the refusals a is untouched; the right shard merges. */
    hc_results again;
    make_results(&again, 7, 0, 2, -1);
    assert_same_counts(&a, &again);
    cr_assert_eq(hc_results_merge(&a, &b, "b.json"), 0, "%s", hc_errmsg());
    hc_results_free(&again);
    hc_results_free(&b);
    hc_results_free(&a);
}

/* ---------------------------------------------------------------- metrics */

static int close_to(double c, const cJSON *ref)
{
    if (cJSON_IsNull(ref))
        return isnan(c);
    return !isnan(c) && fabs(c - ref->valuedouble) <= 1e-9 * fmax(1, fabs(ref->valuedouble));
}

Test(results, metrics_and_jackknife_match_numpy)
{
    char *dir = th_tmpdir("results");
    char *a = path_in(dir, "m.json");
    hc_results r, back;
    make_results(&r, 8, 0, 1, -1);
    r.done[5] = 0;
    for (int v = 0; v < r.n_variants; v++)
        hc_calib_reset_batch(&r.variants[v].calib, 5);
    cr_assert_eq(hc_results_write(&r, a), 0, "%s", hc_errmsg());
    hc_results_free(&r);
    cr_assert_eq(hc_results_read(&back, a), 0, "%s", hc_errmsg());

    char cmd[9000], *out, *err;
    snprintf(cmd, sizeof cmd, "%s %s '%s'", TEST_PYTHON, th_src("tests/ref_metrics.py"), a);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "ref_metrics.py failed: %s", err);
    cJSON *ref = cJSON_Parse(out);
    cr_assert_not_null(ref);
    int checked = 0;
    for (int v = 0; v < back.n_variants; v++) {
        hc_metrics m;
        cr_assert_eq(hc_results_metrics(&back, v, &m), 0);
        cr_assert_eq(m.n_batches, BATCHES - 1);
        const cJSON *rv = cJSON_GetObjectItem(ref, back.variants[v].id);
        cr_assert_not_null(rv, "%s", back.variants[v].id);
        for (int k = 0; k < HC_N_METRICS; k++) {
            char se[40];
            snprintf(se, sizeof se, "%s_se", hc_metric_name(k));
            const cJSON *rval = cJSON_GetObjectItem(rv, hc_metric_name(k)), *rse = cJSON_GetObjectItem(rv, se);
            cr_assert(close_to(m.value[k], rval), "%s %s: C %.17g vs numpy %s", back.variants[v].id,
                      hc_metric_name(k), m.value[k], cJSON_PrintUnformatted(rval));
            cr_assert(close_to(m.se[k], rse), "%s %s: C %.17g vs numpy %s", back.variants[v].id, se,
                      m.se[k], cJSON_PrintUnformatted(rse));
            checked += !cJSON_IsNull(rse) && rse->valuedouble > 0;
        }
        hc_calib_sum s;
        double acc[BINS], band[BINS];
        cr_assert_eq(hc_calib_sum_init(&s, BINS), 0);
        hc_calib_sum_batches(&s, &back.variants[v].calib, back.done);
        hc_calib_curve(&s, acc, band);
        for (int b = 0; b < BINS; b++)
            cr_assert(close_to(acc[b], cJSON_GetArrayItem(cJSON_GetObjectItem(rv, "acc"), b)), "acc[%d]", b);
        hc_calib_sum_free(&s);
    }
    /* The variants differ, so the baseline's Δ SEs are 0 but the others' not. */
    cr_assert_gt(checked, 3 * 5);
    cJSON_Delete(ref);
    free(out);
    free(err);
    hc_results_free(&back);
    free(a);
    free(dir);
}

/* ---------------------------------------------------------------- the CLI */

Test(results, merge_command)
{
    char *dir = th_tmpdir("merge");
    char *full = path_in(dir, "full.json"), *out = path_in(dir, "out.json");
    char *s[2] = {path_in(dir, "s0.json"), path_in(dir, "s1.json")};
    hc_results r;
    make_results(&r, 9, 0, 1, -1);
    cr_assert_eq(hc_results_write(&r, full), 0, "%s", hc_errmsg());
    hc_results_free(&r);
    for (int i = 0; i < 2; i++) {
        make_results(&r, 9, i, 2, -1);
        cr_assert_eq(hc_results_write(&r, s[i]), 0, "%s", hc_errmsg());
        hc_results_free(&r);
    }
    char cmd[20000], *o, *e;
    snprintf(cmd, sizeof cmd, "%s merge --out '%s' '%s' '%s'", th_headcal(), out, s[1], s[0]);
    cr_assert_eq(th_run(cmd, &o, &e), 0, "%s", e);
    char *a = th_read(full), *b = th_read(out);
    cr_assert_str_eq(a, b);
    free(a);
    free(b);
    free(o);
    free(e);
    unlink(out);

    /* Usage errors: 2.  (x.json must not appear either.) */
    char usage[4][9000];
    snprintf(usage[0], sizeof usage[0], "%s merge '%s'", th_headcal(), s[0]);
    snprintf(usage[1], sizeof usage[1], "%s merge --out", th_headcal());
    snprintf(usage[2], sizeof usage[2], "cd '%s' && %s merge --out x.json", dir, th_headcal());
    snprintf(usage[3], sizeof usage[3], "%s merge --bogus '%s'", th_headcal(), s[0]);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(th_run(usage[i], &o, &e), 2, "'%s' -> %s", usage[i], e);
        cr_assert(strncmp(e, "headcal: ", 9) == 0 && strchr(e, '\n') == e + strlen(e) - 1,
                  "one line: %s", e);
        free(o);
        free(e);
    }
    char *x = path_in(dir, "x.json");
    cr_assert_eq(access(x, F_OK), -1);
    free(x);

    /* Bad or incompatible input: 1, one line naming the file, no output. */
    char *damaged = path_in(dir, "damaged.json");
    cr_assert_eq(th_write_file(damaged, "{\"format\": 1}", 13), 0);
    char *missing = path_in(dir, "missing.json");
    const char *inputs[][2] = {{s[0], damaged}, {s[0], missing}, {s[0], s[0]}};
    const char *culprit[] = {damaged, missing, s[0]};
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "%s merge --out '%s' '%s' '%s'", th_headcal(), out, inputs[i][0],
                 inputs[i][1]);
        cr_assert_eq(th_run(cmd, &o, &e), 1, "case %d: %s", i, e);
        cr_assert(strncmp(e, "headcal: ", 9) == 0 && strstr(e, culprit[i]) && strchr(e, '\n') == e + strlen(e) - 1,
                  "case %d: %s", i, e);
        cr_assert_eq(access(out, F_OK), -1, "case %d: a failed merge leaves no output", i);
        free(o);
        free(e);
    }
    /* An existing output survives a failed merge unchanged. */
    cr_assert_eq(th_write_file(out, "old", 3), 0);
    snprintf(cmd, sizeof cmd, "%s merge --out '%s' '%s' '%s'", th_headcal(), out, s[0], damaged);
    cr_assert_eq(th_run(cmd, &o, &e), 1);
    a = th_read(out);
    cr_assert_str_eq(a, "old");
    free(a);
    free(o);
    free(e);
    free(damaged);
    free(missing);
    free(full);
    free(out);
    free(s[0]);
    free(s[1]);
    free(dir);
}

Test(results, sha256_matches_standard_and_sha256sum)
{
    char hex[65];
    /* FIPS 180-2 test vector. */
    hc_sha256_buf("abc", 3, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char *dir = th_tmpdir("sha");
    char *p = path_in(dir, "blob");
    size_t n = 200000;
    unsigned char *buf = malloc(n);
    uint64_t s = 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)rng(&s);
    cr_assert_eq(th_write_file(p, buf, n), 0);
    cr_assert_eq(hc_sha256_file(p, hex), 0);
    char cmd[4600], *out;
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", p);
    cr_assert_eq(th_run(cmd, &out, NULL), 0);
    cr_assert_eq(strncmp(out, hex, 64), 0, "%s vs %s", hex, out);
    char again[65];
    hc_sha256_buf(buf, n, again);
    cr_assert_str_eq(again, hex);
    cr_assert_eq(hc_sha256_file("/nonexistent/model.safetensors", hex), -1);
    cr_assert(strstr(hc_errmsg(), "/nonexistent/model.safetensors"));
    free(out);
    free(buf);
    free(p);
    free(dir);
}
