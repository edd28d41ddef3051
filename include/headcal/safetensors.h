/* Reader for the safetensors format (docs/design.md, "The model"): a u64 little-endian
 * header size, a JSON header, then little-endian row-major data.  The file
 * is mapped read-only; nothing is copied until a tensor is converted. */
#ifndef HEADCAL_SAFETENSORS_H
#define HEADCAL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

enum hc_dtype { HC_F32, HC_F16, HC_BF16, HC_DTYPE_OTHER };

#define HC_ST_MAX_DIMS 8

typedef struct {
    char *name;
    enum hc_dtype dtype;
    char dtype_name[16];
    int ndim;
    int64_t shape[HC_ST_MAX_DIMS];
    size_t n_elems;
    const uint8_t *data;    /* inside the mapping; may be unaligned */
    size_t nbytes;
} hc_st_tensor;

typedef struct {
    char *path;
    const uint8_t *map;
    size_t map_size;
    int n_tensors;
    hc_st_tensor *tensors;
} hc_safetensors;

/* Opens and validates the whole header: JSON shape, dtypes, offsets inside
 * the data section, sizes equal to shape × dtype size, no overlaps. */
int hc_st_open(hc_safetensors *st, const char *path);
void hc_st_close(hc_safetensors *st);
/* Looks a tensor up by name; `name` is tried as is and with a
 * "transformer." prefix.  NULL if absent. */
const hc_st_tensor *hc_st_find(const hc_safetensors *st, const char *name);
/* Converts a tensor's elements to float32 into dst (n_elems floats). */
int hc_st_to_f32(const hc_st_tensor *t, float *dst);

/* Writer used by `synth` and `train`. */
typedef struct {
    const char *name;
    int ndim;
    int64_t shape[HC_ST_MAX_DIMS];
    const float *data;      /* float32 source, converted to `dtype` on write */
} hc_st_out;
int hc_st_write(const char *path, const hc_st_out *tensors, int n, enum hc_dtype dtype);

/* Half-precision conversions (shared by reader and writer). */
float hc_f16_to_f32(uint16_t h);
uint16_t hc_f32_to_f16(float f);
float hc_bf16_to_f32(uint16_t h);
uint16_t hc_f32_to_bf16(float f);

#endif
