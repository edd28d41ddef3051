#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/analysis.h"
#include "headcal/error.h"
#include "headcal/means.h"
#include "headcal/sha256.h"

static int add_list(hc_results *r, const char *list, int sets)
{
    const char *opt = sets ? "--sets" : "--heads";
    char *copy = hc_strdup(list), *rest = copy;
    if (!copy)
        return -1;
    int rc = 0;
    /* strsep, not strtok: "0.1,,0.2" has an empty entry, which is an error */
    for (char *item; !rc && (item = strsep(&rest, ",")) != NULL;) {
        hc_component members[256];
        int n = 0;
        char *more = item;
        for (char *m; !rc && (m = strsep(&more, "+")) != NULL;) {
            if (!*m)
                rc = hc_fail(HC_EUSAGE, "%s: '%s' has an empty entry", opt, list);
            else if (n == 256)
                rc = hc_fail(HC_EUSAGE, "--sets: a set has more than 256 members");
            else if (hc_component_parse(m, &members[n]))
                rc = hc_fail(HC_EUSAGE, "%s: '%s' is not a head (L.H or LxHy) or an MLP (MLPn)", opt, m);
            else if (!sets && members[n].head == HC_MLP)
                rc = hc_fail(HC_EUSAGE, "--heads: '%s' is an MLP; use --mlp", m);
            n++;
        }
        if (!rc && sets && n < 2)
            rc = hc_fail(HC_EUSAGE, "--sets: '%s' has one member; a set needs two or more", item);
        if (!rc && hc_results_add_variant(r, sets ? HC_VARIANT_SET : HC_VARIANT_HEAD, members, n) < 0) {
            /* a head outside the model or one listed twice: the user's list is wrong */
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", hc_errmsg());
            rc = hc_fail(HC_EUSAGE, "%s: %s", opt, msg);
        }
    }
    free(copy);
    return rc;
}

int hc_analysis_variants(hc_results *r, const char *heads, int mlp, const char *sets)
{
    if (hc_results_add_variant(r, HC_VARIANT_BASELINE, NULL, 0) < 0)
        return -1;
    const hc_results_model *m = &r->model;
    if (heads && !strcmp(heads, "all")) {
        for (int l = 0; l < m->n_layers; l++)
            for (int h = 0; h < m->n_heads; h++)
                if (hc_results_add_variant(r, HC_VARIANT_HEAD, &(hc_component){l, h}, 1) < 0)
                    return -1;
    } else if (heads && strcmp(heads, "none") && add_list(r, heads, 0)) {
        return -1;
    }
    for (int l = 0; mlp && l < m->n_layers; l++)
        if (hc_results_add_variant(r, HC_VARIANT_MLP, &(hc_component){l, HC_MLP}, 1) < 0)
            return -1;
    return sets && *sets ? add_list(r, sets, 1) : 0;
}

int hc_analysis_data_sha256(const hc_dataset *ds, char hex[65])
{
    hc_sha256 h;
    hc_sha256_init(&h);
    for (int i = 0; i < hc_dataset_n_batches(ds); i++) {
        hc_batch b;
        if (hc_dataset_batch(ds, i, &b))
            return -1;
        /* each row's real tokens, its length first: padding is not data */
        for (int row = 0; row < b.rows; row++) {
            int32_t len = b.lens[row];
            hc_sha256_update(&h, &len, sizeof len);
            hc_sha256_update(&h, b.tokens + (size_t)row * b.cols, (size_t)len * sizeof(int32_t));
        }
        hc_batch_free(&b);
    }
    hc_sha256_final(&h, hex);
    return 0;
}

int hc_analysis_reopen_data(const hc_results *r, const char *src, const hc_config *cfg, const hc_tokenizer *tk,
                            hc_dataset **ds)
{
    const hc_results_params *p = &r->params;
    hc_dataset_opts o = {.batch_size = p->batch_size, .n_batches = p->batches, .seq_len = p->seq_len,
                         .min_len = r->data.min_len, .chunk = r->data.chunk, .shuffle = r->data.shuffle_seed >= 0,
                         .shuffle_seed = (uint32_t)(r->data.shuffle_seed < 0 ? 0 : r->data.shuffle_seed),
                         .bos = cfg->bos, .vocab_size = cfg->d_vocab, .tk = tk};
    if (!src)
        src = r->data.source;
    *ds = NULL;
    char hex[65];
    if (hc_dataset_open(ds, src, &o)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", hc_errmsg());
        return hc_fail(HC_EBAD, "the run's data is not readable: %s", msg);
    }
    if (hc_analysis_data_sha256(*ds, hex) || strcmp(hex, r->data.sha256)) {
        hc_dataset_free(*ds);
        *ds = NULL;
        return hc_fail(HC_EBAD, "%s: not the data of the run (its sha256 differs from the recorded %.12s...)", src,
                       r->data.sha256);
    }
    return 0;
}

static int cancelled(const hc_analysis *a)
{
    return a->cancel && atomic_load(a->cancel);
}

static void report(const hc_analysis *a, const char *phase, int done, int total)
{
    if (a->progress)
        a->progress(a->progress_ctx, phase, done, total);
}

static int means_step(void *ctx, int done, int total)
{
    const hc_analysis *a = ctx;
    report(a, "means", done, total);
    return cancelled(a) ? hc_fail(HC_EBAD, "cancelled") : 0;
}

/* Means over the whole dataset, not the shard, so that shards agree. */
static int whole_means(const hc_analysis *a, const hc_results *r, hc_means *mn)
{
    hc_mean_sums s;
    if (hc_mean_sums_init(&s, &a->model->cfg, r->params.seq_len))
        return -1;
    s.id = hc_means_id_of(r, 0, 1);
    int rc = hc_mean_sums_run(&s, a->model, a->ds, means_step, (void *)a);
    if (!rc)
        rc = hc_means_finish(mn, &s);
    hc_mean_sums_free(&s);
    return rc;
}

/* Non-finite logits (weights are checked at load, so an overflow inside the
 * model) would make counts that mean nothing: never recorded. */
static int check_finite(const hc_analysis *a, const hc_results *r, const hc_sweep_out *out, int b)
{
    for (int v = 0; v < r->n_variants; v++)
        for (int i = 0; i < out->n_pos; i++) {
            size_t oi = (size_t)v * out->n_pos + i;
            if (!isfinite(out->nll[oi]) || !isfinite(out->entropy[oi]))
                return hc_fail(HC_EBAD, "%s: the model's logits are not finite (batch %d, %s); nothing recorded",
                               a->model->dir, b, r->variants[v].id);
        }
    return 0;
}

/* Variant v's counts and examples of batch b, from row v of out, into
 * dst (whose batch b is empty); base is the baseline's row. */
static int add_batch(const hc_results_params *p, hc_variant *dst, int b, const hc_sweep_out *out, int v, int base)
{
    for (int i = 0; i < out->n_pos; i++) {
        size_t oi = (size_t)v * out->n_pos + i;
        hc_calib_add(&dst->calib, b, out->topk_p + oi * out->k, out->topk_id + oi * out->k, out->k, out->target[i],
                     out->nll[oi], out->entropy[oi]);
    }
    return hc_examples_collect(&dst->examples, p->examples, b, out, v, base);
}

/* The state of a batch whose variants finish in steps (hc_sweep_set_part). */
typedef struct {
    const hc_analysis *a;
    const hc_results *r;
    int b;
} part_ctx;

/* Offers a->partial a results structure with the finished variants only
 * and batch b marked complete.  Only while r has no completed batch: once
 * it has, every variant is shown already, and a part would hide those not
 * yet finished in this batch. */
static int on_part(void *ctx, const hc_sweep_out *out, const char *final)
{
    const part_ctx *pc = ctx;
    const hc_results *r = pc->r;
    const hc_results_params *p = &r->params;
    const int base = hc_results_baseline(r);
    if (!pc->a->partial || base < 0 || !final[base])
        return 0;
    for (int b = 0; b < p->batches; b++)
        if (r->done[b])
            return 0;
    hc_results part;
    if (hc_results_init(&part, &r->model, &r->data, p))
        return -1;
    int rc = 0;
    for (int v = 0; v < r->n_variants && !rc; v++) {
        const hc_variant *src = &r->variants[v];
        if (!final[v])
            continue;
        int i = hc_results_add_variant(&part, src->kind, src->members, src->n_members);
        rc = i < 0 ? -1 : add_batch(p, &part.variants[i], pc->b, out, v, base);
    }
    part.done[pc->b] = 1;
    if (!rc)
        pc->a->partial(pc->a->progress_ctx, &part);
    hc_results_free(&part);
    return rc;
}

static int save(const hc_analysis *a, const hc_results *r, int batch)
{
    if (a->saved && a->saved(a->saved_ctx, r, batch))
        return -1;
    return a->checkpoint ? hc_results_write(r, a->checkpoint) : 0;
}

int hc_analysis_run(const hc_analysis *a, hc_results *r)
{
    const hc_results_params *p = &r->params;
    int nb = hc_dataset_n_batches(a->ds), todo = 0, done = 0;
    if (nb != p->batches)
        return hc_fail(HC_EBAD, "dataset has %d batches, results expect %d", nb, p->batches);
    for (int b = 0; b < nb; b++)
        todo += hc_shard_has(p->shard_index, p->shard_count, b) && !r->done[b];
    if (!todo)
        return save(a, r, -1);
    hc_variant_spec *specs = hc_calloc((size_t)r->n_variants, sizeof *specs);
    if (!specs)
        return -1;
    for (int v = 0; v < r->n_variants; v++)
        specs[v] = (hc_variant_spec){r->variants[v].n_members, r->variants[v].members};
    hc_sweep *sw = NULL;
    hc_means mn = {0};
    part_ctx pc = {a, r, -1};
    int rc = hc_sweep_new(&sw, a->model, specs, r->n_variants, &a->sweep);
    if (!rc) {
        hc_sweep_set_cancel(sw, a->cancel);
        hc_sweep_set_tick(sw, a->tick, a->progress_ctx);
        hc_sweep_set_part(sw, on_part, &pc);
    }
    /* the counts of one file come from one kernel (they may differ at bin edges) */
    if (!rc && *p->kernel && strcmp(p->kernel, hc_sweep_kernel_name(sw)))
        rc = hc_fail(HC_EUSAGE, "the results were computed with the %s kernel, this run would use %s "
                     "(HEADCAL_KERNEL=%s continues them)", p->kernel, hc_sweep_kernel_name(sw), p->kernel);
    /* The options are valid: the first checkpoint, before any long
     * computation, shows the file can be written; a refused run wrote none. */
    if (!rc)
        rc = save(a, r, -1);
    if (!rc && a->sweep.ablation == HC_ABLATION_MEAN) {
        if (!a->means)
            rc = whole_means(a, r, &mn);
        if (!rc)
            hc_sweep_set_means(sw, a->means ? a->means : &mn);
    }
    for (int b = 0; b < nb && !rc; b++) {
        if (!hc_shard_has(p->shard_index, p->shard_count, b) || r->done[b])
            continue;
        report(a, "sweep", done, todo);
        hc_batch bt;
        hc_sweep_out out;
        rc = cancelled(a) ? hc_fail(HC_EBAD, "cancelled") : hc_dataset_batch(a->ds, b, &bt);
        if (rc)
            break;
        pc.b = b;
        rc = hc_sweep_batch(sw, bt.tokens, bt.lens, bt.rows, bt.cols, &out);
        hc_batch_free(&bt);
        if (rc)
            break;
        rc = check_finite(a, r, &out, b);
        for (int v = 0; v < r->n_variants && !rc; v++) {
            hc_calib_reset_batch(&r->variants[v].calib, b);
            rc = add_batch(p, &r->variants[v], b, &out, v, hc_results_baseline(r));
        }
        hc_sweep_out_free(&out);
        if (rc)
            break;
        r->done[b] = 1;
        done++;
        rc = save(a, r, b);
    }
    if (!rc)
        report(a, "sweep", done, todo);
    if (a->sweep.ablation == HC_ABLATION_MEAN)
        hc_means_free(&mn);
    hc_sweep_free(sw);
    free(specs);
    return rc;
}
