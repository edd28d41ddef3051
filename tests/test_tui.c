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

/* A tiny random model and a dozen sentences. */
static void fixture(session *s, const char *tag)
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
    snprintf(cmd, sizeof cmd, "%s synth --out '%s' --layers 2 --heads 2 --d-model 32 --n-ctx 64 --seed 5",
             th_headcal(), s->model);
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

/* Starts the explorer in a w x h tmux window; its exit status goes to
 * s->status. */
static void launch(session *s, int w, int h)
{
    char conf[4300], args[32000];
    snprintf(conf, sizeof conf, "%s/tmux.conf", s->dir);
    th_write_file(conf, "set -g default-terminal tmux-256color\n", 38);
    unlink(s->status);
    snprintf(args, sizeof args,
             "-f '%s' new-session -d -x %d -y %d \"HEADCAL_CACHE_DIR='%s' '%s' tui --model '%s' --data '%s' "
             "--graphics text --batch-size 3 --batches 3 --seq-len 24 --export-dir '%s'; echo \\$? > '%s'\"",
             conf, w, h, s->cache, th_headcal(), s->model, s->data, s->out, s->status);
    free(tmux(s, args));
    live = s;
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
             "%s '%s' \"$(ls '%s'/*.json)\" '%s/heatmap-relative-clipped.json' "
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
    snprintf(cmd, sizeof cmd, "%s", th_headcal());
    cr_expect_eq(th_run(cmd, NULL, &err), 2, "no arguments off a terminal: usage");
    free(err);
}
