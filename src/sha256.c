#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "headcal/error.h"
#include "headcal/sha256.h"

void hc_sha256_init(hc_sha256 *h) { sha256_init(&h->ctx); }

void hc_sha256_update(hc_sha256 *h, const void *buf, size_t len) { sha256_update(&h->ctx, len, buf); }

void hc_sha256_final(hc_sha256 *h, char hex[65])
{
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&h->ctx, sizeof d, d);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

void hc_sha256_buf(const void *buf, size_t len, char hex[65])
{
    hc_sha256 h;
    hc_sha256_init(&h);
    hc_sha256_update(&h, buf, len);
    hc_sha256_final(&h, hex);
}

int hc_sha256_file(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return hc_fail(HC_EBAD, "%s: %s", path, strerror(errno));
    hc_sha256 h;
    hc_sha256_init(&h);
    static _Thread_local uint8_t block[1 << 16];
    size_t n;
    while ((n = fread(block, 1, sizeof block, f)) > 0)
        hc_sha256_update(&h, block, n);
    int bad = ferror(f), err = errno;
    fclose(f);
    if (bad)
        return hc_fail(HC_EBAD, "%s: read error: %s", path, strerror(err));
    hc_sha256_final(&h, hex);
    return 0;
}
