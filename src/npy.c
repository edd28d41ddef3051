#include <stdio.h>
#include <string.h>

#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/npy.h"

int hc_npy_write_f32(const char *path, const float *data, int ndim, const size_t *shape)
{
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%zu%s", shape[i], ndim == 1 ? "," : i + 1 < ndim ? ", " : "");
        count *= shape[i];
    }
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    /* magic (6) + version (2) + length (2) + dict, padded with spaces and a
     * final newline to a multiple of 64 bytes */
    size_t total = ((size_t)10 + (size_t)n + 1 + 63) / 64 * 64;
    size_t hlen = total - 10;
    hc_atomic_file af;
    if (hc_atomic_open(&af, path))
        return -1;
    fwrite("\x93NUMPY\x01\x00", 1, 8, af.f);
    fputc((int)(hlen & 0xff), af.f);
    fputc((int)(hlen >> 8), af.f);
    fputs(dict, af.f);
    for (size_t i = (size_t)n; i < hlen - 1; i++)
        fputc(' ', af.f);
    fputc('\n', af.f);
    fwrite(data, sizeof(float), count, af.f);
    return hc_atomic_commit(&af);
}
