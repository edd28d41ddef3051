/* Getting plots out: PNG and SVG files (written atomically, so a reader
 * never sees half a file) and sixel bytes in memory for the terminal.
 * PNG and sixel go through libsixel, which never gets the caller's pixels
 * to modify; SVG comes from a display list (draw.h), so it stays vector.
 * Errors name the file. */
#ifndef HEADCAL_IMGOUT_H
#define HEADCAL_IMGOUT_H

#include <stddef.h>

#include "headcal/canvas.h"
#include "headcal/draw.h"

int hc_write_png(const hc_canvas *c, const char *path);
int hc_write_svg(const hc_draw *d, const char *path);

/* Encodes the canvas as a sixel image (DCS ... ST, 7-bit).  The palette is
 * up to 256 of the canvas's own colours, exact, favouring the frequent
 * ones; other pixels take the nearest entry, without dithering (plots are
 * flat colour).  *out is malloc'd, *len bytes, NUL-terminated. */
int hc_sixel_encode(const hc_canvas *c, char **out, size_t *len);

#endif
