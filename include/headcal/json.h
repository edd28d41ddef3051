/* Strict JSON text: what RFC 8259 and the formats' reference readers
 * accept, through cJSON.  cJSON alone stops at the end of the first value
 * (so "{…}xyz" or two objects pass), cuts a string at an escaped \u0000 and
 * answers NULL alike for bad text and a failed allocation; this wrapper
 * refuses the first two and tells the third apart. */
#ifndef HEADCAL_JSON_H
#define HEADCAL_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Parses text[0..len) (with text[len] == 0) as exactly one JSON value (whitespace around it
 * allowed).  On failure records one message prefixed with `what` (a file,
 * or "file:line"): "not valid JSON (line N)", "a string holds a NUL
 * character (\u0000)", "a NUL byte", or "out of memory parsing JSON". */
int hc_json_parse(const char *text, size_t len, const char *what, cJSON **out);

/* Reads the file at path (at most max_bytes) and parses it as above, the
 * messages prefixed with the path; *len, unless NULL, gets the file's size. */
int hc_json_read(const char *path, size_t max_bytes, cJSON **out, size_t *len);

/* Whether s[0..len) is well-formed UTF-8 (no overlong forms, surrogates or
 * code points beyond U+10FFFF). */
int hc_utf8_valid(const unsigned char *s, size_t len);

#endif
