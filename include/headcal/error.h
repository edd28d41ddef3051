/* Error reporting: the place that detects a problem records one message;
 * the command-line edge prints it once as "headcal: <message>".  Messages
 * are per thread so worker threads cannot clobber each other's. */
#ifndef HEADCAL_ERROR_H
#define HEADCAL_ERROR_H

#include <stddef.h>

/* Exit statuses (headcal(1), EXIT STATUS). */
enum { HC_OK = 0, HC_EBAD = 1, HC_EUSAGE = 2 };

/* Records a message (printf-style) and its class; returns -1 so callers can
 * write `return hc_fail(HC_EBAD, "%s: truncated", path);`. */
int hc_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last recorded message of this thread ("" if none) and its status. */
const char *hc_errmsg(void);
int hc_errstatus(void);
void hc_clear_error(void);

/* Every allocation of the project goes through these: each reports its own
 * failure through hc_fail ("out of memory (N bytes)"), so callers only
 * pass the -1 or NULL on.  NULL on failure. */
void *hc_malloc(size_t n);
void *hc_calloc(size_t n, size_t size);
/* n*size bytes, overflow-checked. */
void *hc_mallocarray(size_t n, size_t size);
/* On failure *p's old block stays valid (and owned by the caller). */
void *hc_realloc(void *p, size_t n);
char *hc_strdup(const char *s);
/* The one way a buffer grows: makes room for at least `need` elements of
 * `elem` bytes in *p, whose capacity (in elements) is *cap, doubling from
 * 64 so appends cost amortised O(1).  0, or -1 (reported) with *p intact. */
int hc_grow_(void **p, size_t *cap, size_t need, size_t elem);
#define hc_grow(p, cap, need) hc_grow_((void **)&(p), &(cap), (need), sizeof *(p))
/* Overflow-checked n*size for sizes that come from files. */
int hc_mul_ok(size_t a, size_t b, size_t *out);

#endif
