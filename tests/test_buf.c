/* The project's growth idioms (hc_grow, hc_buf) and the incremental
 * SHA-256: the pieces other modules build on. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/buf.h"
#include "headcal/error.h"
#include "headcal/sha256.h"

Test(buf, appends_keep_every_byte_and_the_terminating_nul)
{
    hc_buf b = HC_BUF_INIT;
    char want[20000];
    size_t n = 0;
    for (int i = 0; i < 2000; i++) {
        cr_assert_eq(hc_buf_printf(&b, "%d,", i), 0);
        n += (size_t)sprintf(want + n, "%d,", i);
    }
    cr_assert_eq(hc_buf_puts(&b, "end"), 0);
    cr_assert_eq(hc_buf_add(&b, "\0x", 2), 0); /* bytes, NUL included */
    memcpy(want + n, "end\0x", 5);
    n += 5;
    cr_assert_eq(b.len, n);
    cr_assert_eq(memcmp(b.s, want, n), 0);
    cr_assert_eq(b.s[b.len], 0);
    size_t len;
    char *s = hc_buf_detach(&b, &len);
    cr_assert_eq(len, n);
    cr_assert_eq(memcmp(s, want, n), 0);
    cr_assert_null(b.s);
    cr_assert_eq(b.len, 0);
    free(s);
}

Test(buf, reserve_then_commit_like_fread)
{
    hc_buf b = HC_BUF_INIT;
    cr_assert_eq(hc_buf_reserve(&b, 10), 0);
    memcpy(b.s + b.len, "0123456789", 10);
    b.len += 4; /* only 4 of the 10 were filled */
    char *s = hc_buf_detach(&b, NULL);
    cr_assert_str_eq(s, "0123");
    free(s);
    char *empty = hc_buf_detach(&b, NULL); /* an empty buffer is "" */
    cr_assert_str_eq(empty, "");
    free(empty);
}

Test(buf, an_impossible_size_fails_once_and_stays_failed)
{
    hc_buf b = HC_BUF_INIT;
    cr_assert_eq(hc_buf_puts(&b, "x"), 0);
    hc_clear_error();
    cr_assert_eq(hc_buf_reserve(&b, SIZE_MAX - 1), -1);
    cr_assert(strstr(hc_errmsg(), "out of memory"), "%s", hc_errmsg());
    cr_assert_eq(hc_buf_puts(&b, "y"), -1);
    cr_assert_null(hc_buf_detach(&b, NULL));
}

Test(grow, doubles_from_64_and_keeps_the_contents)
{
    int *v = NULL;
    size_t cap = 0;
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(hc_grow(v, cap, (size_t)i + 1), 0);
        v[i] = i;
    }
    cr_assert_eq(cap, 1024); /* 64 doubled four times */
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(v[i], i);
    cr_assert_eq(hc_grow(v, cap, 10), 0); /* enough room: nothing moves */
    cr_assert_eq(cap, 1024);
    hc_clear_error();
    cr_assert_eq(hc_grow(v, cap, SIZE_MAX / 2), -1); /* bytes overflow size_t */
    cr_assert(strstr(hc_errmsg(), "out of memory"), "%s", hc_errmsg());
    cr_assert_eq(cap, 1024);
    cr_assert_eq(v[999], 999);
    free(v);
}

Test(sha256, in_pieces_equals_at_once_and_the_published_vector)
{
    /* FIPS 180-2, appendix B.1 */
    char hex[65], parts[65];
    hc_sha256_buf("abc", 3, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hc_sha256_buf(msg, strlen(msg), hex);
    cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    hc_sha256 h;
    hc_sha256_init(&h);
    for (size_t i = 0; i < strlen(msg); i += 7)
        hc_sha256_update(&h, msg + i, strlen(msg) - i < 7 ? strlen(msg) - i : 7);
    hc_sha256_final(&h, parts);
    cr_assert_str_eq(parts, hex);
}
