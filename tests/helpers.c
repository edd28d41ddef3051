#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

char *th_tmpdir(const char *tag)
{
    char base[4096];
    snprintf(base, sizeof base, "%s/tests/tmp", TEST_BUILDDIR);
    mkdir(base, 0755);
    char *dir = malloc(4200);
    snprintf(dir, 4200, "%s/%s-XXXXXX", base, tag);
    if (!mkdtemp(dir)) {
        free(dir);
        return NULL;
    }
    return dir;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = 0;
    fclose(f);
    return b;
}

int th_run(const char *cmd, char **out, char **err)
{
    char *dir = th_tmpdir("run");
    char o[4300], e[4300];
    snprintf(o, sizeof o, "%s/out", dir);
    snprintf(e, sizeof e, "%s/err", dir);
    size_t n = strlen(cmd) + 2 * sizeof o + 32;
    char *full = malloc(n);
    snprintf(full, n, "( %s ) >'%s' 2>'%s' </dev/null", cmd, o, e);
    int st = system(full);
    free(full);
    if (out)
        *out = slurp(o);
    if (err)
        *err = slurp(e);
    unlink(o);
    unlink(e);
    rmdir(dir);
    free(dir);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

const char *th_headcal(void)
{
    return TEST_BUILDDIR "/headcal";
}

const char *th_src(const char *rel)
{
    static _Thread_local char buf[8][4096];
    static _Thread_local int k;
    char *b = buf[k++ % 8];
    snprintf(b, 4096, "%s/%s", TEST_SRCDIR, rel);
    return b;
}

int th_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

char *th_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n, "%s", path);
    b[n] = 0;
    fclose(f);
    return b;
}

char *th_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void th_small_run(const char *dir, int seed)
{
    char cmd[8192], *err;
    snprintf(cmd, sizeof cmd, "%s synth --out %s/m --layers 2 --heads 2 --d-model 16 --n-ctx 32 --seed %d",
             th_headcal(), dir, seed);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "%s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "%s/d.jsonl", dir);
    FILE *f = fopen(cmd, "w");
    cr_assert_not_null(f, "%s", cmd);
    const char *words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "then", "it", "ran", "away", "home"};
    for (int d = 0; d < 24; d++) {
        fprintf(f, "{\"text\": \"");
        for (int w = 0; w < 10 + d % 7; w++)
            fprintf(f, "%s%s", w ? " " : "", words[(d * 5 + w * 3) % 12]);
        fprintf(f, ".\"}\n");
    }
    cr_assert_eq(fclose(f), 0);
}
