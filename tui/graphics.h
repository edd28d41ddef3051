/* The explorer's terminal graphics, for the UI thread only: the DA1 probe
 * for sixel support (on the raw tty, before curses starts), colours as
 * curses pairs (true colour, 256 colours or the 8 basic ones, whichever
 * the terminal has), RGB canvases drawn as Unicode half blocks, and sixel
 * images placed over the curses screen. */
#ifndef HEADCAL_TUI_GRAPHICS_H
#define HEADCAL_TUI_GRAPHICS_H

#include <stddef.h>

#include "headcal/canvas.h"

/* Asks the terminal for its primary device attributes (CSI c) and waits
 * up to timeout_ms for the answer: 1 when it lists sixel (attribute 4). */
int gfx_probe_sixel(int timeout_ms);

/* After initscr: sets up colours. */
void gfx_init(void);
/* Starts a frame: forgets the colour pairs if the last frame ran out. */
void gfx_begin_frame(void);
/* Sets the current drawing colours (for addstr and friends). */
void gfx_color(hc_rgb fg, hc_rgb bg);
/* The terminal's default colours again. */
void gfx_default(void);
/* Draws canvas c at cell (y, x): each cell shows two vertically stacked
 * pixels as an upper half block, so c is cols wide and 2 * rows tall. */
void gfx_blit(const hc_canvas *c, int y, int x);
/* Pixels per cell from the tty (TIOCGWINSZ), or a usual 10 x 20. */
void gfx_cell_pixels(int *w, int *h);
/* Writes a sixel image with its top-left corner at cell (y, x), leaving
 * curses' idea of the cursor alone (save cursor, position, restore). */
void gfx_place_sixel(int y, int x, const char *six, size_t len);

#endif
