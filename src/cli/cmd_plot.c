/* headcal plot: the explorer's plots from a results file, for scripts and
 * papers (same renderer as the explorer). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/imgout.h"
#include "headcal/report.h"

/* Variant indices for --heads "L.H,MLP3,L10H7+L11H10": the baseline first. */
static int pick_variants(const hc_results *r, const char *list, int **out, int *n)
{
    int cap = r->n_variants + 1, k = 0;
    int *v = hc_mallocarray((size_t)cap, sizeof *v);
    if (!v)
        return -1;
    v[k++] = hc_results_baseline(r);
    char *copy = hc_strdup(list ? list : ""), *save = NULL;
    if (!copy) {
        free(v);
        return -1;
    }
    for (char *it = strtok_r(copy, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        /* accept L.H spellings: normalise each member to its canonical id */
        char id[4096] = "", *s2 = NULL;
        for (char *m = strtok_r(it, "+", &s2); m; m = strtok_r(NULL, "+", &s2)) {
            hc_component c;
            if (hc_component_parse(m, &c)) {
                /* the message quotes m, which lives in copy */
                hc_fail(HC_EUSAGE, "--heads: '%s' is not a head (L.H or LxHy) or an MLP (MLPn)", m);
                free(copy);
                free(v);
                return -1;
            }
            char name[32];
            hc_component_name(c, name, sizeof name);
            snprintf(id + strlen(id), sizeof id - strlen(id), "%s%s", *id ? "+" : "", name);
        }
        int idx = hc_results_find(r, id);
        if (idx < 0) {
            free(copy);
            free(v);
            return hc_fail(HC_EUSAGE, "--heads: the results have no variant %s", id);
        }
        if (k < cap)
            v[k++] = idx;
    }
    free(copy);
    *out = v;
    *n = k;
    return 0;
}

int cmd_plot(int argc, char **argv)
{
    enum { O_KIND = 1, O_HEADS, O_METRIC, O_FORMAT, O_CLIP, O_WIDTH, O_HEIGHT, O_TITLE, O_MIN_COUNT, O_ZOOM };
    static const cli_option opts[] = {
        {0, "kind", O_KIND, "heatmap|curves", "the layer x head heatmap, or calibration curves"},
        {0, "heads", O_HEADS, "L.H,...", "the curves drawn beside the baseline's (L.H, LxHy, MLPn, A+B)"},
        {0, "metric", O_METRIC, "M", "the heatmap's metric (default delta_oc; see headcal(1))"},
        {0, "format", O_FORMAT, "png|svg|pdf|sixel", "the image format (sixel goes to the terminal)"},
        {'o', "out", 'o', "FILE", "the image file (required for png, svg and pdf)"},
        {0, "clip", O_CLIP, NULL, "clip the heatmap's negative values to 0"},
        {0, "width", O_WIDTH, "W", "width in pixels (default 800)"},
        {0, "height", O_HEIGHT, "H", "height in pixels (default 600)"},
        {0, "title", O_TITLE, "T", "the figure's title (default: the metric in words, or Calibration)"},
        {0, "min-count", O_MIN_COUNT, "N", "curves: bins with fewer predictions are faded (default 20)"},
        {0, "zoom", O_ZOOM, NULL, "curves: the confidence axis only where the predictions are"},
        {0},
    };
    cli_getopt g;
    if (cli_getopt_init(&g,
                        "plot RESULTS.json --kind heatmap|curves --format png|svg|pdf|sixel [-o|--out FILE] "
                        "[--heads L.H,...] [--metric M] [--clip] [--width W] [--height H] [--title T] "
                        "[--min-count N] [--zoom]",
                        opts, NULL, NULL, argc, argv))
        return 0;
    const char *kind = NULL, *heads = NULL, *format = NULL, *out = NULL, *title = NULL;
    int metric = HC_DELTA_OC, clip = 0, zoom = 0, ch, rc = 0;
    hc_curves_view cview = {.min_count = HC_MIN_COUNT_DEFAULT};
    hc_plot_layout lay = {.width = 800, .height = 600};
    while (!rc && (ch = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
        switch (ch) {
        case O_KIND: kind = optarg; break;
        case O_HEADS: heads = optarg; break;
        case O_METRIC:
            if ((metric = hc_metric_lookup(optarg)) < 0)
                rc = hc_fail(HC_EUSAGE, "--metric: unknown metric '%s' (e.g. delta_oc, relative, paper, oc, ece)",
                             optarg);
            break;
        case O_FORMAT: format = optarg; break;
        case 'o': out = optarg; break;
        case O_CLIP: clip = 1; break;
        case O_WIDTH: rc = cli_int("--width", optarg, 200, 8000, &lay.width); break;
        case O_HEIGHT: rc = cli_int("--height", optarg, 120, 8000, &lay.height); break;
        case O_TITLE: title = optarg; break;
        case O_MIN_COUNT: rc = cli_int("--min-count", optarg, 0, 1000000000, &cview.min_count); break;
        case O_ZOOM: zoom = 1; break;
        default: rc = cli_bad_option("plot", argc, argv);
        }
    }
    if (!rc && optind != argc - 1)
        rc = hc_fail(HC_EUSAGE, "plot: usage: headcal plot RESULTS.json --kind heatmap|curves --format png|svg|pdf|sixel [-o FILE]");
    if (!rc && (!kind || (strcmp(kind, "heatmap") && strcmp(kind, "curves"))))
        rc = hc_fail(HC_EUSAGE, "plot: --kind must be heatmap or curves");
    if (!rc && (!format || (hc_image_format_parse(format) < 0 && strcmp(format, "sixel"))))
        rc = hc_fail(HC_EUSAGE, "plot: --format must be png, svg, pdf or sixel");
    if (!rc && !out && strcmp(format, "sixel"))
        rc = hc_fail(HC_EUSAGE, "plot: -o FILE is required for %s", format);
    if (!rc && heads && !strcmp(kind, "heatmap"))
        rc = hc_fail(HC_EUSAGE, "plot: --heads applies to --kind curves (the heatmap shows every head)");
    if (!rc && zoom && !strcmp(kind, "heatmap"))
        rc = hc_fail(HC_EUSAGE, "plot: --zoom applies to --kind curves");
    if (rc)
        return hc_errstatus();
    hc_results r;
    if ((out && hc_refuse_input(out, argv[optind], "the results file")) || hc_results_read(&r, argv[optind]))
        return hc_errstatus();
    hc_draw *d = NULL;
    if (!strcmp(kind, "heatmap")) {
        hc_grid g;
        rc = hc_grid_build(&g, &r, metric);
        if (!rc) {
            hc_heatmap_view hv = {.metric = metric, .clip_negative = clip, .title = title, .cursor_row = -1,
                                  .cursor_col = -1};
            rc = hc_report_heatmap(&d, &r, &g, &hv, &lay, NULL);
            hc_grid_free(&g);
        }
    } else {
        int *v = NULL, n = 0;
        rc = pick_variants(&r, heads, &v, &n);
        cview.title = title;
        if (!rc && zoom)
            rc = hc_curves_busy_range(&r, v[0], cview.min_count, &cview.x_lo, &cview.x_hi);
        if (!rc)
            rc = hc_report_curves(&d, &r, v, n, &cview, &lay);
        free(v);
    }
    int fmt = hc_image_format_parse(format);
    if (!rc && fmt >= 0) {
        rc = hc_write_image(d, (hc_image_format)fmt, out);
    } else if (!rc) {
        hc_canvas cv = {0};
        char *six = NULL;
        size_t len;
        rc = hc_draw_render(d, &cv) || hc_sixel_encode(&cv, &six, &len);
        if (!rc && out)
            rc = hc_atomic_write(out, six, len);
        else if (!rc && (fwrite(six, 1, len, stdout) != len || fflush(stdout)))
            rc = hc_fail(HC_EBAD, "stdout: cannot write");
        free(six);
        hc_canvas_free(&cv);
    }
    hc_draw_free(d);
    hc_results_free(&r);
    return rc ? hc_errstatus() : 0;
}
