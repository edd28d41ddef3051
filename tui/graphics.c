#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "graphics.h"

int gfx_probe_sixel(int timeout_ms)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
    if (fd < 0)
        return 0;
    struct termios old, raw;
    if (tcgetattr(fd, &old)) {
        close(fd);
        return 0;
    }
    raw = old;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    tcsetattr(fd, TCSANOW, &raw);
    char buf[256];
    size_t n = 0;
    int sixel = 0;
    if (write(fd, "\033[c", 3) == 3) {
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            int left = timeout_ms - (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (left <= 0 || n + 1 >= sizeof buf || poll(&p, 1, left) <= 0)
                break;
            ssize_t got = read(fd, buf + n, sizeof buf - 1 - n);
            if (got <= 0)
                break;
            n += (size_t)got;
            buf[n] = 0;
            /* the reply is CSI ? attr ; attr ... c */
            char *start = strstr(buf, "\033[?"), *end = start ? strchr(start, 'c') : NULL;
            if (end) {
                for (char *a = start + 3; a < end;) {
                    if (strtol(a, &a, 10) == 4 && (*a == ';' || *a == 'c'))
                        sixel = 1;
                    if (*a == ';')
                        a++;
                    else
                        break;
                }
                break;
            }
        }
    }
    tcsetattr(fd, TCSAFLUSH, &old);
    close(fd);
    return sixel;
}

/* Colour pairs are made on demand and remembered in a small hash table;
 * when the terminal's pairs run out the table starts over next frame. */
#define PAIR_SLOTS 8192
static struct {
    int fg, bg, pair;
} slots[PAIR_SLOTS];
static int n_pairs, max_pairs, full;

void gfx_init(void)
{
    if (has_colors()) {
        start_color();
        use_default_colors();
    }
    max_pairs = COLOR_PAIRS - 1 < PAIR_SLOTS / 2 ? COLOR_PAIRS - 1 : PAIR_SLOTS / 2;
}

void gfx_begin_frame(void)
{
    if (!full)
        return;
    memset(slots, 0, sizeof slots);
    n_pairs = 0;
    full = 0;
    reset_color_pairs();
}

static int level6(int v)
{
    return v < 48 ? 0 : v < 115 ? 1 : (v - 35) / 40;
}

/* The terminal's colour number nearest to c. */
static int color_of(hc_rgb c)
{
    if (COLORS >= 1 << 24) /* direct colour (e.g. TERM=xterm-direct) */
        return (c.r << 16) | (c.g << 8) | c.b;
    if (COLORS >= 256) {
        static const int lv[6] = {0, 95, 135, 175, 215, 255};
        int r = level6(c.r), g = level6(c.g), b = level6(c.b);
        int cube = 16 + 36 * r + 6 * g + b;
        int dc = (c.r - lv[r]) * (c.r - lv[r]) + (c.g - lv[g]) * (c.g - lv[g]) + (c.b - lv[b]) * (c.b - lv[b]);
        int avg = (c.r + c.g + c.b) / 3, k = avg < 8 ? 0 : avg > 238 ? 23 : (avg - 8) / 10;
        int gv = 8 + 10 * k;
        int dg = (c.r - gv) * (c.r - gv) + (c.g - gv) * (c.g - gv) + (c.b - gv) * (c.b - gv);
        return dg < dc ? 232 + k : cube;
    }
    /* the eight basic colours: each channel on or off */
    return (c.r > 127 ? COLOR_RED : 0) | (c.g > 127 ? COLOR_GREEN : 0) | (c.b > 127 ? COLOR_BLUE : 0);
}

static int pair_of(int fg, int bg)
{
    unsigned h = ((unsigned)fg * 2654435761u) ^ ((unsigned)bg * 40503u);
    for (unsigned i = 0; i < PAIR_SLOTS; i++) {
        unsigned s = (h + i) % PAIR_SLOTS;
        if (slots[s].pair && slots[s].fg == fg && slots[s].bg == bg)
            return slots[s].pair;
        if (!slots[s].pair) {
            if (n_pairs >= max_pairs) {
                full = 1;
                return 0;
            }
            int p = ++n_pairs;
            init_extended_pair(p, fg, bg);
            slots[s].fg = fg;
            slots[s].bg = bg;
            slots[s].pair = p;
            return p;
        }
    }
    full = 1;
    return 0;
}

void gfx_color(hc_rgb fg, hc_rgb bg)
{
    int p = has_colors() ? pair_of(color_of(fg), color_of(bg)) : 0;
    attr_set(A_NORMAL, 0, &p);
}

void gfx_default(void)
{
    int p = 0;
    attr_set(A_NORMAL, 0, &p);
}

void gfx_blit(const hc_canvas *c, int y, int x)
{
    for (int row = 0; 2 * row < c->h; row++) {
        move(y + row, x);
        for (int col = 0; col < c->w; col++) {
            hc_rgb top = hc_canvas_get(c, col, 2 * row);
            hc_rgb bot = 2 * row + 1 < c->h ? hc_canvas_get(c, col, 2 * row + 1) : top;
            gfx_color(top, bot);
            addstr("\u2580");
        }
    }
    gfx_default();
}

void gfx_cell_pixels(int *w, int *h)
{
    struct winsize ws;
    *w = 10;
    *h = 20;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row && ws.ws_xpixel && ws.ws_ypixel) {
        *w = ws.ws_xpixel / ws.ws_col;
        *h = ws.ws_ypixel / ws.ws_row;
    }
}

void gfx_place_sixel(int y, int x, const char *six, size_t len)
{
    char pos[32];
    int n = snprintf(pos, sizeof pos, "\0337\033[%d;%dH", y + 1, x + 1);
    fwrite(pos, 1, (size_t)n, stdout);
    fwrite(six, 1, len, stdout);
    fwrite("\0338", 1, 2, stdout);
    fflush(stdout);
}
