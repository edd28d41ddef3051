/* The examples panel (x): for the cursor's component, the positions where
 * removing it changed the prediction most, with the text before each
 * position, the position's token highlighted, and the top tokens before
 * and after.  Enter shows the selected example's whole sequence. */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "headcal/error.h"
#include "ui.h"

/* The order Tab walks the lists: what the component does first. */
static const int list_order[HC_EX_LISTS] = {HC_EX_LOGPROB_DOWN, HC_EX_LOGPROB_UP, HC_EX_CONF_DOWN, HC_EX_CONF_UP};
static const char *const list_title[HC_EX_LISTS] = {
    [HC_EX_LOGPROB_UP] = "log p(next) rises when removed", [HC_EX_LOGPROB_DOWN] = "log p(next) falls when removed",
    [HC_EX_CONF_UP] = "top-1 p rises when removed", [HC_EX_CONF_DOWN] = "top-1 p falls when removed"};

/* Decoded tokens as one printable line (newlines and other controls
 * escaped, ill-formed UTF-8 replaced); malloc'd.  cut as for
 * hc_put_tokens_text. */
static char *tokens_text(const hc_tokenizer *tk, const int32_t *ids, size_t n, int cut)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    hc_put_tokens_text(f, tk, ids, n, cut);
    fclose(f);
    return buf;
}

/* Columns s takes on screen (one per character; -1 when s is not text in
 * this locale). */
static int width_of(const char *s)
{
    size_t n = mbstowcs(NULL, s, 0);
    return n == (size_t)-1 ? -1 : (int)n;
}

/* The last w characters of s at (y, x). */
static void text_tail(int y, int x, int w, const char *s)
{
    wchar_t buf[4096];
    size_t n = mbstowcs(buf, s, sizeof buf / sizeof buf[0] - 1);
    if (n == (size_t)-1 || w <= 0)
        return;
    size_t from = n > (size_t)w ? n - (size_t)w : 0;
    mvaddnwstr(y, x, buf + from, (int)(n - from));
}

static const hc_example_list *current_list(const ui *u, const char **id)
{
    int v = u->grid.variant[u->cur_row * u->grid.cols + u->cur_col];
    if (v < 0)
        return NULL;
    *id = u->r->variants[v].id;
    return &u->r->variants[v].examples.list[list_order[u->ex.list]];
}

/* One example on one line: context tail, the token highlighted, then the
 * next token with its probability before -> after. */
static void draw_row(const ui *u, int y, int x, int w, const hc_example *e, const hc_batch *bt, int selected)
{
    const int32_t *row = bt->tokens + (size_t)e->row * bt->cols;
    const hc_tokenizer *tk = u->ex.tk;
    int ctx_from = e->pos > 64 ? e->pos - 64 : 0;
    char *ctx = tokens_text(tk, row + ctx_from, (size_t)(e->pos - ctx_from), ctx_from > 0);
    char *tok = tokens_text(tk, row + e->pos, 1, 0), *next = tokens_text(tk, &e->target, 1, 0);
    char tail[256], lead[64];
    int list = list_order[u->ex.list];
    snprintf(lead, sizeof lead, "%c%+7.3f ", selected ? '>' : ' ', hc_example_delta(e, list));
    snprintf(tail, sizeof tail, " \u2192 \"%s\" %.3f\u2192%.3f", next ? next : "", list < HC_EX_CONF_UP ? exp(e->lp_before) : e->p_before[0],
             list < HC_EX_CONF_UP ? exp(e->lp_after) : e->p_after[0]);
    int wl = width_of(lead), wt = width_of(tail), wk = tok ? width_of(tok) : -1;
    if (selected)
        attron(A_BOLD);
    ui_text(y, x, w, lead);
    int room = w - wl - wt - (wk > 0 ? wk : 0);
    if (ctx && room > 0)
        text_tail(y, x + wl, room, ctx);
    int at = x + wl + (ctx && room > 0 && width_of(ctx) < room ? width_of(ctx) : room > 0 ? room : 0);
    if (tok && wk > 0 && at + wk <= x + w) {
        attron(A_REVERSE);
        ui_text(y, at, wk, tok);
        attroff(A_REVERSE);
        at += wk;
    }
    if (wt > 0)
        ui_text(y, at, x + w - at, tail);
    if (selected)
        attroff(A_BOLD);
    free(ctx);
    free(tok);
    free(next);
}

/* Top tokens before and after of the selected example, one side a line. */
static void draw_top(const ui *u, int y, int x, int w, const hc_example *e)
{
    for (int side = 0; side < 2; side++) {
        char line[512];
        int at = snprintf(line, sizeof line, "%s", side ? "after   " : "before  ");
        for (int j = 0; j < e->k && at < (int)sizeof line - 64; j++) {
            int32_t id = side ? e->id_after[j] : e->id_before[j];
            char *t = tokens_text(u->ex.tk, &id, 1, 0);
            at += snprintf(line + at, sizeof line - (size_t)at, "%s\"%.24s\" %.3f", j ? "  " : "", t ? t : "",
                           side ? e->p_after[j] : e->p_before[j]);
            free(t);
        }
        ui_text(y + side, x, w, line);
    }
}

/* The whole sequence up to the position, wrapped, the token highlighted,
 * then what came next. */
static void draw_full(const ui *u, rect r, const hc_example *e, const hc_batch *bt)
{
    const int32_t *row = bt->tokens + (size_t)e->row * bt->cols;
    char *ctx = tokens_text(u->ex.tk, row, (size_t)e->pos, 0), *tok = tokens_text(u->ex.tk, row + e->pos, 1, 0);
    char *after = tokens_text(u->ex.tk, row + e->pos + 1, (size_t)(bt->lens[e->row] - e->pos - 1), 0);
    wchar_t buf[16384];
    int y = r.y, x = r.x, parts = 3;
    const char *part[3] = {ctx, tok, after};
    for (int p = 0; p < parts && y < r.y + r.h; p++) {
        size_t n = part[p] ? mbstowcs(buf, part[p], sizeof buf / sizeof buf[0] - 1) : (size_t)-1;
        if (n == (size_t)-1)
            continue;
        if (p == 1)
            attron(A_REVERSE | A_BOLD);
        if (p == 2)
            attron(A_DIM);
        for (size_t i = 0; i < n && y < r.y + r.h; i++) {
            mvaddnwstr(y, x, buf + i, 1);
            if (++x >= r.x + r.w) {
                x = r.x;
                y++;
            }
        }
        attroff(A_REVERSE | A_BOLD | A_DIM);
    }
    free(ctx);
    free(tok);
    free(after);
}

void examples_panel_draw(ui *u, rect r)
{
    const char *id = "";
    const hc_example_list *l = current_list(u, &id);
    char line[512];
    int list = list_order[u->ex.list];
    /* over the grid on narrow screens: nothing of it may show through */
    for (int y = r.y; y < r.y + r.h; y++)
        mvprintw(y, r.x, "%*s", r.w, "");
    snprintf(line, sizeof line, "%s examples: %s  [Tab \u2191\u2193 Enter Esc]", id, list_title[list]);
    attron(A_BOLD);
    ui_text(r.y, r.x, r.w, line);
    attroff(A_BOLD);
    if (!u->r->params.examples) {
        ui_text(r.y + 2, r.x, r.w, "This run kept no examples (run it with --examples N).");
        return;
    }
    if (!l || !l->len) {
        ui_text(r.y + 2, r.x, r.w, "none in the batches done so far (Tab: the other lists)");
        return;
    }
    if (!u->ex.tk && !u->ex.tk_failed && hc_tokenizer_load_dir(&u->ex.tk, u->r->model.path))
        u->ex.tk_failed = 1;
    if (!u->ex.tk) {
        snprintf(line, sizeof line, "cannot show text: %s", hc_errmsg());
        ui_text(r.y + 2, r.x, r.w, line);
        return;
    }
    if (u->ex.sel >= l->len)
        u->ex.sel = l->len - 1;
    const hc_example *cur = &l->v[u->ex.sel];
    hc_batch bt;
    snprintf(line, sizeof line, "#%d/%d  batch %d row %d pos %d  log p(next) %.3f\u2192%.3f  top-1 %.3f\u2192%.3f",
             u->ex.sel + 1, l->len, cur->batch, cur->row, cur->pos, cur->lp_before, cur->lp_after, cur->p_before[0],
             cur->p_after[0]);
    ui_text(r.y + 1, r.x, r.w, line);
    if (u->ex.full) {
        ui_text(r.y + 2, r.x, r.w, "the whole sequence: the position's token highlighted, then what followed (dim)");
        if (!hc_dataset_batch(u->o->ds, cur->batch, &bt)) {
            draw_full(u, (rect){r.y + 4, r.x, r.h - 4, r.w}, cur, &bt);
            hc_batch_free(&bt);
        }
        return;
    }
    draw_top(u, r.y + 2, r.x, r.w, cur);
    int top = r.y + 5, rows = r.h - 5;
    if (rows < 1)
        return;
    if (u->ex.sel < u->ex.scroll)
        u->ex.scroll = u->ex.sel;
    if (u->ex.sel >= u->ex.scroll + rows)
        u->ex.scroll = u->ex.sel - rows + 1;
    for (int i = u->ex.scroll; i < l->len && i < u->ex.scroll + rows; i++) {
        if (hc_dataset_batch(u->o->ds, l->v[i].batch, &bt))
            break;
        draw_row(u, top + i - u->ex.scroll, r.x, r.w, &l->v[i], &bt, i == u->ex.sel);
        hc_batch_free(&bt);
    }
}

int examples_panel_key(ui *u, int ch)
{
    const char *id;
    const hc_example_list *l = current_list(u, &id);
    int n = l ? l->len : 0;
    switch (ch) {
    case 'x': case 27:
        if (u->ex.full && ch == 27) {
            u->ex.full = 0;
        } else {
            u->ex.open = 0;
            clear(); /* the curves come back as a fresh image */
        }
        return 1;
    case '\t': u->ex.list = (u->ex.list + 1) % HC_EX_LISTS; u->ex.sel = u->ex.scroll = 0; u->ex.full = 0; return 1;
    case KEY_UP: case 'k': u->ex.sel -= u->ex.sel > 0; return 1;
    case KEY_DOWN: case 'j': u->ex.sel += u->ex.sel + 1 < n; return 1;
    case KEY_PPAGE: u->ex.sel = u->ex.sel > 10 ? u->ex.sel - 10 : 0; return 1;
    case KEY_NPAGE: u->ex.sel = u->ex.sel + 10 < n ? u->ex.sel + 10 : (n ? n - 1 : 0); return 1;
    case '\n': case '\r': case KEY_ENTER: u->ex.full = !u->ex.full && n > 0; return 1;
    case KEY_LEFT: case KEY_RIGHT: case 'h': case 'l':
        /* another component: its examples from the top */
        u->ex.sel = u->ex.scroll = 0;
        u->ex.full = 0;
        return 0;
    }
    return 0;
}

void examples_panel_free(ui *u)
{
    hc_tokenizer_free(u->ex.tk);
    u->ex.tk = NULL;
}
