#include <criterion/criterion.h>
#include <math.h>
#include <sixel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "headcal/canvas.h"
#include "headcal/colormap.h"
#include "headcal/draw.h"
#include "headcal/error.h"
#include "headcal/imgout.h"
#include "headcal/plot.h"
#include "helpers.h"

static const hc_rgb WHITE = {255, 255, 255};

static int same(hc_rgb a, hc_rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

static int near(hc_rgb a, hc_rgb b, int tol)
{
    return abs(a.r - b.r) <= tol && abs(a.g - b.g) <= tol && abs(a.b - b.b) <= tol;
}

#define assert_rgb(got, want, ...)                                                            \
    cr_assert(same(got, want), "rgb(%d,%d,%d) != rgb(%d,%d,%d): " __VA_ARGS__, (got).r,       \
              (got).g, (got).b, (want).r, (want).g, (want).b)

/* Renders a heatmap and returns its canvas and geometry. */
static void render_heatmap(const hc_heatmap *hm, int w, int h, hc_canvas *c, hc_heatmap_geom *g)
{
    hc_draw *d;
    hc_plot_layout lay = {w, h, 0};
    cr_assert_eq(hc_plot_heatmap(&d, hm, &lay, g), 0, "%s", hc_errmsg());
    cr_assert_eq(hc_draw_render(d, c), 0);
    hc_draw_free(d);
}

static hc_rgb cell_centre(const hc_canvas *c, const hc_heatmap_geom *g, int r, int col)
{
    return hc_canvas_get(c, g->x + col * g->cell_w + g->cell_w / 2,
                         g->y + r * g->cell_h + g->cell_h / 2);
}

Test(colormap, diverges_from_white_at_zero)
{
    assert_rgb(hc_colormap(0, 1), WHITE);
    assert_rgb(hc_colormap(0, 0.003), WHITE);
    for (double v = 0.05; v <= 1.0; v += 0.05) {
        hc_rgb neg = hc_colormap(-v, 1), pos = hc_colormap(v, 1);
        cr_assert(neg.b > neg.r, "%g must be bluish", -v);
        cr_assert(pos.r > pos.b, "%g must be reddish", v);
        /* Stronger values move further from white. */
        hc_rgb neg2 = hc_colormap(-v - 0.05, 1), pos2 = hc_colormap(v + 0.05, 1);
        cr_assert(neg2.r + neg2.g <= neg.r + neg.g);
        cr_assert(pos2.g + pos2.b <= pos.g + pos.b);
    }
    /* The scale is relative to vmax and clamps beyond it. */
    assert_rgb(hc_colormap(0.5, 2), hc_colormap(0.25, 1));
    assert_rgb(hc_colormap(7, 1), hc_colormap(1, 1));
    assert_rgb(hc_colormap(-7, 1), hc_colormap(-1, 1));
    assert_rgb(hc_colormap(NAN, 1), HC_COLOR_MISSING);
    assert_rgb(hc_colormap(INFINITY, 1), HC_COLOR_MISSING);
    assert_rgb(hc_colormap(0.5, 0), HC_COLOR_MISSING);
    cr_assert(!same(HC_COLOR_MISSING, WHITE));
}

Test(colormap, palette_colours_are_distinct)
{
    int n = hc_palette_size();
    cr_assert_geq(n, 6);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++)
            cr_assert(!near(hc_palette(i), hc_palette(j), 20), "%d and %d look alike", i, j);
        cr_assert(!near(hc_palette(i), WHITE, 60), "%d is too pale for a line", i);
    }
    assert_rgb(hc_palette(n + 2), hc_palette(2));
    assert_rgb(hc_palette(-1), hc_palette(n - 1));
}

static const double VALUES[3 * 4] = {
    0.02, -0.01, 0.0,  0.005,
    -0.04, NAN,  0.03, -0.002,
    0.001, 0.01, -0.03, 0.015,
};
static const char *const ROWS[3] = {"9", "10", "11"};
static const char *const COLS[4] = {"0", "1", "2", "MLP"};

Test(heatmap, cell_centres_have_the_colormap_colour)
{
    hc_heatmap hm = {.rows = 3, .cols = 4, .values = VALUES, .row_labels = ROWS,
                     .col_labels = COLS, .title = "Change in overconfidence", .x_label = "Head",
                     .y_label = "Layer", .cbar_label = "change", .cursor_row = -1,
                     .cursor_col = -1};
    hc_canvas c;
    hc_heatmap_geom g;
    render_heatmap(&hm, 400, 300, &c, &g);
    cr_assert_eq(g.vmax, 0.04, "auto vmax is max |value|");
    cr_assert_gt(g.cell_w, 10);
    cr_assert_gt(g.cell_h, 10);
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 4; k++) {
            double v = VALUES[r * 4 + k];
            hc_rgb want = isnan(v) ? HC_COLOR_MISSING : hc_colormap(v, 0.04);
            assert_rgb(cell_centre(&c, &g, r, k), want, "cell %d,%d", r, k);
        }
    assert_rgb(cell_centre(&c, &g, 1, 1), HC_COLOR_MISSING, "NaN is the missing colour");
    assert_rgb(cell_centre(&c, &g, 0, 2), WHITE, "0 is white");
    hc_canvas_free(&c);
}

Test(heatmap, clipping_whitens_negatives_and_rescales)
{
    hc_heatmap hm = {.rows = 3, .cols = 4, .values = VALUES, .clip_negative = 1,
                     .cursor_row = -1, .cursor_col = -1};
    hc_canvas c;
    hc_heatmap_geom g;
    render_heatmap(&hm, 300, 200, &c, &g);
    cr_assert_eq(g.vmax, 0.03, "vmax comes from the values shown");
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 4; k++) {
            double v = VALUES[r * 4 + k];
            hc_rgb got = cell_centre(&c, &g, r, k);
            if (isnan(v))
                assert_rgb(got, HC_COLOR_MISSING);
            else if (v <= 0)
                assert_rgb(got, WHITE, "negative cell %d,%d", r, k);
            else
                assert_rgb(got, hc_colormap(v, 0.03), "cell %d,%d", r, k);
        }
    hc_canvas_free(&c);

    /* An explicit vmax is used as given, values beyond it saturate. */
    hm.vmax = 0.01;
    render_heatmap(&hm, 300, 200, &c, &g);
    cr_assert_eq(g.vmax, 0.01);
    assert_rgb(cell_centre(&c, &g, 0, 0), hc_colormap(1, 1));
    assert_rgb(cell_centre(&c, &g, 0, 3), hc_colormap(0.5, 1));
    hc_canvas_free(&c);
}

Test(heatmap, selection_and_cursor_are_outlined)
{
    double zero[4 * 4] = {0};
    unsigned char sel[4 * 4] = {0};
    sel[1 * 4 + 1] = 1;
    hc_heatmap hm = {.rows = 4, .cols = 4, .values = zero, .selected = sel, .cursor_row = 2,
                     .cursor_col = 3};
    hc_canvas c;
    hc_heatmap_geom g;
    render_heatmap(&hm, 400, 300, &c, &g);
    int x = g.x + g.cell_w, y = g.y + g.cell_h; /* cell (1, 1) */
    cr_assert(hc_canvas_get(&c, x, y + g.cell_h / 2).r < 100, "selected cell edge is inked");
    assert_rgb(cell_centre(&c, &g, 1, 1), WHITE, "the outline leaves the cell readable");
    assert_rgb(hc_canvas_get(&c, g.x + 2 * g.cell_w, y + g.cell_h / 2), WHITE,
               "an unselected neighbour is not outlined");
    /* The cursor ring sits just outside its cell: dark, then light. */
    int cx = g.x + 3 * g.cell_w, cy = g.y + 2 * g.cell_h + g.cell_h / 2;
    int dark = 0;
    for (int i = 1; i <= g.cell_w / 2; i++)
        dark |= hc_canvas_get(&c, cx - i, cy).r < 100;
    cr_assert(dark, "the cursor ring is drawn");
    assert_rgb(cell_centre(&c, &g, 2, 3), WHITE);
    hc_canvas_free(&c);
}

/* The colour bar's labels are round numbers: whatever the scale (the
 * default analysis gave 0.01598, whose halves were labelled 0.00799), they
 * are the multiples of one step of 1, 2, 2.5 or 5 times a power of ten
 * that fit the bar, zero among them, symmetric unless clipped. */
Test(heatmap, colour_bar_labels_are_round_steps)
{
    static const double his[] = {0.01598, 0.052, 1, 3.84195, 0.7, 1.234e-4, 250, 0.0099999, 0.01};
    for (size_t i = 0; i < sizeof his / sizeof *his; i++)
        for (int per_side = 2; per_side <= 6; per_side++)
            for (int clip = 0; clip < 2; clip++) {
                const double hi = his[i], lo = clip ? 0 : -hi;
                double t[64];
                int n = hc_plot_bar_ticks(lo, hi, per_side, t);
                cr_assert(n >= 2 && n <= 2 * per_side + 1, "hi %g per side %d: %d labels", hi, per_side, n);
                const double step = t[0] - t[1];
                const double e = floor(log10(step)), m = step / pow(10, e);
                cr_assert(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 2.5) < 1e-9 || fabs(m - 5) < 1e-9,
                          "hi %g: step %g is not round", hi, step);
                int zero = 0, above = 0, below = 0;
                for (int k = 0; k < n; k++) {
                    cr_assert(t[k] <= hi * (1 + 1e-12) && t[k] >= lo - hi * 1e-12, "hi %g: %g outside", hi, t[k]);
                    cr_assert(fabs(t[k] / step - round(t[k] / step)) < 1e-9, "hi %g: %g not a step", hi, t[k]);
                    if (k)
                        cr_assert(fabs(t[k - 1] - t[k] - step) < step * 1e-9, "hi %g: uneven at %d", hi, k);
                    zero += t[k] == 0;
                    above += t[k] > 0;
                    below += t[k] < 0;
                }
                cr_assert(zero == 1 && above >= 1 && above <= per_side, "hi %g per side %d: %d above 0", hi,
                          per_side, above);
                cr_assert_eq(below, clip ? 0 : above, "hi %g: %d below 0, %d above", hi, below, above);
                /* every multiple that fits is there, and the step is the
                 * smallest round one that keeps per_side above 0 */
                cr_assert(t[0] + step > hi * (1 + 1e-12), "hi %g: %g also fits", hi, t[0] + step);
                double smaller = m == 1 ? 0.5 * step : m == 2 ? 0.5 * step : m == 2.5 ? 0.8 * step : 0.5 * step;
                cr_assert(floor(hi / smaller + 1e-9) > per_side, "hi %g per side %d: step %g, %g would do", hi,
                          per_side, step, smaller);
            }
    double t[16];
    cr_assert_eq(hc_plot_bar_ticks(-0.01598, 0.01598, 4, t), 7);
    cr_assert(fabs(t[0] - 0.015) < 1e-15 && fabs(t[2] - 0.005) < 1e-15 && t[3] == 0 && fabs(t[6] + 0.015) < 1e-15);
    cr_assert_eq(hc_plot_bar_ticks(0, 0, 4, t), 0);
}

Test(heatmap, cell_at_inverts_the_geometry)
{
    hc_heatmap hm = {.rows = 3, .cols = 4, .values = VALUES, .cursor_row = -1,
                     .cursor_col = -1};
    hc_draw *d;
    hc_heatmap_geom g;
    hc_plot_layout lay = {640, 480, 0};
    cr_assert_eq(hc_plot_heatmap(&d, &hm, &lay, &g), 0);
    hc_draw_free(d);
    int r, k;
    for (int rr = 0; rr < 3; rr++)
        for (int kk = 0; kk < 4; kk++) {
            cr_assert(hc_heatmap_cell_at(&g, g.x + kk * g.cell_w, g.y + (rr + 1) * g.cell_h - 1,
                                         &r, &k));
            cr_assert(r == rr && k == kk);
        }
    cr_assert(!hc_heatmap_cell_at(&g, g.x - 1, g.y, &r, &k));
    cr_assert(!hc_heatmap_cell_at(&g, g.x + 4 * g.cell_w, g.y, &r, &k));
    cr_assert(!hc_heatmap_cell_at(&g, g.x, g.y + 3 * g.cell_h, &r, &k));
}

Test(heatmap, small_sizes_work_and_tiny_ones_fail_cleanly)
{
    double v[12 * 13];
    for (int i = 0; i < 12 * 13; i++)
        v[i] = sin(i) * 0.01;
    hc_heatmap hm = {.rows = 12, .cols = 13, .values = v, .title = "t", .x_label = "Head",
                     .y_label = "Layer", .cbar_label = "metric", .cursor_row = 0,
                     .cursor_col = 0};
    hc_canvas c;
    hc_heatmap_geom g;
    render_heatmap(&hm, 200, 120, &c, &g);
    cr_assert(g.cell_w >= 1 && g.cell_h >= 1);
    cr_assert_leq(g.x + 13 * g.cell_w, 200);
    cr_assert_leq(g.y + 12 * g.cell_h, 120);
    hc_canvas_free(&c);

    hc_draw *d;
    hc_plot_layout tiny = {40, 30, 0};
    cr_assert_eq(hc_plot_heatmap(&d, &hm, &tiny, NULL), -1);
    cr_assert(d == NULL);
    cr_assert(strstr(hc_errmsg(), "too small") != NULL, "%s", hc_errmsg());
    hc_plot_layout bad = {0, 100, 0};
    cr_assert_eq(hc_plot_heatmap(&d, &hm, &bad, NULL), -1);
    hm.rows = 0;
    hc_plot_layout ok = {400, 300, 0};
    cr_assert_eq(hc_plot_heatmap(&d, &hm, &ok, NULL), -1);
}

/* Searches the 3x3 neighbourhood of (x, y) for an exact colour. */
static int colour_near(const hc_canvas *c, double x, double y, hc_rgb want)
{
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++)
            if (same(hc_canvas_get(c, (int)x + dx, (int)y + dy), want))
                return 1;
    return 0;
}

Test(curves, series_lines_and_bands_land_where_the_data_says)
{
    enum { NB = 10 };
    double acc[NB], lo[NB], hi[NB], acc2[NB];
    for (int i = 0; i < NB; i++) {
        double p = (i + 0.5) / NB;
        acc[i] = p * p;
        lo[i] = acc[i] - 0.08;
        hi[i] = acc[i] + 0.08;
        acc2[i] = 0.7;
    }
    acc2[4] = NAN; /* undefined bin: the line breaks there */
    hc_series s[2] = {{"baseline", acc, lo, hi, 0, NULL}, {"L10H7", acc2, NULL, NULL, 1, NULL}};
    hc_curves cv = {.n_bins = NB, .series = s, .n_series = 2, .title = "Calibration", .x_label = "Confidence",
                    .y_label = "Accuracy"};
    hc_draw *d;
    hc_curves_geom g;
    hc_plot_layout lay = {800, 600, 0};
    cr_assert_eq(hc_plot_curves(&d, &cv, &lay, &g), 0, "%s", hc_errmsg());
    hc_canvas c;
    cr_assert_eq(hc_draw_render(d, &c), 0);
    hc_draw_free(d);
    cr_assert(g.w > 400 && g.h > 300);

    const hc_rgb c0 = hc_palette(0), c1 = hc_palette(1);
    for (int i = 0; i < NB; i++) {
        double x = g.x + (i + 0.5) / NB * g.w;
        cr_assert(colour_near(&c, x, g.y + (1 - acc[i]) * g.h, c0), "bin %d of series 0", i);
        if (i != 4)
            cr_assert(colour_near(&c, x, g.y + (1 - acc2[i]) * g.h, c1), "bin %d", i);
    }
    /* Nothing of series 1 around its undefined bin. */
    for (double x = g.x + 4.3 / NB * g.w; x < g.x + 4.7 / NB * g.w; x++)
        for (double y = g.y + 0.2 * g.h; y < g.y + 0.4 * g.h; y++)
            cr_assert(!near(hc_canvas_get(&c, (int)x, (int)y), c1, 40), "ink at %g,%g", x, y);
    /* Inside the band, off the line: white tinted by the series colour. */
    double x = g.x + 7.5 / NB * g.w, y = g.y + (1 - acc[7] - 0.05) * g.h;
    hc_rgb band = hc_canvas_get(&c, (int)x, (int)y);
    cr_assert(!same(band, WHITE) && !near(band, c0, 60), "band pixel rgb(%d,%d,%d)", band.r,
              band.g, band.b);
    cr_assert(abs(band.r - (255 + (c0.r - 255) / 5)) <= 2, "20%% of the colour over white");
    cr_assert(abs(band.g - (255 + (c0.g - 255) / 5)) <= 2);
    /* The diagonal is dashed: the pixels on it, where no band reaches, are
     * grey ink or white gaps, and both occur. */
    int ink = 0, gap = 0;
    for (int px = (int)(g.x + 0.3 * g.w); px < g.x + 0.7 * g.w; px++) {
        double t = (px + 0.5 - g.x) / g.w;
        hc_rgb p = hc_canvas_get(&c, px, (int)(g.y + (1 - t) * g.h));
        ink += p.r == p.g && p.g == p.b && p.r < 160;
        gap += same(p, WHITE);
    }
    cr_assert(ink > 20 && gap > 20, "ink %d gap %d", ink, gap);
    hc_canvas_free(&c);

    hc_plot_layout small = {200, 120, 0};
    cr_assert_eq(hc_plot_curves(&d, &cv, &small, &g), 0, "%s", hc_errmsg());
    hc_draw_free(d);
    hc_plot_layout tiny = {30, 20, 0};
    cr_assert_eq(hc_plot_curves(&d, &cv, &tiny, &g), -1);
    cr_assert(strstr(hc_errmsg(), "too small") != NULL);
}

/* A dashed polyline alternates ink and gaps of the dash length along its
 * whole path, across its bends; a solid one has no gap. */
Test(draw, polylines_dash_as_lines_do)
{
    const double xy[] = {10, 20.5, 90, 20.5, 90, 60.5};
    for (int dashed = 0; dashed < 2; dashed++) {
        hc_draw *d;
        cr_assert_eq(hc_draw_new(&d, 120, 80, WHITE), 0);
        hc_draw_polyline(d, xy, 3, 1, (hc_rgb){0, 0, 0}, dashed ? 8 : 0);
        hc_canvas c;
        cr_assert_eq(hc_draw_render(d, &c), 0, "%s", hc_errmsg());
        hc_draw_free(d);
        /* along the first segment, pixel centres x + 0.5 for x in 12..87 */
        int ink = 0, runs = 0, prev = -1, longest = 0, run = 0;
        for (int x = 12; x < 88; x++) {
            int on = hc_canvas_get(&c, x, 20).r < 128;
            ink += on;
            runs += on && prev == 0;
            run = on ? run + 1 : 0;
            longest = run > longest ? run : longest;
            prev = on;
        }
        if (!dashed)
            cr_assert_eq(ink, 76, "solid: %d of 76 pixels inked", ink);
        else {
            /* 8 on, 8 off: about half inked, a new dash every 16 pixels */
            cr_assert(ink > 30 && ink < 46 && runs >= 4 && longest <= 9, "dashed: ink %d, %d runs, longest %d", ink,
                      runs, longest);
        }
        /* the second segment is dashed too, not only the first */
        int ink2 = 0, gap2 = 0;
        for (int y = 24; y < 58; y++) {
            int on = hc_canvas_get(&c, 90, y).r < 128;
            ink2 += on;
            gap2 += !on;
        }
        cr_assert(ink2 > 0 && (dashed ? gap2 > 8 : gap2 == 0), "second segment: ink %d gap %d", ink2, gap2);
        hc_canvas_free(&c);
    }
}

/* Draws one text primitive on a white drawing and returns the pixels. */
static void text_canvas(hc_canvas *c, double x, double y, int anchor, const char *s, int scale)
{
    hc_draw *d;
    cr_assert_eq(hc_draw_new(&d, 300, 300, WHITE), 0);
    hc_draw_text(d, x, y, anchor, scale, (hc_rgb){0, 0, 0}, s);
    cr_assert_eq(hc_draw_render(d, c), 0, "%s", hc_errmsg());
    hc_draw_free(d);
}

/* All ink of the text lies within its box (a pixel of anti-aliasing
 * aside), and there is some. */
static void check_text_box(const char *s, int scale, int vertical)
{
    hc_canvas c;
    const int x0 = 17, y0 = 23;
    text_canvas(&c, x0, y0, vertical ? HC_TEXT_VERTICAL : 0, s, scale);
    int along = hc_text_width(s, scale), across = hc_text_height(scale);
    int bw = vertical ? across : along, bh = vertical ? along : across, ink = 0;
    for (int y = 0; y < c.h; y++)
        for (int x = 0; x < c.w; x++)
            if (!near(hc_canvas_get(&c, x, y), WHITE, 40)) {
                ink++;
                cr_assert(x >= x0 - 1 && x <= x0 + bw && y >= y0 - 1 && y <= y0 + bh,
                          "ink of \"%s\" at %d,%d outside its box %dx%d", s, x, y, bw, bh);
            }
    cr_assert_gt(ink, 0);
    hc_canvas_free(&c);
}

Test(draw, text_ink_stays_in_its_box)
{
    check_text_box("Hg|jy_", 1, 0);
    check_text_box("Layer 10 MLP", 2, 0);
    check_text_box("Accuracy", 3, 1);
    check_text_box("\xce\x94OC \xc2\xb1" "1\xcf\x83", 2, 1); /* ΔOC ±1σ: a real font has them */
    cr_assert_eq(hc_text_width("", 2), 0);
    /* a scalable font: twice the size, twice the width (to rounding) */
    int w1 = hc_text_width("Change in overconfidence", 1), w2 = hc_text_width("Change in overconfidence", 2);
    cr_assert(abs(w2 - 2 * w1) <= 2, "%d vs %d", w1, w2);
    cr_assert_gt(hc_text_width("WWW", 1), hc_text_width("iii", 1), "proportional, not a fixed cell");
}

Test(draw, text_anchors_place_the_box)
{
    hc_canvas l, r;
    text_canvas(&l, 150, 100, HC_TEXT_LEFT, "MMMM", 2);
    text_canvas(&r, 150, 100, HC_TEXT_RIGHT, "MMMM", 2);
    int left_ink = 0, right_ink = 0;
    for (int y = 90; y < 140; y++)
        for (int x = 0; x < 300; x++) {
            left_ink += x < 148 && !near(hc_canvas_get(&l, x, y), WHITE, 40);
            right_ink += x > 152 && !near(hc_canvas_get(&r, x, y), WHITE, 40);
        }
    cr_assert_eq(left_ink, 0, "left-anchored text starts at x");
    cr_assert_eq(right_ink, 0, "right-anchored text ends at x");
    hc_canvas_free(&l);
    hc_canvas_free(&r);
}

Test(draw, polygons_blend_and_clip)
{
    hc_draw *d;
    cr_assert_eq(hc_draw_new(&d, 40, 40, WHITE), 0);
    const hc_rgb red = {200, 0, 0};
    double sq[8] = {5, 5, 25, 5, 25, 25, 5, 25};
    hc_draw_group(d, "clipped", 0, 0, 20, 40);
    hc_draw_polygon(d, sq, 4, red, 0.5);
    hc_draw_end(d);
    /* Opposite winding fills the same (nonzero rule). */
    double rev[8] = {25, 25, 25, 28, 5, 28, 5, 25};
    hc_draw_polygon(d, rev, 4, red, 1);
    /* A half-covered pixel gets half the colour. */
    hc_draw_rect(d, 30.5, 30, 2, 1, red, 1);
    hc_canvas c;
    cr_assert_eq(hc_draw_render(d, &c), 0);
    cr_assert(near(hc_canvas_get(&c, 10, 10), ((hc_rgb){228, 128, 128}), 1), "half red over white");
    assert_rgb(hc_canvas_get(&c, 22, 10), WHITE, "clipped away");
    assert_rgb(hc_canvas_get(&c, 3, 10), WHITE, "outside");
    assert_rgb(hc_canvas_get(&c, 10, 26), red);
    assert_rgb(hc_canvas_get(&c, 31, 30), red);
    cr_assert(near(hc_canvas_get(&c, 30, 30), ((hc_rgb){228, 128, 128}), 1));
    hc_canvas_free(&c);
    hc_draw_free(d);
    cr_assert_eq(hc_canvas_init(&c, 0, 5, WHITE), -1);
}

/* A heatmap export, and the path of its SVG and PNG in a scratch dir. */
static hc_draw *export_heatmap(hc_canvas *c, const char *title)
{
    hc_heatmap hm = {.rows = 3, .cols = 4, .values = VALUES, .row_labels = ROWS,
                     .col_labels = COLS, .title = title, .x_label = "Head",
                     .y_label = "Layer", .cbar_label = "<metric> & \"more\"", .cursor_row = 1,
                     .cursor_col = 2};
    hc_draw *d;
    hc_plot_layout lay = {320, 240, 0};
    cr_assert_eq(hc_plot_heatmap(&d, &hm, &lay, NULL), 0);
    if (c)
        cr_assert_eq(hc_draw_render(d, c), 0);
    return d;
}

/* Runs plot_check.py MODE FILE and returns its output. */
static char *plot_check(const char *mode, const char *file)
{
    char cmd[9000], *out, *err;
    snprintf(cmd, sizeof cmd, "%s %s %s '%s'", TEST_PYTHON, th_src("tests/plot_check.py"), mode, file);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    free(err);
    return out;
}

/* The test heatmap written in format fmt, as plot_check.py reads it. */
static char *exported(hc_image_format fmt, const char *title)
{
    char *dir = th_tmpdir("plot"), path[4300];
    snprintf(path, sizeof path, "%s/heat.%s", dir, hc_image_format_name(fmt));
    hc_draw *d = export_heatmap(NULL, title);
    cr_assert_eq(hc_write_image(d, fmt, path), 0, "%s", hc_errmsg());
    hc_draw_free(d);
    char *out = plot_check(hc_image_format_name(fmt), path);
    free(dir);
    return out;
}

Test(imgout, svg_is_vector_with_every_cell_colour)
{
    char *out = exported(HC_IMAGE_SVG, "Title with <markup> & \xe2\x80\x94 bytes\nline 2");
    cr_assert(strncmp(out, "320 240\n", 8) == 0, "%s", out);
    cr_assert(strstr(out, "\nglyphs 0\n") == NULL, "the text is drawn:\n%s", out);
    /* every cell is a filled shape of its colormap colour */
    for (int i = 0; i < 12; i++) {
        hc_rgb c = hc_colormap(VALUES[i], 0.04);
        char want[64];
        snprintf(want, sizeof want, "\nfill %d %d %d ", c.r, c.g, c.b);
        if (isfinite(VALUES[i]))
            cr_assert(strstr(out, want) != NULL, "cell %d colour%s missing:\n%s", i, want, out);
    }
    free(out);
}

Test(imgout, png_decodes_to_the_rendered_pixels)
{
    char *dir = th_tmpdir("plot"), png[4300], raw[4300], cmd[9000];
    snprintf(png, sizeof png, "%s/heat.png", dir);
    snprintf(raw, sizeof raw, "%s/heat.rgb", dir);
    hc_canvas c;
    hc_draw *d = export_heatmap(&c, "PNG");
    cr_assert_eq(hc_write_image(d, HC_IMAGE_PNG, png), 0, "%s", hc_errmsg());
    cr_assert_eq(th_write_file(raw, c.px, (size_t)c.w * c.h * 3), 0);
    snprintf(cmd, sizeof cmd, "%s %s png '%s' '%s' %d %d", TEST_PYTHON,
             th_src("tests/plot_check.py"), png, raw, c.w, c.h);
    char *out, *err;
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    cr_assert_str_eq(out, "ok\n");
    free(out);
    free(err);

    cr_assert_eq(hc_write_image(d, HC_IMAGE_PNG, "/nonexistent-dir/x.png"), -1);
    cr_assert(strstr(hc_errmsg(), "/nonexistent-dir/x.png") != NULL, "%s", hc_errmsg());
    hc_draw_free(d);
    hc_canvas_free(&c);
    free(dir);
}

Test(imgout, pdf_is_a_whole_page_of_the_plot_size)
{
    char *out = exported(HC_IMAGE_PDF, "PDF");
    cr_assert_str_eq(out, "pages 1 mediabox 320.0 240.0\n");
    free(out);
}

Test(imgout, a_full_disk_leaves_no_file)
{
    hc_draw *d = export_heatmap(NULL, "full");
    for (int f = HC_IMAGE_PNG; f <= HC_IMAGE_PDF; f++) {
        if (access("/dev/full", W_OK) != 0)
            break;
        FILE *full = fopen("/dev/full", "w");
        cr_assert(full);
        setvbuf(full, NULL, _IONBF, 0);
        cr_assert_eq(hc_draw_write(d, (hc_image_format)f, full), -1, "format %d", f);
        cr_assert(strstr(hc_errmsg(), "write") != NULL, "%s", hc_errmsg());
        fclose(full);
    }
    hc_draw_free(d);
    cr_assert_eq(hc_image_format_parse("pdf"), HC_IMAGE_PDF);
    cr_assert_str_eq(hc_image_format_name(HC_IMAGE_SVG), "svg");
    cr_assert_eq(hc_image_format_parse("gif"), -1);
}

/* Paints columns [x0, x1) of c in col. */
static void paint(hc_canvas *c, int x0, int x1, hc_rgb col)
{
    for (int y = 0; y < c->h; y++)
        for (int x = x0; x < x1; x++)
            memcpy(c->px + 3 * ((size_t)y * c->w + x), &col, 3);
}

Test(imgout, sixel_round_trips_through_libsixel)
{
    const int W = 37, H = 13; /* height not a multiple of the 6-row band */
    const hc_rgb red = {200, 30, 30}, blue = {30, 60, 200};
    hc_canvas c;
    cr_assert_eq(hc_canvas_init(&c, W, H, red), 0);
    paint(&c, 20, W, blue);
    unsigned char *before = malloc((size_t)W * H * 3);
    memcpy(before, c.px, (size_t)W * H * 3);
    char *six;
    size_t len;
    cr_assert_eq(hc_sixel_encode(&c, &six, &len), 0, "%s", hc_errmsg());
    cr_assert_eq(memcmp(before, c.px, (size_t)W * H * 3), 0, "the caller's pixels are kept");
    cr_assert(len > 10 && six[0] == '\x1b' && six[1] == 'P', "starts with DCS");
    cr_assert(six[len - 2] == '\x1b' && six[len - 1] == '\\', "ends with ST");

    unsigned char *px, *pal;
    int w, h, nc;
    SIXELSTATUS st = sixel_decode_raw((unsigned char *)six, (int)len, &px, &w, &h, &pal, &nc, NULL);
    cr_assert(SIXEL_SUCCEEDED(st));
    cr_assert_eq(w, W);
    cr_assert_eq(h, H);
    /* The palette holds the canvas's colours; sixel writes them as whole
     * percentages, which is within 2 levels. */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int i = px[y * W + x];
            cr_assert_lt(i, nc);
            hc_rgb got = {pal[3 * i], pal[3 * i + 1], pal[3 * i + 2]};
            hc_rgb want = x < 20 ? red : blue;
            cr_assert(near(got, want, 2), "pixel %d,%d rgb(%d,%d,%d)", x, y, got.r, got.g,
                      got.b);
        }
    free(px);
    free(pal);
    free(six);
    free(before);
    hc_canvas_free(&c);
}

Test(imgout, sixel_of_many_colours_stays_close)
{
    /* 600 distinct colours, more than a sixel palette holds. */
    const int W = 600, H = 7;
    hc_canvas c;
    cr_assert_eq(hc_canvas_init(&c, W, H, WHITE), 0);
    for (int x = 0; x < W; x++)
        paint(&c, x, x + 1, (hc_rgb){(uint8_t)(x * 255 / (W - 1)), 90, (uint8_t)(255 - x * 255 / (W - 1))});
    char *six;
    size_t len;
    cr_assert_eq(hc_sixel_encode(&c, &six, &len), 0, "%s", hc_errmsg());
    unsigned char *px, *pal;
    int w, h, nc;
    cr_assert(SIXEL_SUCCEEDED(
        sixel_decode_raw((unsigned char *)six, (int)len, &px, &w, &h, &pal, &nc, NULL)));
    cr_assert_eq(w, W);
    cr_assert_eq(h, H);
    cr_assert_leq(nc, 256);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int i = px[y * W + x];
            hc_rgb got = {pal[3 * i], pal[3 * i + 1], pal[3 * i + 2]};
            cr_assert(near(got, hc_canvas_get(&c, x, y), 6), "pixel %d,%d", x, y);
        }
    free(px);
    free(pal);
    free(six);
    hc_canvas_free(&c);
}

Test(curves, thin_bins_fade_and_the_legend_stays_off_the_data)
{
    enum { NB = 10 };
    double acc[NB], lo[NB], hi[NB], count[NB];
    for (int i = 0; i < NB; i++) {
        acc[i] = 0.5;
        lo[i] = 0.3;
        hi[i] = 0.7;
        count[i] = i < 6 ? 1000 : 3; /* the last four bins hold too few predictions */
    }
    char names[6][32];
    hc_series s[6];
    for (int k = 0; k < 6; k++) {
        snprintf(names[k], sizeof names[k], "series number %d", k);
        s[k] = (hc_series){names[k], acc, lo, hi, k, count};
    }
    hc_curves cv = {.n_bins = NB, .series = s, .n_series = 6, .title = "t", .x_label = "Confidence",
                    .y_label = "Accuracy", .min_count = 20, .histogram = 1};
    for (int w = 300; w <= 1200; w += 900) {
        hc_draw *d;
        hc_curves_geom g;
        hc_plot_layout lay = {w, 600, 0};
        cr_assert_eq(hc_plot_curves(&d, &cv, &lay, &g), 0, "%s", hc_errmsg());
        hc_canvas c;
        cr_assert_eq(hc_draw_render(d, &c), 0);
        hc_draw_free(d);
        /* the last series is drawn on top: solid in the busy bins... */
        const hc_rgb c5 = hc_palette(5);
        int solid = 0;
        for (int dy = -2; dy <= 2; dy++)
            solid |= near(hc_canvas_get(&c, (int)(g.x + 0.25 * g.w), (int)(g.y + 0.5 * g.h) + dy), c5, 25);
        cr_assert(solid, "busy bins drawn solid");
        /* ...and no solid line over the thin ones, where a pale dot is */
        for (double x = g.x + 0.65 * g.w; x < g.x + g.w; x++)
            cr_assert(!near(hc_canvas_get(&c, (int)x, (int)(g.y + 0.5 * g.h)), c5, 10), "solid at x %g", x);
        /* no legend ink inside the plot area outside the curves' rows */
        for (int y = (int)g.y + 2; y < g.y + 0.25 * g.h; y++)
            for (int x = (int)g.x + 2; x < g.x + g.w - 2; x++) {
                hc_rgb p = hc_canvas_get(&c, x, y);
                cr_assert(!(p.r < 100 && p.g < 100 && p.b < 100), "dark ink at %d,%d in the empty plot", x, y);
            }
        hc_canvas_free(&c);
    }
}

/* A dot at accuracy 1 is drawn whole, above the frame: the lines' clip
 * leaves room for the dot's radius, not just for a line's width. */
Test(curves, a_dot_at_accuracy_one_is_not_clipped)
{
    enum { NB = 4 };
    double acc[NB] = {NAN, 1.0, NAN, NAN}, count[NB] = {0, 3, 0, 0};
    hc_series s = {"s", acc, NULL, NULL, 0, count};
    hc_curves cv = {.n_bins = NB, .series = &s, .n_series = 1, .min_count = 20};
    hc_draw *d;
    hc_curves_geom g;
    hc_plot_layout lay = {800, 600, 4}; /* lines 6 px wide, dots 15 px across */
    cr_assert_eq(hc_plot_curves(&d, &cv, &lay, &g), 0, "%s", hc_errmsg());
    hc_canvas c;
    cr_assert_eq(hc_draw_render(d, &c), 0);
    hc_draw_free(d);
    const int cx = (int)(g.x + 1.5 / NB * g.w), top = (int)g.y;
    const hc_rgb white = {255, 255, 255};
    cr_assert(!near(hc_canvas_get(&c, cx, top - 7), white, 10), "the dot's top, 7 px above the frame, was clipped");
    cr_assert(near(hc_canvas_get(&c, cx, top - 9), white, 10), "ink beyond the dot's radius");
    hc_canvas_free(&c);
}

Test(heatmap, mlp_column_has_its_own_scale_and_significant_cells_a_dot)
{
    double v[2 * 3] = {0.01, -0.02, 1.5, 0.002, 0.0, -0.5};
    double se[2 * 3] = {0.001, 0.1, 0.1, 0.01, 0.01, 0.01};
    hc_heatmap hm = {.rows = 2, .cols = 3, .values = v, .se = se, .own_scale_cols = 1,
                     .cursor_row = -1, .cursor_col = -1};
    hc_canvas c;
    hc_heatmap_geom g;
    render_heatmap(&hm, 400, 300, &c, &g);
    cr_assert_eq(g.vmax, 0.02, "the heads' scale ignores the MLP column");
    cr_assert_eq(g.own_vmax, 1.5);
    assert_rgb(cell_centre(&c, &g, 0, 1), hc_colormap(-1, 1), "the strongest head is saturated");
    /* cell (0, 0): 0.01 > 2 x 0.001, a dot at its centre; (0, 1) is not */
    hc_rgb dot = cell_centre(&c, &g, 0, 0), plain = cell_centre(&c, &g, 1, 0);
    cr_assert(!near(dot, hc_colormap(0.01, 0.02), 30), "a dot marks a significant cell");
    assert_rgb(plain, hc_colormap(0.002, 0.02), "no dot within 2 SE");
    hc_rgb off = hc_canvas_get(&c, g.x + g.cell_w / 6, g.y + g.cell_h / 6);
    assert_rgb(off, hc_colormap(0.01, 0.02), "the dot is small");
    hc_canvas_free(&c);
}
