/* The explorer's pictures in real terminal setups: its panels fit at every
 * size from the smallest upward in tmux, whatever colours the TERM has
 * (tests/tui_layout.py) and in the colours the terminal takes
 * (tests/tui_colours.py), and no sixel image it sends is larger than the
 * terminal says it can show, on a pseudo-terminal that answers the
 * probes (tests/tui_pty_sixel.py). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static char dir[4200], explorer[20000];

/* A tiny random model (2 layers x 2 heads, MLPs too) and a few sentences;
 * explorer is the command line that opens them. */
static void fixture(void)
{
    char *d = th_tmpdir("tuipics"), cmd[9000], *err = NULL;
    cr_assert(d);
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
    snprintf(cmd, sizeof cmd, "%s synth --out '%s/model' --layers 2 --heads 2 --d-model 32 --n-ctx 64 --seed 5",
             th_headcal(), dir);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "synth: %s", err);
    free(err);
    char data[4300];
    snprintf(data, sizeof data, "%s/eval.jsonl", dir);
    const char *text = "{\"text\": \"The cat sat on the mat and looked out of the window at the rain.\"}\n"
                       "{\"text\": \"When Mary and John went to the store, John gave a drink to Mary.\"}\n"
                       "{\"text\": \"Attention heads move information between positions in a sequence.\"}\n";
    cr_assert_eq(th_write_file(data, text, strlen(text)), 0);
    snprintf(explorer, sizeof explorer,
             "env HEADCAL_CACHE_DIR='%s/cache' '%s' tui --model '%s/model' --data '%s' --batch-size 1 --batches 2 "
             "--seq-len 24 --mlp",
             dir, th_headcal(), dir, data);
}

/* Runs a checker script, in the environment env (NAME=VALUE..., or ""),
 * with the explorer's command line appended. */
static void check_in(const char *env, const char *script, const char *args, const char *want)
{
    char cmd[30000], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "env %s %s %s %s %s", env, TEST_PYTHON, th_src(script), args, explorer);
    int rc = th_run(cmd, &out, &err);
    cr_expect(rc == 0 && strstr(out, want), "%s %s %s: %s%s", env, script, args, out, err);
    free(out);
    free(err);
}

static void check(const char *script, const char *args, const char *want)
{
    check_in("", script, args, want);
}

Test(tui_pictures, panels_fit_from_the_smallest_size_up, .timeout = 600)
{
    fixture();
    static const char *const sizes[] = {"54 21", "80 24", "100 30", "250 70"};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char args[64];
        snprintf(args, sizeof args, "%s xterm-256color", sizes[i]);
        check("tests/tui_layout.py", args, "ok");
    }
}

Test(tui_pictures, eight_colours_and_monochrome_read, .timeout = 300)
{
    fixture();
    check("tests/tui_layout.py", "80 24 xterm", "ok");
    check("tests/tui_layout.py", "80 24 vt100", "ok");
    /* a TERM of fewer colours, or NO_COLOR, wins over COLORTERM */
    check_in("COLORTERM=truecolor", "tests/tui_layout.py", "80 24 xterm", "ok");
    check_in("COLORTERM=truecolor NO_COLOR=1", "tests/tui_layout.py", "80 24 xterm-256color", "ok");
}

/* COLORTERM=truecolor (or 24bit) with a 256-colour TERM: the heatmap in
 * 24-bit colours, each cell the diverging map's colour of its value as
 * tests/tui_colours.py computes it; without COLORTERM the nearest of the
 * 256-colour palette. */
Test(tui_pictures, truecolor_from_colorterm, .timeout = 300)
{
    fixture();
    char args[4400];
    snprintf(args, sizeof args, "xterm-256color truecolor '%s/cache'", dir);
    check("tests/tui_colours.py", args, "ok direct 6 cells");
    snprintf(args, sizeof args, "tmux-256color 24bit '%s/cache'", dir);
    check("tests/tui_colours.py", args, "ok direct 6 cells");
    snprintf(args, sizeof args, "xterm-256color - '%s/cache'", dir);
    check("tests/tui_colours.py", args, "ok 256 6 cells");
}

Test(tui_pictures, no_image_exceeds_the_terminal_limit, .timeout = 300)
{
    fixture();
    /* 250 x 70 cells of 10 x 20 pixels would ask for 2500-pixel images */
    check("tests/tui_pty_sixel.py", "1000 1000 250 70", "ok");
    /* a limit too small for the curves: they fall back to text and the
     * status bar says why */
    check("tests/tui_pty_sixel.py", "150 100 120 40", "fallback to text");
}
