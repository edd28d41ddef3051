/* A growable byte buffer, NUL-terminated: the one type for building
 * text or bytes of unknown length (JSON, SVG, sixel, stdin).  A buffer that
 * failed to grow remembers it, so a writer may append freely and check
 * once at the end. */
#ifndef HEADCAL_BUF_H
#define HEADCAL_BUF_H

#include <stddef.h>

typedef struct {
    char *s;    /* NUL-terminated; NULL until the first append */
    size_t len; /* bytes in s, the NUL excluded */
    size_t cap;
    int failed; /* an append ran out of memory (already reported) */
} hc_buf;

#define HC_BUF_INIT {NULL, 0, 0, 0}

/* Each returns 0, or -1 (reported; the buffer marked failed). */
int hc_buf_add(hc_buf *b, const void *data, size_t n);
int hc_buf_puts(hc_buf *b, const char *s);
int hc_buf_printf(hc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Room for n more bytes (and a NUL) at b->s + b->len, which the caller
 * fills and then commits with b->len += k (k <= n); the NUL is written
 * by the next append or by hc_buf_detach. */
int hc_buf_reserve(hc_buf *b, size_t n);
/* Hands the NUL-terminated bytes to the caller (who frees them) and empties
 * b; NULL if the buffer failed (or, reported, if an empty one cannot get
 * its one byte). */
char *hc_buf_detach(hc_buf *b, size_t *len);
void hc_buf_free(hc_buf *b);

#endif
