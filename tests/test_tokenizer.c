/* The GPT-2 tokenizer against the published test vectors and against an
 * independent implementation: the npm package gpt-3-encoder (tests/peer). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/tokenizer.h"
#include "helpers.h"

static hc_tokenizer *bundled(void)
{
    hc_tokenizer *tk;
    cr_assert_eq(hc_tokenizer_load_dir(&tk, th_src("data")), 0, "%s", hc_errmsg());
    return tk;
}

/* Our ids for len bytes of text, as "id id id". */
static char *ours(const hc_tokenizer *tk, const char *text, size_t len)
{
    int32_t *ids;
    size_t n;
    cr_assert_eq(hc_tokenize(tk, text, len, &ids, &n), 0, "%s", hc_errmsg());
    char *s = malloc(12 * n + 1), *w = s;
    *w = 0;
    for (size_t i = 0; i < n; i++)
        w += sprintf(w, i ? " %d" : "%d", (int)ids[i]);
    free(ids);
    return s;
}

/* The peer's ids for each document, one "id id id" string each. */
static char **peer(char *const *docs, size_t n)
{
    /* A tarball ships the peer's package.json and lock, not its modules. */
    if (access(th_src("tests/peer/node_modules"), F_OK) != 0 || !strcmp(TEST_NODE, "no"))
        cr_skip_test("the peer encoder is absent (needs node and `npm ci --prefix tests/peer`)");
    const char *mod = th_src("tests/peer/node_modules/gpt-3-encoder/Encoder.js");
    cr_assert(access(mod, R_OK) == 0,
              "the peer encoder is not installed: run `npm install --prefix tests/peer` (%s missing)", mod);
    char *dir = th_tmpdir("peer");
    char path[4300], cmd[13000];
    snprintf(path, sizeof path, "%s/docs.jsonl", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    for (size_t i = 0; i < n; i++) {
        cJSON *s = cJSON_CreateString(docs[i]);
        char *j = cJSON_PrintUnformatted(s);
        fprintf(f, "%s\n", j);
        free(j);
        cJSON_Delete(s);
    }
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s'", TEST_NODE, th_src("tests/peer/encode.js"), path);
    char *out, *err;
    int rc = th_run(cmd, &out, &err);
    cr_assert_eq(rc, 0, "peer encoder failed: %s", err);
    char **lines = calloc(n, sizeof *lines);
    char *p = out;
    for (size_t i = 0; i < n; i++) {
        char *nl = strchr(p, '\n');
        cr_assert(nl, "peer printed %zu lines for %zu documents", i, n);
        *nl = 0;
        lines[i] = strdup(p);
        p = nl + 1;
    }
    free(out);
    free(err);
    unlink(path);
    rmdir(dir);
    free(dir);
    return lines;
}

static void compare_with_peer(const hc_tokenizer *tk, char *const *docs, size_t n)
{
    char **want = peer(docs, n);
    for (size_t i = 0; i < n; i++) {
        char *got = ours(tk, docs[i], strlen(docs[i]));
        cr_expect_str_eq(got, want[i], "document %zu differs: \"%.60s\"", i, docs[i]);
        free(got);
        free(want[i]);
    }
    free(want);
}

/* The fixture's documents, separated by lines "%%". */
static char **corpus(size_t *n, char **whole)
{
    size_t len;
    cr_assert_eq(hc_read_file(th_src("tests/fixtures/tokenizer_corpus.txt"), 1 << 20, whole, &len), 0);
    char *text = strdup(*whole), *p = text, *sep;
    char **docs = NULL;
    *n = 0;
    for (;;) {
        sep = strstr(p, "\n%%\n");
        docs = realloc(docs, (*n + 1) * sizeof *docs);
        docs[(*n)++] = strndup(p, sep ? (size_t)(sep - p) : strlen(p));
        if (!sep)
            break;
        p = sep + 4;
    }
    free(text);
    cr_assert_gt(*n, 20);
    return docs;
}

static void free_docs(char **docs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(docs[i]);
    free(docs);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The id that vocab.json itself gives a token (read here with cJSON, not
 * through the tokenizer). */
static int vocab_id(const char *token)
{
    static cJSON *v;
    if (!v) {
        char *text;
        size_t len;
        cr_assert_eq(hc_read_file(th_src("data/vocab.json"), 1 << 24, &text, &len), 0);
        v = cJSON_Parse(text);
        free(text);
    }
    cJSON *e = cJSON_GetObjectItemCaseSensitive(v, token);
    cr_assert(cJSON_IsNumber(e), "vocab.json has no token \"%s\"", token);
    return e->valueint;
}

Test(tokenizer, reference_vectors)
{
    hc_tokenizer *tk = bundled();
    cr_assert_eq(hc_tokenizer_vocab_size(tk), 50257);
    char *a = ours(tk, "Hello world", 11), *b = ours(tk, " Hello world", 12), *c = ours(tk, "", 0);
    cr_assert_str_eq(a, "15496 995");
    cr_assert_str_eq(b, "18435 995");
    cr_assert_str_eq(c, "");
    free(a), free(b), free(c);
    hc_tokenizer_free(tk);
}

Test(tokenizer, corpus_matches_peer)
{
    hc_tokenizer *tk = bundled();
    size_t n;
    char *whole;
    char **docs = corpus(&n, &whole);
    compare_with_peer(tk, docs, n);
    compare_with_peer(tk, &whole, 1);
    free(whole);
    free_docs(docs, n);
    hc_tokenizer_free(tk);
}

/* Random documents built from fragments that stress the pre-tokenizer's
 * classes and their boundaries, plus long runs of one class. */
Test(tokenizer, random_documents_match_peer)
{
    static const char *frag[] = {
        "a", "b", "Z", "The", " the", "quick", "é", "ß", "Ω", "ж", "中", "文", "ア", "😀", "👍🏽", "‍",
        " ", "  ", "\t", "\n", "\n\n", "\r\n", " \n", "'", "'s", "'S", "'t", "'re", "'ve", "'m", "'ll",
        "'d", "'LL", "1", "23", "456", "٣", "½", "²", ".", ",", "!", "?", "-", "_", "(", ")", "\"",
        "...", ",,", "$", "€", "\u00a0", "\u3000", "\u2003", "e\u0301", "don't", "x", "http://", "#",
    };
    const size_t nf = sizeof frag / sizeof frag[0];
    enum { N = 300 };
    char *docs[N + 4];
    uint64_t s = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < N; i++) {
        size_t k = 1 + rng_next(&s) % 40;
        docs[i] = calloc(k * 16 + 1, 1);
        for (size_t j = 0; j < k; j++)
            strcat(docs[i], frag[rng_next(&s) % nf]);
    }
    docs[N] = calloc(2001, 1), memset(docs[N], 'a', 2000);
    docs[N + 1] = calloc(1002, 1), memset(docs[N + 1], ' ', 1000), docs[N + 1][1000] = 'x';
    docs[N + 2] = calloc(1001, 1);
    for (int i = 0; i < 1000; i++)
        docs[N + 2][i] = "!?"[i % 2];
    docs[N + 3] = calloc(1001, 1);
    for (int i = 0; i < 1000; i++)
        docs[N + 3][i] = (char)('0' + i % 10);
    hc_tokenizer *tk = bundled();
    compare_with_peer(tk, docs, N + 4);
    for (int i = 0; i < N + 4; i++)
        free(docs[i]);
    hc_tokenizer_free(tk);
}

Test(tokenizer, endoftext_is_one_token_and_splits_the_text)
{
    hc_tokenizer *tk = bundled();
    cr_assert_eq(vocab_id("<|endoftext|>"), 50256);
    /* The peer has no special tokens: it sees only the text between them,
     * and the partial markers, which must stay ordinary text. */
    char *parts[] = {"Hello", " world", "x", "<|endoftext", "<|endoftext|", "endoftext|>"};
    char **want = peer(parts, 6);
    const char *text = "Hello<|endoftext|> world<|endoftext|><|endoftext|>x";
    char expect[512];
    snprintf(expect, sizeof expect, "%s 50256 %s 50256 50256 %s", want[0], want[1], want[2]);
    char *got = ours(tk, text, strlen(text));
    cr_assert_str_eq(got, expect);
    free(got);
    for (int i = 3; i < 6; i++) {
        got = ours(tk, parts[i], strlen(parts[i]));
        cr_assert_str_eq(got, want[i], "\"%s\" is not the special token", parts[i]);
        free(got);
    }
    got = ours(tk, "<|endoftext|>", 13);
    cr_assert_str_eq(got, "50256");
    free(got);
    for (int i = 0; i < 6; i++)
        free(want[i]);
    free(want);
    hc_tokenizer_free(tk);
}

/* Each invalid byte is a piece of its own (its byte token); the valid
 * UTF-8 around it is tokenized as if the byte were a boundary. */
Test(tokenizer, invalid_utf8_is_tokenized_bytewise)
{
    hc_tokenizer *tk = bundled();
    char *parts[] = {"ab", "cd", " x", "é"};
    char **want = peer(parts, 4);
    char expect[256];
    /* 0xff stands for itself in the byte-to-unicode table ("ÿ"); 0x80 is the
     * 35th unprintable byte, so it is U+0100 + 34 = "Ģ" (docs/design.md, "The tokenizer"). */
    snprintf(expect, sizeof expect, "%s %d %s", want[0], vocab_id("ÿ"), want[1]);
    char *got = ours(tk, "ab\xff" "cd", 5);
    cr_assert_str_eq(got, expect);
    free(got);
    snprintf(expect, sizeof expect, "%d %s %d %s %d", vocab_id("Ģ"), want[2], vocab_id("Ã"), want[3],
             vocab_id("Ģ"));
    /* A lone continuation byte, a two-byte lead (0xc3) cut short by another
     * lead byte, a valid é, then a lone continuation byte again. */
    got = ours(tk, "\x80 x\xc3\xc3\xa9\x80", 7);
    cr_assert_str_eq(got, expect);
    free(got);
    for (int i = 0; i < 4; i++)
        free(want[i]);
    free(want);
    hc_tokenizer_free(tk);
}

static void assert_round_trip(const hc_tokenizer *tk, const char *text, size_t len)
{
    int32_t *ids;
    size_t n, back_len;
    cr_assert_eq(hc_tokenize(tk, text, len, &ids, &n), 0, "%s", hc_errmsg());
    char *back = hc_detokenize(tk, ids, n, &back_len);
    cr_assert(back, "%s", hc_errmsg());
    cr_assert_eq(back_len, len);
    cr_assert(memcmp(back, text, len) == 0, "round trip changed \"%.60s\"", text);
    free(back);
    free(ids);
}

Test(tokenizer, decode_inverts_encode)
{
    hc_tokenizer *tk = bundled();
    size_t n;
    char *whole;
    char **docs = corpus(&n, &whole);
    for (size_t i = 0; i < n; i++)
        assert_round_trip(tk, docs[i], strlen(docs[i]));
    assert_round_trip(tk, whole, strlen(whole));
#define BYTES(s) {s, sizeof s - 1}
    static const struct {
        const char *s;
        size_t len;
    } bad[] = {
        BYTES("\xff"), BYTES("\xc3"), BYTES("\xc3\x28"), BYTES("\xe2\x82\x28"), BYTES("\xc0\xaf"),
        BYTES("\xed\xa0\x80"), BYTES("\xf4\x90\x80\x80"), BYTES("\xf8\x88\x80\x80\x80"),
        BYTES("ok\xe2\x82"), BYTES("\xf0\x9f\x98"), BYTES("a\x00" "b"), BYTES("<|endoftext|>\xfe<|endo"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_round_trip(tk, bad[i].s, bad[i].len);
    /* Random bytes, mostly invalid UTF-8, with text mixed in. */
    uint64_t s = 12345;
    char buf[4096];
    for (int r = 0; r < 200; r++) {
        size_t len = rng_next(&s) % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            uint64_t x = rng_next(&s);
            buf[i] = (x & 3) ? (char)(x >> 8) : "ab 'sé\n"[(x >> 8) % 7];
        }
        assert_round_trip(tk, buf, len);
    }
    int32_t out_of_range[] = {1, 50257};
    cr_assert_null(hc_detokenize(tk, out_of_range, 2, NULL));
    cr_assert(strstr(hc_errmsg(), "50257") != NULL);
    int32_t negative[] = {-1};
    cr_assert_null(hc_detokenize(tk, negative, 1, NULL));
    free(whole);
    free_docs(docs, n);
    hc_tokenizer_free(tk);
}

struct job {
    const hc_tokenizer *tk;
    const char *text;
    int rc;
    int32_t *ids;
    size_t n;
};

/* No Criterion assertions here: they may only run on the test's thread. */
static void *tokenize_job(void *arg)
{
    struct job *j = arg;
    j->rc = hc_tokenize(j->tk, j->text, strlen(j->text), &j->ids, &j->n);
    return NULL;
}

/* One loaded tokenizer serves several threads at once. */
Test(tokenizer, threads_share_a_tokenizer)
{
    hc_tokenizer *tk = bundled();
    size_t n;
    char *whole;
    char **docs = corpus(&n, &whole);
    int32_t *want;
    size_t nwant;
    cr_assert_eq(hc_tokenize(tk, whole, strlen(whole), &want, &nwant), 0);
    pthread_t th[4];
    struct job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct job){tk, whole, -1, NULL, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, tokenize_job, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(jobs[i].rc, 0);
        cr_assert_eq(jobs[i].n, nwant);
        cr_assert(memcmp(jobs[i].ids, want, nwant * sizeof *want) == 0, "thread %d differs", i);
        free(jobs[i].ids);
    }
    free(want);
    free(whole);
    free_docs(docs, n);
    hc_tokenizer_free(tk);
}

/* ---------------------------------------------------------------- hostile files */

/* Writes body to dir/name; the path stays valid for the next 8 calls. */
static const char *tmp_file(const char *dir, const char *name, const char *body)
{
    static char paths[8][4400];
    static int k;
    char *p = paths[k++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    cr_assert_eq(th_write_file(p, body, strlen(body)), 0);
    return p;
}

/* Loading fails with a message naming the file and containing `what`. */
static void assert_load_fails(const char *vocab, const char *merges, const char *named, const char *what)
{
    hc_tokenizer *tk = (hc_tokenizer *)1;
    hc_clear_error();
    cr_assert_eq(hc_tokenizer_load(&tk, vocab, merges), -1, "%s: loaded", named);
    cr_assert_null(tk);
    cr_assert(strstr(hc_errmsg(), named) != NULL, "message '%s' does not name %s", hc_errmsg(), named);
    cr_assert(strstr(hc_errmsg(), what) != NULL, "message '%s' lacks '%s'", hc_errmsg(), what);
    cr_assert_eq(hc_errstatus(), HC_EBAD);
}

/* The bundled vocab with one change, written to dir/name. */
static const char *edited_vocab(const char *dir, const char *name, const char *key, cJSON *value)
{
    char *text;
    size_t len;
    cr_assert_eq(hc_read_file(th_src("data/vocab.json"), 1 << 24, &text, &len), 0);
    cJSON *v = cJSON_Parse(text);
    free(text);
    if (cJSON_HasObjectItem(v, key))
        cJSON_ReplaceItemInObjectCaseSensitive(v, key, value);
    else
        cJSON_AddItemToObject(v, key, value);
    char *out = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    const char *p = tmp_file(dir, name, out);
    free(out);
    return p;
}

Test(tokenizer, hostile_vocab_is_rejected)
{
    char *dir = th_tmpdir("tok-vocab");
    char merges[4400]; /* kept: tmp_file's paths are recycled */
    snprintf(merges, sizeof merges, "%s", tmp_file(dir, "merges.txt", "#version: 0.2\n"));
    assert_load_fails(tmp_file(dir, "array.json", "[1, 2]"), merges, "array.json", "not a JSON object");
    assert_load_fails(tmp_file(dir, "broken.json", "{\"a\": 0,"), merges, "broken.json", "JSON");
    assert_load_fails(tmp_file(dir, "empty.json", "{}"), merges, "empty.json", "empty");
    assert_load_fails(tmp_file(dir, "neg.json", "{\"a\": -1}"), merges, "neg.json", "integer");
    assert_load_fails(tmp_file(dir, "frac.json", "{\"a\": 0.5}"), merges, "frac.json", "integer");
    assert_load_fails(tmp_file(dir, "str.json", "{\"a\": \"0\"}"), merges, "str.json", "integer");
    assert_load_fails(tmp_file(dir, "range.json", "{\"a\": 0, \"b\": 2}"), merges, "range.json", "[0, 1]");
    assert_load_fails(tmp_file(dir, "dupid.json", "{\"a\": 0, \"b\": 0}"), merges, "dupid.json", "id 0");
    assert_load_fails(tmp_file(dir, "dupkey.json", "{\"a\": 0, \"a\": 1}"), merges, "dupkey.json", "twice");
    assert_load_fails(tmp_file(dir, "nobytes.json", "{\"a\": 0}"), merges, "nobytes.json", "no token for byte");
    assert_load_fails(tmp_file(dir, "blank.json", "{\"\": 0}"), merges, "blank.json", "empty token");
    assert_load_fails(edited_vocab(dir, "big.json", "Ġthe", cJSON_CreateNumber(1e9)), merges, "big.json",
                      "integer in [0, 50256]");
    assert_load_fails(edited_vocab(dir, "euro.json", "€", cJSON_CreateNumber(50257)), merges, "euro.json",
                      "outside GPT-2's byte alphabet");
    assert_load_fails("/nonexistent/vocab.json", merges, "/nonexistent/vocab.json", "");
    free(dir);
}

Test(tokenizer, hostile_merges_are_rejected)
{
    char *dir = th_tmpdir("tok-merges");
    const char *vocab = th_src("data/vocab.json");
    assert_load_fails(vocab, tmp_file(dir, "three.txt", "#version: 0.2\nĠ t\nh e x\n"), "three.txt:3",
                      "two tokens");
    assert_load_fails(vocab, tmp_file(dir, "one.txt", "Ġ t\nhe\n"), "one.txt:2", "two tokens");
    assert_load_fails(vocab, tmp_file(dir, "blank.txt", "Ġ t\n\nh e\n"), "blank.txt:2", "two tokens");
    assert_load_fails(vocab, tmp_file(dir, "space2.txt", "Ġ  t\n"), "space2.txt:1", "two tokens");
    assert_load_fails(vocab, tmp_file(dir, "late.txt", "Ġ t\n#version: 0.2\n"), "late.txt:2",
                      "not in the vocabulary");
    assert_load_fails(vocab, tmp_file(dir, "oov.txt", "Ġ t\nqqqqqq zzzzzz\n"), "oov.txt:2", "not in the vocabulary");
    assert_load_fails(vocab, tmp_file(dir, "alpha.txt", "€ t\n"), "alpha.txt:1", "byte alphabet");
    assert_load_fails(vocab, tmp_file(dir, "dup.txt", "Ġ t\nh e\nĠ t\n"), "dup.txt:3", "duplicate");
    assert_load_fails(vocab, "/nonexistent/merges.txt", "/nonexistent/merges.txt", "");
    hc_tokenizer *tk;
    cr_assert_eq(hc_tokenizer_load_dir(&tk, dir), -1);
    cr_assert(strstr(hc_errmsg(), "vocab.json") != NULL, "%s", hc_errmsg());
    free(dir);
}

/* Merges define the BPE: without any, every byte is its own token; with
 * one, exactly that pair joins. */
Test(tokenizer, merges_drive_bpe)
{
    char *dir = th_tmpdir("tok-bpe");
    const char *vocab = th_src("data/vocab.json");
    hc_tokenizer *tk;
    cr_assert_eq(hc_tokenizer_load(&tk, vocab, tmp_file(dir, "none.txt", "")), 0, "%s", hc_errmsg());
    char expect[128], *got = ours(tk, "Hi there", 8);
    snprintf(expect, sizeof expect, "%d %d %d %d %d %d %d %d", vocab_id("H"), vocab_id("i"), vocab_id("Ġ"),
             vocab_id("t"), vocab_id("h"), vocab_id("e"), vocab_id("r"), vocab_id("e"));
    cr_assert_str_eq(got, expect);
    free(got);
    hc_tokenizer_free(tk);
    cr_assert_eq(hc_tokenizer_load(&tk, vocab, tmp_file(dir, "one.txt", "#version: 0.2\r\nĠ t\r\n")), 0, "%s",
                 hc_errmsg());
    got = ours(tk, "Hi there", 8);
    snprintf(expect, sizeof expect, "%d %d %d %d %d %d %d", vocab_id("H"), vocab_id("i"), vocab_id("Ġt"),
             vocab_id("h"), vocab_id("e"), vocab_id("r"), vocab_id("e"));
    cr_assert_str_eq(got, expect);
    free(got);
    hc_tokenizer_free(tk);
    /* GPT-2's reference merges every occurrence of the best pair before it
     * looks at the pairs that creates: "a a" (rank 1) turns "aaaa" into
     * "aa aa", and "aa a" (rank 0) never gets a chance. */
    cr_assert_eq(hc_tokenizer_load(&tk, vocab, tmp_file(dir, "order.txt", "aa a\na a\n")), 0, "%s",
                 hc_errmsg());
    got = ours(tk, "aaaa", 4);
    snprintf(expect, sizeof expect, "%d %d", vocab_id("aa"), vocab_id("aa"));
    cr_assert_str_eq(got, expect);
    free(got);
    hc_tokenizer_free(tk);
    free(dir);
}

/* ---------------------------------------------------------------- command line */

Test(tokenize_cli, prints_the_library_ids)
{
    hc_tokenizer *tk = bundled();
    const char *fixture = th_src("tests/fixtures/tokenizer_corpus.txt");
    char *text;
    size_t len;
    cr_assert_eq(hc_read_file(fixture, 1 << 20, &text, &len), 0);
    char *want = ours(tk, text, len);
    char cmd[9000], *out, *err;
    snprintf(cmd, sizeof cmd, "'%s' tokenize < '%s'", th_headcal(), fixture);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    cr_assert_eq(out[strlen(out) - 1], '\n');
    out[strlen(out) - 1] = 0;
    cr_assert_str_eq(out, want);
    free(out), free(err);
    snprintf(cmd, sizeof cmd, "'%s' tokenize --model '%s' < '%s'", th_headcal(), th_src("data"), fixture);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    out[strlen(out) - 1] = 0;
    cr_assert_str_eq(out, want);
    free(out), free(err), free(want), free(text);
    hc_tokenizer_free(tk);
}

Test(tokenize_cli, detokenize_inverts_tokenize)
{
    const char *fixture = th_src("tests/fixtures/tokenizer_corpus.txt");
    char *dir = th_tmpdir("tok-cli");
    char cmd[13000], *out, *err;
    snprintf(cmd, sizeof cmd, "printf 'caf\\303\\251 \\377<|endoftext|>' > '%s/in' && cat '%s' >> '%s/in' && "
             "'%s' tokenize < '%s/in' | '%s' detokenize > '%s/back' && cmp '%s/in' '%s/back'",
             dir, fixture, dir, th_headcal(), dir, th_headcal(), dir, dir, dir);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s%s", out, err);
    free(out), free(err);
    snprintf(cmd, sizeof cmd, "echo '15496  995\n' | '%s' detokenize", th_headcal());
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    cr_assert_str_eq(out, "Hello world");
    free(out), free(err), free(dir);
}

static void assert_cli_fails(const char *args_and_input, int status, const char *what)
{
    char cmd[9000], *out, *err;
    snprintf(cmd, sizeof cmd, args_and_input, th_headcal());
    cr_assert_eq(th_run(cmd, &out, &err), status, "%s: %s", cmd, err);
    cr_assert(strncmp(err, "headcal: ", 9) == 0 && strstr(err, what), "%s: stderr '%s' lacks '%s'", cmd, err,
              what);
    cr_assert(strchr(err, '\n') == err + strlen(err) - 1, "one line expected: %s", err);
    free(out), free(err);
}

Test(tokenize_cli, bad_usage_and_input)
{
    assert_cli_fails("echo hi | '%s' tokenize --bogus", 2, "--bogus");
    assert_cli_fails("echo hi | '%s' tokenize --model", 2, "--model");
    assert_cli_fails("echo hi | '%s' tokenize extra", 2, "extra");
    assert_cli_fails("echo 1 | '%s' detokenize --bogus", 2, "--bogus");
    assert_cli_fails("echo hi | '%s' tokenize --model /nonexistent", 1, "/nonexistent/vocab.json");
    assert_cli_fails("echo '1 x 2' | '%s' detokenize", 1, "'x' is not a token id");
    assert_cli_fails("echo '1 2x' | '%s' detokenize", 1, "'2x' is not a token id");
    assert_cli_fails("echo '50257' | '%s' detokenize", 1, "out of range [0, 50256]");
    assert_cli_fails("echo '-3' | '%s' detokenize", 1, "out of range");
    assert_cli_fails("echo '99999999999999999999' | '%s' detokenize", 1, "not a token id");
}
