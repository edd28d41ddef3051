/* Floating-point classification that survives -ffast-math.  The build lets
 * the compiler assume that no value is NaN or infinite, so isnan() and
 * isfinite() are folded to constants; these look at the bits instead.
 * Undefined metrics are NaN throughout headcal and are tested with these. */
#ifndef HEADCAL_NUMERIC_H
#define HEADCAL_NUMERIC_H

#include <stdint.h>
#include <string.h>

static inline uint64_t hc_double_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline int hc_isnan(double x)
{
    return (hc_double_bits(x) & 0x7fffffffffffffffULL) > 0x7ff0000000000000ULL;
}

static inline int hc_isfinite(double x)
{
    return (hc_double_bits(x) & 0x7ff0000000000000ULL) != 0x7ff0000000000000ULL;
}

#endif
