#include "headcal/pyrandom.h"

void hc_py_seed(hc_mt19937 *r, uint64_t seed)
{
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    hc_mt_seed_array(r, key, key[1] ? 2 : 1);
}

uint32_t hc_py_getrandbits(hc_mt19937 *r, int k)
{
    return hc_mt_next(r) >> (32 - k);
}

uint32_t hc_py_randbelow(hc_mt19937 *r, uint32_t n)
{
    int k = 0;
    while (k < 32 && (n >> k))
        k++;
    uint32_t v;
    do
        v = hc_py_getrandbits(r, k);
    while (v >= n);
    return v;
}

size_t hc_py_choice(hc_mt19937 *r, size_t n)
{
    return hc_py_randbelow(r, (uint32_t)n);
}

void hc_py_shuffle(hc_mt19937 *r, void *base, size_t n, size_t size)
{
    for (size_t i = n > 1 ? n - 1 : 0; i >= 1; i--)
        hc_swap_elems(base, size, i, hc_py_randbelow(r, (uint32_t)(i + 1)));
}
