/* CPython's `random` module, as far as the IOI generator (docs/design.md, "IOI prompts")
 * draws from it: seeding with a non-negative int, getrandbits(k <= 32),
 * _randbelow, shuffle and choice, each consuming exactly the outputs that
 * CPython consumes. */
#ifndef HEADCAL_PYRANDOM_H
#define HEADCAL_PYRANDOM_H

#include <stddef.h>
#include <stdint.h>

#include "headcal/mt19937.h"

/* random.seed(seed): the integer's 32-bit words, least significant first
 * (one zero word for 0), through init_by_array. */
void hc_py_seed(hc_mt19937 *r, uint64_t seed);
/* random.getrandbits(k) for 1 <= k <= 32: the top k bits of one output. */
uint32_t hc_py_getrandbits(hc_mt19937 *r, int k);
/* random._randbelow(n) for n >= 1: getrandbits(n.bit_length()) until < n. */
uint32_t hc_py_randbelow(hc_mt19937 *r, uint32_t n);
/* random.choice over n >= 1 elements: the index chosen. */
size_t hc_py_choice(hc_mt19937 *r, size_t n);
/* random.shuffle of n elements of `size` bytes. */
void hc_py_shuffle(hc_mt19937 *r, void *base, size_t n, size_t size);

#endif
