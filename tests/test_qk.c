/* The bag-of-words QK panel against a float64 numpy implementation
 * (tests/ref_qk.py) on synth models, through the command and the library
 * API the explorer uses; and the command's refusals. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "headcal/error.h"
#include "headcal/model.h"
#include "headcal/qk.h"
#include "headcal/synth.h"
#include "helpers.h"

enum { NBAGS = 4, BAG = 12 };

static char *synth(bool lm_head)
{
    char *dir = th_tmpdir("qk");
    hc_synth_opts so = {.cfg = {.n_layer = 3, .n_head = 4, .d_model = 32, .d_head = 8, .d_mlp = 128, .n_ctx = 16,
                                .d_vocab = 50257, .ln_eps = 1e-5f, .bos = 50256},
                        .dtype = HC_F32, .seed = 3, .lm_head = lm_head, .tokenizer_dir = th_src("data")};
    cr_assert_eq(hc_synth_write(dir, &so), 0, "%s", hc_errmsg());
    return dir;
}

/* NBAGS bags of BAG distinct ids, with tokens shared between bags (the
 * engine embeds each distinct token once) and the vocabulary's ends. */
static void make_bags(int32_t bags[NBAGS][BAG])
{
    for (int b = 0; b < NBAGS; b++)
        for (int i = 0; i < BAG; i++)
            bags[b][i] = (int32_t)((i * 4099 + b * 7 * (i % 3)) % 50257);
    bags[0][1] = 50256;
    bags[1][1] = 1;
}

static char *write_bags(const char *dir, int32_t bags[NBAGS][BAG], int nb)
{
    static char path[4300];
    snprintf(path, sizeof path, "%s/bags.json", dir);
    FILE *f = fopen(path, "w");
    fputc('[', f);
    for (int b = 0; b < nb; b++) {
        fprintf(f, "%s[", b ? "," : "");
        for (int i = 0; i < BAG; i++)
            fprintf(f, "%s%d", i ? "," : "", (int)bags[b][i]);
        fputc(']', f);
    }
    fputs("]\n", f);
    fclose(f);
    return path;
}

static cJSON *run_json(const char *cmd)
{
    char *out, *err;
    int rc = th_run(cmd, &out, &err);
    cr_assert_eq(rc, 0, "%s failed (%d): %s", cmd, rc, err);
    cJSON *j = cJSON_Parse(out);
    cr_assert_not_null(j, "not JSON: %s", out);
    free(out);
    free(err);
    return j;
}

/* The reference's panel of head (l, h) for `bags_args` (a file, or --seed S K N). */
static cJSON *reference(const char *dir, int l, int h, const char *bags_args)
{
    char cmd[10000];
    snprintf(cmd, sizeof cmd, "cd %s && %s ref_qk.py %s %d %d %s", th_src("tests"), TEST_PYTHON, dir, l, h,
             bags_args);
    return run_json(cmd);
}

static double at(const cJSON *o, const char *key, int i, int j)
{
    const cJSON *v = cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, key), i), j);
    cr_assert(cJSON_IsNumber(v), "%s[%d][%d] is not a number", key, i, j);
    return v->valuedouble;
}

static void expect_close(double got, double want, const char *what, int i, int j)
{
    cr_expect(fabs(got - want) <= 1e-4, "%s[%d][%d]: headcal %.8f, reference %.8f", what, i, j, got, want);
}

/* headcal qk --format json against the reference for one head. */
static void check_cli(const char *dir, int l, int h, const char *headcal_bags, const char *ref_bags)
{
    char cmd[10000];
    snprintf(cmd, sizeof cmd, "%s qk --model %s --head %d.%d %s --format json", th_headcal(), dir, l, h,
             headcal_bags);
    cJSON *got = run_json(cmd), *want = reference(dir, l, h, ref_bags);
    const char *q[] = {"W_U", "MLP0", "W_EE"}, *k[] = {"W_EE", "W_E", "MLP0"};
    for (int i = 0; i < 3; i++) {
        cr_expect_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(got, "query"), i)->valuestring, q[i]);
        cr_expect_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(got, "key"), i)->valuestring, k[i]);
        for (int j = 0; j < 3; j++) {
            expect_close(at(got, "scores", i, j), at(want, "scores", i, j), "scores", i, j);
            expect_close(at(got, "stderr", i, j), at(want, "stderr", i, j), "stderr", i, j);
        }
    }
    cJSON_Delete(got);
    cJSON_Delete(want);
}

/* A bags file through the command, for n heads {layer, head}. */
static void bags_file_case(bool lm_head, int n, const int heads[][2])
{
    char *dir = synth(lm_head);
    int32_t bags[NBAGS][BAG];
    make_bags(bags);
    char *file = write_bags(dir, bags, NBAGS), args[4400];
    snprintf(args, sizeof args, "--bags-file %s", file);
    for (int i = 0; i < n; i++)
        check_cli(dir, heads[i][0], heads[i][1], args, file);
    free(dir);
}

Test(qk, bags_file_matches_reference)
{
    bags_file_case(false, 2, (const int[][2]){{0, 0}, {2, 3}});
}

Test(qk, untied_unembedding_matches_reference)
{
    bags_file_case(true, 1, (const int[][2]){{1, 2}});
}

/* --seed draws the bags as numpy's RandomState(S).permutation does */
Test(qk, random_bags_match_numpy)
{
    char *dir = synth(false);
    check_cli(dir, 2, 1, "--seed 7 --bags 3 --bag-size 10", "--seed 7 3 10");
    free(dir);
}

/* The explorer's path: embed once, then any head's panel. */
Test(qk, library_embeds_once_for_every_head)
{
    char *dir = synth(false);
    int32_t bags[NBAGS][BAG];
    make_bags(bags);
    char *file = write_bags(dir, bags, NBAGS);
    hc_model m;
    cr_assert_eq(hc_model_load(&m, dir), 0, "%s", hc_errmsg());
    hc_qk_embeds *e;
    cr_assert_eq(hc_qk_embed(&m, &bags[0][0], NBAGS, BAG, &e), 0, "%s", hc_errmsg());
    for (int h = 0; h < 4; h += 3) {
        hc_qk_result r;
        cr_assert_eq(hc_qk_scores(e, 1, h, &r), 0, "%s", hc_errmsg());
        cr_expect(r.layer == 1 && r.head == h && r.n_bags == NBAGS && r.bag_size == BAG);
        cJSON *want = reference(dir, 1, h, file);
        for (int i = 0; i < HC_QK_SIDES; i++)
            for (int j = 0; j < HC_QK_SIDES; j++) {
                expect_close(r.score[i][j], at(want, "scores", i, j), "scores", i, j);
                expect_close(r.sem[i][j], at(want, "stderr", i, j), "stderr", i, j);
            }
        cJSON_Delete(want);
    }
    hc_qk_result r;
    cr_expect_eq(hc_qk_scores(e, 3, 0, &r), -1);
    cr_expect_eq(hc_errstatus(), HC_EUSAGE);
    hc_qk_embeds_free(e);
    hc_model_process(&m);
    cr_expect_eq(hc_qk_embed(&m, &bags[0][0], NBAGS, BAG, &e), -1, "a processed model is refused");
    hc_model_free(&m);
    free(dir);
}

/* One bag: scores as usual, no standard error (null in JSON). */
Test(qk, one_bag_has_no_stderr)
{
    char *dir = synth(false);
    int32_t bags[NBAGS][BAG];
    make_bags(bags);
    char *file = write_bags(dir, bags, 1), cmd[10000];
    snprintf(cmd, sizeof cmd, "%s qk --model %s --head 2.0 --bags-file %s --format json", th_headcal(), dir, file);
    cJSON *got = run_json(cmd), *want = reference(dir, 2, 0, file);
    cr_expect(cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(got, "stderr"), 1), 2)));
    expect_close(at(got, "scores", 1, 2), at(want, "scores", 1, 2), "scores", 1, 2);
    cJSON_Delete(got);
    cJSON_Delete(want);
    free(dir);
}

/* The text table holds the JSON's numbers, rounded, in the labelled cells. */
Test(qk, text_table_matches_json)
{
    char *dir = synth(false);
    char cmd[10000], *text, *json;
    snprintf(cmd, sizeof cmd, "%s qk --model %s --head L1H1 --seed 2 --bags 3 --bag-size 5", th_headcal(), dir);
    cr_assert_eq(th_run(cmd, &text, NULL), 0);
    strcat(cmd, " --format json");
    cr_assert_eq(th_run(cmd, &json, NULL), 0);
    cJSON *j = cJSON_Parse(json);
    const char *q[] = {"W_U", "MLP0", "W_EE"};
    for (int i = 0; i < 3; i++) {
        char want[200], label[32];
        snprintf(label, sizeof label, "query %-5s", q[i]);
        const char *line = strstr(text, label);
        cr_assert_not_null(line, "no row %s in:\n%s", q[i], text);
        snprintf(want, sizeof want, "%s  %8.4f ± %.4f", label, at(j, "scores", i, 0), at(j, "stderr", i, 0));
        cr_expect(!strncmp(line, want, strlen(want)), "row %d: want '%s' in:\n%s", i, want, text);
    }
    cr_expect_not_null(strstr(text, "key W_EE"));
    cr_expect_not_null(strstr(text, "key MLP0"));
    cJSON_Delete(j);
    free(text);
    free(json);
    free(dir);
}

/* Exit status and the message's substance for a refused command. */
static void refused(const char *dir, const char *args, const char *bags, int status, const char *msg)
{
    char path[4400] = "", cmd[10000], *err;
    if (bags) {
        snprintf(path, sizeof path, "%s/bad.json", dir);
        cr_assert_eq(th_write_file(path, bags, strlen(bags)), 0);
    }
    snprintf(cmd, sizeof cmd, "%s qk --model %s %s %s%s", th_headcal(), dir, args, bags ? "--bags-file " : "", path);
    cr_expect_eq(th_run(cmd, NULL, &err), status, "%s: want exit %d; stderr: %s", args, status, err);
    cr_expect_not_null(strstr(err, msg), "%s: want '%s' in stderr: %s", args, msg, err);
    cr_expect_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
    free(err);
}

Test(qk, refusals)
{
    char *dir = synth(false);
    refused(dir, "--head 3.0 --bags 2 --bag-size 3", NULL, 2, "head 3.0 does not exist (the model has 3 layers)");
    refused(dir, "--head 1.4 --bags 2 --bag-size 3", NULL, 2, "head 1.4 does not exist");
    refused(dir, "--head MLP1", NULL, 2, "--head: 'MLP1' is not a head");
    refused(dir, "--head 1.x", NULL, 2, "is not a head");
    refused(dir, "--bags 2", NULL, 2, "usage");
    refused(dir, "--head 0.0 --bag-size 1", NULL, 2, "--bag-size");
    refused(dir, "--head 0.0 --format csv", NULL, 2, "--format");
    refused(dir, "--head 0.0 --bag-size 60000", NULL, 2, "vocabulary of 50257");
    refused(dir, "--head 0.0 --seed 1", "[[1,2]]", 2, "--bags-file excludes");
    refused(dir, "--head 0.0", "[[1,2],", 1, "bad.json: not valid JSON");
    refused(dir, "--head 0.0", "[[1,2]] x", 1, "bad.json: not valid JSON");
    refused(dir, "--head 0.0", "{\"bags\": []}", 1, "bad.json: not a JSON array of bags");
    refused(dir, "--head 0.0", "[]", 1, "bad.json: no bags");
    refused(dir, "--head 0.0", "[[1,2],3]", 1, "bad.json: bag 1 is not an array");
    refused(dir, "--head 0.0", "[[1,2],[3,4,5]]", 1, "bad.json: bag 1 has 3 tokens, bag 0 has 2");
    refused(dir, "--head 0.0", "[[1],[2]]", 1, "bad.json: bags of 1 token (a bag needs at least 2)");
    refused(dir, "--head 0.0", "[[1,2],[3,\"4\"]]", 1, "bad.json: bag 1, entry 1: not a token id");
    refused(dir, "--head 0.0", "[[1,2.5]]", 1, "bad.json: bag 0, entry 1: not a token id");
    refused(dir, "--head 0.0", "[[1,2],[3,50257]]", 1, "bad.json: bag 1: token 50257 is out of range");
    refused(dir, "--head 0.0", "[[1,-1]]", 1, "bad.json: bag 0: token -1 is out of range");
    refused(dir, "--head 0.0", "[[1,2],[7,8,7]]", 1, "bag 1 has 3 tokens");
    refused(dir, "--head 0.0", "[[1,2,3],[7,8,7]]", 1, "bad.json: bag 1: token 7 appears twice");
    free(dir);
}
