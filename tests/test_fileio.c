#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/json.h"
#include "helpers.h"

Test(fileio, atomic_write_replaces_only_on_commit)
{
    char *dir = th_tmpdir("fileio");
    char path[4300];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    cr_assert_eq(th_write_file(path, "old", 3), 0);

    hc_atomic_file af;
    cr_assert_eq(hc_atomic_open(&af, path), 0);
    fputs("new contents", af.f);
    char *buf;
    size_t len;
    cr_assert_eq(hc_read_file(path, 100, &buf, &len), 0);
    cr_assert_str_eq(buf, "old", "the target must be untouched before commit");
    free(buf);
    cr_assert_eq(hc_atomic_commit(&af), 0);
    cr_assert_eq(hc_read_file(path, 100, &buf, &len), 0);
    cr_assert_str_eq(buf, "new contents");
    cr_assert_eq(len, 12);
    free(buf);

    cr_assert_eq(hc_atomic_open(&af, path), 0);
    fputs("discarded", af.f);
    hc_atomic_abort(&af);
    cr_assert_eq(hc_read_file(path, 100, &buf, &len), 0);
    cr_assert_str_eq(buf, "new contents");
    cr_assert_eq(access(af.tmp, F_OK), -1, "the temporary must be removed");
    free(buf);
    free(dir);
}

Test(fileio, read_errors_name_the_file)
{
    char *buf;
    size_t len;
    cr_assert_eq(hc_read_file("/nonexistent/x.json", 100, &buf, &len), -1);
    cr_assert(strstr(hc_errmsg(), "/nonexistent/x.json") != NULL);
    cr_assert_eq(hc_read_file("/", 100, &buf, &len), -1);
    cr_assert(strstr(hc_errmsg(), "not a regular file") != NULL);
    char *dir = th_tmpdir("fileio");
    char path[4300];
    snprintf(path, sizeof path, "%s/big", dir);
    cr_assert_eq(th_write_file(path, "0123456789", 10), 0);
    cr_assert_eq(hc_read_file(path, 5, &buf, &len), -1);
    cr_assert(strstr(hc_errmsg(), "too large") != NULL);
    free(dir);
}

Test(fileio, unwritable_directory_is_reported)
{
    hc_atomic_file af;
    cr_assert_eq(hc_atomic_open(&af, "/nonexistent-dir/out.json"), -1);
    cr_assert(strstr(hc_errmsg(), "/nonexistent-dir/out.json") != NULL);
    cr_assert_eq(hc_errstatus(), HC_EBAD);
}

/* ------------------------------------------------------------ strict JSON */

static int parse_text(const char *text, cJSON **out)
{
    return hc_json_parse(text, strlen(text), "t.json", out);
}

Test(json, one_value_must_end_the_text)
{
    cJSON *j;
    cr_assert_eq(parse_text(" {\"a\": [1, 2]} \r\n\t", &j), 0, "%s", hc_errmsg());
    cr_assert(cJSON_IsObject(j));
    cJSON_Delete(j);
    static const char *const bad[] = {"{\"a\": 1}xyz", "{\"a\": 1}{\"b\": 2}", "{} {}", "[1] 2", "", "   ",
                                      "{\"a\": 1", "\"text\"\"more\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(parse_text(bad[i], &j), -1, "accepted '%s'", bad[i]);
        cr_assert_null(j);
        cr_assert(strstr(hc_errmsg(), "t.json: not valid JSON (line 1)"), "'%s': %s", bad[i], hc_errmsg());
    }
    cr_assert_eq(parse_text("{\n\"a\": 1,\n}", &j), -1);
    cr_assert(strstr(hc_errmsg(), "(line 3)"), "%s", hc_errmsg());
}

Test(json, a_nul_is_refused_never_cut)
{
    cJSON *j;
    cr_assert_eq(parse_text("{\"text\": \"Hello there\\u0000 and the rest\"}", &j), -1);
    cr_assert(strstr(hc_errmsg(), "t.json: a string holds a NUL character (\\u0000)"), "%s", hc_errmsg());
    cr_assert_eq(parse_text("{\"wte.weight\\u0000x\": 1}", &j), -1);
    /* an escaped backslash before "u0000" is text, not an escape */
    cr_assert_eq(parse_text("{\"a\": \"\\\\u0000\"}", &j), 0, "%s", hc_errmsg());
    cr_assert_str_eq(cJSON_GetObjectItem(j, "a")->valuestring, "\\u0000");
    cJSON_Delete(j);
    cr_assert_eq(parse_text("{\"a\": \"\\u0001\"}", &j), 0, "%s", hc_errmsg());
    cJSON_Delete(j);
    const char raw[] = "{\"a\": \"x\0y\"}";
    cr_assert_eq(hc_json_parse(raw, sizeof raw - 1, "t.json", &j), -1);
    cr_assert(strstr(hc_errmsg(), "a NUL byte"), "%s", hc_errmsg());
}

Test(json, utf8_is_checked_as_the_standard_says)
{
    static const char *const good[] = {"", "plain", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xef\xbf\xbf"};
    static const char *const bad[] = {"\xff", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                      "\xe2\x82", "a\x80", "\xf8\x88\x80\x80\x80"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert(hc_utf8_valid((const unsigned char *)good[i], strlen(good[i])), "good[%zu]", i);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(!hc_utf8_valid((const unsigned char *)bad[i], strlen(bad[i])), "bad[%zu]", i);
}

/* Memory running out while parsing valid JSON is "out of memory", not
 * "not valid JSON": a million-element array under an address-space limit
 * a few MiB above what the process already uses. */
Test(json, running_out_of_memory_is_named_as_such)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    cr_skip_test("needs an address-space limit, which a sanitizer's shadow memory exceeds");
#else
    enum { N = 1000000 };
    char *text = malloc(2 * N + 2);
    text[0] = '[';
    for (int i = 0; i < N; i++)
        text[1 + 2 * i] = '0', text[2 + 2 * i] = i + 1 < N ? ',' : ']';
    text[2 * N + 1] = 0;
    cJSON *j;
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert(f && fscanf(f, "%lu", &pages) == 1);
    fclose(f);
    struct rlimit old, tight;
    getrlimit(RLIMIT_AS, &old);
    tight = old;
    tight.rlim_cur = pages * (rlim_t)sysconf(_SC_PAGESIZE) + (16u << 20);
    cr_assert_eq(setrlimit(RLIMIT_AS, &tight), 0);
    int rc = hc_json_parse(text, strlen(text), "big.json", &j);
    setrlimit(RLIMIT_AS, &old);
    cr_assert_eq(rc, -1, "a million nodes fitted in 16 MiB?");
    cr_assert(strstr(hc_errmsg(), "big.json: out of memory parsing JSON"), "%s", hc_errmsg());
    cr_assert_eq(hc_json_parse(text, strlen(text), "big.json", &j), 0, "with memory it parses: %s", hc_errmsg());
    cJSON_Delete(j);
    free(text);
#endif
}

/* ------------------------------------------- outputs under injected faults */

typedef struct {
    char *dir, *m, *d, *a;  /* scratch, model, corpus, a results file */
} scene;

static int sh(char **out, char **err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sh(char **out, char **err, const char *fmt, ...)
{
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return th_run(cmd, out, err);
}

static scene setup(void)
{
    scene s = {.dir = th_tmpdir("faults")};
    s.m = th_path(s.dir, "m");
    s.d = th_path(s.dir, "d.jsonl");
    s.a = th_path(s.dir, "a.json");
    cr_assert_eq(sh(NULL, NULL, "'%s' synth --out '%s' --layers 2 --heads 2 --d-model 16 --n-ctx 32", th_headcal(),
                    s.m), 0);
    FILE *f = fopen(s.d, "w");
    for (int i = 0; i < 16; i++)
        fprintf(f, "{\"tokens\": [%d, %d, %d, %d, %d, %d, %d, %d, %d]}\n", i, 7 * i, 100 + i, 3, 5, 8, 13, 21, 34);
    cr_assert_eq(fclose(f), 0);
    char *err;
    cr_assert_eq(sh(NULL, &err, "'%s' run --model '%s' --data '%s' --out '%s' --batches 2 --batch-size 4 --seq-len 8 "
                    "--quiet", th_headcal(), s.m, s.d, s.a), 0, "%s", err);
    free(err);
    return s;
}

static void teardown(scene *s)
{
    free(s->m), free(s->d), free(s->a), free(s->dir);
}

/* Exit status `status`, nothing on stdout, one line on stderr holding needle. */
static void one_line(int st, int status, const char *out, const char *err, const char *needle, const char *what)
{
    cr_assert_eq(st, status, "%s: exit %d, want %d: %s", what, st, status, err);
    cr_assert(!strncmp(err, "headcal: ", 9) && strchr(err, '\n') == err + strlen(err) - 1, "%s: '%s'", what, err);
    cr_assert(strstr(err, needle), "%s: '%s' lacks '%s'", what, err, needle);
    cr_assert(!out || !*out, "%s: stdout '%s'", what, out);
}

static void no_temporaries(const char *dir)
{
    char *out;
    cr_assert_eq(sh(&out, NULL, "ls -a '%s' | grep -c '\\.tmp\\.' || true", dir), 0);
    cr_assert_str_eq(out, "0\n", "temporaries left in %s", dir);
    free(out);
}

/* A file limit (ulimit -f, SIGXFSZ ignored) makes every write past a few
 * hundred bytes fail with EFBIG, as a full disk fails with ENOSPC: each
 * output command must exit 1 naming its file, keep the old file and leave
 * no temporary. */
Test(faults, a_full_device_loses_no_output, .timeout = 120)
{
    scene s = setup();
    char *old = th_path(s.dir, "old.out"), *side = th_path(s.dir, "old.out.partial");
    static const char before[] = "the previous output\n";
    struct {
        const char *args, *names;
    } cases[] = {
        {"merge --out '%2$s' '%3$s'", "old.out"},
        {"logits --model '%1$s' --tokens '1 2 3' --out '%2$s'", "old.out"},
        {"plot '%3$s' --kind heatmap --format sixel -o '%2$s'", "old.out"},
        {"plot '%3$s' --kind curves --format svg -o '%2$s'", "old.out"},
        {"run --model '%1$s' --data '%4$s' --out '%2$s' --batches 2 --batch-size 4 --seq-len 8 --quiet",
         "old.out.partial"},
        {"synth --out '%5$s' --layers 1 --heads 1 --d-model 8 --n-ctx 8", "model.safetensors"},
    };
    char *fresh = th_path(s.dir, "fresh");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(th_write_file(old, before, sizeof before - 1), 0);
        char args[8192], *out, *err;
        snprintf(args, sizeof args, cases[i].args, s.m, old, s.a, s.d, fresh);
        int st = sh(&out, &err, "trap '' XFSZ; ulimit -f 1 && exec '%s' %s", th_headcal(), args);
        one_line(st, 1, out, err, cases[i].names, args);
        char *now = th_read(old);
        cr_assert_str_eq(now, before, "%s replaced the old file", args);
        free(now), free(out), free(err);
        cr_assert(access(side, F_OK) != 0, "%s: an empty side file was left", args);
        no_temporaries(s.dir);
    }
    free(fresh), free(side), free(old);
    teardown(&s);
}

/* A real full filesystem, where this machine lets the test mount one. */
Test(faults, a_full_tmpfs_loses_no_output, .timeout = 60)
{
    scene s = setup();
    char *mnt = th_path(s.dir, "mnt");
    mkdir(mnt, 0755);
    if (geteuid() != 0 || sh(NULL, NULL, "mount -t tmpfs -o size=256k tmpfs '%s'", mnt) != 0) {
        rmdir(mnt);
        free(mnt);
        teardown(&s);
        cr_skip_test("cannot mount a tmpfs here");
    }
    char *out = th_path(mnt, "merged.json"), *fill = th_path(mnt, "filler");
    static const char before[] = "the previous output\n";
    cr_assert_eq(th_write_file(out, before, sizeof before - 1), 0);
    /* leave less room than the output needs */
    sh(NULL, NULL, "dd if=/dev/zero of='%s' bs=1k count=1000", fill);
    char *o, *e;
    int st = sh(&o, &e, "'%s' merge --out '%s' '%s'", th_headcal(), out, s.a);
    char *now = th_read(out);
    no_temporaries(mnt);
    sh(NULL, NULL, "umount '%s'", mnt);
    one_line(st, 1, o, e, "merged.json: write failed: No space left on device", "merge");
    cr_assert_str_eq(now, before);
    rmdir(mnt);
    free(now), free(o), free(e), free(fill), free(out), free(mnt);
    teardown(&s);
}

Test(faults, a_symlink_is_replaced_not_written_through)
{
    scene s = setup();
    char *target = th_path(s.dir, "target"), *link = th_path(s.dir, "link.six");
    cr_assert_eq(th_write_file(target, "keep", 4), 0);
    cr_assert_eq(symlink(target, link), 0);
    char *err;
    cr_assert_eq(sh(NULL, &err, "'%s' plot '%s' --kind heatmap --format sixel -o '%s'", th_headcal(), s.a, link), 0,
                 "%s", err);
    free(err);
    struct stat sb;
    cr_assert_eq(lstat(link, &sb), 0);
    cr_assert(S_ISREG(sb.st_mode), "the link is now the output");
    char *t = th_read(target), *six = th_read(link);
    cr_assert_str_eq(t, "keep", "written through the link");
    cr_assert(six[0] == '\033' && six[1] == 'P', "a sixel image");
    free(t), free(six), free(target), free(link);
    teardown(&s);
}

Test(faults, an_output_that_is_an_input_is_refused)
{
    scene s = setup();
    char *alias = th_path(s.dir, "alias.json"), *before = th_read(s.a);
    cr_assert_eq(link(s.a, alias), 0);
    char *model = th_path(s.m, "model.safetensors");
    struct {
        char args[8192];
        const char *needle;
    } cases[4];
    snprintf(cases[0].args, sizeof cases[0].args, "plot '%s' --kind heatmap --format png -o '%s'", s.a, s.a);
    cases[0].needle = "is the results file";
    snprintf(cases[1].args, sizeof cases[1].args, "plot '%s' --kind heatmap --format sixel -o '%s'", s.a, alias);
    cases[1].needle = "is the results file";
    snprintf(cases[2].args, sizeof cases[2].args, "merge --out '%s' '%s' '%s'", alias, s.a, s.a);
    cases[2].needle = "is an input";
    snprintf(cases[3].args, sizeof cases[3].args, "logits --model '%s' --tokens '1 2' --out '%s'", s.m, model);
    cases[3].needle = "is a model file";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out, *err;
        int st = sh(&out, &err, "'%s' %s", th_headcal(), cases[i].args);
        one_line(st, 2, out, err, cases[i].needle, cases[i].args);
        free(out), free(err);
    }
    char *after = th_read(s.a);
    cr_assert_str_eq(after, before);
    free(after), free(before), free(model), free(alias);
    teardown(&s);
}

/* Every command's standard output on a full device is an error. */
Test(faults, stdout_on_a_full_device_is_an_error)
{
    scene s = setup();
    char cmds[5][8192];
    snprintf(cmds[0], sizeof cmds[0], "info --model '%s'", s.m);
    snprintf(cmds[1], sizeof cmds[1], "qk --model '%s' --head 0.1 --bags 2 --bag-size 4", s.m);
    snprintf(cmds[2], sizeof cmds[2], "data --model '%s' --data '%s' --batches 1 --batch-size 2 --seq-len 8", s.m,
             s.d);
    snprintf(cmds[3], sizeof cmds[3], "plot '%s' --kind heatmap --format sixel", s.a);
    snprintf(cmds[4], sizeof cmds[4], "--help");
    for (int i = 0; i < 5; i++) {
        char *err;
        int st = sh(NULL, &err, "'%s' %s >/dev/full", th_headcal(), cmds[i]);
        cr_assert_eq(st, 1, "%s: exit %d: %s", cmds[i], st, err);
        cr_assert(!strncmp(err, "headcal: ", 9) && strchr(err, '\n') == err + strlen(err) - 1, "%s: %s", cmds[i], err);
        cr_assert(strstr(err, "stdout") || strstr(err, "standard output"), "%s: %s", cmds[i], err);
        free(err);
    }
    teardown(&s);
}
