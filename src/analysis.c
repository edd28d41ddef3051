#include <stdlib.h>
#include <string.h>

#include "headcal/analysis.h"
#include "headcal/error.h"
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

static int cancelled(const hc_analysis *a)
{
    return a->cancel && atomic_load(a->cancel);
}

static void report(const hc_analysis *a, const char *phase, int done, int total)
{
    if (a->progress)
        a->progress(a->progress_ctx, phase, done, total);
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
        return a->checkpoint ? hc_results_write(r, a->checkpoint) : 0;
    hc_variant_spec *specs = hc_calloc((size_t)r->n_variants, sizeof *specs);
    if (!specs)
        return -1;
    for (int v = 0; v < r->n_variants; v++)
        specs[v] = (hc_variant_spec){r->variants[v].n_members, r->variants[v].members};
    hc_sweep *sw = NULL;
    hc_means mn = {0};
    int rc = hc_sweep_new(&sw, a->model, specs, r->n_variants, &a->sweep);
    if (!rc)
        hc_sweep_set_cancel(sw, a->cancel);
    /* The options are valid: the first checkpoint, before any long
     * computation, shows the file can be written; a refused run wrote none. */
    if (!rc && a->checkpoint)
        rc = hc_results_write(r, a->checkpoint);
    if (!rc && a->sweep.ablation == HC_ABLATION_MEAN) {
        /* Means over the whole dataset, not the shard, so shards agree. */
        rc = hc_means_init(&mn, &a->model->cfg, p->seq_len);
        for (int b = 0; b < nb && !rc; b++) {
            report(a, "means", b, nb);
            hc_batch bt;
            rc = cancelled(a) ? hc_fail(HC_EBAD, "cancelled") : hc_dataset_batch(a->ds, b, &bt);
            if (!rc) {
                rc = hc_sweep_means_batch(a->model, &mn, bt.tokens, bt.lens, bt.rows, bt.cols);
                hc_batch_free(&bt);
            }
        }
        if (!rc) {
            hc_means_finish(&mn);
            hc_sweep_set_means(sw, &mn);
        }
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
        rc = hc_sweep_batch(sw, bt.tokens, bt.lens, bt.rows, bt.cols, &out);
        hc_batch_free(&bt);
        if (rc)
            break;
        for (int v = 0; v < r->n_variants; v++) {
            hc_calib *c = &r->variants[v].calib;
            hc_calib_reset_batch(c, b);
            for (int i = 0; i < out.n_pos; i++) {
                size_t oi = (size_t)v * out.n_pos + i;
                hc_calib_add(c, b, out.topk_p + oi * out.k, out.topk_id + oi * out.k, out.k, out.target[i],
                             out.nll[oi], out.entropy[oi]);
            }
        }
        hc_sweep_out_free(&out);
        r->done[b] = 1;
        done++;
        if (a->checkpoint)
            rc = hc_results_write(r, a->checkpoint);
    }
    if (!rc)
        report(a, "sweep", done, todo);
    if (a->sweep.ablation == HC_ABLATION_MEAN)
        hc_means_free(&mn);
    hc_sweep_free(sw);
    free(specs);
    return rc;
}
