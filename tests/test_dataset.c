/* Data sources: numpy's and CPython's generators against the real ones
 * (tests/ref_*.py), the IOI generator against CPython running the original
 * algorithm, and the sequence/batch semantics of docs/design.md on small
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

/* Asserts that row r of b is exactly want[0..n) followed by padding with
 * the row's BOS, want[0]. */
static void assert_row(const hc_batch *b, int r, const int32_t *want, int n)
{
    cr_assert_eq(b->lens[r], n, "row %d: length %d, want %d", r, b->lens[r], n);
    for (int t = 0; t < b->cols; t++) {
        int32_t w = t < n ? want[t] : want[0];
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
    char *dir = th_tmpdir("ds"), *f = write_in(dir, "d.jsonl", five_docs);
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
    free(dir);
}

Test(dataset, min_len_skips_documents_shorter_than_it)
{
    char *dir = th_tmpdir("ds"), *f = write_in(dir, "d.jsonl", five_docs);
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
    free(dir);
}

Test(dataset, chunk_splits_documents_into_windows)
{
    char *dir = th_tmpdir("ds"), *f = write_in(dir, "d.jsonl", five_docs);
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
    /* every token of the four rows above but their BOS: 3 + 3 + 2 + 3 */
    cr_assert_eq(hc_dataset_n_scored(ds), 11);
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
    cr_assert_eq(hc_dataset_n_scored(ds), 9); /* 3 + 3 + 3: the short window left no trace */
    hc_dataset_free(ds);

    /* Too few windows names windows and documents. */
    o = opts(5, 1, 4);
    o.chunk = true;
    cr_assert_eq(hc_dataset_open(&ds, f, &o), -1);
    cr_assert(strstr(hc_errmsg(), "need 5 windows for 1 batches of 5, have 4 (from 5 documents)"),
              "%s", hc_errmsg());
    free(dir);
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
    free(dir);
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
    free(dir);
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
    free(dir);
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
    free(empty);
    free(dir);
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
    free(dir);
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
    char *dir = th_tmpdir("ds"), *f = write_in(dir, "long.jsonl", content);
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
    free(dir);
}

/* ---------------------------------------------------------------- with the GPT-2 tokenizer */

static hc_tokenizer *gpt2(void)
{
    hc_tokenizer *tk;
    cr_assert_eq(hc_tokenizer_load_dir(&tk, th_src("data")), 0, "%s", hc_errmsg());
    return tk;
}

static hc_dataset_opts gpt2_opts(const hc_tokenizer *tk, int b, int n, int seq_len)
{
    hc_dataset_opts o = opts(b, n, seq_len);
    o.bos = 50256;
    o.vocab_size = hc_tokenizer_vocab_size(tk);
    o.tk = tk;
    return o;
}

/* Row r must be BOS + tokenize(text), cut to seq_len. */
static void assert_text_row(const hc_tokenizer *tk, const hc_batch *b, int r, const char *text,
                            int seq_len)
{
    int32_t *ids;
    size_t n;
    cr_assert_eq(hc_tokenize(tk, text, strlen(text), &ids, &n), 0);
    int len = 1 + (int)n < seq_len ? 1 + (int)n : seq_len;
    cr_assert_eq(b->lens[r], len, "row %d: length %d, want %d", r, b->lens[r], len);
    const int32_t *row = b->tokens + (size_t)r * b->cols;
    cr_assert_eq(row[0], 50256);
    for (int t = 1; t < b->cols; t++)
        cr_assert_eq(row[t], t < len ? ids[t - 1] : 50256, "row %d pos %d", r, t);
    free(ids);
}

Test(dataset, ioi_batch_i_is_seed_i_tokenised)
{
    hc_tokenizer *tk = gpt2();
    static const int seq_lens[] = {100, 6};
    for (int s = 0; s < 2; s++) {
        int seq_len = seq_lens[s];
        hc_dataset_opts o = gpt2_opts(tk, 5, 3, seq_len);
        o.chunk = true;                 /* ignored by ioi, as documented */
        o.min_len = seq_len;
        hc_dataset *ds;
        cr_assert_eq(hc_dataset_open(&ds, "ioi", &o), 0, "%s", hc_errmsg());
        for (int i = 0; i < 3; i++) {
            char args[32];
            snprintf(args, sizeof args, "5 %d", i);
            char *ref = python("tests/ref_ioi.py", args), *save;
            hc_batch b;
            cr_assert_eq(hc_dataset_batch(ds, i, &b), 0);
            char *line = strtok_r(ref, "\n", &save);
            for (int r = 0; r < 5; r++, line = strtok_r(NULL, "\n", &save))
                assert_text_row(tk, &b, r, line, seq_len);
            hc_batch_free(&b);
            free(ref);
        }
        hc_dataset_free(ds);
    }
    hc_tokenizer_free(tk);
}

Test(dataset, text_documents_from_txt_and_jsonl)
{
    hc_tokenizer *tk = gpt2();
    char *dir = th_tmpdir("dstext");
    char *txt = write_in(dir, "a.txt", "One whole file,\nwith two lines.\n");
    write_in(dir, "b.jsonl", "{\"text\": \"A JSONL document.\"}\n{\"text\": \"x\"}\n"
                             "{\"tokens\": [40, 716]}\n");
    hc_dataset_opts o = gpt2_opts(tk, 3, 1, 5);
    hc_dataset *ds;
    cr_assert_eq(hc_dataset_open(&ds, dir, &o), 0, "%s", hc_errmsg());
    hc_batch b;
    cr_assert_eq(hc_dataset_batch(ds, 0, &b), 0);
    assert_text_row(tk, &b, 0, "One whole file,\nwith two lines.\n", 5);
    assert_text_row(tk, &b, 1, "A JSONL document.", 5);     /* "x" is one token: skipped */
    ROW(&b, 2, 50256, 40, 716);
    hc_batch_free(&b);
    hc_dataset_free(ds);

    /* Ids the tokenizer makes must fit the model's vocabulary too. */
    o = gpt2_opts(tk, 1, 1, 5);
    o.bos = 0;
    o.vocab_size = 300;
    cr_assert_eq(hc_dataset_open(&ds, txt, &o), -1);
    cr_assert(strstr(hc_errmsg(), "a.txt: token id"), "%s", hc_errmsg());
    cr_assert(strstr(hc_errmsg(), "outside the vocabulary [0, 300)"), "%s", hc_errmsg());
    hc_tokenizer_free(tk);
    free(dir);
}

/* ---------------------------------------------------------------- headcal data */

static int headcal(const char *args, char **out, char **err)
{
    char cmd[16400];
    snprintf(cmd, sizeof cmd, "'%s' %s", th_headcal(), args);
    return th_run(cmd, out, err);
}

static void assert_one_error_line(const char *err, const char *what)
{
    cr_assert(!strncmp(err, "headcal: ", 9), "%s: stderr '%s'", what, err);
    const char *nl = strchr(err, '\n');
    cr_assert(nl && nl[1] == 0, "%s: stderr is not one line: '%s'", what, err);
}

Test(dataset, data_command_rejects_bad_options)
{
    char *dir = th_tmpdir("dscli");
    char *f = write_in(dir, "d.jsonl", five_docs);
    static const char *const bad[] = {
        "--batch-size 0", "--batch-size -3", "--batches 0", "--seq-len 1", "--seq-len x",
        "--bogus", "--format xml", "--chunk --seq-len 2", "--min-len 20 --seq-len 10",
        "--shuffle-seed -1", "--shuffle-seed 4294967296", "extra-argument",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[8192], *out, *err;
        snprintf(args, sizeof args, "data --model '%s' --data '%s' --batch-size 1 --batches 1 %s",
                 th_src("data"), f, bad[i]);
        cr_assert_eq(headcal(args, &out, &err), 2, "%s: not a usage error", bad[i]);
        assert_one_error_line(err, bad[i]);
        cr_assert_str_empty(out);
        free(out);
        free(err);
    }
    char *out, *err;
    cr_assert_eq(headcal("data --data ioi", &out, &err), 2);
    assert_one_error_line(err, "no --model");
    free(out);
    free(err);
    free(dir);
}

Test(dataset, data_command_reports_bad_input_and_model_limits)
{
    char *dir = th_tmpdir("dscli");
    char args[8192], *out, *err;
    char *f = write_in(dir, "e.jsonl", "{\"tokens\": [1, 2]}\n{\"tokens\": [1, 2\n");
    snprintf(args, sizeof args, "data --model '%s' --data '%s' --batch-size 1 --batches 2",
             th_src("data"), f);
    cr_assert_eq(headcal(args, &out, &err), 1);
    assert_one_error_line(err, "bad JSONL");
    cr_assert(strstr(err, "e.jsonl:2: not valid JSON"), "%s", err);
    free(out);
    free(err);

    /* A model directory with a config: its context and vocabulary rule. */
    char model[4400], cmd[16384];
    snprintf(model, sizeof model, "%s/model", dir);
    snprintf(cmd, sizeof cmd, "mkdir '%s' && ln -s '%s' '%s' '%s/' && printf '%%s' "
             "'{\"n_layer\": 1, \"n_head\": 1, \"n_embd\": 4, \"vocab_size\": 300, "
             "\"bos_token_id\": 0, \"n_positions\": 64}' > '%s/config.json'",
             model, th_src("data/vocab.json"), th_src("data/merges.txt"), model, model);
    cr_assert_eq(th_run(cmd, NULL, NULL), 0);
    f = write_in(dir, "t.jsonl", "{\"text\": \"Hello there, world\"}\n");
    snprintf(args, sizeof args, "data --model '%s' --data '%s' --batch-size 1 --batches 1 --seq-len 65",
             model, f);
    cr_assert_eq(headcal(args, &out, &err), 2);
    cr_assert(strstr(err, "context of 64"), "%s", err);
    free(out);
    free(err);
    snprintf(args, sizeof args, "data --model '%s' --data '%s' --batch-size 1 --batches 1 --seq-len 64",
             model, f);
    cr_assert_eq(headcal(args, &out, &err), 1);
    assert_one_error_line(err, "vocabulary");
    cr_assert(strstr(err, "t.jsonl:1: token id"), "%s", err);
    free(out);
    free(err);
    f = write_in(dir, "u.jsonl", "{\"tokens\": [5, 299, 7]}\n");
    snprintf(args, sizeof args, "data --model '%s' --data '%s' --batch-size 1 --batches 1 --seq-len 10 "
             "--format tokens", model, f);
    cr_assert_eq(headcal(args, &out, &err), 0, "%s", err);
    cr_assert_str_eq(out, "0 5 299 7\n");   /* the config's BOS */
    free(out);
    free(err);
    free(dir);
}

Test(dataset, data_command_jsonl_round_trips)
{
    char *dir = th_tmpdir("dscli");
    char cmd[16384], *out, *err;
    snprintf(cmd, sizeof cmd, "%s '%s' docs '%s' '%s/docs.jsonl'", TEST_PYTHON,
             th_src("tests/ref_data.py"), th_src("data/vocab.json"), dir);
    cr_assert_eq(th_run(cmd, NULL, NULL), 0);
    static const char *const fmts[] = {"jsonl", "text", "tokens"};
    for (int k = 0; k < 3; k++) {
        snprintf(cmd, sizeof cmd, "'%s' data --model '%s' --data '%s/docs.jsonl' --batch-size 3 "
                 "--batches 2 --seq-len 12 --shuffle-seed 3 --format %s > '%s/out.%s'",
                 th_headcal(), th_src("data"), dir, fmts[k], dir, fmts[k]);
        cr_assert_eq(th_run(cmd, NULL, &err), 0, "%s", err);
        free(err);
    }
    snprintf(cmd, sizeof cmd, "cd '%s' && %s '%s' check '%s' 3 out.jsonl out.text out.tokens re.jsonl",
             dir, TEST_PYTHON, th_src("tests/ref_data.py"), th_src("data/vocab.json"));
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "\\ufffd"), "the cut UTF-8 must show as U+FFFD: %s", out);
    free(out);
    free(err);
    /* The sequences, fed back as documents, give the same output. */
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' data --model '%s' --data re.jsonl --batch-size 3 "
             "--batches 2 --seq-len 12 --format jsonl | cmp - out.jsonl",
             dir, th_headcal(), th_src("data"));
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s%s", out, err);
    free(out);
    free(err);
    free(dir);
}

Test(dataset, data_command_prints_the_ioi_prompts)
{
    char args[8192], *out, *err;
    snprintf(args, sizeof args, "data --model '%s' --data ioi --batch-size 4 --batches 2 --format text",
             th_src("data"));
    cr_assert_eq(headcal(args, &out, &err), 0, "%s", err);
    char *ref0 = python("tests/ref_ioi.py", "4 0"), *ref1 = python("tests/ref_ioi.py", "4 1");
    char *want = malloc(strlen(ref0) + strlen(ref1) + 1);
    strcpy(want, ref0);
    strcat(want, ref1);
    cr_assert_str_eq(out, want);
    free(want);
    free(ref0);
    free(ref1);
    free(out);
    free(err);
}

Test(dataset, data_command_takes_every_run_option)
{
    /* --preset paper: sequences of 1000 tokens, shorter documents skipped.
     * d0 has 999 tokens (BOS + 999 = 1000: kept), d1 998 (skipped), d2 1500
     * (kept, cut to BOS + 999). */
    static const int lens[] = {999, 998, 1500};
    char *dir = th_tmpdir("dscli");
    size_t cap = 3 * 1500 * 8 + 64, k = 0;
    char *content = malloc(cap);
    for (int d = 0; d < 3; d++) {
        k += (size_t)snprintf(content + k, cap - k, "{\"tokens\": [");
        for (int i = 0; i < lens[d]; i++)
            k += (size_t)snprintf(content + k, cap - k, i ? ",%d" : "%d", d * 10000 + i);
        k += (size_t)snprintf(content + k, cap - k, "]}\n");
    }
    char *f = write_in(dir, "long.jsonl", content);
    free(content);
    char args[8192], *out, *err;
    snprintf(args, sizeof args, "data --model '%s' --data '%s' --preset paper --batches 1 --batch-size 2 "
             "--top-k 3 --bins 10 --ablation mean --ln recompute --threads 2 --format tokens",
             th_src("data"), f);
    cr_assert_eq(headcal(args, &out, &err), 0, "%s", err);
    char *line2 = strchr(out, '\n');
    cr_assert_not_null(line2);
    *line2++ = 0;
    static const int docs[] = {0, 2};
    const char *lines[] = {out, line2};
    for (int r = 0; r < 2; r++) {
        char *p = (char *)lines[r], *end;
        cr_assert_eq(strtol(p, &end, 10), 50256);
        int n = 0;
        for (p = end; *p && *p != '\n'; p = end, n++)
            cr_assert_eq(strtol(p, &end, 10), docs[r] * 10000 + n, "row %d token %d", r, n);
        cr_assert_eq(n, 999, "row %d holds %d tokens after BOS", r, n);
    }
    free(out);
    free(err);
    free(dir);
}

/* A corpus streams: `headcal data` on a 96 MB JSONL keeps one reference
 * per document and the sequences it prints, not the corpus (the process's
 * peak resident memory, read by the kernel's accounting). */
Test(dataset, a_large_corpus_is_streamed, .timeout = 120)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    cr_skip_test("resident memory is not the program's own under a sanitizer's shadow memory");
#else
    char *dir = th_tmpdir("stream"), path[4300], cmd[16000], *out, *err;
    snprintf(path, sizeof path, "%s/big.jsonl", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    char line[12100];
    int k = snprintf(line, sizeof line, "{\"text\": \"");
    while (k < 12000)
        k += snprintf(line + k, sizeof line - (size_t)k, "the quick brown fox jumps over the lazy dog ");
    snprintf(line + k, sizeof line - (size_t)k, "\"}\n");
    for (int i = 0; i < 8000; i++)
        fputs(line, f);
    cr_assert_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd,
             "%s -c 'import resource, subprocess, sys; "
             "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
             "print(r, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "
             "'%s' data --model '%s' --data '%s' --batches 2 --batch-size 2 --seq-len 64 --format tokens",
             TEST_PYTHON, th_headcal(), TEST_BUILDDIR "/data/default", path);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    int rc = -1;
    long kb = 0;
    cr_assert_eq(sscanf(out, "%d %ld", &rc, &kb), 2, "%s", out);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_lt(kb, 48 * 1024, "peak RSS %ld kB for a 96 MB corpus", kb);
    free(out);
    free(err);
    free(dir);
#endif
}
