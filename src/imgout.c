#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sixel.h>

#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/imgout.h"

int hc_write_image(const hc_draw *d, hc_image_format fmt, const char *path)
{
    if (hc_draw_ok(d) != 0)
        return -1;
    hc_atomic_file af;
    if (hc_atomic_open(&af, path) != 0)
        return -1;
    if (hc_draw_write(d, fmt, af.f) != 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", hc_errmsg());
        hc_atomic_abort(&af);
        return hc_fail(HC_EBAD, "%s: %s", path, why);
    }
    return hc_atomic_commit(&af);
}

static const char *const format_names[] = {[HC_IMAGE_PNG] = "png", [HC_IMAGE_SVG] = "svg", [HC_IMAGE_PDF] = "pdf"};

const char *hc_image_format_name(hc_image_format fmt)
{
    return format_names[fmt];
}

int hc_image_format_parse(const char *name)
{
    const char *const *names = format_names;
    for (int i = 0; i < (int)(sizeof format_names / sizeof *format_names); i++)
        if (name && !strcmp(name, names[i]))
            return i;
    return -1;
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
        char *p = hc_realloc(k->p, cap);
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

/* Open-addressing table from colour to a count, later to a palette index. */
typedef struct {
    uint32_t key; /* colour + 1; 0 = empty slot */
    uint32_t val;
} slot;

typedef struct {
    slot *t;
    size_t cap, used;
} colour_table;

enum { UNMAPPED = UINT32_MAX, MAX_CANDIDATES = 4096 };

static uint32_t key_at(const uint8_t *p)
{
    return ((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]) + 1;
}

/* The slot holding key, or the empty slot where it would go. */
static slot *find(colour_table *ct, uint32_t key)
{
    size_t h = (key * 2654435761u) & (ct->cap - 1);
    while (ct->t[h].key && ct->t[h].key != key)
        h = (h + 1) & (ct->cap - 1);
    return &ct->t[h];
}

static int by_count(const void *a, const void *b)
{
    const slot *x = a, *y = b;
    if (x->val != y->val)
        return x->val < y->val ? 1 : -1;
    return x->key < y->key ? -1 : x->key > y->key;
}

static int dist2(const unsigned char *a, uint32_t key)
{
    uint32_t rgb = key - 1;
    int dr = a[0] - (int)(rgb >> 16), dg = a[1] - (int)(rgb >> 8 & 255);
    int db = a[2] - (int)(rgb & 255);
    return dr * dr + dg * dg + db * db;
}

/* The palette: the canvas's own colours, exactly.  Plots are flat fills
 * (background, cells, series) plus anti-aliased edges, so the frequent
 * colours are taken as they are; libsixel's quantiser would build a 5-bit
 * histogram and darken every colour by up to 7 levels (white showing as
 * 247).  Going down the colours by frequency, passes with a shrinking
 * minimum distance keep near-duplicates from crowding out distinct rarer
 * shades; the rest map to their nearest entry.  Counts come from at most
 * about 2^20 evenly strided pixels. */
static int plot_palette(const hc_canvas *c, colour_table *ct, unsigned char pal[256 * 3])
{
    size_t n = (size_t)c->w * (size_t)c->h, stride = n / (1u << 20) + 1;
    ct->cap = 1024;
    while (ct->cap < 2 * ((n + stride - 1) / stride))
        ct->cap *= 2;
    ct->t = hc_calloc(ct->cap, sizeof *ct->t);
    if (!ct->t)
        return -1;
    for (size_t i = 0; i < n; i += stride) {
        slot *s = find(ct, key_at(c->px + 3 * i));
        ct->used += !s->key;
        s->key = key_at(c->px + 3 * i);
        s->val++;
    }
    slot *by_freq = hc_malloc(ct->used * sizeof *by_freq);
    if (!by_freq)
        return -1;
    size_t m = 0;
    for (size_t h = 0; h < ct->cap; h++)
        if (ct->t[h].key) {
            by_freq[m++] = ct->t[h];
            ct->t[h].val = UNMAPPED;
        }
    qsort(by_freq, m, sizeof *by_freq, by_count);
    if (m > MAX_CANDIDATES) /* the long tail is single anti-aliased pixels */
        m = MAX_CANDIDATES;
    int k = 0;
    for (int min_d = 32; k < 256; min_d /= 2) {
        for (size_t i = 0; i < m && k < 256; i++) {
            int j = 0;
            while (j < k && dist2(pal + 3 * j, by_freq[i].key) > min_d * min_d)
                j++;
            if (j < k)
                continue; /* too close to an entry, or one already */
            uint32_t rgb = by_freq[i].key - 1;
            pal[3 * k] = (unsigned char)(rgb >> 16);
            pal[3 * k + 1] = (unsigned char)(rgb >> 8);
            pal[3 * k + 2] = (unsigned char)rgb;
            k++;
        }
        if (min_d == 0)
            break;
    }
    free(by_freq);
    return k;
}

static uint32_t nearest(const unsigned char *pal, int ncolors, uint32_t key)
{
    uint32_t best = 0;
    int best_d = dist2(pal, key);
    for (int j = 1; j < ncolors && best_d > 0; j++) {
        int d = dist2(pal + 3 * j, key);
        if (d < best_d) {
            best_d = d;
            best = (uint32_t)j;
        }
    }
    return best;
}

/* Palette indices of every pixel, each distinct colour looked up once
 * (colours that strided sampling missed are added while the table has
 * room, else looked up every time). */
static void index_pixels(const hc_canvas *c, colour_table *ct, const unsigned char *pal,
                         int ncolors, unsigned char *idx)
{
    size_t n = (size_t)c->w * (size_t)c->h;
    for (size_t i = 0; i < n; i++) {
        uint32_t key = key_at(c->px + 3 * i);
        slot *s = find(ct, key);
        if (!s->key && ct->used * 4 >= ct->cap * 3) {
            idx[i] = (unsigned char)nearest(pal, ncolors, key);
            continue;
        }
        if (!s->key) {
            s->key = key;
            s->val = UNMAPPED;
            ct->used++;
        }
        if (s->val == UNMAPPED)
            s->val = nearest(pal, ncolors, key);
        idx[i] = (unsigned char)s->val;
    }
}

int hc_sixel_encode(const hc_canvas *c, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    unsigned char pal[256 * 3];
    colour_table ct = {0};
    int ncolors = plot_palette(c, &ct, pal);
    /* libsixel gets indexed pixels of our own: no lookups of its own, and
     * nothing of the caller's to modify. */
    unsigned char *idx = ncolors > 0 ? hc_malloc((size_t)c->w * (size_t)c->h) : NULL;
    if (!idx) {
        free(ct.t);
        return -1;
    }
    index_pixels(c, &ct, pal, ncolors, idx);
    free(ct.t);

    sixel_dither_t *dither = NULL;
    sixel_output_t *output = NULL;
    sink k = {0};
    SIXELSTATUS st = sixel_dither_new(&dither, ncolors, NULL);
    if (SIXEL_SUCCEEDED(st)) {
        sixel_dither_set_palette(dither, pal);
        sixel_dither_set_pixelformat(dither, SIXEL_PIXELFORMAT_PAL8);
        sixel_dither_set_diffusion_type(dither, SIXEL_DIFFUSE_NONE);
        st = sixel_output_new(&output, sink_write, &k, NULL);
    }
    if (SIXEL_SUCCEEDED(st))
        st = sixel_encode(idx, c->w, c->h, 1, dither, output);
    if (output)
        sixel_output_unref(output);
    if (dither)
        sixel_dither_unref(dither);
    free(idx);
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
