/* The explorer's main loop: one UI thread owns the terminal, polls the
 * background jobs' mailbox every 100 ms and redraws only when something
 * changed; keys and mouse answer while anything computes. */
#include <curses.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "graphics.h"
#include "headcal/error.h"
#include "headcal/export.h"
#include "ui.h"

static const int metric_cycle[] = {HC_DELTA_OC, HC_RELATIVE, HC_PAPER, HC_DELTA_ECE, HC_DELTA_NLL, HC_DELTA_ENTROPY};
enum { N_CYCLE = sizeof metric_cycle / sizeof metric_cycle[0] };

const char *ui_metric_label(int m)
{
    switch (m) {
    case HC_DELTA_OC: return "\u0394OC";
    case HC_RELATIVE: return "relative";
    case HC_PAPER: return "paper sign";
    case HC_DELTA_ECE: return "\u0394ECE";
    case HC_DELTA_NLL: return "\u0394NLL";
    case HC_DELTA_ENTROPY: return "\u0394entropy";
    }
    return hc_metric_name(m);
}

int ui_batches_done(const ui *u)
{
    int n = 0;
    for (int b = 0; b < u->r->params.batches; b++)
        n += u->r->done[b];
    return n;
}

double ui_shown(const ui *u, int i)
{
    double v = u->grid.value[i];
    return u->clip && v < 0 ? 0 : v;
}

double ui_vmax(const ui *u)
{
    double m = 0;
    for (int i = 0; i < u->grid.rows * u->grid.cols; i++) {
        double v = u->grid.has_mlp && i % u->grid.cols == u->grid.cols - 1 ? 0 : fabs(ui_shown(u, i));
        if (isfinite(v) && v > m)
            m = v;
    }
    return m > 0 ? m : 1;
}

void ui_text(int y, int x, int w, const char *s)
{
    wchar_t buf[1024];
    size_t n = mbstowcs(buf, s, sizeof buf / sizeof buf[0] - 1);
    if (n == (size_t)-1 || w <= 0)
        return;
    buf[n] = 0;
    mvaddnwstr(y, x, buf, (int)n < w ? (int)n : w);
}

static int has(const int *v, int n, int x)
{
    for (int i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

int ui_series(const ui *u, int *v, int max)
{
    int n = 0, b = hc_results_baseline(u->r), cells = u->grid.rows * u->grid.cols;
    if (b >= 0)
        v[n++] = b;
    int cur = u->grid.variant[u->cur_row * u->grid.cols + u->cur_col];
    if (cur >= 0 && n < max)
        v[n++] = cur;
    for (int i = 0; i < cells && n < max; i++)
        if (u->selected[i] && u->grid.variant[i] >= 0 && !has(v, n, u->grid.variant[i]))
            v[n++] = u->grid.variant[i];
    for (int i = 0; i < u->r->n_variants && n < max; i++)
        if (u->r->variants[i].kind == HC_VARIANT_SET)
            v[n++] = i;
    return n;
}

/* -- the terminal: restored on every way out */
static int curses_on;
static volatile sig_atomic_t got_signal;

static void restore_terminal(void)
{
    if (curses_on) {
        curses_on = 0;
        endwin();
    }
}

static void on_signal(int sig)
{
    got_signal = sig;
}

static void start_curses(void)
{
    static int registered;
    if (!registered && atexit(restore_terminal) == 0)
        registered = 1;
    setlocale(LC_ALL, "");
    initscr();
    curses_on = 1;
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    timeout(100);
    curs_set(0);
    set_escdelay(25);
    mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED, NULL);
    gfx_init();
}

/* -- state changes */
static void rebuild(ui *u)
{
    hc_grid_free(&u->grid);
    if (hc_grid_build(&u->grid, u->r, u->metric))
        snprintf(u->msg, sizeof u->msg, "%s", hc_errmsg());
}

static void show(ui *u, hc_results *r)
{
    results_destroy(u->r);
    u->r = r;
    u->version++;
    rebuild(u);
}

static void drop_pending(ui *u, const char *label)
{
    for (int i = 0; i < u->n_pending; i++)
        if (!strcmp(u->pending[i], label)) {
            memmove(u->pending[i], u->pending[i + 1], (size_t)(u->n_pending - i - 1) * sizeof u->pending[0]);
            u->n_pending--;
            return;
        }
}

/* Adds a finished joint ablation (baseline + the set) to what is shown,
 * over the batches both have, and keeps it in the cache. */
static int adopt_set(ui *u, const hc_results *rs)
{
    const hc_variant *s = &rs->variants[rs->n_variants - 1];
    int idx = hc_results_find(u->r, s->id);
    if (idx < 0 && (idx = hc_results_add_variant(u->r, HC_VARIANT_SET, s->members, s->n_members)) < 0)
        return -1;
    hc_calib_reset(&u->r->variants[idx].calib);
    for (int b = 0; b < u->r->params.batches; b++)
        if (u->r->done[b] && rs->done[b] && hc_calib_merge_batch(&u->r->variants[idx].calib, &s->calib, b))
            return -1;
    u->version++;
    return u->o->checkpoint ? hc_results_write(u->r, u->o->checkpoint) : 0;
}

static void on_event(ui *u, job_event *ev)
{
    if (ev->kind == JOB_QK) {
        /* the panel's head is in its label: "QK L3H1" */
        int l, h;
        if (sscanf(ev->label, "QK L%dH%d", &l, &h) == 2 && l < u->grid.rows && h < u->grid.cols) {
            int i = l * u->grid.cols + h;
            u->qk_state[i] = ev->type == JOB_DONE ? QK_DONE : QK_NONE;
            u->qk[i] = ev->qk;
        }
        if (ev->type != JOB_DONE)
            snprintf(u->msg, sizeof u->msg, "%s stopped: %s", ev->label, ev->msg);
        return;
    }
    if (ev->kind == JOB_SWEEP) {
        if (ev->r)
            show(u, ev->r);
        if (ev->type == JOB_DONE)
            snprintf(u->msg, sizeof u->msg, "sweep done");
        else if (ev->type == JOB_STOPPED)
            snprintf(u->msg, sizeof u->msg, "sweep stopped (%s): showing %d of %d batches", ev->msg,
                     ui_batches_done(u), u->r->params.batches);
        return;
    }
    drop_pending(u, ev->label);
    if (ev->type == JOB_DONE && adopt_set(u, ev->r))
        snprintf(u->msg, sizeof u->msg, "joint ablation %s: %s", ev->label, hc_errmsg());
    else if (ev->type == JOB_DONE)
        snprintf(u->msg, sizeof u->msg, "joint ablation %s done", ev->label);
    else
        snprintf(u->msg, sizeof u->msg, "joint ablation %s stopped: %s", ev->label, ev->msg);
    results_destroy(ev->r);
}

static hc_component component_at(const ui *u, int i)
{
    int l = i / u->grid.cols, c = i % u->grid.cols;
    return (hc_component){l, u->grid.has_mlp && c == u->grid.cols - 1 ? HC_MLP : c};
}

/* Asks for the cursor head's QK panel unless it is known or coming. */
static void qk_request(ui *u)
{
    int i = u->cur_row * u->grid.cols + u->cur_col;
    hc_component c = component_at(u, i);
    if (c.head == HC_MLP || u->qk_state[i] != QK_NONE)
        return;
    if (jobs_submit_qk(u->jobs, c.layer, c.head))
        snprintf(u->msg, sizeof u->msg, "%s", hc_errmsg());
    else
        u->qk_state[i] = QK_PENDING;
}

/* `a`: queues the selected heads' joint ablation. */
static void ablate_selected(ui *u)
{
    hc_component m[256];
    int n = 0;
    for (int i = 0; i < u->grid.rows * u->grid.cols && n < 256; i++)
        if (u->selected[i])
            m[n++] = component_at(u, i);
    if (n < 2) {
        snprintf(u->msg, sizeof u->msg, "select two or more heads with space, then press a");
        return;
    }
    hc_results *rs = hc_malloc(sizeof *rs);
    hc_results_params p = u->r->params;
    p.shard_index = 0;
    p.shard_count = 1;
    if (!rs || hc_results_init(rs, &u->r->model, &u->r->data, &p)) {
        free(rs);
        snprintf(u->msg, sizeof u->msg, "%s", hc_errmsg());
        return;
    }
    if (hc_results_add_variant(rs, HC_VARIANT_BASELINE, NULL, 0) < 0 ||
        hc_results_add_variant(rs, HC_VARIANT_SET, m, n) < 0) {
        snprintf(u->msg, sizeof u->msg, "%s", hc_errmsg());
        results_destroy(rs);
        return;
    }
    const char *id = rs->variants[1].id;
    int known = hc_results_find(u->r, id) >= 0;
    for (int i = 0; i < u->n_pending; i++)
        known |= !strcmp(u->pending[i], id);
    if (known || u->n_pending == UI_MAX_PENDING) {
        snprintf(u->msg, sizeof u->msg, known ? "%s is already computed or queued" : "too many queued: %s", id);
        results_destroy(rs);
        return;
    }
    snprintf(u->pending[u->n_pending++], sizeof u->pending[0], "%s", id);
    snprintf(u->msg, sizeof u->msg, "joint ablation %s queued", id);
    if (jobs_submit(u->jobs, JOB_SET, id, rs)) {
        u->n_pending--;
        snprintf(u->msg, sizeof u->msg, "%s", hc_errmsg());
    }
}

static void export_view(ui *u)
{
    int v[UI_MAX_SERIES], colors[UI_MAX_SERIES];
    hc_curves_view cv;
    int n = curves_panel_view(u, v, colors, &cv);
    hc_export_view ev = {.metric = u->metric, .clip_negative = u->clip, .selected = u->selected, .curves = v,
                         .n_curves = n, .curves_view = cv};
    if (hc_export(u->r, &ev, u->o->export_dir))
        snprintf(u->msg, sizeof u->msg, "export failed: %s", hc_errmsg());
    else
        snprintf(u->msg, sizeof u->msg, "exported heatmap and curves (PNG, SVG, PDF, JSON, CSV) to %s/",
                 u->o->export_dir);
}

/* -- drawing */
static void draw(ui *u)
{
    gfx_begin_frame();
    erase();
    int H = LINES, W = COLS, cw = 4;
    while (cw > 2 && grid_panel_width(&u->grid, cw) + 1 + 32 > W)
        cw--;
    int gw = grid_panel_width(&u->grid, cw), gh = grid_panel_height(&u->grid);
    int left = gw > 46 ? gw : 46;
    if (left + 1 + 32 > W)
        left = gw > W - 33 ? gw : W - 33;
    int need_w = gw + 1 + 32, need_h = 1 + gh + 1 + 7 + 1;
    if (W < need_w || H < need_h) {
        char a[64];
        snprintf(a, sizeof a, "need %dx%d", need_w, need_h);
        ui_text(0, 0, W, "terminal too small");
        ui_text(1, 0, W, a);
        u->cell_w = 0;
        refresh();
        gfx_show(0);
        return;
    }
    u->cell_w = cw;
    char head[256];
    snprintf(head, sizeof head, " headcal explorer   metric: %s (m)   clip: %s (c)   ? help   q quit",
             ui_metric_label(u->metric), u->clip ? "on" : "off");
    attron(A_BOLD);
    ui_text(0, 0, W, head);
    attroff(A_BOLD);
    u->grid_r = (rect){1, 0, gh, left};
    u->detail_r = (rect){1 + gh + 1, 0, H - 2 - (1 + gh), left};
    u->curves_r = (rect){1, left + 1, H - 2, W - left - 1};
    grid_panel_draw(u, u->grid_r);
    detail_panel_draw(u, u->detail_r);
    if (u->qk_open)
        qk_panel_draw(u, u->curves_r);
    else
        curves_panel_draw(u, u->curves_r);
    statusbar_draw(u, H - 1, W);
    if (u->help)
        help_draw(H, W);
    refresh();
    gfx_show(!u->help);
}

/* -- input */
static void move_cursor(ui *u, int dr, int dc)
{
    int r = u->cur_row + dr, c = u->cur_col + dc;
    if (r >= 0 && r < u->grid.rows)
        u->cur_row = r;
    if (c >= 0 && c < u->grid.cols)
        u->cur_col = c;
}

/* Returns 1 to quit. */
static int on_key(ui *u, int ch)
{
    if (u->help) {
        if (ch == 'q')
            return 1;
        if (ch == 27 || ch == '?')
            u->help = 0;
        if (ch != KEY_RESIZE)
            return 0;
    }
    switch (ch) {
    case 'q': return 1;
    case KEY_UP: case 'k': move_cursor(u, -1, 0); break;
    case KEY_DOWN: case 'j': move_cursor(u, 1, 0); break;
    case KEY_LEFT: case 'h': move_cursor(u, 0, -1); break;
    case KEY_RIGHT: case 'l': move_cursor(u, 0, 1); break;
    case ' ': {
        int i = u->cur_row * u->grid.cols + u->cur_col;
        u->selected[i] = !u->selected[i];
        break;
    }
    case 'u': memset(u->selected, 0, (size_t)(u->grid.rows * u->grid.cols)); break;
    case 'a': ablate_selected(u); break;
    case 'm':
        for (int k = 0; k < N_CYCLE; k++)
            if (metric_cycle[k] == u->metric) {
                u->metric = metric_cycle[(k + 1) % N_CYCLE];
                break;
            }
        if (u->metric != HC_DELTA_OC && !has(metric_cycle, N_CYCLE, u->metric))
            u->metric = HC_DELTA_OC;
        rebuild(u);
        break;
    case 'c': u->clip = !u->clip; break;
    case 'e': export_view(u); break;
    case '?': u->help = 1; break;
    case 'b': u->qk_open = !u->qk_open; break;
    case 'z': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
        curves_panel_key(u, ch);
        break;
    case 27:
        if (u->qk_open) {
            u->qk_open = 0;
        } else if (u->prog.busy || u->n_pending) {
            jobs_cancel(u->jobs);
            u->n_pending = 0;
            snprintf(u->msg, sizeof u->msg, "cancelled");
        }
        break;
    case KEY_RESIZE: clear(); break;
    case KEY_MOUSE: {
        MEVENT me;
        int r, c;
        if (getmouse(&me) == OK && grid_panel_hit(u, me.y, me.x, &r, &c)) {
            u->cur_row = r;
            u->cur_col = c;
        }
        break;
    }
    }
    if (u->qk_open)
        qk_request(u);
    return 0;
}

static int all_done(const hc_results *r)
{
    for (int b = 0; b < r->params.batches; b++)
        if (hc_shard_has(r->params.shard_index, r->params.shard_count, b) && !r->done[b])
            return 0;
    return 1;
}

int explorer_run(const explorer_opts *o)
{
    ui u = {.o = o, .metric = o->metric};
    u.sixel = o->graphics == EXPLORER_GRAPHICS_SIXEL ||
              (o->graphics == EXPLORER_GRAPHICS_AUTO && isatty(0) && isatty(1) && gfx_probe_sixel(500));
    if (jobs_start(&u.jobs, o->model, o->ds, &o->sweep, o->checkpoint, o->results->model.path)) {
        results_destroy(o->results);
        return -1;
    }
    int rc = 0;
    if (all_done(o->results)) {
        u.r = o->results;
        snprintf(u.msg, sizeof u.msg, "loaded from the cache");
    } else if ((u.r = hc_malloc(sizeof *u.r)) && !results_copy(u.r, o->results)) {
        rc = jobs_submit(u.jobs, JOB_SWEEP, "sweep", o->results);
    } else {
        free(u.r);
        u.r = NULL;
        results_destroy(o->results);
        rc = -1;
    }
    if (!rc && hc_grid_build(&u.grid, u.r, u.metric))
        rc = -1;
    size_t cells = (size_t)(u.grid.rows * u.grid.cols);
    if (!rc && (!(u.selected = hc_calloc(cells, 1)) || !(u.qk_state = hc_calloc(cells, 1)) ||
                !(u.qk = hc_calloc(cells, sizeof *u.qk))))
        rc = -1;
    if (rc) {
        jobs_stop(u.jobs);
        results_destroy(u.r);
        hc_grid_free(&u.grid);
        free(u.selected);
        free(u.qk_state);
        free(u.qk);
        return -1;
    }

    struct sigaction sa = {.sa_handler = on_signal}, old[3];
    const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &sa, &old[i]);
    start_curses();
    int dirty = 1;
    while (!got_signal) {
        job_event ev;
        while (jobs_poll(u.jobs, &ev)) {
            on_event(&u, &ev);
            dirty = 1;
        }
        job_progress p;
        jobs_progress(u.jobs, &p);
        if (memcmp(&p, &u.prog, sizeof p)) {
            u.prog = p;
            dirty = 1;
        }
        if (dirty)
            draw(&u);
        dirty = 0;
        int ch = getch();
        if (ch == ERR)
            continue;
        dirty = 1;
        if (on_key(&u, ch))
            break;
    }
    restore_terminal();
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &old[i], NULL);
    jobs_stop(u.jobs);
    free(u.six);
    free(u.grid_six);
    free(u.bar_six);
    free(u.selected);
    free(u.qk_state);
    free(u.qk);
    hc_grid_free(&u.grid);
    results_destroy(u.r);
    return 0;
}
