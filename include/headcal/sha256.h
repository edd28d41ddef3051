/* SHA-256 (nettle) as lowercase hex: the model and data hashes that tie a
 * results file to what it was computed from. */
#ifndef HEADCAL_SHA256_H
#define HEADCAL_SHA256_H

#include <stddef.h>

/* hex receives 64 hex digits and a NUL. */
void hc_sha256_buf(const void *buf, size_t len, char hex[65]);
/* Hashes a file's contents, streaming; fails (naming the path) on an
 * unreadable file. */
int hc_sha256_file(const char *path, char hex[65]);

#endif
