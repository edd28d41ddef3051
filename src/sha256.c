#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <string.h>

#include "headcal/error.h"
#include "headcal/sha256.h"

static void to_hex(struct sha256_ctx *ctx, char hex[65])
{
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(ctx, sizeof d, d);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

void hc_sha256_buf(const void *buf, size_t len, char hex[65])
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, len, buf);
    to_hex(&ctx, hex);
}

int hc_sha256_file(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return hc_fail(HC_EBAD, "%s: %s", path, strerror(errno));
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    static _Thread_local uint8_t block[1 << 16];
    size_t n;
    while ((n = fread(block, 1, sizeof block, f)) > 0)
        sha256_update(&ctx, n, block);
    int bad = ferror(f), err = errno;
    fclose(f);
    if (bad)
        return hc_fail(HC_EBAD, "%s: read error: %s", path, strerror(err));
    to_hex(&ctx, hex);
    return 0;
}
