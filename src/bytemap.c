#include <stdlib.h>
#include <string.h>

#include "headcal/bytemap.h"
#include "headcal/error.h"

struct hc_bytemap_slot {
    uint64_t hash; /* 0 marks an empty slot; real hashes are forced non-zero */
    uint64_t val;
    uint32_t key_off, key_len;
};

/* FNV-1a with a final avalanche: keys are short (tokens, pieces, id pairs),
 * so a simple byte loop is as fast as anything fancier, and the mix keeps
 * the low bits used for indexing well spread. */
static uint64_t hash_bytes(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    return h ? h : 1;
}

int hc_bytemap_init(hc_bytemap *m, size_t expect)
{
    memset(m, 0, sizeof *m);
    size_t cap = 16;
    while (cap < 2 * expect)
        cap *= 2;
    m->slots = hc_calloc(cap, sizeof *m->slots);
    if (!m->slots)
        return -1;
    m->cap = cap;
    return 0;
}

void hc_bytemap_free(hc_bytemap *m)
{
    free(m->slots);
    free(m->keys);
    memset(m, 0, sizeof *m);
}

static struct hc_bytemap_slot *find(const hc_bytemap *m, uint64_t h, const void *key, size_t len)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct hc_bytemap_slot *s = &m->slots[i];
        if (s->hash == 0)
            return s;
        if (s->hash == h && s->key_len == len && (len == 0 || memcmp(m->keys + s->key_off, key, len) == 0))
            return s;
    }
}

static int grow(hc_bytemap *m)
{
    size_t cap = m->cap * 2;
    struct hc_bytemap_slot *slots = hc_calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        struct hc_bytemap_slot *s = &m->slots[i];
        if (!s->hash)
            continue;
        size_t j = s->hash & (cap - 1);
        while (slots[j].hash)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int hc_bytemap_put(hc_bytemap *m, const void *key, size_t len, uint64_t val, uint64_t *old)
{
    uint64_t h = hash_bytes(key, len);
    struct hc_bytemap_slot *s = find(m, h, key, len);
    if (s->hash) {
        if (old)
            *old = s->val;
        return 0;
    }
    if (len > UINT32_MAX || m->keys_len + len > UINT32_MAX)
        return hc_fail(HC_EBAD, "hash map keys exceed 4 GiB");
    if (hc_grow(m->keys, m->keys_cap, m->keys_len + len))
        return -1;
    if (len)
        memcpy(m->keys + m->keys_len, key, len);
    s->hash = h;
    s->val = val;
    s->key_off = (uint32_t)m->keys_len;
    s->key_len = (uint32_t)len;
    m->keys_len += len;
    m->count++;
    /* Keep the load under one half so probe runs stay short. */
    if (2 * m->count > m->cap && grow(m))
        return -1;
    return 1;
}

const uint64_t *hc_bytemap_get(const hc_bytemap *m, const void *key, size_t len)
{
    const struct hc_bytemap_slot *s = find(m, hash_bytes(key, len), key, len);
    return s->hash ? &s->val : NULL;
}
