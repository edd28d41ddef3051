/* Random GPT-2 checkpoints for tests and benchmarks. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/synth.h"

uint64_t hc_splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float gauss(uint64_t *s)
{
    double u1 = ((double)(hc_splitmix64(s) >> 11) + 0.5) / 9007199254740992.0;
    double u2 = (double)(hc_splitmix64(s) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

static void fill(float *x, size_t n, float mean, float std, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        x[i] = mean + std * gauss(s);
}

void hc_synth_params(hc_model *m, uint64_t seed)
{
    const hc_config *c = &m->cfg;
    hc_params *p = &m->p;
    size_t L = (size_t)c->n_layer, D = (size_t)c->d_model, F = (size_t)c->d_mlp, V = (size_t)c->d_vocab;
    float sd = 1.0f / sqrtf((float)D);
    uint64_t s = seed * 0x2545f4914f6cdd1dull + 1;
    /* logit std ≈ 3 (the final LayerNorm gives unit-variance features):
     * confident enough predictions for calibration to mean something */
    fill(p->w_e, V * D, 0, 3.0f * sd, &s);
    fill(p->w_pos, (size_t)c->n_ctx * D, 0, 0.5f * sd, &s);
    fill(p->ln1_w, L * D, 1, 0.1f, &s);
    fill(p->ln1_b, L * D, 0, 0.1f, &s);
    fill(p->w_qkv, L * D * 3 * D, 0, 1.5f * sd, &s);
    fill(p->b_qkv, L * 3 * D, 0, 0.1f, &s);
    fill(p->w_o, L * D * D, 0, sd, &s);
    fill(p->b_o, L * D, 0, 0.1f, &s);
    fill(p->ln2_w, L * D, 1, 0.1f, &s);
    fill(p->ln2_b, L * D, 0, 0.1f, &s);
    fill(p->w_in, L * D * F, 0, sd, &s);
    fill(p->b_in, L * F, 0, 0.1f, &s);
    fill(p->w_out, L * F * D, 0, 1.0f / sqrtf((float)F), &s);
    fill(p->b_out, L * D, 0, 0.1f, &s);
    fill(p->lnf_w, D, 1, 0.1f, &s);
    fill(p->lnf_b, D, 0, 0.1f, &s);
    for (size_t v = 0; v < V; v++) /* tied: w_u = w_eᵀ */
        for (size_t d = 0; d < D; d++)
            p->w_u[d * V + v] = p->w_e[v * D + d];
}

void hc_gpt2_init(hc_model *m, uint64_t seed)
{
    const hc_config *c = &m->cfg;
    hc_params *p = &m->p;
    size_t L = (size_t)c->n_layer, D = (size_t)c->d_model, F = (size_t)c->d_mlp, V = (size_t)c->d_vocab;
    uint64_t s = seed * 0x2545f4914f6cdd1dull + 7;
    /* the residual projections add to a stream that 2L blocks write into:
     * scaling them keeps the stream's variance independent of depth */
    float proj = 0.02f / sqrtf(2.0f * (float)L);
    memset(m->slab, 0, m->n_floats * sizeof(float));
    fill(p->w_e, V * D, 0, 0.02f, &s);
    fill(p->w_pos, (size_t)c->n_ctx * D, 0, 0.01f, &s);
    fill(p->w_qkv, L * D * 3 * D, 0, 0.02f, &s);
    fill(p->w_o, L * D * D, 0, proj, &s);
    fill(p->w_in, L * D * F, 0, 0.02f, &s);
    fill(p->w_out, L * F * D, 0, proj, &s);
    fill(p->ln1_w, L * D, 1, 0, &s);
    fill(p->ln2_w, L * D, 1, 0, &s);
    fill(p->lnf_w, D, 1, 0, &s);
    for (size_t v = 0; v < V; v++)
        for (size_t d = 0; d < D; d++)
            p->w_u[d * V + v] = p->w_e[v * D + d];
}

int hc_synth_write(const char *dir, const hc_synth_opts *o)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return hc_fail(HC_EBAD, "%s: cannot create directory: %s", dir, strerror(errno));
    hc_model m;
    if (hc_model_alloc(&m, &o->cfg))
        return -1;
    hc_synth_params(&m, o->seed);
    if (o->lm_head) /* untied: a head that differs from the embedding */
        for (size_t i = 0; i < (size_t)o->cfg.d_model * o->cfg.d_vocab; i++)
            m.p.w_u[i] *= 0.9f;
    int rc = hc_model_save(&m, dir, o->dtype, o->prefix, o->lm_head, o->extras) ||
             hc_copy_into(o->tokenizer_dir, dir, "vocab.json") || hc_copy_into(o->tokenizer_dir, dir, "merges.txt");
    hc_model_free(&m);
    return rc ? -1 : 0;
}
