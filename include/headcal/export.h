/* Exporting what the explorer shows: the heatmap of a metric and the
 * calibration curves of some variants, each as PNG and SVG (the shared
 * renderer, report.h) and its numbers as JSON and CSV, into a directory,
 * under names that say what they hold:
 *   heatmap-<metric>[-clipped].{png,svg,pdf,json,csv}
 *   curves-<id>_<id>....{png,svg,pdf,json,csv}   (curves-<n>-variants... when long)
 * Every file is written atomically.  Figures and data exported before the
 * sweep finished say "partial: N of M batches" (the JSON has "partial"). */
#ifndef HEADCAL_EXPORT_H
#define HEADCAL_EXPORT_H

#include <stddef.h>

#include "headcal/report.h"
#include "headcal/results.h"

typedef struct {
    int metric, clip_negative;
    const unsigned char *selected; /* [grid rows, cols] or NULL: a "selected" column in
                                      the data files, never drawn on the figure */
    const int *curves;             /* variant indices, baseline first */
    int n_curves;
    hc_curves_view curves_view;    /* colours, minimum count, zoom */
    int width, height;             /* pixels of each plot; 0 = 1000 x 750 */
} hc_export_view;

/* Creates dir (one level) if missing and writes the ten files. */
int hc_export(const hc_results *r, const hc_export_view *v, const char *dir);

#endif
