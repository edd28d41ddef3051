/* The explorer's terminal graphics, for the UI thread only: the probe of
 * the terminal (on the raw tty, before curses starts: sixel support, the
 * largest sixel image it shows, the pixel size of a cell), colours as
 * curses pairs in whichever colour mode the terminal has, RGB canvases
 * drawn as Unicode half blocks, and sixel images placed over the curses
 * screen, sized within the terminal's limits and never left stale. */
#ifndef HEADCAL_TUI_GRAPHICS_H
#define HEADCAL_TUI_GRAPHICS_H

#include <stddef.h>

#include "headcal/canvas.h"

/* Asks the terminal for the largest sixel image (XTSMGRAPHICS, CSI ? 2 ;
 * 1 S), its cell size in pixels (CSI 16 t) and its primary device
 * attributes (CSI c, which every terminal answers, so it comes last and
 * ends the wait), waiting up to timeout_ms in all: 1 when the attributes
 * list sixel (4).  Unanswered questions keep their defaults: 1000 x 1000
 * pixels (xterm's limit), the tty's pixel size or 10 x 20 per cell. */
int gfx_probe_sixel(int timeout_ms);

/* The answers, for the pty test and the status bar. */
typedef struct {
    int max_w, max_h;   /* largest sixel image, pixels */
    int cell_w, cell_h; /* pixels per character cell */
    int from_terminal;  /* max_w/max_h came from XTSMGRAPHICS */
} gfx_limits;
const gfx_limits *gfx_get_limits(void);

/* Pixel size of an image for a panel of cols x rows cells: the panel's
 * pixels, cut to the terminal's limits, the height a multiple of 6 (a
 * sixel band).  0, or -1 with why ("as text: ...") filled when less than
 * min_w x min_h remains (the panel then draws as text). */
int gfx_image_size(int cols, int rows, int min_w, int min_h, int *w, int *h, char *why, size_t n);

/* The colour modes, from the terminal's colours (GFX_MONO under NO_COLOR). */
enum { GFX_DIRECT, GFX_256, GFX_8, GFX_MONO };
int gfx_mode(void);

/* Before curses starts: the direct-colour sibling of TERM's description
 * (xterm-256color: xterm-direct) when COLORTERM is truecolor or 24bit,
 * TERM's description has 256 colours and the sibling is installed; NULL
 * to open TERM's own (also under NO_COLOR). */
const char *gfx_direct_term(void);
/* After the screen opens: sets up colours (none under NO_COLOR). */
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
/* The colour a line of colour c takes in gfx_blit (with 8 colours, the
 * nearest basic one), for legends that must match it. */
hc_rgb gfx_ink(hc_rgb c);
/* Queues a sixel image for this frame with its top-left corner at cell
 * (y, x), covering rows x cols cells; six must live until gfx_show. */
void gfx_queue_sixel(int y, int x, int rows, int cols, const char *six, size_t len);
/* After refresh: when an image of the last frame is gone or moved, has
 * curses repaint the whole screen first (so no stale image stays under
 * text), then writes the queued images, leaving curses' idea of the
 * cursor alone; visible 0 shows none (an overlay covers them).  Empties
 * the queue. */
void gfx_show(int visible);

#endif
