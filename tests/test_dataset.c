/* Data sources: numpy's and CPython's generators against the real ones
 * (tests/ref_*.py), the IOI generator against CPython running the original
 * algorithm, and the sequence/batch semantics of DESIGN §3 on small
 * hand-written token documents. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "headcal/dataset.h"
#include "headcal/error.h"
#include "headcal/ioi.h"
#include "headcal/mt19937.h"
#include "headcal/pyrandom.h"
#include "headcal/tokenizer.h"
#include "helpers.h"

enum { BOS = 999, VOCAB = 1000 };

/* Runs a reference script under TEST_PYTHON; returns its stdout. */
static char *python(const char *script, const char *args)
{
    char cmd[8192];
    char *out, *err;
    snprintf(cmd, sizeof cmd, "%s '%s' %s", TEST_PYTHON, th_src(script), args);
    int st = th_run(cmd, &out, &err);
    cr_assert_eq(st, 0, "%s failed: %s", cmd, err);
    free(err);
    return out;
}

static char *write_in(const char *dir, const char *name, const char *content)
{
    static char path[8][4300];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    cr_assert_eq(th_write_file(p, content, strlen(content)), 0);
    return p;
}

static hc_dataset_opts opts(int b, int n, int seq_len)
{
    return (hc_dataset_opts){.batch_size = b, .n_batches = n, .seq_len = seq_len,
                             .bos = BOS, .vocab_size = VOCAB};
}

/* Asserts that row r of b is exactly want[0..n) followed by BOS padding. */
static void assert_row(const hc_batch *b, int r, const int32_t *want, int n)
{
    cr_assert_eq(b->lens[r], n, "row %d: length %d, want %d", r, b->lens[r], n);
    for (int t = 0; t < b->cols; t++) {
        int32_t w = t < n ? want[t] : BOS;
        cr_assert_eq(b->tokens[(size_t)r * b->cols + t], w, "row %d pos %d: %d, want %d", r, t,
                     b->tokens[(size_t)r * b->cols + t], w);
    }
}

#define ROW(b, r, ...)                                                       \
    do {                                                                     \
        const int32_t w_[] = {__VA_ARGS__};                                  \
        assert_row(b, r, w_, (int)(sizeof w_ / sizeof w_[0]));               \
    } while (0)

/* ---------------------------------------------------------------- generators */

Test(dataset, numpy_legacy_shuffle_matches_numpy)
{
    static const struct { size_t n; unsigned long seed; } cases[] = {
        {0, 0}, {1, 5}, {2, 0}, {10, 6}, {1000, 6}, {10000, 6}, {37, 4294967295ul}, {257, 123456},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = cases[c].n;
        size_t *x = malloc((n ? n : 1) * sizeof *x);
        for (size_t i = 0; i < n; i++)
            x[i] = i;
        hc_mt19937 r;
        hc_mt_seed(&r, (uint32_t)cases[c].seed);
        hc_np_shuffle(&r, x, n, sizeof *x);
        char args[64];
        snprintf(args, sizeof args, "%zu %lu", n, cases[c].seed);
        char *ref = python("tests/ref_shuffle.py", args), *p = ref;
        for (size_t i = 0; i < n; i++) {
            char *end;
            unsigned long v = strtoul(p, &end, 10);
            cr_assert(end != p, "n=%zu seed=%lu: numpy printed too few values", n, cases[c].seed);
            cr_assert_eq(x[i], v, "n=%zu seed=%lu: position %zu is %zu, numpy has %lu", n,
                         cases[c].seed, i, x[i], v);
            p = end;
        }
        free(ref);
        free(x);
    }
}

Test(dataset, cpython_random_matches_cpython)
{
    static const uint64_t seeds[] = {0, 1, 42, 4294967295u, 4294967296u, 0x8000000000000005u};
    static const uint32_t below[] = {1, 2, 3, 7, 100, 109, 2147483648u, 4294967295u};
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        hc_mt19937 r;
        hc_py_seed(&r, seeds[s]);
        uint64_t got[8 + 32 + 8 + 20 + 5];
        size_t k = 0;
        for (int i = 0; i < 8; i++)
            got[k++] = hc_py_getrandbits(&r, 32);
        for (int b = 1; b <= 32; b++)
            got[k++] = hc_py_getrandbits(&r, b);
        for (size_t i = 0; i < 8; i++)
            got[k++] = hc_py_randbelow(&r, below[i]);
        size_t perm[20];
        for (size_t i = 0; i < 20; i++)
            perm[i] = i;
        hc_py_shuffle(&r, perm, 20, sizeof perm[0]);
        for (size_t i = 0; i < 20; i++)
            got[k++] = perm[i];
        for (int i = 0; i < 5; i++)
            got[k++] = hc_py_choice(&r, 109);

        char args[256];
        int a = snprintf(args, sizeof args, "%llu", (unsigned long long)seeds[s]);
        for (size_t i = 0; i < 8; i++)
            a += snprintf(args + a, sizeof args - (size_t)a, " %u", below[i]);
        char *ref = python("tests/ref_pyrandom.py", args), *p = ref;
        for (size_t i = 0; i < k; i++) {
            char *end;
            unsigned long long v = strtoull(p, &end, 10);
            cr_assert(end != p, "seed %s: python printed too few values", args);
            cr_assert_eq(got[i], v, "seed %llu: draw %zu is %llu, CPython's is %llu",
                         (unsigned long long)seeds[s], i, (unsigned long long)got[i], v);
            p = end;
        }
        free(ref);
    }
}

Test(dataset, ioi_prompts_match_the_reference_generator)
{
    static const struct { int n; unsigned seed; } cases[] = {
        {1, 0}, {50, 0}, {50, 1}, {50, 2}, {50, 3}, {50, 4}, {7, 6}, {200, 12345}, {20, 4294967295u},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char **texts;
        cr_assert_eq(hc_ioi_prompts(cases[c].n, cases[c].seed, &texts), 0);
        char args[64];
        snprintf(args, sizeof args, "%d %u", cases[c].n, cases[c].seed);
        char *ref = python("tests/ref_ioi.py", args), *save, *line = strtok_r(ref, "\n", &save);
        for (int i = 0; i < cases[c].n; i++) {
            cr_assert_not_null(line, "seed %u: the reference printed too few prompts", cases[c].seed);
            cr_assert_str_eq(texts[i], line, "seed %u prompt %d", cases[c].seed, i);
            line = strtok_r(NULL, "\n", &save);
        }
        cr_assert_null(line);
        free(ref);
        hc_ioi_free(texts, cases[c].n);
    }
}

/* ---------------------------------------------------------------- sequences */

/* d0: 7 tokens, d1: 1 token, d2: none, d3: 2 tokens, d4: 3 tokens. */
static const char five_docs[] =
    "{\"tokens\": [1, 2, 3, 4, 5, 6, 7]}\n"
    "{\"tokens\": [8]}\n"
    "{\"tokens\": []}\n"
    "{\"tokens\": [10, 11], \"text\": \"ignored: tokens win\"}\n"
    "{\"tokens\": [20, 21, 22]}\n";

Test(dataset, truncation_skips_short_documents_and_pads_with_bos)
{
    char *f = write_in(th_tmpdir("ds"), "d.jsonl", five_docs);
    hc_dataset_opts o = opts(3, 1, 4);
    hc_dataset *ds;
    cr_assert_eq(hc_dataset_open(&ds, f, &o), 0, "%s", hc_errmsg());
    cr_assert_eq(hc_dataset_n_batches(ds), 1);
    hc_batch b;
    cr_assert_eq(hc_dataset_batch(ds, 0, &b), 0);
    cr_assert_eq(b.rows, 3);
    cr_assert_eq(b.cols, 4);
    ROW(&b, 0, BOS, 1, 2, 3);           /* cut to 4 tokens, BOS included */
    ROW(&b, 1, BOS, 10, 11);            /* d1, d2 skipped; padded with BOS */
    ROW(&b, 2, BOS, 20, 21, 22);
    cr_assert_eq(b.n_scored, 3 + 2 + 3);
    hc_batch_free(&b);
    cr_assert_eq(hc_dataset_batch(ds, 1, &b), -1);
    hc_dataset_free(ds);

    /* seq_len 2: one scored position per row; skipping looks at the
     * document, not at the cut sequence. */
    o = opts(3, 1, 2);
    cr_assert_eq(hc_dataset_open(&ds, f, &o), 0, "%s", hc_errmsg());
    cr_assert_eq(hc_dataset_batch(ds, 0, &b), 0);
    cr_assert_eq(b.cols, 2);
    ROW(&b, 0, BOS, 1);
    ROW(&b, 1, BOS, 10);
    ROW(&b, 2, BOS, 20);
    hc_batch_free(&b);
    hc_dataset_free(ds);
}

Test(dataset, min_len_skips_documents_shorter_than_it)
{
    char *f = write_in(th_tmpdir("ds"), "d.jsonl", five_docs);
    hc_dataset_opts o = opts(1, 2, 4);
    o.min_len = 4;                      /* BOS + 3 tokens at least */
    hc_dataset *ds;
    cr_assert_eq(hc_dataset_open(&ds, f, &o), 0, "%s", hc_errmsg());
    hc_batch b;
    cr_assert_eq(hc_dataset_batch(ds, 0, &b), 0);
    ROW(&b, 0, BOS, 1, 2, 3);
    hc_batch_free(&b);
    cr_assert_eq(hc_dataset_batch(ds, 1, &b), 0);
    ROW(&b, 0, BOS, 20, 21, 22);        /* d3 (BOS + 2) was too short */
    hc_batch_free(&b);
    hc_dataset_free(ds);
}

Test(dataset, chunk_splits_documents_into_windows)
{
    char *f = write_in(th_tmpdir("ds"), "d.jsonl", five_docs);
    hc_dataset_opts o = opts(2, 2, 4);
    o.chunk = true;
    hc_dataset *ds;
    cr_assert_eq(hc_dataset_open(&ds, f, &o), 0, "%s", hc_errmsg());
    hc_batch b;
    cr_assert_eq(hc_dataset_batch(ds, 0, &b), 0);
    ROW(&b, 0, BOS, 1, 2, 3);           /* windows of seq_len - 1 = 3 tokens */
    ROW(&b, 1, BOS, 4, 5, 6);           /* d0's tail [7] is under 2 tokens: dropped */
    hc_batch_free(&b);
    cr_assert_eq(hc_dataset_batch(ds, 1, &b), 0);
    ROW(&b, 0, BOS, 10, 11);
    ROW(&b, 1, BOS, 20, 21, 22);
    hc_batch_free(&b);
    hc_dataset_free(ds);

    /* min_len applies to each window: [10, 11] goes too. */
    o = opts(3, 1, 4);
    o.chunk = true;
    o.min_len = 4;
    cr_assert_eq(hc_dataset_open(&ds, f, &o), 0, "%s", hc_errmsg());
    cr_assert_eq(hc_dataset_batch(ds, 0, &b), 0);
    ROW(&b, 0, BOS, 1, 2, 3);
    ROW(&b, 1, BOS, 4, 5, 6);
    ROW(&b, 2, BOS, 20, 21, 22);
    hc_batch_free(&b);
    hc_dataset_free(ds);

    /* Too few windows names windows and documents. */
    o = opts(5, 1, 4);
    o.chunk = true;
    cr_assert_eq(hc_dataset_open(&ds, f, &o), -1);
    cr_assert(strstr(hc_errmsg(), "need 5 windows for 1 batches of 5, have 4 (from 5 documents)"),
              "%s", hc_errmsg());
}

Test(dataset, shuffle_orders_documents_like_numpy_before_skipping)
{
    /* Document i holds [i + 1, i + 1]; document 5 holds one token only. */
    char *dir = th_tmpdir("ds");
    char content[1024] = "";
    for (int i = 0; i < 12; i++)
        snprintf(content + strlen(content), sizeof content - strlen(content),
                 i == 5 ? "{\"tokens\": [%d]}\n" : "{\"tokens\": [%d, %d]}\n", i + 1, i + 1);
    char *f = write_in(dir, "d.jsonl", content);
    char *ref = python("tests/ref_shuffle.py", "12 6"), *p = ref;
    int want[12], k = 0;
    for (int i = 0; i < 12; i++) {
        int v = (int)strtol(p, &p, 10);
        if (v != 5)
            want[k++] = v;
    }
    free(ref);

    hc_dataset_opts o = opts(3, 3, 10);
    o.shuffle = true;
    o.shuffle_seed = 6;
    hc_dataset *ds;
    cr_assert_eq(hc_dataset_open(&ds, f, &o), 0, "%s", hc_errmsg());
    for (int i = 0; i < 3; i++) {
        hc_batch b;
        cr_assert_eq(hc_dataset_batch(ds, i, &b), 0);
        for (int r = 0; r < 3; r++)
            ROW(&b, r, BOS, want[i * 3 + r] + 1, want[i * 3 + r] + 1);
        hc_batch_free(&b);
    }
    hc_dataset_free(ds);
}

Test(dataset, too_few_documents_names_both_numbers)
{
    char *dir = th_tmpdir("ds");
    char *content = malloc(120 * 32 + 64);
    content[0] = 0;
    for (int i = 0; i < 120; i++)
        strcat(content, "{\"tokens\": [1, 2]}\n");
    strcat(content, "{\"tokens\": [3]}\n");
    char *f = write_in(dir, "d.jsonl", content);
    free(content);
    hc_dataset_opts o = opts(50, 5, 100);
    hc_dataset *ds;
    cr_assert_eq(hc_dataset_open(&ds, f, &o), -1);
    cr_assert_eq(hc_errstatus(), HC_EBAD);
    cr_assert(strstr(hc_errmsg(), "need 250 documents for 5 batches of 50, have 120 "
                                  "(1 more were too short)"),
              "%s", hc_errmsg());
    cr_assert(strstr(hc_errmsg(), "d.jsonl"), "%s", hc_errmsg());
}

Test(dataset, jsonl_errors_name_file_and_line)
{
    static const struct { const char *content, *msg; } cases[] = {
        {"{\"tokens\": [1, 2]}\n\n{\"tokens\": [1,\n", "e.jsonl:3: not valid JSON"},
        {"{\"tokens\": [1, 2]}\n{\"txt\": \"x\"}\n", "e.jsonl:2: needs \"text\" (a string) or \"tokens\""},
        {"{\"text\": 5}\n", "e.jsonl:1: needs \"text\""},
        {"[1, 2]\n", "e.jsonl:1: not a JSON object"},
        {"\n  \n{\"tokens\": [1, 2.5]}\n", "e.jsonl:3: \"tokens\" must be an array of integer ids"},
        {"{\"tokens\": [1, \"2\"]}\n", "e.jsonl:1: \"tokens\" must be an array of integer ids"},
        {"{\"tokens\": [1]}\n{\"tokens\": [1]}\n{\"tokens\": [1]}\n{\"tokens\": [1, 1000]}\n",
         "e.jsonl:4: token id 1000 is outside the vocabulary [0, 1000)"},
        {"{\"tokens\": [-1]}\n", "e.jsonl:1: token id -1 is outside the vocabulary"},
        {"{\"text\": \"hello\"}\n", "e.jsonl:1: text needs a tokenizer"},
    };
    char *dir = th_tmpdir("ds");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *f = write_in(dir, "e.jsonl", cases[c].content);
        hc_dataset_opts o = opts(1, 1, 10);
        hc_dataset *ds = NULL;
        cr_assert_eq(hc_dataset_open(&ds, f, &o), -1, "case %zu was accepted", c);
        cr_assert_null(ds);
        cr_assert_eq(hc_errstatus(), HC_EBAD);
        cr_assert(strstr(hc_errmsg(), cases[c].msg), "case %zu: '%s'", c, hc_errmsg());
    }
}

Test(dataset, bad_sources_and_options_are_reported)
{
    char *dir = th_tmpdir("ds");
    char *f = write_in(dir, "d.jsonl", five_docs);
    hc_dataset_opts o = opts(1, 1, 10);
    hc_dataset *ds;
    cr_assert_eq(hc_dataset_open(&ds, "/nonexistent/x.jsonl", &o), -1);
    cr_assert(strstr(hc_errmsg(), "/nonexistent/x.jsonl"));
    cr_assert_eq(hc_dataset_open(&ds, write_in(dir, "d.csv", "1,2\n"), &o), -1);
    cr_assert(strstr(hc_errmsg(), "d.csv: not a data source"), "%s", hc_errmsg());
    char *empty = th_tmpdir("empty");
    cr_assert_eq(hc_dataset_open(&ds, empty, &o), -1);
    cr_assert(strstr(hc_errmsg(), "no *.txt or *.jsonl files"), "%s", hc_errmsg());

    o = opts(1, 1, 1);
    cr_assert_eq(hc_dataset_open(&ds, f, &o), -1);
    cr_assert_eq(hc_errstatus(), HC_EUSAGE);
    o = opts(1, 1, 2);
    o.chunk = true;
    cr_assert_eq(hc_dataset_open(&ds, f, &o), -1);
    cr_assert(strstr(hc_errmsg(), "at least 3 with --chunk"), "%s", hc_errmsg());
    o = opts(1, 1, 10);
    o.min_len = 11;
    cr_assert_eq(hc_dataset_open(&ds, f, &o), -1);
    cr_assert_eq(hc_errstatus(), HC_EUSAGE);
    o = opts(0, 1, 10);
    cr_assert_eq(hc_dataset_open(&ds, f, &o), -1);
    o = opts(1, 1, 10);
    o.bos = VOCAB;
    cr_assert_eq(hc_dataset_open(&ds, f, &o), -1);
    cr_assert(strstr(hc_errmsg(), "BOS id 1000"), "%s", hc_errmsg());
}

Test(dataset, directory_reads_its_files_in_name_order)
{
    char *dir = th_tmpdir("dsdir");
    write_in(dir, "b.jsonl", "{\"tokens\": [3, 3]}\n{\"tokens\": [4, 4]}\n");
    write_in(dir, "a.jsonl", "{\"tokens\": [1, 1]}\n\n{\"tokens\": [2, 2]}\n");
    write_in(dir, "B.jsonl", "{\"tokens\": [0, 0]}\n");     /* 'B' < 'a' in strcmp order */
    write_in(dir, ".hidden.jsonl", "{\"tokens\": [9, 9]}\n");
    write_in(dir, "notes.md", "not data\n");
    char sub[4400];
    snprintf(sub, sizeof sub, "%s/sub.jsonl", dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    hc_dataset_opts o = opts(5, 1, 10);
    hc_dataset *ds;
    cr_assert_eq(hc_dataset_open(&ds, dir, &o), 0, "%s", hc_errmsg());
    hc_batch b;
    cr_assert_eq(hc_dataset_batch(ds, 0, &b), 0);
    for (int r = 0; r < 5; r++)
        ROW(&b, r, BOS, r, r);
    hc_batch_free(&b);
    hc_dataset_free(ds);
}

Test(dataset, lines_of_any_length_are_read)
{
    enum { N = 300000 };
    size_t cap = (size_t)N * 5 + 64;
    char *content = malloc(cap);
    size_t k = (size_t)snprintf(content, cap, "{\"tokens\": [");
    for (int i = 0; i < N; i++)
        k += (size_t)snprintf(content + k, cap - k, i ? ",%d" : "%d", i % 997);
    snprintf(content + k, cap - k, "]}\n{\"tokens\": [5, 6]}\n");
    char *f = write_in(th_tmpdir("ds"), "long.jsonl", content);
    free(content);
    hc_dataset_opts o = opts(2, 1, 5);
    hc_dataset *ds;
    cr_assert_eq(hc_dataset_open(&ds, f, &o), 0, "%s", hc_errmsg());
    hc_batch b;
    cr_assert_eq(hc_dataset_batch(ds, 0, &b), 0);
    ROW(&b, 0, BOS, 0, 1, 2, 3);
    ROW(&b, 1, BOS, 5, 6);
    hc_batch_free(&b);
    hc_dataset_free(ds);
}
