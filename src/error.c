#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "headcal/error.h"

static _Thread_local char msg[1024];
static _Thread_local int status;

int hc_fail(int st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    status = st;
    return -1;
}

const char *hc_errmsg(void) { return msg; }
int hc_errstatus(void) { return status ? status : HC_EBAD; }
void hc_clear_error(void) { msg[0] = 0; status = 0; }

int hc_mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

void *hc_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        hc_fail(HC_EBAD, "out of memory (%zu bytes)", n);
    return p;
}

void *hc_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        hc_fail(HC_EBAD, "out of memory (%zu x %zu bytes)", n, size);
    return p;
}

void *hc_mallocarray(size_t n, size_t size)
{
    size_t bytes;
    if (!hc_mul_ok(n, size, &bytes)) {
        hc_fail(HC_EBAD, "out of memory (%zu x %zu bytes)", n, size);
        return NULL;
    }
    return hc_malloc(bytes);
}

void *hc_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        hc_fail(HC_EBAD, "out of memory (%zu bytes)", n);
    return q;
}

char *hc_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = hc_malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

int hc_grow_(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64, bytes;
    while (c < need)
        if (!hc_mul_ok(c, 2, &c))
            return hc_fail(HC_EBAD, "out of memory (%zu elements)", need);
    if (!hc_mul_ok(c, elem, &bytes))
        return hc_fail(HC_EBAD, "out of memory (%zu x %zu bytes)", c, elem);
    void *q = hc_realloc(*p, bytes);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}
