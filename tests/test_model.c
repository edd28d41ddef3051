/* The checkpoint loader: safetensors (hostile headers too), config.json,
 * HF naming variants, and the weight processing's invariance. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/forward.h"
#include "headcal/model.h"
#include "headcal/safetensors.h"
#include "headcal/synth.h"
#include "helpers.h"

/* A safetensors file from a literal header and data bytes. */
static char *raw_st(const char *dir, const char *name, const char *header, size_t hlen_claim, const void *data,
                    size_t dlen)
{
    static char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    uint64_t n = hlen_claim ? hlen_claim : strlen(header);
    for (int i = 0; i < 8; i++)
        fputc((int)((n >> (8 * i)) & 0xff), f);
    fputs(header, f);
    fwrite(data, 1, dlen, f);
    fclose(f);
    return path;
}

static void expect_st_error(const char *path, const char *needle)
{
    hc_safetensors st;
    cr_assert_eq(hc_st_open(&st, path), -1, "expected failure for %s", needle);
    cr_assert(strstr(hc_errmsg(), needle) != NULL, "message '%s' lacks '%s'", hc_errmsg(), needle);
    cr_assert(strstr(hc_errmsg(), path) != NULL, "message '%s' does not name the file", hc_errmsg());
}

Test(safetensors, reads_f32_f16_bf16_and_unaligned_data)
{
    char *dir = th_tmpdir("st");
    float a[3] = {1.5f, -2.25f, 3.0f};
    uint16_t h[3] = {hc_f32_to_f16(1.5f), hc_f32_to_f16(-2.25f), hc_f32_to_f16(3.0f)};
    uint16_t b[3] = {hc_f32_to_bf16(1.5f), hc_f32_to_bf16(-2.25f), hc_f32_to_bf16(3.0f)};
    uint8_t data[12 + 6 + 6];
    memcpy(data, a, 12);
    memcpy(data + 12, h, 6);
    memcpy(data + 18, b, 6);
    /* header length 127 (odd): the data section starts unaligned, as in the real GPT-2 file */
    char header[256];
    snprintf(header, sizeof header,
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
             "\"transformer.h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[12,18]},"
             "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,3],\"data_offsets\":[18,24]}}");
    size_t hl = strlen(header);
    while (hl % 8 != 7)
        header[hl++] = ' ';
    header[hl] = 0;
    char *path = raw_st(dir, "ok.safetensors", header, 0, data, sizeof data);
    hc_safetensors st;
    cr_assert_eq(hc_st_open(&st, path), 0, "%s", hc_errmsg());
    cr_assert_eq(st.n_tensors, 3);
    float out[3];
    const char *names[] = {"a", "h", "b"};
    for (int k = 0; k < 3; k++) {
        const hc_st_tensor *t = hc_st_find(&st, names[k]);
        cr_assert_not_null(t, "%s", names[k]);
        cr_assert_eq(hc_st_to_f32(t, out), 0);
        for (int i = 0; i < 3; i++)
            cr_assert_float_eq(out[i], a[i], 1e-6, "%s[%d]", names[k], i);
    }
    hc_st_close(&st);
    free(dir);
}

Test(safetensors, half_precision_conversions_round_trip)
{
    /* every finite f16 value survives f16 -> f32 -> f16 */
    for (uint32_t u = 0; u < 0x10000; u++) {
        if ((u & 0x7c00) == 0x7c00)
            continue;
        float f = hc_f16_to_f32((uint16_t)u);
        cr_assert_eq(hc_f32_to_f16(f), u, "f16 0x%04x -> %g", u, f);
    }
    cr_assert_float_eq(hc_f16_to_f32(0x3c00), 1.0f, 0);
    cr_assert_float_eq(hc_f16_to_f32(0xc000), -2.0f, 0);
    cr_assert_float_eq(hc_f16_to_f32(0x0001), 5.960464477539063e-08f, 1e-15); /* smallest subnormal */
    cr_assert_float_eq(hc_bf16_to_f32(0x3f80), 1.0f, 0);
    cr_assert_eq(hc_f32_to_bf16(1.00390625f), 0x3f80, "ties round to even");
}

Test(safetensors, hostile_headers_are_rejected_with_the_file_named)
{
    char *dir = th_tmpdir("st");
    float z[4] = {0};
    char shortp[4300];
    snprintf(shortp, sizeof shortp, "%s/short", dir);
    cr_assert_eq(th_write_file(shortp, "\x10\0\0", 3), 0);
    expect_st_error(shortp, "too short");
    expect_st_error(raw_st(dir, "empty", "", 0, "", 0), "not valid JSON");
    expect_st_error(raw_st(dir, "len", "{}", 1000, z, 4), "exceeds the file");
    expect_st_error(raw_st(dir, "huge", "{}", (uint64_t)1 << 62, z, 4), "exceeds the limit");
    expect_st_error(raw_st(dir, "json", "{\"a\":", 0, z, 4), "not valid JSON");
    expect_st_error(raw_st(dir, "arr", "[1,2]", 0, z, 4), "not a JSON object");
    expect_st_error(raw_st(dir, "dtype", "{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, z, 4),
                    "unknown dtype");
    expect_st_error(raw_st(dir, "range", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 0, z, 8),
                    "outside the data section");
    expect_st_error(raw_st(dir, "size", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 0, z, 16),
                    "bytes of data");
    expect_st_error(raw_st(dir, "order", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 0, z, 16),
                    "outside");
    expect_st_error(raw_st(dir, "neg", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 0, z, 16),
                    "non-negative");
    expect_st_error(raw_st(dir, "ovf",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,4]}}",
                           0, z, 16),
                    "overflows");
    expect_st_error(raw_st(dir, "overlap",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                           0, z, 16),
                    "overlap");
    expect_st_error(raw_st(dir, "fields", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0, z, 4), "data_offsets");
    expect_st_error(raw_st(dir, "meta", "{\"__metadata__\":3}", 0, z, 4), "__metadata__");
    expect_st_error("/nonexistent/model.safetensors", "No such file");
    free(dir);
}

/* The rules of the reference reader (huggingface/safetensors): one JSON
 * object in valid UTF-8 and at most 100,000,000 bytes, string metadata,
 * the tensors covering the data section exactly, names never cut. */
Test(safetensors, the_reference_readers_rules)
{
    char *dir = th_tmpdir("st");
    float z[4] = {0};
    const char *one = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    hc_safetensors st;
    cr_assert_eq(hc_st_open(&st, raw_st(dir, "ok", one, 0, z, 8)), 0, "%s", hc_errmsg());
    hc_st_close(&st);
    char text[512];
    snprintf(text, sizeof text, "%s   \n", one);
    cr_assert_eq(hc_st_open(&st, raw_st(dir, "pad", text, 0, z, 8)), 0, "trailing whitespace is padding: %s",
                 hc_errmsg());
    hc_st_close(&st);
    snprintf(text, sizeof text, "%sxyz", one);
    expect_st_error(raw_st(dir, "after", text, 0, z, 8), "not valid JSON");
    snprintf(text, sizeof text, "%s{}", one);
    expect_st_error(raw_st(dir, "two", text, 0, z, 8), "not valid JSON");
    expect_st_error(raw_st(dir, "trailing", one, 0, z, 12), "4 bytes after the last tensor belong to no tensor");
    expect_st_error(raw_st(dir, "hole",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                           0, z, 12),
                    "tensor 'b': 4 bytes before it belong to no tensor");
    expect_st_error(raw_st(dir, "start", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 0,
                           z, 8),
                    "tensor 'a': 4 bytes before it");
    expect_st_error(raw_st(dir, "metanum", "{\"__metadata__\":{\"format\":\"pt\",\"step\":3}}", 0, z, 0),
                    "__metadata__ \"step\" is not a string");
    cr_assert_eq(hc_st_open(&st, raw_st(dir, "metaok", "{\"__metadata__\":{\"format\":\"pt\"}}", 0, z, 0)), 0,
                 "%s", hc_errmsg());
    hc_st_close(&st);
    expect_st_error(raw_st(dir, "utf8", "{\"\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0,
                           z, 4),
                    "not valid UTF-8");
    expect_st_error(raw_st(dir, "nul",
                           "{\"wte.weight\\u0000x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                           0, z, 4),
                    "NUL character");
    expect_st_error(raw_st(dir, "limit", "{}", 100000001, z, 4), "exceeds the limit of 100000000 bytes");
    expect_st_error(raw_st(dir, "twice",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                           0, z, 8),
                    "tensor 'a' appears twice");
    free(dir);
}

/* 100,000 tensors, the last two sharing a name: found by a hash, so this
 * takes milliseconds where comparing every pair took half a minute. */
Test(safetensors, a_duplicate_among_many_tensors_is_found)
{
    char *dir = th_tmpdir("st");
    enum { N = 100000 };
    size_t cap = (size_t)N * 80, at = 0;
    char *h = malloc(cap);
    at += (size_t)snprintf(h + at, cap - at, "{");
    for (int i = 0; i < N; i++)
        at += (size_t)snprintf(h + at, cap - at, "%s\"t%d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%d,%d]}",
                               i ? "," : "", i < N - 1 ? i : N - 2, i, i + 1);
    snprintf(h + at, cap - at, "}");
    char *data = calloc(N, 1);
    expect_st_error(raw_st(dir, "many", h, 0, data, N), "tensor 't99998' appears twice");
    free(data);
    free(h);
    free(dir);
}

static void synth(const char *dir, int layers, int heads, int d, int ctx, enum hc_dtype dt, int prefix, int lm_head,
                  int extras)
{
    hc_synth_opts o = {.cfg = {.n_layer = layers, .n_head = heads, .d_model = d, .d_head = d / heads,
                               .d_mlp = 4 * d, .n_ctx = ctx, .d_vocab = 50257, .ln_eps = 1e-5f, .bos = 50256},
                       .dtype = dt, .seed = 7, .prefix = prefix, .lm_head = lm_head, .extras = extras,
                       .tokenizer_dir = th_src("data")};
    cr_assert_eq(hc_synth_write(dir, &o), 0, "%s", hc_errmsg());
}

static void expect_load_error(const char *dir, const char *needle)
{
    hc_model m;
    cr_assert_eq(hc_model_load(&m, dir), -1, "expected failure: %s", needle);
    cr_assert(strstr(hc_errmsg(), needle) != NULL, "message '%s' lacks '%s'", hc_errmsg(), needle);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char p[4300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    cr_assert_eq(th_write_file(p, text, strlen(text)), 0);
}

Test(model, naming_variants_load_to_the_same_weights)
{
    char *a = th_tmpdir("plain"), *b = th_tmpdir("prefixed");
    synth(a, 2, 2, 16, 8, HC_F32, 0, 0, 0);
    synth(b, 2, 2, 16, 8, HC_F32, 1, 0, 1);
    hc_model ma, mb;
    cr_assert_eq(hc_model_load(&ma, a), 0, "%s", hc_errmsg());
    cr_assert_eq(hc_model_load(&mb, b), 0, "%s", hc_errmsg());
    cr_assert_eq(ma.n_floats, mb.n_floats);
    cr_assert_eq(memcmp(ma.slab, mb.slab, ma.n_floats * sizeof(float)), 0);
    /* tied: w_u is wteᵀ */
    size_t V = 50257, D = 16;
    cr_assert_eq(ma.p.w_u[3 * V + 1234], ma.p.w_e[1234 * D + 3]);
    hc_model_free(&ma);
    hc_model_free(&mb);
    free(a), free(b);
}

Test(model, untied_lm_head_is_used)
{
    char *a = th_tmpdir("head");
    synth(a, 1, 2, 16, 8, HC_F32, 0, 1, 0);
    hc_model m;
    cr_assert_eq(hc_model_load(&m, a), 0, "%s", hc_errmsg());
    size_t V = 50257, D = 16;
    /* synth's untied head is 0.9 × wte */
    cr_assert_float_eq(m.p.w_u[5 * V + 77], 0.9f * m.p.w_e[77 * D + 5], 1e-6);
    hc_model_free(&m);
    free(a);
}

Test(model, shapes_and_config_are_checked)
{
    char *dir = th_tmpdir("cfg");
    synth(dir, 2, 2, 16, 8, HC_F32, 0, 0, 0);
    char cfgp[4300];
    snprintf(cfgp, sizeof cfgp, "%s/config.json", dir);
    char *orig;
    size_t len;
    cr_assert_eq(hc_read_file(cfgp, 1 << 20, &orig, &len), 0);

    write_text(dir, "config.json", "{\"n_layer\": 3, \"n_head\": 2, \"n_embd\": 16, \"n_positions\": 8, \"vocab_size\": 50257}");
    expect_load_error(dir, "is missing"); /* layer 2 does not exist */
    write_text(dir, "config.json", "{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 32, \"n_positions\": 8, \"vocab_size\": 50257}");
    expect_load_error(dir, "config says");
    write_text(dir, "config.json", "{\"n_layer\": 2, \"n_head\": 3, \"n_embd\": 16, \"n_positions\": 8, \"vocab_size\": 50257}");
    expect_load_error(dir, "not a multiple");
    write_text(dir, "config.json", "{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 16, \"n_positions\": 8, \"vocab_size\": 50257, \"activation_function\": \"relu\"}");
    expect_load_error(dir, "activation_function \"relu\"");
    write_text(dir, "config.json", "{\"model_type\": \"llama\", \"n_layer\": 2}");
    expect_load_error(dir, "model_type \"llama\"");
    write_text(dir, "config.json", "{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 16, \"n_positions\": 8, \"vocab_size\": 50257, \"scale_attn_by_inverse_layer_idx\": true}");
    expect_load_error(dir, "scale_attn_by_inverse_layer_idx");
    write_text(dir, "config.json", "{\"n_layer\": -2}");
    expect_load_error(dir, "\"n_layer\" must be an integer");
    write_text(dir, "config.json", "{\"n_layer\": 2, \"n_head\": 2");
    expect_load_error(dir, "not valid JSON");
    write_text(dir, "config.json", "[2]");
    expect_load_error(dir, "not a JSON object");
    write_text(dir, "config.json", "{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 16, \"vocab_size\": 50257}");
    expect_load_error(dir, "missing \"n_ctx\"");
    write_text(dir, "config.json", orig);
    free(orig);
    char st[4300];
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    remove(st);
    expect_load_error(dir, "model.safetensors");
    expect_load_error("/nonexistent-model-dir", "config.json");
    free(dir);
}

Test(model, unsupported_tensor_dtype_is_named)
{
    char *dir = th_tmpdir("i32");
    synth(dir, 1, 1, 4, 4, HC_F32, 0, 0, 0);
    /* a checkpoint whose ln_f.bias is I32: valid safetensors, unusable weight */
    hc_model m;
    cr_assert_eq(hc_model_load(&m, dir), 0);
    char path[4300];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    char *buf;
    size_t len;
    cr_assert_eq(hc_read_file(path, 1 << 30, &buf, &len), 0);
    char *p = strstr(buf + 8, "\"ln_f.bias\":{\"dtype\":\"F32\"");
    cr_assert_not_null(p);
    memcpy(strstr(p, "F32"), "I32", 3);
    cr_assert_eq(th_write_file(path, buf, len), 0);
    free(buf);
    hc_model_free(&m);
    expect_load_error(dir, "dtype I32");
    free(dir);
}

/* Centred logits of a model on a fixed token sequence. */
static float *centred_logits(const hc_model *m, const int32_t *toks, int S)
{
    size_t V = (size_t)m->cfg.d_vocab;
    float *lg = malloc((size_t)S * V * sizeof(float));
    hc_acts acts = {.logits = lg};
    cr_assert_eq(hc_forward(m, toks, 1, S, &acts), 0, "%s", hc_errmsg());
    for (int t = 0; t < S; t++) {
        double s = 0;
        for (size_t v = 0; v < V; v++)
            s += lg[t * V + v];
        for (size_t v = 0; v < V; v++)
            lg[t * V + v] -= (float)(s / (double)V);
    }
    return lg;
}

Test(model, weight_processing_leaves_probabilities_unchanged)
{
    char *dir = th_tmpdir("proc");
    synth(dir, 3, 4, 32, 16, HC_F32, 0, 0, 0);
    hc_model m;
    cr_assert_eq(hc_model_load(&m, dir), 0);
    int32_t toks[12] = {50256, 464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13, 198};
    float *raw = centred_logits(&m, toks, 12);
    hc_model_process(&m);
    float *proc = centred_logits(&m, toks, 12);
    double worst = 0;
    for (size_t i = 0; i < 12 * (size_t)50257; i++)
        worst = fmax(worst, fabs(raw[i] - proc[i]));
    cr_assert_lt(worst, 1e-3, "processing changed centred logits by %g", worst);
    /* and it really processed: LN weights folded, writing weights centred */
    cr_assert_float_eq(m.p.ln1_w[5], 1.0f, 0);
    double s = 0;
    for (int i = 0; i < 32; i++)
        s += m.p.w_o[7 * 32 + i];
    cr_assert_float_eq(s, 0.0, 1e-5);
    free(raw);
    free(proc);
    hc_model_free(&m);
    free(dir);
}

/* Sets element i of a tensor in DIR/model.safetensors (F32, F16 or BF16) to
 * the float v, in place. */
static void poke(const char *dir, const char *name, size_t i, float v)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    hc_safetensors st;
    cr_assert_eq(hc_st_open(&st, path), 0, "%s", hc_errmsg());
    const hc_st_tensor *t = hc_st_find(&st, name);
    cr_assert_not_null(t, "%s", name);
    size_t esize = t->nbytes / t->n_elems;
    long at = (long)(t->data - st.map) + (long)(i * esize);
    uint16_t h = t->dtype == HC_F16 ? hc_f32_to_f16(v) : hc_f32_to_bf16(v);
    hc_st_close(&st);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, at, SEEK_SET), 0);
    cr_assert_eq(esize == 4 ? fwrite(&v, 4, 1, f) : fwrite(&h, 2, 1, f), 1);
    cr_assert_eq(fclose(f), 0);
}

Test(model, non_finite_weights_are_refused_by_tensor)
{
    static const struct {
        enum hc_dtype dt;
        const char *tensor;
        float v;
    } cases[] = {
        {HC_F32, "h.1.attn.c_attn.weight", NAN},
        {HC_F16, "h.0.mlp.c_fc.bias", INFINITY},
        {HC_BF16, "wte.weight", -INFINITY},
        {HC_F32, "ln_f.weight", NAN},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *dir = th_tmpdir("nan");
        synth(dir, 2, 2, 16, 8, cases[k].dt, 0, 0, 0);
        hc_model m;
        cr_assert_eq(hc_model_load(&m, dir), 0, "%s", hc_errmsg());
        hc_model_free(&m);
        poke(dir, cases[k].tensor, 5, cases[k].v);
        char needle[128];
        snprintf(needle, sizeof needle, "model.safetensors: tensor '%s' holds a non-finite value", cases[k].tensor);
        expect_load_error(dir, needle);
        cr_assert(strstr(hc_errmsg(), "at element 5"), "%s", hc_errmsg());
        free(dir);
    }
    /* an untied head is checked too */
    char *dir = th_tmpdir("nan");
    synth(dir, 2, 2, 16, 8, HC_F32, 0, 1, 0);
    poke(dir, "lm_head.weight", 0, NAN);
    expect_load_error(dir, "tensor 'lm_head.weight' holds a non-finite value");
    free(dir);
}
