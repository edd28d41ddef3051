/* The two plots of headcal, laid out at any pixel size into a display list
 * (draw.h) that Cairo draws onto an image, PNG, SVG or PDF:
 *  - a heatmap of layer x head values (plus an optional MLP column on its
 *    own scale) on the diverging map centred at 0, with axis labels, a
 *    colour bar, significant cells marked, and (for the explorer only)
 *    selected cells outlined and a cursor cell;
 *  - calibration curves: per-bin accuracy against confidence, each series
 *    with a translucent +-1 sigma band clipped to [0, 1], bins with too
 *    few predictions drawn as faded hollow points instead, the dashed
 *    diagonal of perfect calibration, a log-scale histogram of the
 *    predictions per bin under the plot, and a legend beside or below it.
 * Inputs are plain arrays; the plots know nothing of results files.  The
 * geometry outputs let a caller map pixels back to cells or data. */
#ifndef HEADCAL_PLOT_H
#define HEADCAL_PLOT_H

#include "headcal/draw.h"

/* Pixel size of a plot; text_scale is the font's integer scale (0 picks
 * one from the size: 1 below 800x600, 2 at 800x600, and so on).  The
 * smallest useful size is about 200x120. */
typedef struct {
    int width, height;
    int text_scale;
} hc_plot_layout;

typedef struct {
    int rows, cols;
    const double *values;          /* [rows, cols]; non-finite = missing        */
    const char *const *row_labels; /* [rows] e.g. layer numbers; NULL = 0, 1, ... */
    const char *const *col_labels; /* [cols] head numbers, "MLP"; NULL = 0, 1, ... */
    const char *title;             /* may hold '\n'; NULL or "" for none       */
    const char *x_label, *y_label; /* "Head", "Layer"; NULL for none           */
    const char *cbar_label;        /* one line beside the colour bar, or NULL  */
    double vmax;                   /* colour scale [-vmax, vmax]; 0 = max |v|  */
    int clip_negative;             /* show negatives as 0 (the notebook's view) */
    const unsigned char *selected; /* [rows, cols] nonzero = outlined, or NULL  */
    int cursor_row, cursor_col;    /* cell drawn with a cursor frame; -1 = none */
    const double *se;              /* [rows, cols] standard errors, or NULL; a
                                      dot marks cells with |value| > 2 se      */
    int own_scale_cols;            /* the last columns (the MLPs) get a scale of
                                      their own, so heads stay readable       */
} hc_heatmap;

/* Where the cells landed: cell (r, c) covers [x + c*cell_w, +cell_w) x
 * [y + r*cell_h, +cell_h), row 0 at the top; vmax is the scale used. */
typedef struct {
    int x, y, cell_w, cell_h, rows, cols;
    double vmax, own_vmax; /* own_vmax: of the own-scale columns, or 0 */
} hc_heatmap_geom;

/* Lays out a heatmap into *out (free with hc_draw_free); geom may be NULL.
 * Fails if the size leaves no room for the cells. */
int hc_plot_heatmap(hc_draw **out, const hc_heatmap *hm, const hc_plot_layout *lay,
                    hc_heatmap_geom *geom);
/* The values a colour bar over [lo, hi] labels, from the top (lo is −hi,
 * or 0 where negatives are clipped): every multiple of one round step (1,
 * 2, 2.5 or 5 times a power of ten) inside it, the step the smallest that
 * leaves at most per_side (≥ 2) of them above 0.  Returns how many, at most
 * 2·per_side + 1, were written to t; 0 for an hi that is not positive. */
int hc_plot_bar_ticks(double lo, double hi, int per_side, double *t);
/* The cell under pixel (px, py): 1 and *row, *col set, or 0 outside. */
int hc_heatmap_cell_at(const hc_heatmap_geom *g, int px, int py, int *row, int *col);

typedef struct {
    const char *name;    /* legend entry; NULL for none                      */
    const double *acc;   /* [n_bins] accuracy per bin, NaN where undefined   */
    const double *lo;    /* [n_bins] band bounds (acc -+ sigma), or NULL     */
    const double *hi;    /*          for no band                             */
    int color;           /* index into hc_palette()                          */
    const double *count; /* [n_bins] predictions per bin, or NULL (all shown) */
} hc_series;

typedef struct {
    int n_bins;                    /* bin i is centred at confidence (i+0.5)/n_bins */
    const hc_series *series;
    int n_series;
    const char *title;             /* may hold '\n'; NULL or "" for none       */
    const char *x_label, *y_label; /* NULL for none                            */
    double min_count;              /* bins with fewer predictions are faded     */
    double x_lo, x_hi;             /* confidence range shown; 0, 0 = [0, 1]     */
    int histogram;                 /* log histogram of series 0's counts below  */
} hc_curves;

/* The plot area: confidence p and accuracy a land at pixel
 * (x + (p - x_lo) / (x_hi - x_lo) * w, y + (1 - a)*h). */
typedef struct {
    double x, y, w, h, x_lo, x_hi;
} hc_curves_geom;

int hc_plot_curves(hc_draw **out, const hc_curves *cv, const hc_plot_layout *lay,
                   hc_curves_geom *geom);

#endif
