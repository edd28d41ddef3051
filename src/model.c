/* Loading a HF GPT-2 checkpoint into one float32 slab. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/bigmem.h"
#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/model.h"
#include "headcal/safetensors.h"

/* The slab's sections, in order: name in the checkpoint (per layer when
 * `layered`), its shape in terms of the config, and the field it fills. */
enum dim { D_ONE, D_D, D_3D, D_F, D_V, D_C };

typedef struct {
    const char *name; /* printf pattern with %d for the layer */
    int layered;
    enum dim rows, cols; /* D_ONE rows: a vector of cols */
    size_t offset;       /* of the field in hc_params */
} section;

#define F(field) offsetof(hc_params, field)
static const section sections[] = {
    {"wte.weight", 0, D_V, D_D, F(w_e)},
    {"wpe.weight", 0, D_C, D_D, F(w_pos)},
    {"h.%d.ln_1.weight", 1, D_ONE, D_D, F(ln1_w)},
    {"h.%d.ln_1.bias", 1, D_ONE, D_D, F(ln1_b)},
    {"h.%d.attn.c_attn.weight", 1, D_D, D_3D, F(w_qkv)},
    {"h.%d.attn.c_attn.bias", 1, D_ONE, D_3D, F(b_qkv)},
    {"h.%d.attn.c_proj.weight", 1, D_D, D_D, F(w_o)},
    {"h.%d.attn.c_proj.bias", 1, D_ONE, D_D, F(b_o)},
    {"h.%d.ln_2.weight", 1, D_ONE, D_D, F(ln2_w)},
    {"h.%d.ln_2.bias", 1, D_ONE, D_D, F(ln2_b)},
    {"h.%d.mlp.c_fc.weight", 1, D_D, D_F, F(w_in)},
    {"h.%d.mlp.c_fc.bias", 1, D_ONE, D_F, F(b_in)},
    {"h.%d.mlp.c_proj.weight", 1, D_F, D_D, F(w_out)},
    {"h.%d.mlp.c_proj.bias", 1, D_ONE, D_D, F(b_out)},
    {"ln_f.weight", 0, D_ONE, D_D, F(lnf_w)},
    {"ln_f.bias", 0, D_ONE, D_D, F(lnf_b)},
    {NULL, 0, D_D, D_V, F(w_u)}, /* from lm_head.weight or wte, transposed */
    {NULL, 0, D_ONE, D_V, F(b_u)},
};
#undef F
#define N_SECTIONS (sizeof sections / sizeof sections[0])

static size_t dim(const hc_config *c, enum dim d)
{
    switch (d) {
    case D_ONE: return 1;
    case D_D: return (size_t)c->d_model;
    case D_3D: return 3 * (size_t)c->d_model;
    case D_F: return (size_t)c->d_mlp;
    case D_V: return (size_t)c->d_vocab;
    case D_C: return (size_t)c->n_ctx;
    }
    return 0;
}

static size_t section_floats(const hc_config *c, const section *s)
{
    size_t n = dim(c, s->rows) * dim(c, s->cols);
    return s->layered ? n * (size_t)c->n_layer : n;
}

size_t hc_params_size(const hc_config *cfg)
{
    /* config bounds (hc_config_load) keep each section below 2^40 floats */
    size_t total = 0;
    for (size_t i = 0; i < N_SECTIONS; i++)
        total += section_floats(cfg, &sections[i]);
    return total;
}

void hc_params_layout(hc_params *p, const hc_config *cfg, float *slab)
{
    for (size_t i = 0; i < N_SECTIONS; i++) {
        *(float **)((char *)p + sections[i].offset) = slab;
        slab += section_floats(cfg, &sections[i]);
    }
}

int hc_model_alloc(hc_model *m, const hc_config *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->n_floats = hc_params_size(cfg);
    size_t bytes;
    if (!hc_mul_ok(m->n_floats, sizeof(float), &bytes) || !(m->slab = hc_bigmem_alloc(bytes)))
        return hc_fail(HC_EBAD, "out of memory for the model's %zu parameters", m->n_floats);
    hc_params_layout(&m->p, cfg, m->slab);
    return 0;
}

void hc_model_free(hc_model *m)
{
    hc_bigmem_free(m->slab, m->n_floats * sizeof(float));
    memset(m, 0, sizeof *m);
}

static int check_shape(const char *path, const hc_st_tensor *t, size_t rows, size_t cols, int vector)
{
    int ok = vector ? (t->ndim == 1 && (size_t)t->shape[0] == cols)
                    : (t->ndim == 2 && (size_t)t->shape[0] == rows && (size_t)t->shape[1] == cols);
    if (ok)
        return 0;
    char got[128] = "", *w = got;
    for (int i = 0; i < t->ndim && w < got + sizeof got - 24; i++)
        w += sprintf(w, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (vector)
        return hc_fail(HC_EBAD, "%s: tensor '%s' has shape [%s], config says [%zu]", path, t->name, got, cols);
    return hc_fail(HC_EBAD, "%s: tensor '%s' has shape [%s], config says [%zu, %zu]", path, t->name, got, rows,
                   cols);
}

/* The tensor, present with the config's shape and a float dtype; or NULL. */
static const hc_st_tensor *usable(const hc_safetensors *st, const char *name, size_t rows, size_t cols,
                                  int vector)
{
    const hc_st_tensor *t = hc_st_find(st, name);
    if (!t) {
        hc_fail(HC_EBAD, "%s: tensor '%s' is missing", st->path, name);
        return NULL;
    }
    if (check_shape(st->path, t, rows, cols, vector))
        return NULL;
    if (t->dtype == HC_DTYPE_OTHER) {
        hc_fail(HC_EBAD, "%s: tensor '%s' has dtype %s (F32, F16 and BF16 are supported)", st->path,
                t->name, t->dtype_name);
        return NULL;
    }
    return t;
}

/* A NaN or infinite weight would turn every number downstream into NaN
 * without an error: refused at load, by tensor. */
static int check_finite(const char *path, const hc_st_tensor *t, const float *x)
{
    for (size_t i = 0; i < t->n_elems; i++)
        if (!isfinite(x[i]))
            return hc_fail(HC_EBAD, "%s: tensor '%s' holds a non-finite value (%g at element %zu)", path, t->name,
                           (double)x[i], i);
    return 0;
}

/* Converts every section's tensor into p's fields (p NULL: only checks them). */
static int load_sections(const hc_safetensors *st, const hc_config *cfg, hc_params *p)
{
    char name[128];
    for (size_t i = 0; i < N_SECTIONS; i++) {
        const section *s = &sections[i];
        if (!s->name)
            continue;
        size_t rows = dim(cfg, s->rows), cols = dim(cfg, s->cols), per = rows * cols;
        for (int l = 0; l < (s->layered ? cfg->n_layer : 1); l++) {
            snprintf(name, sizeof name, s->name, l);
            const hc_st_tensor *t = usable(st, name, rows, cols, s->rows == D_ONE);
            if (!t)
                return -1;
            float *dst = p ? *(float **)((char *)p + s->offset) + (size_t)l * per : NULL;
            if (p && (hc_st_to_f32(t, dst) || check_finite(st->path, t, dst)))
                return -1;
        }
    }
    return 0;
}

/* w_u[D, V] = src[V, D]ᵀ */
static void transpose(float *dst, const float *src, size_t V, size_t D)
{
    for (size_t v0 = 0; v0 < V; v0 += 64)
        for (size_t d = 0; d < D; d++)
            for (size_t v = v0; v < V && v < v0 + 64; v++)
                dst[d * V + v] = src[v * D + d];
}

int hc_model_load(hc_model *m, const char *dir)
{
    char path[4200];
    hc_config cfg;
    if (hc_path_join(path, sizeof path, dir, "config.json") || hc_config_load(&cfg, path))
        return -1;
    if (hc_path_join(path, sizeof path, dir, "model.safetensors"))
        return -1;
    hc_safetensors st;
    if (hc_st_open(&st, path))
        return -1;
    size_t V = (size_t)cfg.d_vocab, D = (size_t)cfg.d_model;
    /* Check every tensor before allocating: a config that claims a huge
     * model next to a small file is refused by name, not by running out of
     * memory, and the tensors' byte sizes (inside the file) bound the slab. */
    const hc_st_tensor *head = hc_st_find(&st, "lm_head.weight");
    if (load_sections(&st, &cfg, NULL) || (head && !usable(&st, "lm_head.weight", V, D, 0)) ||
        hc_model_alloc(m, &cfg)) {
        hc_st_close(&st);
        return -1;
    }
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    int rc = load_sections(&st, &cfg, &m->p);
    if (!rc && head) {
        /* An untied head: stage it in w_u's own space, then transpose via
         * a temporary the size of one matrix. */
        float *tmp = hc_malloc(V * D * sizeof(float));
        rc = !tmp || hc_st_to_f32(head, tmp) || check_finite(st.path, head, tmp);
        if (!rc)
            transpose(m->p.w_u, tmp, V, D);
        free(tmp);
    } else if (!rc) {
        transpose(m->p.w_u, m->p.w_e, V, D);
    }
    hc_st_close(&st);
    if (rc) {
        hc_model_free(m);
        return -1;
    }
    return 0;
}

int hc_model_save(const hc_model *m, const char *dir, int dtype, bool prefix, bool lm_head, bool extras)
{
    const hc_config *c = &m->cfg;
    size_t V = (size_t)c->d_vocab, D = (size_t)c->d_model, C = (size_t)c->n_ctx;
    int max = (int)N_SECTIONS * c->n_layer + 8;
    hc_st_out *outs = hc_calloc((size_t)max, sizeof *outs);
    char (*names)[160] = hc_calloc((size_t)max, sizeof *names);
    float *head = lm_head ? hc_malloc(V * D * sizeof(float)) : NULL;
    float *mask = extras ? hc_malloc(C * C * sizeof(float)) : NULL;
    float masked_bias = -1e4f;
    int n = 0, rc = (!outs || !names || (lm_head && !head) || (extras && !mask)) ? -1 : 0;
    const char *pre = prefix ? "transformer." : "";
    for (size_t i = 0; i < N_SECTIONS && !rc; i++) {
        const section *s = &sections[i];
        if (!s->name)
            continue;
        size_t rows = dim(c, s->rows), cols = dim(c, s->cols);
        const float *base = *(float *const *)((const char *)&m->p + s->offset);
        for (int l = 0; l < (s->layered ? c->n_layer : 1); l++) {
            hc_st_out *o = &outs[n];
            int k = snprintf(names[n], sizeof names[n], "%s", pre);
            snprintf(names[n] + k, sizeof names[n] - (size_t)k, s->name, l);
            o->name = names[n];
            o->ndim = s->rows == D_ONE ? 1 : 2;
            o->shape[0] = (int64_t)(s->rows == D_ONE ? cols : rows);
            o->shape[1] = (int64_t)cols;
            o->data = base + (size_t)l * rows * cols;
            n++;
        }
    }
    if (!rc && extras) {
        for (size_t i = 0; i < C; i++)
            for (size_t j = 0; j < C; j++)
                mask[i * C + j] = j <= i ? 1.0f : 0.0f;
        for (int l = 0; l < c->n_layer; l++) {
            snprintf(names[n], sizeof names[n], "%sh.%d.attn.bias", pre, l);
            outs[n] = (hc_st_out){names[n], 4, {1, 1, (int64_t)C, (int64_t)C}, mask};
            n++;
            snprintf(names[n], sizeof names[n], "%sh.%d.attn.masked_bias", pre, l);
            outs[n] = (hc_st_out){names[n], 0, {0}, &masked_bias};
            n++;
        }
    }
    if (!rc && lm_head) {
        for (size_t v = 0; v < V; v++)
            for (size_t d = 0; d < D; d++)
                head[v * D + d] = m->p.w_u[d * V + v];
        outs[n++] = (hc_st_out){"lm_head.weight", 2, {(int64_t)V, (int64_t)D}, head};
    }
    char path[4200];
    if (!rc)
        rc = hc_path_join(path, sizeof path, dir, "model.safetensors") || hc_st_write(path, outs, n, dtype) ||
             hc_path_join(path, sizeof path, dir, "config.json") || hc_config_save(c, path);
    free(outs);
    free(names);
    free(head);
    free(mask);
    return rc ? -1 : 0;
}
