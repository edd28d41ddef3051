#include <stdlib.h>
#include <string.h>

#include <sixel.h>

#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/imgout.h"

/* libsixel takes non-const pixels (and sixel_encode rewrites them when it
 * diffuses errors), so it only ever sees a copy. */
static unsigned char *copy_pixels(const hc_canvas *c)
{
    size_t n = (size_t)c->w * (size_t)c->h * 3;
    unsigned char *p = hc_malloc(n);
    if (p)
        memcpy(p, c->px, n);
    return p;
}

int hc_write_png(const hc_canvas *c, const char *path)
{
    hc_atomic_file af;
    if (hc_atomic_open(&af, path) != 0)
        return -1;
    unsigned char *px = copy_pixels(c);
    if (!px) {
        hc_atomic_abort(&af);
        return -1;
    }
    /* libsixel writes the temporary by name; committing through our still
     * open descriptor syncs that same file before the rename. */
    SIXELSTATUS st = sixel_helper_write_image_file(px, c->w, c->h, NULL, SIXEL_PIXELFORMAT_RGB888,
                                                   af.tmp, SIXEL_FORMAT_PNG, NULL);
    free(px);
    if (SIXEL_FAILED(st)) {
        hc_atomic_abort(&af);
        return hc_fail(HC_EBAD, "%s: cannot write PNG: %s", path, sixel_helper_format_error(st));
    }
    return hc_atomic_commit(&af);
}

int hc_write_svg(const hc_draw *d, const char *path)
{
    if (hc_draw_ok(d) != 0)
        return -1;
    hc_atomic_file af;
    if (hc_atomic_open(&af, path) != 0)
        return -1;
    hc_draw_svg(d, af.f);
    return hc_atomic_commit(&af);
}

typedef struct {
    char *p;
    size_t n, cap;
    int failed;
} sink;

static int sink_write(char *data, int size, void *priv)
{
    sink *k = priv;
    if (k->failed || size < 0)
        return -1;
    if (k->n + (size_t)size + 1 > k->cap) {
        size_t cap = k->cap ? k->cap : 1 << 16;
        while (cap < k->n + (size_t)size + 1)
            cap *= 2;
        char *p = realloc(k->p, cap);
        if (!p) {
            k->failed = 1;
            return -1;
        }
        k->p = p;
        k->cap = cap;
    }
    memcpy(k->p + k->n, data, (size_t)size);
    k->n += (size_t)size;
    k->p[k->n] = 0;
    return size;
}

int hc_sixel_encode(const hc_canvas *c, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    unsigned char *px = copy_pixels(c);
    if (!px)
        return -1;
    sixel_dither_t *dither = NULL;
    sixel_output_t *output = NULL;
    sink k = {0};
    SIXELSTATUS st = sixel_dither_new(&dither, 256, NULL);
    if (SIXEL_SUCCEEDED(st))
        st = sixel_dither_initialize(dither, px, c->w, c->h, SIXEL_PIXELFORMAT_RGB888,
                                     SIXEL_LARGE_AUTO, SIXEL_REP_AUTO, SIXEL_QUALITY_AUTO);
    if (SIXEL_SUCCEEDED(st)) {
        sixel_dither_set_diffusion_type(dither, SIXEL_DIFFUSE_NONE);
        st = sixel_output_new(&output, sink_write, &k, NULL);
    }
    if (SIXEL_SUCCEEDED(st))
        st = sixel_encode(px, c->w, c->h, 3, dither, output);
    if (output)
        sixel_output_unref(output);
    if (dither)
        sixel_dither_unref(dither);
    free(px);
    if (SIXEL_FAILED(st) || k.failed || k.n == 0) {
        free(k.p);
        if (k.failed)
            return hc_fail(HC_EBAD, "out of memory encoding a %dx%d sixel image", c->w, c->h);
        return hc_fail(HC_EBAD, "sixel encoding of a %dx%d image failed: %s", c->w, c->h,
                       SIXEL_FAILED(st) ? sixel_helper_format_error(st) : "no output");
    }
    *out = k.p;
    *len = k.n;
    return 0;
}
