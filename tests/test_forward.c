/* The forward pass against an independent float64 numpy implementation
 * (tests/ref_gpt2.py) on synth checkpoints of several shapes and dtypes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static double compare(const char *tag, const char *synth_args, const char *ids, int bos)
{
    char *dir = th_tmpdir(tag);
    char cmd[8192];
    char *out, *err;
    snprintf(cmd, sizeof cmd, "%s synth --out %s/m %s", th_headcal(), dir, synth_args);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "synth failed: %s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "%s logits --model %s/m --tokens '%s' %s --out %s/l.npy", th_headcal(), dir, ids,
             bos ? "" : "--no-bos", dir);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "logits failed: %s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "%s %s %s/m %s/l.npy %s %s", TEST_PYTHON, th_src("tests/ref_gpt2.py"), dir, dir,
             bos ? "50256" : "", ids);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "reference failed: %s", err);
    double d = strtod(out, NULL);
    free(out);
    free(err);
    free(dir);
    return d;
}

Test(forward, matches_numpy_reference_f32, .timeout = 120)
{
    double d = compare("f32", "--layers 2 --heads 4 --d-model 64 --n-ctx 32 --seed 1", "464 2068 7586 21831 18045 625 262", 1);
    cr_assert_leq(d, 1e-3, "max |dlogit| %g", d);
}

Test(forward, matches_numpy_reference_other_shapes, .timeout = 120)
{
    double d = compare("shape1", "--layers 1 --heads 1 --d-model 8 --n-ctx 16 --seed 2", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15", 0);
    cr_assert_leq(d, 1e-3, "1 layer 1 head: %g", d);
    d = compare("shape2", "--layers 5 --heads 3 --d-model 48 --d-mlp 100 --n-ctx 20 --seed 3 --prefix --lm-head --extras",
                "50256 50255 0 17 198 262 11", 1);
    cr_assert_leq(d, 1e-3, "5 layers 3 heads, prefix, untied head: %g", d);
}

Test(forward, matches_numpy_reference_f16_bf16, .timeout = 120)
{
    double d = compare("f16", "--layers 2 --heads 2 --d-model 32 --n-ctx 16 --dtype f16 --seed 4", "464 2068 7586 21831", 1);
    cr_assert_leq(d, 1e-3, "f16: %g", d);
    d = compare("bf16", "--layers 2 --heads 2 --d-model 32 --n-ctx 16 --dtype bf16 --seed 5", "464 2068 7586 21831", 1);
    cr_assert_leq(d, 1e-3, "bf16: %g", d);
}

Test(forward, logits_of_text_are_those_of_its_tokens, .timeout = 60)
{
    char *dir = th_tmpdir("text");
    char cmd[8192], *err, *out;
    snprintf(cmd, sizeof cmd, "%s synth --out %s/m --layers 1 --heads 2 --d-model 16 --n-ctx 16", th_headcal(), dir);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "%s", err);
    free(err);
    /* GPT-2's tokenizer: "Hello world" is 15496 995; BOS first, so 3 rows */
    snprintf(cmd, sizeof cmd,
             "%s logits --model %s/m --text 'Hello world' --out %s/a.npy && "
             "%s logits --model %s/m --tokens '15496 995' --out %s/b.npy && cmp %s/a.npy %s/b.npy && "
             "%s -c 'import numpy; print(numpy.load(\"%s/a.npy\").shape)'",
             th_headcal(), dir, dir, th_headcal(), dir, dir, dir, dir, TEST_PYTHON, dir);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    cr_assert_str_eq(out, "(3, 50257)\n");
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd, "%s logits --model %s/m --text x --tokens 1 --out %s/c.npy", th_headcal(), dir, dir);
    cr_assert_eq(th_run(cmd, NULL, &err), 2);
    free(err);
    free(dir);
}
