/* An open-addressing hash map from byte strings to 64-bit values.  Keys are
 * copied into an arena the map owns, so callers may pass transient buffers.
 * Not thread-safe for writers; concurrent readers are fine. */
#ifndef HEADCAL_BYTEMAP_H
#define HEADCAL_BYTEMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    struct hc_bytemap_slot *slots; /* capacity entries, a power of two */
    size_t cap, count;
    char *keys; /* arena of key bytes */
    size_t keys_len, keys_cap;
} hc_bytemap;

/* An empty map sized for about `expect` keys; -1 (hc_fail) on OOM. */
int hc_bytemap_init(hc_bytemap *m, size_t expect);
void hc_bytemap_free(hc_bytemap *m);
/* Inserts key -> val.  Returns 1 if inserted, 0 if the key was already
 * there (its value is left unchanged and stored in *old when old is not
 * NULL), -1 on OOM. */
int hc_bytemap_put(hc_bytemap *m, const void *key, size_t len, uint64_t val, uint64_t *old);
/* The value of key, or NULL when absent.  The pointer is valid until the
 * next put. */
const uint64_t *hc_bytemap_get(const hc_bytemap *m, const void *key, size_t len);

#endif
