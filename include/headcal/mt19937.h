/* The Mersenne Twister MT19937 and numpy's legacy RandomState on top of it
 * (docs/design.md, "Document order"): `np.random.seed(S); np.random.shuffle(x)` reproduced
 * draw for draw, so `--shuffle-seed S` orders documents as the notebook's
 * get_webtext(seed=S).  CPython's `random` shares the generator
 * (pyrandom.h). */
#ifndef HEADCAL_MT19937_H
#define HEADCAL_MT19937_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t mt[624];
    int pos;                /* next word of mt to temper; 624 = regenerate */
} hc_mt19937;

/* init_genrand: numpy's np.random.seed(S) for an integer S < 2^32. */
void hc_mt_seed(hc_mt19937 *r, uint32_t seed);
/* init_by_array: CPython's random.seed(int) seeds through this. */
void hc_mt_seed_array(hc_mt19937 *r, const uint32_t *key, size_t n);
/* genrand_uint32: the next tempered 32-bit output. */
uint32_t hc_mt_next(hc_mt19937 *r);

/* numpy's legacy random_interval(max): uniform in [0, max] by masked
 * rejection (two outputs per draw, high word first, above 2^32 - 1). */
uint64_t hc_np_random_interval(hc_mt19937 *r, uint64_t max);
/* numpy's legacy RandomState.shuffle of n elements of `size` bytes. */
void hc_np_shuffle(hc_mt19937 *r, void *base, size_t n, size_t size);

/* Swaps elements i and j of an array of `size`-byte elements (both
 * shuffles use it). */
void hc_swap_elems(void *base, size_t size, size_t i, size_t j);

#endif
