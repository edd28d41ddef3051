#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/json.h"

/* cJSON reports a refused allocation as a parse error; counting refusals
 * through its hooks tells "out of memory" from "not valid JSON". */
static _Thread_local int refused;

static void *counting_malloc(size_t n)
{
    void *p = malloc(n);
    refused += p == NULL;
    return p;
}

static void install_hooks(void)
{
    cJSON_InitHooks(&(cJSON_Hooks){.malloc_fn = counting_malloc, .free_fn = free});
}

/* Whether the text holds the escape \u0000.  A backslash can only occur
 * inside a string in valid JSON, so scanning escapes pairwise is exact. */
static int has_escaped_nul(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u' && i + 5 < len && !memcmp(s + i + 2, "0000", 4))
            return 1;
        i++; /* the escaped character */
    }
    return 0;
}

int hc_json_parse(const char *text, size_t len, const char *what, cJSON **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_hooks);
    *out = NULL;
    if (memchr(text, 0, len))
        return hc_fail(HC_EBAD, "%s: not valid JSON (a NUL byte)", what);
    if (has_escaped_nul(text, len))
        return hc_fail(HC_EBAD, "%s: a string holds a NUL character (\\u0000)", what);
    refused = 0;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
    int rc = 0;
    if (!root && refused) {
        rc = hc_fail(HC_EBAD, "%s: out of memory parsing JSON (%zu bytes)", what, len);
    } else if (!root) {
        int line = 1;
        for (const char *p = text; end && p < end; p++)
            line += *p == '\n';
        rc = hc_fail(HC_EBAD, "%s: not valid JSON (line %d)", what, line);
    }
    *out = root;
    return rc;
}

int hc_utf8_valid(const unsigned char *s, size_t len)
{
    static const unsigned min[4] = {0, 0x80, 0x800, 0x10000};
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        size_t n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 4;
        if (n == 4 || n >= len - i)
            return 0;
        unsigned cp = n ? c & (0x3fu >> n) : c;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

int hc_json_read(const char *path, size_t max_bytes, cJSON **out, size_t *len)
{
    char *text;
    size_t n;
    *out = NULL;
    if (hc_read_file(path, max_bytes, &text, &n))
        return -1;
    int rc = hc_json_parse(text, n, path, out);
    free(text);
    if (len)
        *len = n;
    return rc;
}
