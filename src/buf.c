#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/buf.h"
#include "headcal/error.h"

int hc_buf_reserve(hc_buf *b, size_t n)
{
    if (b->failed)
        return -1;
    if (b->len + n + 1 < b->len || hc_grow(b->s, b->cap, b->len + n + 1)) {
        b->failed = 1;
        return -1;
    }
    b->s[b->len] = 0;
    return 0;
}

int hc_buf_add(hc_buf *b, const void *data, size_t n)
{
    if (hc_buf_reserve(b, n))
        return -1;
    memcpy(b->s + b->len, data, n);
    b->len += n;
    b->s[b->len] = 0;
    return 0;
}

int hc_buf_puts(hc_buf *b, const char *s) { return hc_buf_add(b, s, strlen(s)); }

int hc_buf_printf(hc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || hc_buf_reserve(b, (size_t)n))
        return b->failed = 1, -1;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *hc_buf_detach(hc_buf *b, size_t *len)
{
    char *s = b->failed ? NULL : b->s ? b->s : hc_calloc(1, 1);
    if (s && b->s)
        s[b->len] = 0;
    if (len)
        *len = s ? b->len : 0;
    if (b->failed)
        free(b->s);
    *b = (hc_buf)HC_BUF_INIT;
    return s;
}

void hc_buf_free(hc_buf *b)
{
    free(b->s);
    *b = (hc_buf)HC_BUF_INIT;
}
