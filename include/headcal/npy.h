/* NumPy .npy (format 1.0) writer for float32 arrays. */
#ifndef HEADCAL_NPY_H
#define HEADCAL_NPY_H

#include <stddef.h>

/* Writes data (C order, little-endian float32) with the given shape,
 * atomically. */
int hc_npy_write_f32(const char *path, const float *data, int ndim, const size_t *shape);

#endif
