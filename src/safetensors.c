/* safetensors reader and writer.  The reader maps the file and validates
 * the header completely before anyone touches tensor data, so a hostile
 * file can only produce an error message. */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/safetensors.h"

#define MAX_HEADER (100u << 20) /* the reference reader's cap */

static const struct {
    const char *name;
    size_t size;
    enum hc_dtype dtype;
} dtypes[] = {
    {"F32", 4, HC_F32},       {"F16", 2, HC_F16},       {"BF16", 2, HC_BF16},
    {"F64", 8, HC_DTYPE_OTHER}, {"I64", 8, HC_DTYPE_OTHER}, {"U64", 8, HC_DTYPE_OTHER},
    {"I32", 4, HC_DTYPE_OTHER}, {"U32", 4, HC_DTYPE_OTHER}, {"I16", 2, HC_DTYPE_OTHER},
    {"U16", 2, HC_DTYPE_OTHER}, {"I8", 1, HC_DTYPE_OTHER},  {"U8", 1, HC_DTYPE_OTHER},
    {"BOOL", 1, HC_DTYPE_OTHER}, {"F8_E4M3", 1, HC_DTYPE_OTHER}, {"F8_E5M2", 1, HC_DTYPE_OTHER},
};

float hc_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t hc_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff)
        return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (exp >= 31)
        return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10)
            return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = sign | ((uint32_t)exp << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++; /* round to nearest even; a carry into the exponent is correct */
    return (uint16_t)h;
}

float hc_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t hc_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000)
        return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

static int cmp_begin(const void *a, const void *b)
{
    const hc_st_tensor *x = a, *y = b;
    if (x->data != y->data)
        return x->data > y->data ? 1 : -1;
    /* an empty tensor first: it shares no bytes with one at the same offset */
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

static int parse_tensor(hc_safetensors *st, const cJSON *e, hc_st_tensor *t, const uint8_t *data,
                        size_t data_size)
{
    const char *p = st->path, *n = e->string;
    if (!cJSON_IsObject(e))
        return hc_fail(HC_EBAD, "%s: tensor '%s': entry is not an object", p, n);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2)
        return hc_fail(HC_EBAD, "%s: tensor '%s': needs dtype, shape and data_offsets [begin, end]", p, n);
    size_t esize = 0;
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (!strcmp(dt->valuestring, dtypes[i].name)) {
            esize = dtypes[i].size;
            t->dtype = dtypes[i].dtype;
        }
    if (!esize)
        return hc_fail(HC_EBAD, "%s: tensor '%s': unknown dtype '%.15s'", p, n, dt->valuestring);
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", dt->valuestring);
    t->ndim = cJSON_GetArraySize(sh);
    if (t->ndim > HC_ST_MAX_DIMS)
        return hc_fail(HC_EBAD, "%s: tensor '%s': %d dimensions (at most %d)", p, n, t->ndim, HC_ST_MAX_DIMS);
    size_t count = 1;
    for (int i = 0; i < t->ndim; i++) {
        const cJSON *d = cJSON_GetArrayItem(sh, i);
        /* 2^53 is where doubles stop being exact; no real tensor is near it */
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 9007199254740992.0 ||
            d->valuedouble != (double)(int64_t)d->valuedouble)
            return hc_fail(HC_EBAD, "%s: tensor '%s': shape entries must be non-negative integers", p, n);
        t->shape[i] = (int64_t)d->valuedouble;
        if (!hc_mul_ok(count, (size_t)t->shape[i], &count))
            return hc_fail(HC_EBAD, "%s: tensor '%s': shape overflows", p, n);
    }
    size_t bytes;
    if (!hc_mul_ok(count, esize, &bytes))
        return hc_fail(HC_EBAD, "%s: tensor '%s': size overflows", p, n);
    double o[2];
    for (int i = 0; i < 2; i++) {
        const cJSON *d = cJSON_GetArrayItem(of, i);
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 9007199254740992.0 ||
            d->valuedouble != (double)(int64_t)d->valuedouble)
            return hc_fail(HC_EBAD, "%s: tensor '%s': data_offsets must be non-negative integers", p, n);
        o[i] = d->valuedouble;
    }
    size_t begin = (size_t)o[0], end = (size_t)o[1];
    if (begin > end || end > data_size)
        return hc_fail(HC_EBAD, "%s: tensor '%s': data_offsets [%zu, %zu) outside the data section (%zu bytes)",
                       p, n, begin, end, data_size);
    if (end - begin != bytes)
        return hc_fail(HC_EBAD, "%s: tensor '%s': %zu bytes of data for shape needing %zu", p, n, end - begin,
                       bytes);
    t->name = hc_strdup(n);
    if (!t->name)
        return -1;
    t->n_elems = count;
    t->nbytes = bytes;
    t->data = data + begin;
    return 0;
}

/* Releases what hc_st_open holds so far; the message is already set. */
static int open_failed(hc_safetensors *st, int fd)
{
    if (fd >= 0)
        close(fd);
    hc_st_close(st);
    return -1;
}

int hc_st_open(hc_safetensors *st, const char *path)
{
    memset(st, 0, sizeof *st);
    if (!(st->path = hc_strdup(path)))
        return -1;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        hc_fail(HC_EBAD, "%s: %s", path, strerror(errno));
        return open_failed(st, fd);
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        hc_fail(HC_EBAD, "%s: not a regular file", path);
        return open_failed(st, fd);
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        hc_fail(HC_EBAD, "%s: too short for a safetensors file (%zu bytes)", path, size);
        return open_failed(st, fd);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        hc_fail(HC_EBAD, "%s: cannot map: %s", path, strerror(errno));
        return open_failed(st, -1);
    }
    st->map = map;
    st->map_size = size;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | st->map[i];
    if (hlen > MAX_HEADER || hlen > size - 8) {
        hc_st_close(st);
        return hc_fail(HC_EBAD, "%s: header length %llu exceeds the file (%zu bytes)", path,
                       (unsigned long long)hlen, size);
    }
    cJSON *root = cJSON_ParseWithLength((const char *)st->map + 8, (size_t)hlen);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        hc_st_close(st);
        return hc_fail(HC_EBAD, "%s: header is not a JSON object", path);
    }
    const uint8_t *data = st->map + 8 + hlen;
    size_t data_size = size - 8 - (size_t)hlen;
    int n = cJSON_GetArraySize(root);
    st->tensors = hc_calloc((size_t)n + 1, sizeof *st->tensors);
    int rc = st->tensors ? 0 : -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, root)
    {
        if (rc)
            break;
        if (!strcmp(e->string, "__metadata__")) {
            if (!cJSON_IsObject(e))
                rc = hc_fail(HC_EBAD, "%s: __metadata__ is not an object", path);
            continue;
        }
        rc = parse_tensor(st, e, &st->tensors[st->n_tensors], data, data_size);
        if (!rc)
            st->n_tensors++;
    }
    cJSON_Delete(root);
    if (!rc) {
        /* Overlapping tensors would alias each other's data. */
        hc_st_tensor *sorted = hc_malloc(((size_t)st->n_tensors + 1) * sizeof *sorted);
        if (!sorted)
            rc = -1;
        else {
            memcpy(sorted, st->tensors, (size_t)st->n_tensors * sizeof *sorted);
            qsort(sorted, (size_t)st->n_tensors, sizeof *sorted, cmp_begin);
            for (int i = 1; i < st->n_tensors && !rc; i++)
                if (sorted[i].data < sorted[i - 1].data + sorted[i - 1].nbytes)
                    rc = hc_fail(HC_EBAD, "%s: tensors '%s' and '%s' overlap", path, sorted[i - 1].name,
                                 sorted[i].name);
            free(sorted);
        }
    }
    for (int i = 0; i < st->n_tensors && !rc; i++)
        for (int j = 0; j < i && !rc; j++)
            if (!strcmp(st->tensors[i].name, st->tensors[j].name))
                rc = hc_fail(HC_EBAD, "%s: tensor '%s' appears twice", path, st->tensors[i].name);
    if (rc) {
        hc_st_close(st);
        return -1;
    }
    return 0;
}

void hc_st_close(hc_safetensors *st)
{
    for (int i = 0; st->tensors && i < st->n_tensors; i++)
        free(st->tensors[i].name);
    free(st->tensors);
    if (st->map)
        munmap((void *)st->map, st->map_size);
    free(st->path);
    memset(st, 0, sizeof *st);
}

const hc_st_tensor *hc_st_find(const hc_safetensors *st, const char *name)
{
    static const char prefix[] = "transformer.";
    for (int i = 0; i < st->n_tensors; i++) {
        const char *n = st->tensors[i].name;
        if (!strcmp(n, name) || (!strncmp(n, prefix, sizeof prefix - 1) && !strcmp(n + sizeof prefix - 1, name)))
            return &st->tensors[i];
    }
    return NULL;
}

int hc_st_to_f32(const hc_st_tensor *t, float *dst)
{
    const uint8_t *s = t->data;
    switch (t->dtype) {
    case HC_F32:
        memcpy(dst, s, t->n_elems * 4); /* data may be unaligned: copy bytes */
        break;
    case HC_F16:
    case HC_BF16:
        for (size_t i = 0; i < t->n_elems; i++) {
            uint16_t h = (uint16_t)(s[2 * i] | (s[2 * i + 1] << 8));
            dst[i] = t->dtype == HC_F16 ? hc_f16_to_f32(h) : hc_bf16_to_f32(h);
        }
        break;
    default:
        return hc_fail(HC_EBAD, "tensor '%s': dtype %s is not supported (F32, F16, BF16 are)", t->name,
                       t->dtype_name);
    }
    /* Converted pages are no longer needed: drop them so loading costs
     * little more resident memory than the model itself. */
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)s + (uintptr_t)page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t b = ((uintptr_t)s + t->nbytes) & ~(uintptr_t)(page - 1);
    if (b > a)
        madvise((void *)a, b - a, MADV_DONTNEED);
    return 0;
}

static const char *dtype_name(enum hc_dtype d)
{
    return d == HC_F16 ? "F16" : d == HC_BF16 ? "BF16" : "F32";
}

int hc_st_write(const char *path, const hc_st_out *tensors, int n, enum hc_dtype dtype)
{
    size_t esize = dtype == HC_F32 ? 4 : 2;
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_AddObjectToObject(root, tensors[i].name);
        cJSON_AddStringToObject(e, "dtype", dtype_name(dtype));
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        size_t count = 1;
        for (int d = 0; d < tensors[i].ndim; d++) {
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)tensors[i].shape[d]));
            count *= (size_t)tensors[i].shape[d];
        }
        cJSON *of = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        off += count * esize;
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json)
        return hc_fail(HC_EBAD, "out of memory");
    size_t hlen = strlen(json), padded = (hlen + 7) & ~(size_t)7; /* 8-byte aligned data, as the format recommends */
    hc_atomic_file af;
    if (hc_atomic_open(&af, path)) {
        free(json);
        return -1;
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)(padded >> (8 * i));
    fwrite(len8, 1, 8, af.f);
    fwrite(json, 1, hlen, af.f);
    for (size_t i = hlen; i < padded; i++)
        fputc(' ', af.f);
    free(json);
    for (int i = 0; i < n; i++) {
        size_t count = 1;
        for (int d = 0; d < tensors[i].ndim; d++)
            count *= (size_t)tensors[i].shape[d];
        const float *src = tensors[i].data;
        if (dtype == HC_F32) { /* little-endian host: x86-64, aarch64 */
            fwrite(src, 4, count, af.f);
            continue;
        }
        uint8_t buf[8192];
        for (size_t j = 0; j < count;) {
            size_t k = 0;
            for (; k < sizeof buf / 2 && j < count; k++, j++) {
                uint16_t h = dtype == HC_F16 ? hc_f32_to_f16(src[j]) : hc_f32_to_bf16(src[j]);
                buf[2 * k] = (uint8_t)h;
                buf[2 * k + 1] = (uint8_t)(h >> 8);
            }
            fwrite(buf, 2, k, af.f);
        }
    }
    return hc_atomic_commit(&af);
}
