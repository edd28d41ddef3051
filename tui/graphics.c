#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <term.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "graphics.h"

static gfx_limits limits = {1000, 1000, 10, 20, 0};

const gfx_limits *gfx_get_limits(void) { return &limits; }

/* Finds "ESC [ prefix n1 ; n2 ; ... final" in buf; returns how many
 * numbers it holds (the first max of them in num), or -1 when the reply
 * is not there (yet). */
static int reply(const char *buf, const char *prefix, char final, int *num, int max)
{
    for (const char *p = strstr(buf, prefix); p; p = strstr(p + 1, prefix)) {
        const char *a = p + strlen(prefix);
        int n = 0;
        while (*a >= '0' && *a <= '9') {
            long v = strtol(a, (char **)&a, 10);
            if (n < max)
                num[n] = (int)v;
            n++;
            if (*a == ';')
                a++;
        }
        if (*a == final)
            return n;
    }
    return -1;
}

int gfx_probe_sixel(int timeout_ms)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
    if (fd < 0)
        return 0;
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row && ws.ws_xpixel && ws.ws_ypixel) {
        limits.cell_w = ws.ws_xpixel / ws.ws_col;
        limits.cell_h = ws.ws_ypixel / ws.ws_row;
    }
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
    static const char ask[] = "\033[?2;1S\033[16t\033[c";
    char buf[1024];
    size_t n = 0;
    int sixel = 0, num[64];
    buf[0] = 0;
    if (write(fd, ask, sizeof ask - 1) == (ssize_t)(sizeof ask - 1)) {
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
            int k = reply(buf, "\033[?", 'c', num, 64);
            if (k >= 0) { /* the last answer: the others came before it, or never */
                for (int i = 0; i < k && i < 64; i++)
                    sixel |= num[i] == 4;
                break;
            }
        }
    }
    tcsetattr(fd, TCSAFLUSH, &old);
    close(fd);
    /* CSI ? 2 ; 0 ; width ; height S: status 0 is success */
    if (reply(buf, "\033[?2;", 'S', num, 3) == 3 && num[0] == 0 && num[1] > 0 && num[2] > 0) {
        limits.max_w = num[1];
        limits.max_h = num[2];
        limits.from_terminal = 1;
    }
    /* CSI 6 ; height ; width t */
    if (reply(buf, "\033[6;", 't', num, 2) == 2 && num[0] > 0 && num[1] > 0) {
        limits.cell_h = num[0];
        limits.cell_w = num[1];
    }
    return sixel;
}

int gfx_image_size(int cols, int rows, int min_w, int min_h, int *w, int *h, char *why, size_t n)
{
    *w = cols * limits.cell_w;
    *h = rows * limits.cell_h;
    if (*w > limits.max_w)
        *w = limits.max_w;
    if (*h > limits.max_h)
        *h = limits.max_h;
    *h -= *h % 6;
    if (*w >= min_w && *h >= min_h)
        return 0;
    snprintf(why, n, "as text: %dx%d px left by the sixel limit %dx%d", *w, *h, limits.max_w, limits.max_h);
    return -1;
}

/* Colour pairs are made on demand and remembered in a small hash table;
 * when the terminal's pairs run out the table starts over next frame. */
#define PAIR_SLOTS 8192
static struct {
    int fg, bg, pair;
} slots[PAIR_SLOTS];
static int n_pairs, pair_cap, full;

/* NO_COLOR (no-color.org): set and not empty, characters only. */
static int no_color(void)
{
    const char *nc = getenv("NO_COLOR");
    return nc && *nc;
}

/* The colours of terminal description name: its colors number, or -1
 * when there is no such description. */
static int colors_of(const char *name)
{
    int err;
    if (setupterm(name, STDOUT_FILENO, &err) != OK)
        return -1;
    int n = tigetnum("colors");
    del_curterm(cur_term);
    return n;
}

const char *gfx_direct_term(void)
{
    static char name[256];
    const char *term = getenv("TERM"), *ct = getenv("COLORTERM");
    if (!term || !*term || !ct || (strcmp(ct, "truecolor") && strcmp(ct, "24bit")) || no_color())
        return NULL;
    /* COLORTERM speaks for the terminal, TERM for the user: a TERM of 8
     * colours or none stays as chosen */
    int have = colors_of(term);
    if (have < 256 || have >= 1 << 24)
        return NULL;
    /* xterm-256color: xterm-direct; tmux-256color: tmux-direct */
    static const char suffix[] = "-256color";
    size_t n = strlen(term), k = sizeof suffix - 1;
    snprintf(name, sizeof name, "%.*s-direct", (int)(n > k && !strcmp(term + n - k, suffix) ? n - k : n), term);
    return colors_of(name) >= 1 << 24 ? name : NULL;
}

void gfx_init(void)
{
    if (has_colors() && !no_color()) {
        start_color();
        use_default_colors();
    }
    pair_cap = COLOR_PAIRS - 1 < PAIR_SLOTS / 2 ? COLOR_PAIRS - 1 : PAIR_SLOTS / 2;
}

int gfx_mode(void)
{
    if (!has_colors() || COLORS < 8)
        return GFX_MONO;
    return COLORS >= 1 << 24 ? GFX_DIRECT : COLORS >= 256 ? GFX_256 : GFX_8;
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
    if (COLORS >= 1 << 24) {
        /* direct colour (e.g. TERM=xterm-direct); values below 8 would be
         * sent as the palette's basic colours, whose black a bold cursor
         * mark turns grey in xterm: near-black becomes (0, 0, 8) */
        int v = (c.r << 16) | (c.g << 8) | c.b;
        return v < 8 ? 8 : v;
    }
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
            if (n_pairs >= pair_cap) {
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
    int p = gfx_mode() != GFX_MONO ? pair_of(color_of(fg), color_of(bg)) : 0;
    attr_set(A_NORMAL, 0, &p);
}

void gfx_default(void)
{
    int p = 0;
    attr_set(A_NORMAL, 0, &p);
}

/* With 8 colours or none, half blocks of arbitrary colours would be
 * stripes: the picture becomes ink on the terminal's own background,
 * a pixel being ink when it is darker than the light tints (grid lines,
 * bands), in the basic colour nearest to it. */
static int is_ink(hc_rgb p)
{
    return 0.299 * p.r + 0.587 * p.g + 0.114 * p.b < 190;
}

static hc_rgb basic_of(hc_rgb p)
{
    static const hc_rgb basic[] = {{0, 0, 0},     {205, 0, 0},   {0, 205, 0},  {205, 205, 0},
                                   {0, 0, 238},   {205, 0, 205}, {0, 205, 205}};
    int hi = p.r > p.g ? (p.r > p.b ? p.r : p.b) : (p.g > p.b ? p.g : p.b);
    int lo = p.r < p.g ? (p.r < p.b ? p.r : p.b) : (p.g < p.b ? p.g : p.b);
    if (hi - lo < 40) /* frames, rules and the diagonal: greys are ink */
        return basic[0];
    int best = 0;
    long bd = -1;
    for (int i = 0; i < (int)(sizeof basic / sizeof basic[0]); i++) {
        long dr = p.r - basic[i].r, dg = p.g - basic[i].g, db = p.b - basic[i].b, d = dr * dr + dg * dg + db * db;
        if (bd < 0 || d < bd)
            bd = d, best = i;
    }
    return basic[best];
}

hc_rgb gfx_ink(hc_rgb c)
{
    return gfx_mode() == GFX_8 ? basic_of(c) : c;
}

void gfx_blit(const hc_canvas *c, int y, int x)
{
    int mode = gfx_mode();
    for (int row = 0; 2 * row < c->h; row++) {
        move(y + row, x);
        for (int col = 0; col < c->w; col++) {
            hc_rgb top = hc_canvas_get(c, col, 2 * row);
            hc_rgb bot = 2 * row + 1 < c->h ? hc_canvas_get(c, col, 2 * row + 1) : top;
            if (mode == GFX_8 || mode == GFX_MONO) {
                int t = is_ink(top), b = is_ink(bot);
                if (mode == GFX_8 && (t || b)) {
                    int p = pair_of(color_of(basic_of(t ? top : bot)), -1);
                    attr_set(A_NORMAL, 0, &p);
                } else {
                    gfx_default();
                }
                addstr(t && b ? "\u2588" : t ? "\u2580" : b ? "\u2584" : " ");
                continue;
            }
            gfx_color(top, bot);
            addstr("\u2580");
        }
    }
    gfx_default();
}

/* The images of this frame and of the last one. */
enum { MAX_IMAGES = 8 };
typedef struct {
    int y, x, rows, cols;
    const char *six;
    size_t len;
} image;
static image queued[MAX_IMAGES], shown[MAX_IMAGES];
static int n_queued, n_shown;

void gfx_queue_sixel(int y, int x, int rows, int cols, const char *six, size_t len)
{
    if (n_queued < MAX_IMAGES && six)
        queued[n_queued++] = (image){y, x, rows, cols, six, len};
}

static int same_place(const image *a, const image *b)
{
    return a->y == b->y && a->x == b->x && a->rows == b->rows && a->cols == b->cols;
}

void gfx_show(int visible)
{
    if (!visible)
        n_queued = 0;
    int stale = 0;
    for (int i = 0; i < n_shown; i++) {
        int kept = 0;
        for (int j = 0; j < n_queued; j++)
            kept |= same_place(&shown[i], &queued[j]);
        stale |= !kept;
    }
    if (stale) {
        /* curses believes the cells under the old image hold what it
         * wrote there; only a full repaint removes the picture */
        clearok(curscr, TRUE);
        refresh();
    }
    for (int i = 0; i < n_queued; i++) {
        char pos[32];
        int k = snprintf(pos, sizeof pos, "\0337\033[%d;%dH", queued[i].y + 1, queued[i].x + 1);
        fwrite(pos, 1, (size_t)k, stdout);
        fwrite(queued[i].six, 1, queued[i].len, stdout);
        fwrite("\0338", 1, 2, stdout);
        shown[i] = queued[i];
    }
    fflush(stdout);
    n_shown = n_queued;
    n_queued = 0;
}
