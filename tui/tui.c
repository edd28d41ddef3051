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
#include <strings.h>
#include <wchar.h>

#include "graphics.h"
#include "headcal/error.h"
#include "headcal/clock.h"
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
    return n - (u->base_partial && n > 0);
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

static int start_curses(void)
{
    static int registered;
    if (!registered && atexit(restore_terminal) == 0)
        registered = 1;
    setlocale(LC_ALL, "");
    /* a direct-colour description that is missing or broken falls back
     * to TERM's own, quietly: the 256 colours still work */
    const char *direct = gfx_direct_term();
    if (!(direct && newterm(direct, stdout, stdin)) && !newterm(NULL, stdout, stdin)) {
        const char *term = getenv("TERM");
        return hc_fail(HC_EBAD, "TERM=%s: no such terminal description (terminfo)", term ? term : "");
    }
    def_prog_mode();
    curses_on = 1;
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    timeout(100);
    curs_set(0);
    set_escdelay(25);
    mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED, NULL);
    gfx_init();
    return 0;
}

/* -- state changes */
static void rebuild(ui *u)
{
    hc_grid_free(&u->grid);
    if (hc_grid_build(&u->grid, u->r, u->metric))
        snprintf(u->msg, sizeof u->msg, "%s", hc_errmsg());
}

/* The cache is a convenience: a failure is said once and work goes on. */
static void cache_trouble(ui *u)
{
    if (!u->cache_warned)
        snprintf(u->notice, sizeof u->notice, "cache off: %s", cache_reason(hc_errmsg()));
    u->cache_warned = 1;
    hc_clear_error();
}

/* Keeps what is shown in the cache, taking in the joint ablations other
 * explorers stored there. */
static void store(ui *u)
{
    if (!u->o->cache)
        return;
    int n = cache_store(u->o->cache, u->r, u->sets);
    if (n < 0) {
        cache_trouble(u);
    } else if (n > 0) {
        snprintf(u->msg, sizeof u->msg, "%d joint ablation%s from another explorer added", n, n > 1 ? "s" : "");
        u->version++;
        rebuild(u);
    }
}

/* What is shown: base with the joint ablations over its batches. */
static int compose(ui *u)
{
    hc_results *r = hc_malloc(sizeof *r);
    if (!r || results_copy(r, u->base)) {
        free(r);
        return -1;
    }
    for (int v = 0; v < u->sets->n_variants; v++)
        if (results_adopt(r, u->sets, v) < 0) {
            results_destroy(r);
            return -1;
        }
    results_destroy(u->r);
    u->r = r;
    u->version++;
    rebuild(u);
    return 0;
}

/* A partial snapshot is shown but never cached: the cache holds whole
 * batches only. */
static void show_base(ui *u, hc_results *base, int partial)
{
    results_destroy(u->base);
    u->base = base;
    u->base_partial = partial;
    if (compose(u))
        snprintf(u->msg, sizeof u->msg, "%s", hc_errmsg());
    else if (!partial)
        store(u);
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

static int cell_index(const ui *u, hc_component c)
{
    if (c.layer < 0 || c.layer >= u->grid.rows)
        return -1;
    if (c.head == HC_MLP)
        return u->grid.has_mlp ? c.layer * u->grid.cols + u->grid.cols - 1 : -1;
    return c.head >= 0 && c.head < u->grid.cols - u->grid.has_mlp ? c.layer * u->grid.cols + c.head : -1;
}

static void on_event(ui *u, job_event *ev)
{
    if (ev->kind == JOB_QK) {
        int i = cell_index(u, ev->c);
        int dropped = ev->type == JOB_STOPPED && (!strcmp(ev->msg, "cancelled") || strstr(ev->msg, "dropped"));
        if (i >= 0) {
            u->qk_state[i] = ev->type == JOB_DONE ? QK_DONE : dropped ? QK_NONE : QK_FAILED;
            if (ev->type == JOB_DONE)
                u->qk[i] = ev->qk;
        }
        if (ev->type != JOB_DONE)
            snprintf(u->msg, sizeof u->msg, "%s %s: %s", ev->label, dropped ? "stopped" : "unavailable", ev->msg);
        return;
    }
    if (ev->kind == JOB_SWEEP) {
        if (ev->r)
            show_base(u, ev->r, ev->type == JOB_SNAPSHOT && ev->partial);
        if (ev->type == JOB_DONE) {
            u->sweep_stopped = 0;
            snprintf(u->msg, sizeof u->msg, "sweep done");
        } else if (ev->type == JOB_STOPPED) {
            u->sweep_stopped = 1;
            snprintf(u->msg, sizeof u->msg, "sweep stopped (%s): showing %d of %d batches; s resumes", ev->msg,
                     ui_batches_done(u), u->r->params.batches);
        }
        return;
    }
    drop_pending(u, ev->label);
    if (ev->type == JOB_DONE) {
        if (results_adopt(u->sets, ev->r, ev->r->n_variants - 1) < 0 || compose(u))
            snprintf(u->msg, sizeof u->msg, "joint ablation %s: %s", ev->label, hc_errmsg());
        else
            snprintf(u->msg, sizeof u->msg, "joint ablation %s done", ev->label);
        store(u);
    } else {
        snprintf(u->msg, sizeof u->msg, "joint ablation %s stopped: %s", ev->label, ev->msg);
    }
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

/* Queues the joint ablation of m[0..n) unless it is known or coming. */
static void ablate(ui *u, const hc_component *m, int n)
{
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

/* `a`: the selected heads' joint ablation. */
static void ablate_selected(ui *u)
{
    hc_component m[256];
    int n = 0;
    for (int i = 0; i < u->grid.rows * u->grid.cols && n < 256; i++)
        if (u->selected[i])
            m[n++] = component_at(u, i);
    if (n < 2)
        snprintf(u->msg, sizeof u->msg, "select two or more heads with space, then press a");
    else
        ablate(u, m, n);
}

/* `s`: the stopped sweep goes on from the batches it has. */
static void resume_sweep(ui *u)
{
    if (!u->sweep_stopped) {
        snprintf(u->msg, sizeof u->msg, u->prog[LANE_SWEEP].busy ? "the sweep is running" : "nothing to resume");
        return;
    }
    hc_results *r = hc_malloc(sizeof *r);
    if (!r || results_copy(r, u->base)) {
        free(r);
        snprintf(u->msg, sizeof u->msg, "%s", hc_errmsg());
        return;
    }
    if (jobs_submit(u->jobs, JOB_SWEEP, "sweep", r)) {
        snprintf(u->msg, sizeof u->msg, "%s", hc_errmsg());
        return;
    }
    u->sweep_stopped = 0;
    snprintf(u->msg, sizeof u->msg, "sweep resumed at %d of %d batches", ui_batches_done(u), u->r->params.batches);
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

/* -- the ranked list */
int ui_cell_of(const ui *u, int v)
{
    for (int i = 0; i < u->grid.rows * u->grid.cols; i++)
        if (u->grid.variant[i] == v)
            return i;
    return -1;
}

/* Sort key: larger first, undefined last. */
static double rank_key(const ranked_entry *e, int sort)
{
    double k = sort == SESSION_SORT_VALUE ? e->value
               : sort == SESSION_SORT_ABS ? fabs(e->value)
                                           : fabs(e->value) / e->se;
    return isnan(k) ? -INFINITY : k;
}

static int rank_sort_by;
static int rank_cmp(const void *pa, const void *pb)
{
    const ranked_entry *a = pa, *b = pb;
    double ka = rank_key(a, rank_sort_by), kb = rank_key(b, rank_sort_by);
    if (ka != kb)
        return ka > kb ? -1 : 1;
    return a->variant - b->variant; /* forward-pass order among equals */
}

void ui_rank(ui *u)
{
    if (u->rank && u->rank_version == u->version && u->rank_metric == u->metric && u->rank_sort == u->sort)
        return;
    int keep = u->rank && u->rank_cur < u->n_rank ? u->rank[u->rank_cur].variant : -1;
    ranked_entry *e = hc_realloc(u->rank, (size_t)(u->r->n_variants + 1) * sizeof *e);
    if (!e)
        return;
    u->rank = e;
    u->n_rank = 0;
    for (int v = 0; v < u->r->n_variants; v++) {
        hc_metrics m;
        if (u->r->variants[v].kind == HC_VARIANT_BASELINE)
            continue;
        int ok = !hc_results_metrics(u->r, v, &m);
        e[u->n_rank++] = (ranked_entry){v, ok ? m.value[u->metric] : NAN, ok ? m.se[u->metric] : NAN};
    }
    hc_clear_error();
    rank_sort_by = u->sort;
    qsort(e, (size_t)u->n_rank, sizeof *e, rank_cmp);
    u->rank_version = u->version;
    u->rank_metric = u->metric;
    u->rank_sort = u->sort;
    u->rank_cur = 0;
    for (int i = 0; i < u->n_rank; i++)
        if (e[i].variant == keep)
            u->rank_cur = i;
    /* A new order scrolls from the top: the panel then shows the first
     * entries whenever the cursor's entry is among them, rather than
     * keeping the old order's scroll and hiding the best ones above it. */
    u->rank_top = 0;
}

/* The grid cursor follows the ranked list's cursor. */
static void rank_follow(ui *u)
{
    if (u->rank_cur < 0 || u->rank_cur >= u->n_rank)
        return;
    int i = ui_cell_of(u, u->rank[u->rank_cur].variant);
    if (i >= 0) {
        u->cur_row = i / u->grid.cols;
        u->cur_col = i % u->grid.cols;
    }
}

/* The ranked list's cursor onto the grid cursor's entry. */
static void rank_sync(ui *u)
{
    ui_rank(u);
    for (int k = 0; k < u->n_rank; k++)
        if (u->rank[k].variant == u->grid.variant[u->cur_row * u->grid.cols + u->cur_col])
            u->rank_cur = k;
}

/* Enter on a joint ablation selects its members. */
static void rank_enter(ui *u)
{
    ui_rank(u);
    if (u->rank_cur >= u->n_rank)
        return;
    const hc_variant *v = &u->r->variants[u->rank[u->rank_cur].variant];
    if (v->kind == HC_VARIANT_SET) {
        memset(u->selected, 0, (size_t)(u->grid.rows * u->grid.cols));
        for (int k = 0; k < v->n_members; k++) {
            int i = cell_index(u, v->members[k]);
            if (i >= 0)
                u->selected[i] = 1;
        }
        int i = cell_index(u, v->members[0]);
        if (i >= 0) {
            u->cur_row = i / u->grid.cols;
            u->cur_col = i % u->grid.cols;
        }
        snprintf(u->msg, sizeof u->msg, "selected the members of %s", v->id);
    } else {
        rank_follow(u);
    }
    u->focus = FOCUS_GRID;
}

static int rank_move(ui *u, int to)
{
    ui_rank(u);
    if (!u->n_rank)
        return 0;
    u->rank_cur = to < 0 ? 0 : to >= u->n_rank ? u->n_rank - 1 : to;
    rank_follow(u);
    return 1;
}

/* Case-insensitive search of the ranked list from entry `from` in
 * direction dir; 1 when found (the cursor is on it). */
static int rank_search(ui *u, int from, int dir)
{
    ui_rank(u);
    if (!*u->search)
        return 0;
    for (int k = 0; k < u->n_rank; k++) {
        int i = ((from + dir * k) % u->n_rank + u->n_rank) % u->n_rank;
        if (strcasestr(u->r->variants[u->rank[i].variant].id, u->search)) {
            rank_move(u, i);
            return 1;
        }
    }
    return 0;
}

/* `:` NAME: moves the cursor to a head or MLP (10.7, L10H7, MLP3), or
 * selects the members of a joint ablation (L0H1+L1H1). */
static void jump_to(ui *u, const char *name)
{
    hc_component c;
    int i;
    if (strchr(name, '+')) {
        int v = hc_results_find(u->r, name);
        for (int k = 0; v < 0 && k < u->r->n_variants; k++)
            if (!strcasecmp(u->r->variants[k].id, name))
                v = k;
        if (v < 0) {
            snprintf(u->msg, sizeof u->msg, "no joint ablation %s (select its heads and press a)", name);
            return;
        }
        ui_rank(u);
        for (int k = 0; k < u->n_rank; k++)
            if (u->rank[k].variant == v)
                u->rank_cur = k;
        rank_enter(u);
        return;
    }
    if (hc_component_parse(name, &c)) {
        snprintf(u->msg, sizeof u->msg, "'%s' is not a head (10.7 or L10H7) or an MLP (MLP3)", name);
        return;
    }
    if ((i = cell_index(u, c)) < 0) {
        if (c.head == HC_MLP && c.layer < u->grid.rows)
            snprintf(u->msg, sizeof u->msg, "%s: this analysis has no MLPs (headcal tui --mlp)", name);
        else
            snprintf(u->msg, sizeof u->msg, "%s: the model has %d layers of %d heads", name, u->grid.rows,
                     u->grid.cols - u->grid.has_mlp);
        return;
    }
    u->cur_row = i / u->grid.cols;
    u->cur_col = i % u->grid.cols;
    u->focus = FOCUS_GRID;
}

/* -- sessions */
static void session_apply(ui *u)
{
    explorer_session s;
    int rc = u->o->cache ? session_load(&s, u->o->cache->session) : 0;
    if (rc < 0)
        hc_clear_error();
    if (rc <= 0)
        return;
    for (int k = 0; k < N_CYCLE; k++)
        if (metric_cycle[k] == s.metric && s.metric != u->metric) {
            u->metric = s.metric;
            rebuild(u);
        }
    u->clip = s.clip;
    u->ranked_open = s.ranked;
    u->qk_open = s.qk;
    u->sort = s.sort;
    u->focus = s.ranked && s.focus_ranked ? FOCUS_RANKED : FOCUS_GRID;
    int i = cell_index(u, s.cursor);
    if (i >= 0) {
        u->cur_row = i / u->grid.cols;
        u->cur_col = i % u->grid.cols;
    }
    for (int k = 0; k < s.n_selected; k++)
        if ((i = cell_index(u, s.selected[k])) >= 0)
            u->selected[i] = 1;
    /* joint ablations the cache lost (it may have been unwritable) are computed again */
    for (int k = 0; k < s.n_sets; k++) {
        hc_component m[256];
        int n = 0;
        char copy[128], *rest = copy;
        snprintf(copy, sizeof copy, "%s", s.sets[k]);
        for (char *t; n < 256 && (t = strsep(&rest, "+"));)
            if (!hc_component_parse(t, &m[n]))
                n++;
        if (n >= 2 && hc_results_find(u->r, s.sets[k]) < 0)
            ablate(u, m, n);
    }
    rank_sync(u);
    size_t at = strlen(u->msg);
    snprintf(u->msg + at, sizeof u->msg - at, "%ssession restored", at ? "; " : "");
}

static void session_keep(ui *u)
{
    if (!u->o->cache)
        return;
    explorer_session s = {.metric = u->metric, .clip = u->clip, .ranked = u->ranked_open, .qk = u->qk_open,
                          .sort = u->sort, .focus_ranked = u->focus == FOCUS_RANKED,
                          .cursor = component_at(u, u->cur_row * u->grid.cols + u->cur_col)};
    for (int i = 0; i < u->grid.rows * u->grid.cols && s.n_selected < SESSION_MAX; i++)
        if (u->selected[i])
            s.selected[s.n_selected++] = component_at(u, i);
    for (int v = 0; v < u->r->n_variants && s.n_sets < SESSION_MAX; v++)
        if (u->r->variants[v].kind == HC_VARIANT_SET && strlen(u->r->variants[v].id) < sizeof s.sets[0])
            snprintf(s.sets[s.n_sets++], sizeof s.sets[0], "%s", u->r->variants[v].id);
    for (int k = 0; k < u->n_pending && s.n_sets < SESSION_MAX; k++)
        snprintf(s.sets[s.n_sets++], sizeof s.sets[0], "%s", u->pending[k]);
    if (session_save(&s, u->o->cache->session))
        hc_clear_error(); /* the terminal is gone: nowhere to say it, and nothing is lost but the view */
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
    char head[512];
    snprintf(head, sizeof head, " headcal explorer%s%s   metric: %s (m)   clip: %s (c)   ? help   q quit",
             u->o->results_file ? ": " : "", u->o->results_file ? u->o->results_file : "", ui_metric_label(u->metric),
             u->clip ? "on" : "off");
    attron(A_BOLD);
    ui_text(0, 0, W, head);
    attroff(A_BOLD);
    u->grid_r = (rect){1, 0, gh, left};
    u->detail_r = (rect){1 + gh + 1, 0, H - 2 - (1 + gh), left};
    u->curves_r = (rect){1, left + 1, H - 2, W - left - 1};
    u->ranked_r = (rect){0, 0, 0, 0};
    /* the ranked list beside the grid when there is room for the curves
     * too, else in the curves' place */
    if (u->ranked_open && W - left - 1 - RANKED_W - 1 >= 40) {
        u->ranked_r = (rect){1, left + 1, H - 2, RANKED_W};
        u->curves_r = (rect){1, left + 2 + RANKED_W, H - 2, W - left - 2 - RANKED_W};
    } else if (u->ranked_open && !u->qk_open) {
        u->ranked_r = u->curves_r;
    }
    int curves = !u->ranked_r.w || u->ranked_r.x != u->curves_r.x;
    /* a sixel image stays on the screen until the terminal repaints its
     * cells: when the panels move, repaint everything */
    int image = curves && !u->help && !u->qk_open && !u->ex.open;
    if (u->sixel && (memcmp(&u->image_r, &u->curves_r, sizeof u->image_r) || u->image_shown != image))
        clearok(curscr, TRUE);
    u->image_r = u->curves_r;
    u->image_shown = image;
    grid_panel_draw(u, u->grid_r);
    detail_panel_draw(u, u->detail_r);
    if (u->ranked_r.w)
        ranked_panel_draw(u, u->ranked_r);
    if (u->ex.open) /* context text wants width: the whole screen below the title when narrow */
        examples_panel_draw(u, u->curves_r.w >= 60 ? u->curves_r : (rect){1, 0, H - 2, W});
    else if (u->qk_open)
        qk_panel_draw(u, u->curves_r);
    else if (curves)
        curves_panel_draw(u, u->curves_r);
    statusbar_draw(u, H - 1, W);
    if (u->help)
        u->help_top = help_draw(H, W, u->help_top);
    refresh();
    /* the sixel images stay off while an overlay covers their cells */
    gfx_show(!u->help && !(u->ex.open && u->curves_r.w < 60));
}

/* -- input */
static void move_cursor(ui *u, int dr, int dc)
{
    int r = u->cur_row + dr, c = u->cur_col + dc;
    r = r < 0 ? 0 : r >= u->grid.rows ? u->grid.rows - 1 : r;
    if (c >= 0 && c < u->grid.cols)
        u->cur_col = c;
    u->cur_row = r;
}

/* Keys while the prompt is open; returns 1 when the key was taken. */
static void on_prompt_key(ui *u, int ch)
{
    size_t n = strlen(u->input);
    if (ch == 27) {
        u->prompt = 0;
    } else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
        int p = u->prompt;
        u->prompt = 0;
        if (p == ':' && n)
            jump_to(u, u->input);
        else if (p == '/' && n && !rank_search(u, u->rank_cur, 1))
            snprintf(u->msg, sizeof u->msg, "no component matches '%s'", u->search);
        else if (p == '/' && n)
            u->focus = FOCUS_RANKED;
    } else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
        if (!n)
            u->prompt = 0;
        else
            u->input[n - 1] = 0;
    } else if (ch >= 32 && ch < 127 && n + 1 < sizeof u->input) {
        u->input[n] = (char)ch;
        u->input[n + 1] = 0;
    }
    if (u->prompt == '/') {
        /* incremental: the first match from the top as the text grows */
        snprintf(u->search, sizeof u->search, "%s", u->input);
        rank_search(u, 0, 1);
    }
}

static void open_prompt(ui *u, int ch)
{
    u->prompt = ch;
    u->input[0] = 0;
    if (ch == '/' && !u->ranked_open) {
        u->ranked_open = 1;
        u->focus = FOCUS_RANKED;
    }
}

/* Esc: closes what is open, innermost first; with nothing open it
 * cancels the work in progress. */
static void on_escape(ui *u)
{
    if (u->qk_open) {
        u->qk_open = 0;
    } else if (u->ranked_open) {
        u->ranked_open = 0;
        u->focus = FOCUS_GRID;
    } else if (u->prog[LANE_SWEEP].busy || u->prog[LANE_ASK].busy || u->prog[LANE_SWEEP].queued ||
               u->n_pending) {
        jobs_cancel(u->jobs);
        snprintf(u->msg, sizeof u->msg, "cancelling...");
    }
}

/* Up, down, g/G, Home/End and the page keys, in the panel with the focus. */
static int on_move_key(ui *u, int ch)
{
    int page = u->focus == FOCUS_RANKED ? (u->ranked_r.h > 4 ? u->ranked_r.h - 3 : 1) : 8;
    int up = ch == KEY_UP || ch == 'k', down = ch == KEY_DOWN || ch == 'j';
    int top = ch == 'g' || ch == KEY_HOME, bottom = ch == 'G' || ch == KEY_END;
    int pgup = ch == KEY_PPAGE, pgdn = ch == KEY_NPAGE;
    if (!(up || down || top || bottom || pgup || pgdn))
        return 0;
    if (u->focus == FOCUS_RANKED) {
        ui_rank(u);
        int to = up ? u->rank_cur - 1 : down ? u->rank_cur + 1 : top ? 0 : bottom ? u->n_rank - 1
                 : pgup                                                          ? u->rank_cur - page
                                                                                 : u->rank_cur + page;
        rank_move(u, to);
        return 1;
    }
    if (top || bottom)
        u->cur_row = top ? 0 : u->grid.rows - 1;
    else
        move_cursor(u, up ? -1 : down ? 1 : pgup ? -page : page, 0);
    return 1;
}

/* Returns 1 to quit. */
static int on_key(ui *u, int ch)
{
    if (u->prompt && ch != KEY_RESIZE) {
        on_prompt_key(u, ch);
        return 0;
    }
    if (u->help) {
        if (ch == 'q')
            return 1;
        if (ch == 27 || ch == '?')
            u->help = 0;
        if (ch == 'j' || ch == KEY_DOWN || ch == KEY_NPAGE || ch == ' ')
            u->help_top += ch == 'j' || ch == KEY_DOWN ? 1 : 10;
        if ((ch == 'k' || ch == KEY_UP || ch == KEY_PPAGE) && u->help_top > 0)
            u->help_top -= ch == KEY_PPAGE ? (u->help_top < 10 ? u->help_top : 10) : 1;
        if (ch != KEY_RESIZE)
            return 0;
    }
    if (u->ex.open && examples_panel_key(u, ch))
        return 0;
    if (on_move_key(u, ch))
        goto done;
    switch (ch) {
    case 'q': return 1;
    case KEY_LEFT: case 'h': move_cursor(u, 0, -1); break;
    case KEY_RIGHT: case 'l': move_cursor(u, 0, 1); break;
    case ' ': {
        if (u->focus == FOCUS_RANKED)
            rank_follow(u);
        int i = u->cur_row * u->grid.cols + u->cur_col;
        u->selected[i] = !u->selected[i];
        break;
    }
    case '\n': case '\r': case KEY_ENTER:
        if (u->focus == FOCUS_RANKED)
            rank_enter(u);
        break;
    case '\t': case KEY_BTAB:
        if (u->focus == FOCUS_RANKED) {
            u->focus = FOCUS_GRID;
        } else {
            u->ranked_open = 1;
            u->focus = FOCUS_RANKED;
            rank_sync(u);
        }
        break;
    case 'r':
        u->ranked_open = !u->ranked_open;
        u->focus = u->ranked_open ? FOCUS_RANKED : FOCUS_GRID;
        if (u->ranked_open)
            rank_sync(u);
        break;
    case 'o':
        u->sort = (u->sort + 1) % SESSION_N_SORTS;
        snprintf(u->msg, sizeof u->msg, "ranked by %s", session_sort_names[u->sort]);
        break;
    case ':': case '/': open_prompt(u, ch); break;
    case 'n': case 'N':
        if (!rank_search(u, u->rank_cur + (ch == 'n' ? 1 : -1), ch == 'n' ? 1 : -1))
            snprintf(u->msg, sizeof u->msg, *u->search ? "no component matches '%s'" : "no search yet (/ searches)",
                     u->search);
        break;
    case 's': resume_sweep(u); break;
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
    case 'x': /* a full repaint: the curves' sixel image is not text curses can overwrite */
        u->ex.open = 1;
        clear();
        break;
    case 'z': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
        curves_panel_key(u, ch);
        break;
    case '?':
        u->help = 1;
        u->help_top = 0;
        break;
    case 'b': u->qk_open = !u->qk_open; break;
    case 27: on_escape(u); break;
    case KEY_RESIZE: clear(); break;
    case KEY_MOUSE: {
        MEVENT me;
        int r, c;
        if (getmouse(&me) != OK)
            break;
        if (grid_panel_hit(u, me.y, me.x, &r, &c)) {
            u->cur_row = r;
            u->cur_col = c;
            u->focus = FOCUS_GRID;
        } else if (u->ranked_open && me.x >= u->ranked_r.x && me.x < u->ranked_r.x + u->ranked_r.w &&
                   me.y >= u->ranked_r.y + 2 && me.y < u->ranked_r.y + u->ranked_r.h - 1) {
            /* an entry of the ranked list (its first two lines are titles) */
            u->focus = FOCUS_RANKED;
            rank_move(u, u->rank_top + me.y - u->ranked_r.y - 2);
        }
        break;
    }
    }
done:
    if (u->ranked_open && u->focus == FOCUS_GRID)
        rank_sync(u);
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

/* The container of the joint ablations asked for here: every batch. */
static hc_results *new_sets(const hc_results *r)
{
    hc_results *s = hc_malloc(sizeof *s);
    hc_results_params p = r->params;
    p.shard_index = 0;
    p.shard_count = 1;
    if (!s || hc_results_init(s, &r->model, &r->data, &p)) {
        free(s);
        return NULL;
    }
    memset(s->done, 1, (size_t)p.batches);
    return s;
}

static void ui_free(ui *u)
{
    jobs_stop(u->jobs);
    examples_panel_free(u);
    results_destroy(u->r);
    results_destroy(u->base);
    results_destroy(u->sets);
    hc_grid_free(&u->grid);
    free(u->six);
    free(u->grid_six);
    free(u->bar_six);
    free(u->rank);
    free(u->selected);
    free(u->qk_state);
    free(u->qk);
}

/* Everything before the first frame: the jobs, what is shown, and the
 * sweep when there is something left to compute. */
static int ui_start(ui *u, const explorer_opts *o)
{
    hc_results *given = o->results;
    if (jobs_start(&u->jobs, o->model, o->ds, &o->sweep, given->model.path, o->no_model)) {
        results_destroy(given);
        return -1;
    }
    u->base = given;
    if (!(u->sets = new_sets(given)) || compose(u))
        return -1;
    size_t cells = (size_t)(u->grid.rows * u->grid.cols);
    if (!(u->selected = hc_calloc(cells, 1)) || !(u->qk_state = hc_calloc(cells, 1)) ||
        !(u->qk = hc_calloc(cells, sizeof *u->qk)))
        return -1;
    if (o->notice)
        snprintf(u->notice, sizeof u->notice, "%s", o->notice);
    int done = ui_batches_done(u), total = u->r->params.batches;
    if (all_done(given)) {
        snprintf(u->msg, sizeof u->msg, o->results_file ? "opened %s" : "loaded from the cache",
                 o->results_file ? o->results_file : "");
    } else if (o->results_file || !o->model) {
        /* a file is shown as it is; what it lacks is computed on request */
        u->sweep_stopped = o->model != NULL;
        snprintf(u->msg, sizeof u->msg, "%d of %d batches%s", done, total,
                 o->model ? "; s computes the rest" : "");
    } else {
        hc_results *r = hc_malloc(sizeof *r);
        if (!r || results_copy(r, given)) {
            free(r);
            return -1;
        }
        if (jobs_submit(u->jobs, JOB_SWEEP, "sweep", r))
            return -1;
    }
    session_apply(u);
    return 0;
}

int explorer_run(const explorer_opts *o)
{
    ui u = {.o = o, .metric = o->metric};
    u.sixel = o->graphics == EXPLORER_GRAPHICS_SIXEL ||
              (o->graphics == EXPLORER_GRAPHICS_AUTO && isatty(0) && isatty(1) && gfx_probe_sixel(500));
    if (ui_start(&u, o)) {
        ui_free(&u);
        return -1;
    }

    struct sigaction sa = {.sa_handler = on_signal}, old[3];
    const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &sa, &old[i]);
    if (start_curses()) {
        for (int i = 0; i < 3; i++)
            sigaction(sigs[i], &old[i], NULL);
        ui_free(&u);
        return -1;
    }
    int dirty = 1;
    double last_tick = 0;
    while (!got_signal) {
        job_event ev;
        while (jobs_poll(u.jobs, &ev)) {
            on_event(&u, &ev);
            dirty = 1;
        }
        for (int l = 0; l < N_LANES; l++) {
            job_progress p;
            jobs_progress(u.jobs, l, &p);
            if (memcmp(&p, &u.prog[l], sizeof p)) {
                u.prog[l] = p;
                dirty = 1;
            }
        }
        /* the ETA and elapsed time change by themselves */
        if ((u.prog[LANE_SWEEP].busy || u.prog[LANE_ASK].busy) && hc_seconds() - last_tick >= 1) {
            last_tick = hc_seconds();
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
    session_keep(&u);
    ui_free(&u);
    return 0;
}
