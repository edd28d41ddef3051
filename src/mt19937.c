/* MT19937 (Matsumoto & Nishimura 1998), written from the published
 * recurrence, and numpy's legacy interval/shuffle built on it. */
#include <string.h>

#include "headcal/mt19937.h"

enum { N = 624, M = 397 };

void hc_mt_seed(hc_mt19937 *r, uint32_t seed)
{
    r->mt[0] = seed;
    for (int i = 1; i < N; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->pos = N;
}

void hc_mt_seed_array(hc_mt19937 *r, const uint32_t *key, size_t n)
{
    hc_mt_seed(r, 19650218u);
    uint32_t *mt = r->mt;
    size_t i = 1, j = 0;
    for (size_t k = N > n ? N : n; k; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= N) {
            mt[0] = mt[N - 1];
            i = 1;
        }
        if (j >= n)
            j = 0;
    }
    for (size_t k = N - 1; k; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= N) {
            mt[0] = mt[N - 1];
            i = 1;
        }
    }
    mt[0] = 0x80000000u;    /* guarantees a non-zero state */
}

static void regenerate(hc_mt19937 *r)
{
    uint32_t *mt = r->mt;
    for (int k = 0; k < N; k++) {
        uint32_t y = (mt[k] & 0x80000000u) | (mt[(k + 1) % N] & 0x7fffffffu);
        mt[k] = mt[(k + M) % N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    r->pos = 0;
}

uint32_t hc_mt_next(hc_mt19937 *r)
{
    if (r->pos >= N)
        regenerate(r);
    uint32_t y = r->mt[r->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t hc_np_random_interval(hc_mt19937 *r, uint64_t max)
{
    if (max == 0)
        return 0;
    uint64_t mask = max;
    for (int s = 1; s < 64; s <<= 1)
        mask |= mask >> s;
    uint64_t v;
    if (max <= 0xffffffffu) {
        do
            v = hc_mt_next(r) & mask;
        while (v > max);
    } else {
        do {
            uint64_t hi = hc_mt_next(r);
            v = ((hi << 32) | hc_mt_next(r)) & mask;
        } while (v > max);
    }
    return v;
}

void hc_swap_elems(void *base, size_t size, size_t i, size_t j)
{
    unsigned char *a = (unsigned char *)base + i * size, *b = (unsigned char *)base + j * size;
    for (size_t k = 0; k < size; k++) {
        unsigned char t = a[k];
        a[k] = b[k];
        b[k] = t;
    }
}

void hc_np_shuffle(hc_mt19937 *r, void *base, size_t n, size_t size)
{
    for (size_t i = n > 1 ? n - 1 : 0; i >= 1; i--)
        hc_swap_elems(base, size, i, (size_t)hc_np_random_interval(r, i));
}
