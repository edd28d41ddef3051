/* Error reporting: the place that detects a problem records one message;
 * the command-line edge prints it once as "headcal: <message>".  Messages
 * are per thread so worker threads cannot clobber each other's. */
#ifndef HEADCAL_ERROR_H
#define HEADCAL_ERROR_H

#include <stddef.h>

/* Exit statuses of DESIGN §6. */
enum { HC_OK = 0, HC_EBAD = 1, HC_EUSAGE = 2 };

/* Records a message (printf-style) and its class; returns -1 so callers can
 * write `return hc_fail(HC_EBAD, "%s: truncated", path);`. */
int hc_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last recorded message of this thread ("" if none) and its status. */
const char *hc_errmsg(void);
int hc_errstatus(void);
void hc_clear_error(void);

/* Allocation that reports failure through hc_fail; NULL on failure. */
void *hc_malloc(size_t n);
void *hc_calloc(size_t n, size_t size);
/* Overflow-checked n*size for sizes that come from files. */
int hc_mul_ok(size_t a, size_t b, size_t *out);

#endif
