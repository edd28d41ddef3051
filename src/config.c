/* config.json: the GPT-2 fields (docs/design.md, "The model").  Anything that would
 * change the computation and that headcal does not implement is refused
 * by name rather than silently ignored. */
#include <cJSON.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/json.h"
#include "headcal/model.h"

static int get_int(const cJSON *root, const char *path, const char *key, int lo, int hi, int *out,
                   int required)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v || cJSON_IsNull(v)) {
        if (required)
            return hc_fail(HC_EBAD, "%s: missing \"%s\"", path, key);
        return 1;
    }
    /* range first: casting an out-of-range double is undefined */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        v->valuedouble != (double)(int)v->valuedouble)
        return hc_fail(HC_EBAD, "%s: \"%s\" must be an integer in [%d, %d]", path, key, lo, hi);
    *out = (int)v->valuedouble;
    return 0;
}

static int refuse_true(const cJSON *root, const char *path, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (cJSON_IsTrue(v))
        return hc_fail(HC_EBAD, "%s: \"%s\": true is not supported", path, key);
    return 0;
}

int hc_config_load(hc_config *cfg, const char *path)
{
    cJSON *root;
    if (hc_json_read(path, 1 << 20, &root, NULL))
        return -1;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return hc_fail(HC_EBAD, "%s: not a JSON object", path);
    }
    memset(cfg, 0, sizeof *cfg);
    int rc = 0;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (mt && (!cJSON_IsString(mt) || strcmp(mt->valuestring, "gpt2")))
        rc = hc_fail(HC_EBAD, "%s: model_type \"%s\" is not supported (only gpt2)", path,
                     cJSON_IsString(mt) ? mt->valuestring : "?");
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    const cJSON *a;
    cJSON_ArrayForEach(a, arch)
    {
        if (rc)
            break;
        if (!cJSON_IsString(a) || (strcmp(a->valuestring, "GPT2LMHeadModel") && strcmp(a->valuestring, "GPT2Model")))
            rc = hc_fail(HC_EBAD, "%s: architecture \"%s\" is not supported (GPT2LMHeadModel is)", path,
                         cJSON_IsString(a) ? a->valuestring : "?");
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "activation_function");
    if (!rc && act && (!cJSON_IsString(act) || strcmp(act->valuestring, "gelu_new")))
        rc = hc_fail(HC_EBAD, "%s: activation_function \"%s\" is not supported (only gelu_new)", path,
                     cJSON_IsString(act) ? act->valuestring : "?");
    if (!rc)
        rc = refuse_true(root, path, "scale_attn_by_inverse_layer_idx") ||
             refuse_true(root, path, "reorder_and_upcast_attn") || refuse_true(root, path, "add_cross_attention");
    const cJSON *scale = cJSON_GetObjectItemCaseSensitive(root, "scale_attn_weights");
    if (!rc && cJSON_IsFalse(scale))
        rc = hc_fail(HC_EBAD, "%s: \"scale_attn_weights\": false is not supported", path);
    /* Bounds keep every product of dimensions far from overflow. */
    if (!rc)
        rc = get_int(root, path, "n_layer", 1, 1024, &cfg->n_layer, 1) < 0 ||
             get_int(root, path, "n_head", 1, 1024, &cfg->n_head, 1) < 0 ||
             get_int(root, path, "n_embd", 1, 65536, &cfg->d_model, 1) < 0 ||
             get_int(root, path, "vocab_size", 1, 1 << 22, &cfg->d_vocab, 1) < 0;
    if (!rc) {
        int r = get_int(root, path, "n_positions", 1, 1 << 20, &cfg->n_ctx, 0);
        if (r == 1)
            r = get_int(root, path, "n_ctx", 1, 1 << 20, &cfg->n_ctx, 1);
        rc = r < 0;
    }
    if (!rc) {
        cfg->d_mlp = 4 * cfg->d_model;
        rc = get_int(root, path, "n_inner", 1, 1 << 20, &cfg->d_mlp, 0) < 0;
    }
    if (!rc) {
        cfg->bos = 50256;
        int r = get_int(root, path, "bos_token_id", 0, cfg->d_vocab - 1, &cfg->bos, 0);
        if (r == 1 && cfg->bos >= cfg->d_vocab)
            r = hc_fail(HC_EBAD, "%s: \"bos_token_id\" is missing, and GPT-2's 50256 is not below vocab_size %d",
                        path, cfg->d_vocab);
        rc = r < 0;
    }
    if (!rc) {
        cfg->ln_eps = 1e-5f;
        const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_epsilon");
        /* float32 must hold it: 1e-50 would become 0 and LayerNorm divide by 0 */
        if (eps && (!cJSON_IsNumber(eps) || !(eps->valuedouble >= FLT_MIN) || eps->valuedouble > 1))
            rc = hc_fail(HC_EBAD, "%s: layer_norm_epsilon must be a number in [%g, 1]", path, (double)FLT_MIN);
        else if (eps)
            cfg->ln_eps = (float)eps->valuedouble;
    }
    if (!rc && cfg->d_model % cfg->n_head)
        rc = hc_fail(HC_EBAD, "%s: n_embd %d is not a multiple of n_head %d", path, cfg->d_model, cfg->n_head);
    cfg->d_head = cfg->n_head ? cfg->d_model / cfg->n_head : 0;
    cJSON_Delete(root);
    return rc ? -1 : 0;
}

int hc_config_save(const hc_config *cfg, const char *path)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arch = cJSON_AddArrayToObject(root, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("GPT2LMHeadModel"));
    cJSON_AddStringToObject(root, "model_type", "gpt2");
    cJSON_AddStringToObject(root, "activation_function", "gelu_new");
    cJSON_AddNumberToObject(root, "n_layer", cfg->n_layer);
    cJSON_AddNumberToObject(root, "n_head", cfg->n_head);
    cJSON_AddNumberToObject(root, "n_embd", cfg->d_model);
    cJSON_AddNumberToObject(root, "n_positions", cfg->n_ctx);
    cJSON_AddNumberToObject(root, "n_ctx", cfg->n_ctx);
    if (cfg->d_mlp != 4 * cfg->d_model)
        cJSON_AddNumberToObject(root, "n_inner", cfg->d_mlp);
    else
        cJSON_AddNullToObject(root, "n_inner");
    cJSON_AddNumberToObject(root, "vocab_size", cfg->d_vocab);
    cJSON_AddNumberToObject(root, "layer_norm_epsilon", cfg->ln_eps);
    cJSON_AddNumberToObject(root, "bos_token_id", cfg->bos);
    cJSON_AddNumberToObject(root, "eos_token_id", cfg->bos);
    char *json = cJSON_Print(root);
    cJSON_Delete(root);
    int rc = json ? hc_write_text(path, json) : hc_fail(HC_EBAD, "out of memory");
    free(json);
    return rc;
}
