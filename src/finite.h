/* NaN marks missing values in plot inputs, but the build's -ffast-math lets
 * the compiler assume no NaN or infinity exists and fold isnan/isfinite to
 * constants.  This reads the exponent bits instead, which it cannot. */
#ifndef HEADCAL_FINITE_H
#define HEADCAL_FINITE_H

#include <stdint.h>
#include <string.h>

static inline int hc_finite(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return ((b >> 52) & 0x7ff) != 0x7ff;
}

#endif
