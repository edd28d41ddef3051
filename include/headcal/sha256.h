/* SHA-256 (nettle) as lowercase hex: the model and data hashes that tie a
 * results file to what it was computed from.  One incremental API; the
 * one-shot helpers are built on it. */
#ifndef HEADCAL_SHA256_H
#define HEADCAL_SHA256_H

#include <nettle/sha2.h>
#include <stddef.h>

typedef struct {
    struct sha256_ctx ctx;
} hc_sha256;

void hc_sha256_init(hc_sha256 *h);
void hc_sha256_update(hc_sha256 *h, const void *buf, size_t len);
/* hex receives 64 hex digits and a NUL; h must be initialised again before
 * it is reused. */
void hc_sha256_final(hc_sha256 *h, char hex[65]);

void hc_sha256_buf(const void *buf, size_t len, char hex[65]);
/* Hashes a file's contents, streaming; fails (naming the path) on an
 * unreadable file. */
int hc_sha256_file(const char *path, char hex[65]);

#endif
