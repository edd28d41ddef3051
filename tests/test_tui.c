/* The explorer end to end: driven through tmux in text mode (what a user
 * sees, captured as text), and on a pseudo-terminal for sixel output and
 * the DA1 probe (tests/tui_pty.py).  Every wait polls with a deadline. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

typedef struct {
    char dir[4200], model[4300], data[4300], cache[4300], out[4300], status[4300], sock[64];
} session;

/* A small random model of layers x heads and a dozen sentences. */
static void fixture_sized(session *s, const char *tag, int layers, int heads)
{
    char *dir = th_tmpdir(tag), cmd[9000], *err = NULL;
    cr_assert(dir);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    free(dir);
    snprintf(s->model, sizeof s->model, "%s/model", s->dir);
    snprintf(s->data, sizeof s->data, "%s/eval.jsonl", s->dir);
    snprintf(s->cache, sizeof s->cache, "%s/cache", s->dir);
    snprintf(s->out, sizeof s->out, "%s/export", s->dir);
    snprintf(s->status, sizeof s->status, "%s/status", s->dir);
    snprintf(s->sock, sizeof s->sock, "headcal-test-%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "%s synth --out '%s' --layers %d --heads %d --d-model 32 --n-ctx 64 --seed 5",
             th_headcal(), s->model, layers, heads);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "synth: %s", err);
    free(err);
    const char *text = "{\"text\": \"The cat sat on the mat and looked out of the window at the rain.\"}\n"
                       "{\"text\": \"When Mary and John went to the store, John gave a drink to Mary.\"}\n"
                       "{\"text\": \"Calibration asks whether a model's confidence matches its accuracy.\"}\n"
                       "{\"text\": \"Attention heads move information between positions in a sequence.\"}\n"
                       "{\"text\": \"The quick brown fox jumps over the lazy dog again and again.\"}\n"
                       "{\"text\": \"A results file holds per-batch counts so shards merge exactly.\"}\n";
    FILE *f = fopen(s->data, "w");
    cr_assert(f);
    for (int i = 0; i < 2; i++)
        fputs(text, f);
    fclose(f);
}

/* Two layers of two heads: fast, and small enough for any layout. */
static void fixture(session *s, const char *tag) { fixture_sized(s, tag, 2, 2); }

static char *tmux(const session *s, const char *args)
{
    char cmd[40000], *out = NULL;
    snprintf(cmd, sizeof cmd, "tmux -L %s %s", s->sock, args);
    th_run(cmd, &out, NULL);
    return out;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The screen once it shows want (NULL after the deadline). */
static char *wait_for(const session *s, const char *want, double seconds)
{
    for (double end = now() + seconds; now() < end; usleep(100000)) {
        char *screen = tmux(s, "capture-pane -p -t 0");
        if (strstr(screen, want))
            return screen;
        free(screen);
    }
    return NULL;
}

static void expect(const session *s, const char *want)
{
    char *screen = wait_for(s, want, 60);
    if (!screen) {
        char *last = tmux(s, "capture-pane -p -t 0");
        cr_assert_fail("the screen never showed '%s':\n%s", want, last);
    }
    free(screen);
}

static void expect_gone(const session *s, const char *text)
{
    for (double end = now() + 20; now() < end; usleep(100000)) {
        char *screen = tmux(s, "capture-pane -p -t 0");
        int gone = !strstr(screen, text);
        free(screen);
        if (gone)
            return;
    }
    cr_assert_fail("'%s' stayed on the screen", text);
}

static void keys(const session *s, const char *k)
{
    char args[256];
    snprintf(args, sizeof args, "send-keys -t 0 %s", k);
    free(tmux(s, args));
}

/* The session a test has running: a failed assertion ends the test
 * before it can stop it, so .fini does. */
static const session *live;

/* Starts `headcal WORDS` in a w x h tmux window, with env before it (the
 * cache is s->cache unless env says otherwise); its exit status goes to
 * s->status. */
static void launch_words(session *s, int w, int h, const char *env, const char *words)
{
    char conf[4300], cmd[32000];
    snprintf(conf, sizeof conf, "%s/tmux.conf", s->dir);
    th_write_file(conf, "set -g default-terminal tmux-256color\n", 38);
    unlink(s->status);
    snprintf(cmd, sizeof cmd,
             "-f '%s' new-session -d -x %d -y %d \"HEADCAL_CACHE_DIR='%s' %s '%s' %s; echo \\$? > '%s'\"", conf, w,
             h, s->cache, env, th_headcal(), words, s->status);
    free(tmux(s, cmd));
    live = s;
}

/* `headcal tui ARGS`, as launch_words. */
static void launch_args(session *s, int w, int h, const char *env, const char *args)
{
    char words[30000];
    snprintf(words, sizeof words, "tui %s", args);
    launch_words(s, w, h, env, words);
}

/* The run options every test uses, with the fixture's model and data. */
static void run_args(const session *s, char *out, size_t n, const char *more)
{
    int len = snprintf(out, n, "--model '%s' --data '%s' --batch-size 3 --batches 3 --seq-len 24 %s", s->model,
                       s->data, more);
    cr_assert(len >= 0 && (size_t)len < n);
}

/* Starts the explorer on the fixture in a w x h tmux window. */
static void launch(session *s, int w, int h)
{
    char args[12000], more[4400];
    snprintf(more, sizeof more, "--graphics text --export-dir '%s'", s->out);
    run_args(s, args, sizeof args, more);
    launch_args(s, w, h, "", args);
}

/* The explorer's exit status once it has quit. */
static int exit_status(const session *s)
{
    for (double end = now() + 20; now() < end; usleep(100000)) {
        FILE *f = fopen(s->status, "r");
        int st = -1;
        if (f && fscanf(f, "%d", &st) == 1) {
            fclose(f);
            return st;
        }
        if (f)
            fclose(f);
    }
    return -1;
}

static void stop(const session *s)
{
    free(tmux(s, "kill-server"));
    live = NULL;
}

static void teardown(void)
{
    if (live)
        stop(live);
}

static int exists(const char *dir, const char *name)
{
    char p[8000];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, R_OK) == 0;
}

Test(tui, explore_select_ablate_export_quit, .timeout = 240, .fini = teardown)
{
    session s;
    fixture(&s, "tui");
    launch(&s, 140, 45);
    expect(&s, "Layer x head");
    expect(&s, "tokens scored");
    expect(&s, "sweep done");
    expect(&s, "L0H0 (layer 0, head 0)");

    keys(&s, "'?'");
    expect(&s, "ablate the selected heads jointly");
    keys(&s, "Escape");
    expect_gone(&s, "ablate the selected heads jointly");

    keys(&s, "j");
    expect(&s, "L1H0 (layer 1, head 0)");
    keys(&s, "Right");
    expect(&s, "L1H1 (layer 1, head 1)");
    keys(&s, "Space");
    expect(&s, "selected   L1H1");
    keys(&s, "k");
    keys(&s, "Space");
    expect(&s, "selected   L0H1 L1H1");
    keys(&s, "Space");
    expect(&s, "selected   L1H1");
    keys(&s, "Space");
    expect(&s, "selected   L0H1 L1H1");

    keys(&s, "a");
    expect(&s, "joint ablation L0H1+L1H1 done");
    expect(&s, "joint      L0H1+L1H1  \u0394OC");

    keys(&s, "m");
    expect(&s, "metric: relative");
    keys(&s, "c");
    expect(&s, "clip: on");
    keys(&s, "e");
    expect(&s, "exported heatmap and curves");
    const char *files[] = {"heatmap-relative-clipped.png", "heatmap-relative-clipped.svg",
                           "heatmap-relative-clipped.json", "heatmap-relative-clipped.csv",
                           "curves-baseline_L0H1_L1H1_L0H1+L1H1.png", "curves-baseline_L0H1_L1H1_L0H1+L1H1.svg",
                           "curves-baseline_L0H1_L1H1_L0H1+L1H1.json", "curves-baseline_L0H1_L1H1_L0H1+L1H1.csv"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        cr_expect(exists(s.out, files[i]), "%s was not exported", files[i]);

    /* the QK panel of the cursor's head shows what `headcal qk` computes */
    keys(&s, "b");
    expect(&s, "Bag-of-words QK of L0H1");
    char qcmd[9000], *qout = NULL, want[64];
    snprintf(qcmd, sizeof qcmd, "%s qk --model '%s' --head 0.1 --format json", th_headcal(), s.model);
    cr_assert_eq(th_run(qcmd, &qout, NULL), 0);
    const char *at = strstr(qout, "\"scores\":[[");
    double first;
    cr_assert(at && sscanf(at + 11, "%lf", &first) == 1, "%s", qout);
    snprintf(want, sizeof want, " %.4f ", first);
    free(qout);
    expect(&s, want);
    keys(&s, "Escape");
    expect_gone(&s, "Bag-of-words QK");

    keys(&s, "q");
    cr_expect_eq(exit_status(&s), 0, "q did not exit 0");
    stop(&s);

    /* the exported numbers against numpy, from the cache's counts */
    char cmd[30000], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd,
             "%s '%s' \"$(ls '%s'/*.json | grep -v '[.]session[.]json$')\" '%s/heatmap-relative-clipped.json' "
             "'%s/curves-baseline_L0H1_L1H1_L0H1+L1H1.json' '%s/heatmap-relative-clipped.png' "
             "'%s/curves-baseline_L0H1_L1H1_L0H1+L1H1.png'",
             TEST_PYTHON, th_src("tests/tui_export_check.py"), s.cache, s.out, s.out, s.out, s.out);
    cr_expect_eq(th_run(cmd, &out, &err), 0, "%s%s", out, err);
    cr_expect(strstr(out, "ok 4 cells 4 series"), "%s", out);
    free(out);
    free(err);

    /* reopening the same analysis comes from the cache, joint ablation too */
    launch(&s, 140, 45);
    expect(&s, "loaded from the cache");
    expect(&s, "joint      L0H1+L1H1");
    keys(&s, "C-c");
    cr_expect_eq(exit_status(&s), 0, "Ctrl-C did not exit 0");
    stop(&s);
}

/* `headcal` with no arguments, as the README's first command runs it
 * after the plain autotools build: the bundled model (6 layers) on its
 * held-out set in 39 batches, whose first batch the grid shows while the
 * rest are swept. */
Test(tui, no_arguments_open_the_bundled_default, .timeout = 240, .fini = teardown)
{
    session s;
    fixture(&s, "tui-default");
    launch_words(&s, 132, 43, "", "");
    char *screen = wait_for(&s, "tokens scored", 60);
    cr_assert(screen, "the default's first tokens never came");
    cr_expect(strstr(screen, "model default") && strstr(screen, "data eval.jsonl"), "%s", screen);
    cr_expect(strstr(screen, "L5 ") && !strstr(screen, "L6 "), "not the 6-layer bundled model:\n%s", screen);
    free(screen);
    screen = wait_for(&s, "/39", 60);
    if (!screen) /* a fast machine may have swept all 39 batches already */
        screen = wait_for(&s, "sweep done", 1);
    cr_expect(screen, "neither a batch count of 39 nor a finished sweep");
    free(screen);
    keys(&s, "q");
    cr_expect_eq(exit_status(&s), 0);
    stop(&s);
}

Test(tui, too_small_says_so, .timeout = 120, .fini = teardown)
{
    session s;
    fixture(&s, "tui-small");
    launch(&s, 20, 10);
    expect(&s, "terminal too small");
    keys(&s, "q");
    cr_expect_eq(exit_status(&s), 0);
    stop(&s);
}

/* Whether the cursor's opening bracket on the grid row that starts with
 * label is drawn bold, in a capture with escape sequences (capture-pane
 * -e): an SGR 1 after the label and before the bracket; −1 where there is
 * no such row or bracket.  Not inlined: gcc 12 then takes the capture for
 * a pointer to tmux()'s local and warns of a dangling pointer. */
__attribute__((noinline)) static int cursor_bold(const char *screen, const char *label)
{
    const char *row = strstr(screen, label);
    if (!row)
        return -1;
    size_t at = strlen(label);
    while (row[at] && row[at] != '\n' && !(row[at] == '[' && row[at - 1] != '\033'))
        at++;
    if (row[at] != '[')
        return -1;
    int bold = 0;
    for (size_t i = 0; i + 4 <= at; i++)
        bold |= !memcmp(row + i, "\033[1m", 4);
    return bold;
}

/* The explorer in TERM=term: its cursor brackets are bold or not. */
static void cursor_case(const char *term, int bold)
{
    session s;
    fixture(&s, "tui-ink");
    char env[64], args[9000];
    snprintf(env, sizeof env, "TERM=%s", term);
    run_args(&s, args, sizeof args, "--graphics text");
    launch_args(&s, 100, 30, env, args);
    expect(&s, "L0H0 (layer 0, head 0)");
    char *screen = tmux(&s, "capture-pane -e -p -t 0");
    cr_expect_eq(cursor_bold(screen, "L0 "), bold, "TERM=%s:\n%s", term, screen);
    free(screen);
    keys(&s, "q");
    cr_expect_eq(exit_status(&s), 0);
    stop(&s);
}

/* xterm turns bold black into grey in eight colours, so the cursor
 * brackets stay plain there; with more colours they are bold. */
Test(tui, cursor_brackets_bold_only_where_black_stays_black, .timeout = 120, .fini = teardown)
{
    cursor_case("xterm", 0);
    cursor_case("xterm-256color", 1);
}

static void pty_case(const char *mode, const char *graphics)
{
    session s;
    fixture(&s, "tui-pty");
    char cmd[20000], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd,
             "HEADCAL_CACHE_DIR='%s' TERM=xterm-256color %s %s %s %s tui --model '%s' --data '%s' --batch-size 3 "
             "--batches 2 --seq-len 24 %s",
             s.cache, TEST_PYTHON, th_src("tests/tui_pty.py"), mode, th_headcal(), s.model, s.data, graphics);
    cr_expect_eq(th_run(cmd, &out, &err), 0, "%s: %s%s", mode, out, err);
    cr_expect(strstr(out, "ok"), "%s: %s", mode, out);
    free(out);
    free(err);
}

Test(tui, sixel_mode_draws_sixel_images, .timeout = 120)
{
    pty_case("sixel", "--graphics sixel");
}

Test(tui, da1_probe_decides_between_sixel_and_half_blocks, .timeout = 120)
{
    pty_case("da1-sixel", "");
    pty_case("da1-text", "");
}

Test(tui, needs_a_terminal_and_valid_options)
{
    char cmd[8000], *err = NULL;
    snprintf(cmd, sizeof cmd, "%s tui --graphics sixel", th_headcal());
    cr_expect_eq(th_run(cmd, NULL, &err), 2);
    cr_expect(strstr(err, "needs a terminal"), "%s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "%s tui --graphics fancy", th_headcal());
    cr_expect_eq(th_run(cmd, NULL, &err), 2);
    cr_expect(strstr(err, "--graphics"), "%s", err);
    free(err);
    static const char *const bad_counts[] = {"-3", "lots", "20x", "5000000000"};
    for (size_t i = 0; i < sizeof bad_counts / sizeof bad_counts[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s tui --min-count %s", th_headcal(), bad_counts[i]);
        cr_expect_eq(th_run(cmd, NULL, &err), 2, "--min-count %s", bad_counts[i]);
        cr_expect(strstr(err, "--min-count") && strchr(err, '\n') == err + strlen(err) - 1, "%s", err);
        free(err);
    }
    snprintf(cmd, sizeof cmd, "%s", th_headcal());
    cr_expect_eq(th_run(cmd, NULL, &err), 2, "no arguments off a terminal: usage");
    free(err);
}

/* ---------------------------------------------------------------- a research loop */

/* The current screen written to s->dir/NAME, for the Python checks. */
static void save_screen(const session *s, const char *name, char *path, size_t n)
{
    char *screen = tmux(s, "capture-pane -p -t 0");
    snprintf(path, n, "%s/%s", s->dir, name);
    cr_assert_eq(th_write_file(path, screen, strlen(screen)), 0);
    free(screen);
}

/* The analysis in cache directory dir (the one results file there). */
static void cached_results(const char *dir, char *path, size_t n)
{
    char cmd[9000], *out = NULL;
    snprintf(cmd, sizeof cmd, "ls '%s'/*.json | grep -v '\\.session\\.json$'", dir);
    cr_assert_eq(th_run(cmd, &out, NULL), 0, "no results in %s", dir);
    out[strcspn(out, "\n")] = 0;
    snprintf(path, n, "%s", out);
    free(out);
}

static void python_ok(const char *script, const char *args, const char *want)
{
    char cmd[40000], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "%s '%s' %s", TEST_PYTHON, th_src(script), args);
    cr_expect_eq(th_run(cmd, &out, &err), 0, "%s %s: %s%s", script, args, out, err);
    cr_expect(strstr(out, want), "%s: %s", script, out);
    free(out);
    free(err);
}

static void headcal_ok(const char *env, const char *command, const char *args)
{
    char cmd[40000], *err = NULL;
    snprintf(cmd, sizeof cmd, "%s '%s' %s %s", env, th_headcal(), command, args);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "headcal %s: %s", args, err);
    free(err);
}

/* The curves the explorer exports with --min-count N: the histogram's bars
 * of bins under N predictions are pale (tests/tui_min_count_check.py
 * counts them from the cache's counts), the default 20 and a larger N. */
Test(tui, min_count_reaches_the_exported_curves, .timeout = 240, .fini = teardown)
{
    session s;
    fixture(&s, "tui-mincount");
    static const char *const counts[] = {NULL, "200"};
    for (int i = 0; i < 2; i++) {
        char args[12000], more[4500], svg[4400], results[4400], check[9000];
        snprintf(more, sizeof more, "--graphics text --export-dir '%s-%d'%s%s", s.out, i,
                 counts[i] ? " --min-count " : "", counts[i] ? counts[i] : "");
        run_args(&s, args, sizeof args, more);
        launch_args(&s, 140, 45, "", args);
        expect(&s, i ? "loaded from the cache" : "sweep done");
        keys(&s, "e");
        expect(&s, "exported heatmap and curves");
        keys(&s, "q");
        cr_expect_eq(exit_status(&s), 0);
        stop(&s);
        snprintf(svg, sizeof svg, "%s-%d/curves-baseline_L0H0.svg", s.out, i);
        cached_results(s.cache, results, sizeof results);
        snprintf(check, sizeof check, "'%s' '%s' %s", svg, results, counts[i] ? counts[i] : "20");
        python_ok("tests/tui_min_count_check.py", check, "ok ");
    }
}

/* The ranked list on the screen against numpy's order of the results file. */
static void check_ranked(const session *s, const char *results, const char *metric, const char *order)
{
    char shot[4400], args[9000];
    save_screen(s, "ranked.txt", shot, sizeof shot);
    snprintf(args, sizeof args, "'%s' '%s' %s %s", results, shot, metric, order);
    python_ok("tests/tui_rank_check.py", args, "ok ");
}

Test(tui, jump_by_name_and_ranked_list, .timeout = 240, .fini = teardown)
{
    session s;
    fixture(&s, "tui-rank");
    launch(&s, 132, 43);
    expect(&s, "sweep done");
    keys(&s, ": 1 . 1 Enter");
    expect(&s, "L1H1 (layer 1, head 1)");
    keys(&s, ": L 0 H 1 Enter");
    expect(&s, "L0H1 (layer 0, head 1)");
    keys(&s, ": M L P 0 Enter");
    expect(&s, "this analysis has no MLPs");
    keys(&s, ": L 9 H 0 Enter");
    expect(&s, "the model has 2 layers of 2 heads");

    char results[4400];
    cached_results(s.cache, results, sizeof results);
    keys(&s, "r");
    expect(&s, "Ranked by \u0394OC: value (o)");
    check_ranked(&s, results, "delta_oc", "value");
    keys(&s, "o");
    expect(&s, ": |value| (o)");
    check_ranked(&s, results, "delta_oc", "abs");
    keys(&s, "o");
    expect(&s, ": |value|/SE (o)");
    check_ranked(&s, results, "delta_oc", "signif");
    keys(&s, "m");
    expect(&s, "Ranked by relative");
    check_ranked(&s, results, "relative", "signif");

    /* the list's cursor moves the grid's; Enter goes back to the grid */
    keys(&s, "G");
    keys(&s, "g Enter");
    keys(&s, "/ L 1 H 1 Enter");
    expect(&s, "L1H1 (layer 1, head 1)");
    keys(&s, "Escape");
    expect_gone(&s, "Ranked by");
    keys(&s, "q");
    cr_expect_eq(exit_status(&s), 0);
    stop(&s);
}

/* A new order (o) or metric (m) lists from entry 1 whenever the cursor's
 * entry is on the first page: with the cursor last (G) the list was
 * scrolled to its end, and keeping that scroll hid the best entries above
 * the cursor's.  32 heads at 80 x 24 make a list longer than its panel. */
Test(tui, a_new_order_lists_from_the_top, .timeout = 240, .fini = teardown)
{
    session s;
    fixture_sized(&s, "tui-rank-view", 4, 8);
    launch(&s, 80, 24);
    expect(&s, "sweep done");
    keys(&s, "r");
    expect(&s, "Ranked by \u0394OC: value (o)");
    static const struct {
        const char *key, *want;
    } steps[] = {{"o", "\u0394OC: |value| (o)"},    {"o", "\u0394OC: |value|/SE (o)"}, {"m", "relative: |value|/SE"},
                 {"o", "relative: value (o)"},     {"m", "paper sign: value (o)"},   {"o", "paper sign: |value| (o)"},
                 {"m", "\u0394ECE: |value| (o)"}, {"o", "\u0394ECE: |value|/SE"}, {"m", "\u0394NLL: |value|/SE"},
                 {"o", "\u0394NLL: value (o)"}};
    int on_first_page = 0;
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        char shot[4400], *out = NULL, *err = NULL, cmd[9000];
        keys(&s, "G");
        keys(&s, steps[i].key);
        expect(&s, steps[i].want);
        save_screen(&s, "ranked.txt", shot, sizeof shot);
        snprintf(cmd, sizeof cmd, "%s '%s' '%s'", TEST_PYTHON, th_src("tests/tui_rank_view.py"), shot);
        cr_expect_eq(th_run(cmd, &out, &err), 0, "after %s: %s%s", steps[i].want, out, err);
        on_first_page += out && strstr(out, "ok page") != NULL;
        free(out);
        free(err);
    }
    /* the case that was wrong happened at least once */
    cr_expect_gt(on_first_page, 0);
    keys(&s, "q");
    cr_expect_eq(exit_status(&s), 0);
    stop(&s);
}

Test(tui, opens_results_of_run_and_merge, .timeout = 300, .fini = teardown)
{
    session s;
    fixture(&s, "tui-open");
    char args[12000], file[4400], env[4400], more[9000];
    /* another cache: the file, not a cached copy, is what is shown */
    snprintf(env, sizeof env, "HEADCAL_CACHE_DIR='%s/run-cache'", s.dir);
    snprintf(more, sizeof more, "--out '%s/run.json'", s.dir);
    run_args(&s, args, sizeof args, more);
    headcal_ok(env, "run", args);
    snprintf(file, sizeof file, "%s/run.json", s.dir);

    snprintf(args, sizeof args, "--graphics text '%s'", file);
    launch_args(&s, 132, 43, "", args);
    expect(&s, "opened ");
    expect(&s, "Layer x head: \u0394OC");
    keys(&s, "r");
    check_ranked(&s, file, "delta_oc", "value");
    /* what the file lacks comes from the model it names */
    keys(&s, "Escape : 0 . 0 Enter Space : 1 . 1 Enter Space a");
    expect(&s, "joint ablation L0H0+L1H1 done");
    keys(&s, "b");
    expect(&s, "self-attention score");
    keys(&s, "q");
    cr_expect_eq(exit_status(&s), 0);
    stop(&s);

    /* two shards merged */
    for (int i = 0; i < 2; i++) {
        snprintf(more, sizeof more, "--shard %d/2 --out '%s/shard%d.json'", i, s.dir, i);
        run_args(&s, args, sizeof args, more);
        headcal_ok(env, "run", args);
    }
    cr_assert(snprintf(args, sizeof args, "--out '%s/merged.json' '%s/shard0.json' '%s/shard1.json'", s.dir,
                       s.dir, s.dir) < (int)sizeof args);
    headcal_ok("", "merge", args);
    snprintf(file, sizeof file, "%s/merged.json", s.dir);
    snprintf(args, sizeof args, "--graphics text --results '%s'", file);
    snprintf(env, sizeof env, "HEADCAL_CACHE_DIR='%s/merge-cache'", s.dir);
    launch_args(&s, 132, 43, env, args);
    expect(&s, "opened ");
    keys(&s, "r o o");
    expect(&s, ": |value|/SE (o)");
    check_ranked(&s, file, "delta_oc", "signif");
    keys(&s, "q");
    cr_expect_eq(exit_status(&s), 0);
    stop(&s);

    /* without its model the file still opens; QK panels say why not */
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "mv '%s' '%s.gone'", s.model, s.model);
    cr_assert_eq(th_run(cmd, NULL, NULL), 0);
    snprintf(env, sizeof env, "HEADCAL_CACHE_DIR='%s/nomodel-cache'", s.dir);
    launch_args(&s, 132, 43, env, args);
    expect(&s, "opened ");
    keys(&s, "b");
    expect(&s, "needs the model");
    keys(&s, "q");
    cr_expect_eq(exit_status(&s), 0);
    stop(&s);
}

Test(tui, run_then_tui_opens_from_the_cache, .timeout = 240, .fini = teardown)
{
    session s;
    fixture(&s, "tui-runcache");
    char args[12000], env[4400], more[4400];
    snprintf(env, sizeof env, "HEADCAL_CACHE_DIR='%s'", s.cache);
    snprintf(more, sizeof more, "--out '%s/run.json'", s.dir);
    run_args(&s, args, sizeof args, more);
    headcal_ok(env, "run", args);
    launch(&s, 132, 43);
    expect(&s, "loaded from the cache");
    keys(&s, "q");
    cr_expect_eq(exit_status(&s), 0);
    stop(&s);
}

/* A sweep long enough to work beside: the tiny model on many IOI batches. */
static void launch_long(session *s, int batches)
{
    char args[12000];
    snprintf(args, sizeof args, "--model '%s' --data ioi --batch-size 8 --batches %d --seq-len 24 --graphics text",
             s->model, batches);
    launch_args(s, 132, 43, "", args);
}

Test(tui, qk_panel_during_the_sweep, .timeout = 300, .fini = teardown)
{
    session s;
    fixture(&s, "tui-qk");
    launch_long(&s, 400);
    expect(&s, "/400 batches");
    keys(&s, "b");
    char *screen = wait_for(&s, "self-attention score", 60);
    cr_assert(screen, "the QK panel never came");
    cr_expect(strstr(screen, "/400 batches") && !strstr(screen, "sweep done"),
              "the QK panel waited for the sweep:\n%s", screen);
    free(screen);
    keys(&s, "q");
    cr_expect_eq(exit_status(&s), 0);
    stop(&s);
}

Test(tui, cancel_then_resume_gives_the_uninterrupted_counts, .timeout = 300, .fini = teardown)
{
    session s;
    fixture(&s, "tui-resume");
    launch_long(&s, 60);
    expect(&s, "/60 batches");
    /* Esc closes what is open first: the ranked list, not the sweep */
    keys(&s, "r");
    expect(&s, "Ranked by");
    keys(&s, "Escape");
    expect_gone(&s, "Ranked by");
    char *screen = tmux(&s, "capture-pane -p -t 0");
    cr_expect(!strstr(screen, "sweep stopped") && strstr(screen, "/60 batches"), "Esc stopped the sweep:\n%s",
              screen);
    free(screen);
    keys(&s, "Escape");
    expect(&s, "sweep stopped (cancelled)");
    expect(&s, "s resumes");
    keys(&s, "s");
    expect(&s, "sweep resumed");
    expect(&s, "sweep done");
    keys(&s, "q");
    cr_expect_eq(exit_status(&s), 0);
    stop(&s);

    char args[12000], env[4400], cached[4400], cmd[20000];
    snprintf(env, sizeof env, "HEADCAL_CACHE_DIR='%s/ref-cache'", s.dir);
    snprintf(args, sizeof args, "--model '%s' --data ioi --batch-size 8 --batches 60 --seq-len 24 --out '%s/ref.json'",
             s.model, s.dir);
    headcal_ok(env, "run", args);
    cached_results(s.cache, cached, sizeof cached);
    snprintf(cmd, sizeof cmd,
             "%s -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:]); "
             "ids=lambda r: {v[\"id\"]: v[\"per_batch\"] for v in r[\"variants\"]}; "
             "assert a[\"completed_batches\"] == b[\"completed_batches\"]; assert ids(a) == ids(b); print(\"same\")' "
             "'%s' '%s/ref.json'",
             TEST_PYTHON, cached, s.dir);
    char *out = NULL, *err = NULL;
    cr_expect_eq(th_run(cmd, &out, &err), 0, "%s%s", out, err);
    cr_expect(strstr(out, "same"), "%s", out);
    free(out);
    free(err);
}

Test(tui, session_restored_after_restart, .timeout = 240, .fini = teardown)
{
    session s;
    fixture(&s, "tui-session");
    launch(&s, 132, 43);
    expect(&s, "sweep done");
    keys(&s, "j Space l Space a");
    expect(&s, "joint ablation L1H0+L1H1 done");
    keys(&s, "u k Space m r");
    expect(&s, "Ranked by relative");
    keys(&s, "q");
    cr_expect_eq(exit_status(&s), 0);
    stop(&s);

    launch(&s, 132, 43);
    expect(&s, "session restored");
    expect(&s, "metric: relative");
    expect(&s, "selected   L0H1");
    expect(&s, "Ranked by relative");
    expect(&s, "joint      L1H0+L1H1");
    keys(&s, "q");
    cr_expect_eq(exit_status(&s), 0);
    stop(&s);
}

/* The status bar says "cache off" once, and the sweep still completes. */
static void expect_cache_off(session *s)
{
    launch(s, 132, 43);
    expect(s, "sweep done");
    char *screen = tmux(s, "capture-pane -p -t 0");
    const char *at = strstr(screen, "cache off: ");
    cr_expect(at && !strstr(at + 1, "cache off"), "one cache warning expected:\n%s", screen);
    free(screen);
    keys(s, "q");
    cr_expect_eq(exit_status(s), 0);
    stop(s);
}

Test(tui, unusable_cache_still_computes, .timeout = 240, .fini = teardown)
{
    session s;
    fixture(&s, "tui-nocache");
    /* the cache directory is a file */
    cr_assert_eq(th_write_file(s.cache, "x", 1), 0);
    expect_cache_off(&s);
    /* the cache entry cannot be read or replaced (a directory in its place) */
    unlink(s.cache);
    launch(&s, 132, 43);
    expect(&s, "sweep done");
    keys(&s, "q");
    cr_assert_eq(exit_status(&s), 0);
    stop(&s);
    char entry[4400], cmd[9000];
    cached_results(s.cache, entry, sizeof entry);
    cr_assert(snprintf(cmd, sizeof cmd, "rm '%s' && mkdir '%s' && chmod 0 '%s'", entry, entry, entry) <
              (int)sizeof cmd);
    cr_assert_eq(th_run(cmd, NULL, NULL), 0);
    expect_cache_off(&s);
}

Test(tui, small_data_uses_what_there_is, .timeout = 240, .fini = teardown)
{
    session s;
    fixture(&s, "tui-smalldata");
    char args[12000], cmd[20000], *err = NULL;
    snprintf(args, sizeof args, "--model '%s' --data '%s' --batch-size 8 --batches 4 --seq-len 24 --graphics text",
             s.model, s.data);
    launch_args(&s, 132, 43, "", args);
    expect(&s, "small data: 4 batches of 3 (asked for 4 of 8)");
    expect(&s, "sweep done");
    keys(&s, "q");
    cr_expect_eq(exit_status(&s), 0);
    stop(&s);
    /* run still refuses, naming what would fit */
    snprintf(cmd, sizeof cmd, "%s run --model '%s' --data '%s' --batch-size 8 --batches 4 --seq-len 24 --out '%s/x.json'",
             th_headcal(), s.model, s.data, s.dir);
    cr_expect_eq(th_run(cmd, NULL, &err), 1);
    cr_expect(strstr(err, "have 12") && strstr(err, "--batches 1 or --batch-size 3 would fit"), "%s", err);
    free(err);
}

Test(tui, explorers_sharing_a_cache_merge_their_joint_ablations, .timeout = 300, .fini = teardown)
{
    session a, b;
    fixture(&a, "tui-shared");
    launch(&a, 132, 43);
    expect(&a, "sweep done");
    b = a;
    snprintf(b.sock, sizeof b.sock, "headcal-test-%d-b", (int)getpid());
    snprintf(b.status, sizeof b.status, "%s/status-b", a.dir);
    launch(&b, 132, 43);
    expect(&b, "loaded from the cache");
    keys(&b, "Space l Space a");
    expect(&b, "joint ablation L0H0+L0H1 done");
    keys(&a, "j Space l Space a");
    expect(&a, "joint ablation from another explorer added");
    expect(&a, "joint      L0H0+L0H1");
    expect(&a, "joint      L1H0+L1H1");
    keys(&b, "q");
    cr_expect_eq(exit_status(&b), 0);
    stop(&b);
    live = &a;
    keys(&a, "q");
    cr_expect_eq(exit_status(&a), 0);
    stop(&a);
    char results[4400], *text;
    cached_results(a.cache, results, sizeof results);
    text = th_read(results);
    cr_expect(text && strstr(text, "\"L0H0+L0H1\"") && strstr(text, "\"L1H0+L1H1\""), "both sets in the cache");
    free(text);
}

/* The session an explorer left in the fixture's cache. */
static char *session_text(const session *s)
{
    char cmd[9000], *out = NULL;
    snprintf(cmd, sizeof cmd, "cat '%s'/*.session.json", s->cache);
    cr_assert_eq(th_run(cmd, &out, NULL), 0, "no session in %s", s->cache);
    return out;
}

Test(tui, mouse_clicks_on_the_grid_and_the_ranked_list, .timeout = 240)
{
    session s;
    fixture(&s, "tui-mouse");
    char cmd[20000], *out = NULL, *err = NULL;
    /* the 2 x 2 grid's cells are 4 columns wide from column 5, from row 3;
     * the ranked list starts at column 47, its first entry on row 3 */
    const char *modes[] = {"mouse:10:4:", "mouse:55:3:r"};
    const char *want[] = {"\"cursor\":\t\"L1H1\"", "\"focus\":\t\"ranked\""};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd,
                 "HEADCAL_CACHE_DIR='%s' TERM=xterm-256color %s %s '%s' %s tui --model '%s' --data '%s' "
                 "--batch-size 3 --batches 2 --seq-len 24 --graphics text",
                 s.cache, TEST_PYTHON, th_src("tests/tui_pty.py"), modes[i], th_headcal(), s.model, s.data);
        cr_expect_eq(th_run(cmd, &out, &err), 0, "%s: %s%s", modes[i], out, err);
        free(out);
        free(err);
        char *text = session_text(&s);
        cr_expect(strstr(text, want[i]), "%s: %s", modes[i], text);
        free(text);
    }
}
