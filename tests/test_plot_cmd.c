/* headcal plot end to end: a results file from `headcal run`, drawn as
 * PNG (decoded by tests/plot_check.py with zlib alone), SVG (parsed as
 * XML) and sixel, and every usage error. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static char dir[4200], results[4300];

/* A run on a tiny synth model: every head and one joint ablation. */
static void make_results(void)
{
    char *d = th_tmpdir("plotcmd"), cmd[20000], *err = NULL;
    cr_assert(d);
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
    snprintf(results, sizeof results, "%s/r.json", dir);
    char data[4300];
    snprintf(data, sizeof data, "%s/d.jsonl", dir);
    const char *text = "{\"text\": \"one two three four five six seven eight nine ten eleven twelve\"}\n"
                       "{\"text\": \"When Mary and John went to the store, John gave a drink to Mary.\"}\n";
    th_write_file(data, text, strlen(text));
    snprintf(cmd, sizeof cmd,
             "%s synth --out '%s/m' --layers 2 --heads 2 --d-model 32 --n-ctx 64 --seed 2 && "
             "%s run --model '%s/m' --data '%s' --batch-size 1 --batches 2 --seq-len 16 --sets L0H0+L1H1 "
             "--quiet --out '%s'",
             th_headcal(), dir, th_headcal(), dir, data, results);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "%s", err);
    free(err);
}

static char *run_ok(const char *args)
{
    char cmd[20000], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "cd '%s' && %s plot %s", dir, th_headcal(), args);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "plot %s: %s", args, err);
    free(err);
    return out;
}

static char *python(const char *code, const char *file)
{
    char cmd[20000], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "cd '%s' && %s -c \"import sys; sys.path.insert(0, '%s'); %s\" '%s'", dir,
             TEST_PYTHON, th_src("tests"), code, file);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    free(err);
    return out;
}

Test(plot_cmd, png_svg_and_sixel_from_a_results_file, .timeout = 120)
{
    make_results();
    free(run_ok("r.json --kind heatmap --format png -o h.png"));
    char *dims = python("import plot_check; w, h, _ = plot_check.decode_png(sys.argv[1]); print(w, h)", "h.png");
    cr_expect_str_eq(dims, "800 600\n");
    free(dims);
    free(run_ok("r.json --kind curves --heads 0.1,L1H0,L0H0+L1H1 --format png --width 400 --height 300 -o c.png"));
    dims = python("import plot_check; w, h, _ = plot_check.decode_png(sys.argv[1]); print(w, h)", "c.png");
    cr_expect_str_eq(dims, "400 300\n");
    free(dims);

    free(run_ok("r.json --kind curves --heads L0H0+L1H1 --metric paper --format svg -o c.svg"));
    char cmd[20000], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "%s %s svg '%s/c.svg'", TEST_PYTHON, th_src("tests/plot_check.py"), dir);
    cr_expect_eq(th_run(cmd, &out, &err), 0, "%s", err);
    cr_expect(!strncmp(out, "800 600\n", 8), "%s", out);
    cr_expect(!strstr(out, "\nglyphs 0\n"), "the curves have words: %s", out);
    free(out);
    free(err);

    free(run_ok("r.json --kind heatmap --format pdf --width 640 --height 480 -o h.pdf"));
    snprintf(cmd, sizeof cmd, "%s %s pdf '%s/h.pdf'", TEST_PYTHON, th_src("tests/plot_check.py"), dir);
    cr_expect_eq(th_run(cmd, &out, &err), 0, "%s", err);
    cr_expect_str_eq(out, "pages 1 mediabox 640.0 480.0\n");
    free(out);
    free(err);

    char *six = run_ok("r.json --kind heatmap --metric delta_ece --clip --format sixel");
    size_t n = strlen(six);
    cr_expect(n > 100 && !strncmp(six, "\033P", 2) && strchr(six, 'q'), "not a sixel image");
    cr_expect(n > 2 && !strcmp(six + n - 2, "\033\\"), "the sixel image is not terminated");
    free(six);
}

Test(plot_cmd, usage_and_input_errors, .timeout = 120)
{
    make_results();
    static const struct {
        const char *args;
        int status;
        const char *says;
    } bad[] = {
        {"r.json --format png -o x.png", 2, "--kind"},
        {"r.json --kind pie --format png -o x.png", 2, "--kind"},
        {"r.json --kind heatmap --format gif -o x.png", 2, "--format"},
        {"r.json --kind heatmap --format png", 2, "-o FILE"},
        {"r.json --kind heatmap --metric nonsense --format svg -o x.svg", 2, "nonsense"},
        {"r.json --kind heatmap --heads 0.1 --format png -o x.png", 2, "--heads applies to --kind curves"},
        {"r.json --kind curves --heads L9H9 --format svg -o x.svg", 2, "L9H9"},
        {"r.json --kind curves --heads banana --format svg -o x.svg", 2, "banana"},
        {"r.json --kind heatmap --width 10 --format png -o x.png", 2, "--width"},
        {"missing.json --kind heatmap --format png -o x.png", 1, "missing.json"},
        {"--kind heatmap --format png -o x.png", 2, "usage"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cmd[20000], *err = NULL;
        snprintf(cmd, sizeof cmd, "cd '%s' && %s plot %s", dir, th_headcal(), bad[i].args);
        cr_expect_eq(th_run(cmd, NULL, &err), bad[i].status, "%s: %s", bad[i].args, err);
        cr_expect(strstr(err, bad[i].says) && !strncmp(err, "headcal: ", 9), "%s: '%s'", bad[i].args, err);
        free(err);
    }
    char cmd[20000];
    snprintf(cmd, sizeof cmd, "test ! -e '%s/x.png' && test ! -e '%s/x.svg'", dir, dir);
    cr_expect_eq(th_run(cmd, NULL, NULL), 0, "a failed plot left a file behind");
}
