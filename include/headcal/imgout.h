/* Getting plots out: PNG, SVG and PDF files drawn by Cairo from a display
 * list (draw.h), written atomically so that a reader never sees half a
 * file, and sixel bytes in memory for the terminal (libsixel, from the
 * RGB image Cairo drew).  Errors name the file. */
#ifndef HEADCAL_IMGOUT_H
#define HEADCAL_IMGOUT_H

#include <stddef.h>

#include "headcal/canvas.h"
#include "headcal/draw.h"

/* Writes the drawing to path, whole or not at all. */
int hc_write_image(const hc_draw *d, hc_image_format fmt, const char *path);
/* "png", "svg" or "pdf" to its hc_image_format; -1 for anything else. */
int hc_image_format_parse(const char *name);
/* The format's name, which is also its file extension. */
const char *hc_image_format_name(hc_image_format fmt);

/* Encodes the canvas as a sixel image (DCS ... ST, 7-bit).  The palette is
 * up to 256 of the canvas's own colours, exact, favouring the frequent
 * ones; other pixels take the nearest entry, without dithering (plots are
 * flat colour).  *out is malloc'd, *len bytes, NUL-terminated. */
int hc_sixel_encode(const hc_canvas *c, char **out, size_t *len);

#endif
