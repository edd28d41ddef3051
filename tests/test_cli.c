/* Bad input through the command line (headcal(1), EXIT STATUS): every command
 * answers a missing file, a damaged checkpoint, tokenizer, data or results
 * file, and every out-of-range option with exit 1 (bad data) or 2 (bad
 * usage) and exactly one line on stderr, "headcal: ...", naming the culprit;
 * it writes no output then.  The parsers' finer cases are tested beside
 * them (test_model.c, test_tokenizer.c, test_dataset.c, test_results.c);
 * these tests run the built binary. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "headcal/error.h"
#include "headcal/results.h"
#include "headcal/sweep.h"
#include "helpers.h"

/* ---------------------------------------------------------------- helpers */

/* Runs `headcal ARGS` (ARGS a printf-formatted shell fragment). */
static int hc_cmd(char **out, char **err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int hc_cmd(char **out, char **err, const char *fmt, ...)
{
    char args[16384], cmd[17000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s", th_headcal(), args);
    return th_run(cmd, out, err);
}

/* Asserts that `headcal ARGS` exits with `status`, prints nothing on stdout
 * and one line on stderr that starts "headcal: " and contains `needle`. */
static void fails(int status, const char *needle, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fails(int status, const char *needle, const char *fmt, ...)
{
    char args[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *out, *err;
    int st = hc_cmd(&out, &err, "%s", args);
    cr_assert_eq(st, status, "headcal %s: exit %d, want %d; stderr: %s", args, st, status, err);
    cr_assert(!strncmp(err, "headcal: ", 9), "headcal %s: stderr '%s'", args, err);
    const char *nl = strchr(err, '\n');
    cr_assert(nl && nl[1] == 0, "headcal %s: stderr is not one line: '%s'", args, err);
    cr_assert(strstr(err, needle), "headcal %s: stderr '%s' lacks '%s'", args, err, needle);
    cr_assert_str_empty(out, "headcal %s: stdout '%s'", args, out);
    free(out);
    free(err);
}

static void succeeds(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void succeeds(const char *fmt, ...)
{
    char args[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *err;
    int st = hc_cmd(NULL, &err, "%s", args);
    cr_assert_eq(st, 0, "headcal %s: exit %d: %s", args, st, err);
    free(err);
}

static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* No temporary of an atomic write was left in dir. */
static void no_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        cr_assert_null(strstr(e->d_name, ".tmp."), "%s/%s was left behind", dir, e->d_name);
    closedir(d);
}

/* A tiny random GPT-2 checkpoint (n_ctx 32) with the bundled tokenizer. */
static char *model(const char *dir, const char *name)
{
    char *m = th_path(dir, name);
    succeeds("synth --out '%s' --layers 2 --heads 2 --d-model 16 --n-ctx 32", m);
    return m;
}

/* n documents of 20 random token ids each (a fixed generator). */
static char *docs(const char *dir, const char *name, int n)
{
    char *p = th_path(dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    uint64_t s = 12345;
    for (int d = 0; d < n; d++) {
        fputs("{\"tokens\": [", f);
        for (int t = 0; t < 20; t++) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            fprintf(f, t ? ", %d" : "%d", (int)((s >> 33) % 50257));
        }
        fputs("]}\n", f);
    }
    cr_assert_eq(fclose(f), 0);
    return p;
}

static void write_text(const char *path, const char *text)
{
    cr_assert_eq(th_write_file(path, text, strlen(text)), 0);
}

/* The small run options every run here uses: 2 batches of 2 sequences of 8. */
#define SMALL "--batches 2 --batch-size 2 --seq-len 8 --threads 1 --quiet"

/* ---------------------------------------------------------------- missing files */

Test(cli, nonexistent_paths_are_named)
{
    char *dir = th_tmpdir("cli"), *m = model(dir, "m"), *d = docs(dir, "d.jsonl", 8);
    char *none = th_path(dir, "none"), *out = th_path(dir, "out.json");
    fails(1, "none/config.json: No such file", "info --model '%s'", none);
    fails(1, "none/config.json: No such file", "logits --model '%s' --tokens 1 --out '%s'", none, out);
    fails(1, "none/vocab.json: No such file", "run --model '%s' --data '%s' --out '%s' " SMALL, none, d, out);
    fails(1, "none/vocab.json: No such file", "data --model '%s' --data '%s' --seq-len 8", none, d);
    fails(1, "none.jsonl: No such file", "run --model '%s' --data '%s.jsonl' --out '%s' " SMALL, m, none, out);
    fails(1, "none.jsonl: No such file", "data --model '%s' --data '%s.jsonl' --seq-len 8", m, none);
    fails(1, "none.json: No such file", "merge --out '%s' '%s.json'", out, none);
    fails(1, "none/vocab.json: No such file", "tokenize --model '%s'", none);
    cr_assert(!exists(out), "a failed command wrote %s", out);
    /* --resume without a file starts afresh */
    succeeds("run --model '%s' --data '%s' --out '%s' --resume " SMALL, m, d, out);
    free(none), free(out), free(m), free(d), free(dir);
}

/* ---------------------------------------------------------------- invalid JSON */

Test(cli, invalid_json_and_tokenizer_files)
{
    char *dir = th_tmpdir("cli"), *m = model(dir, "m"), *d = docs(dir, "d.jsonl", 8);
    char *out = th_path(dir, "out.json"), *cfg = th_path(m, "config.json");
    char *vocab = th_path(m, "vocab.json"), *merges = th_path(m, "merges.txt");
    char *good_cfg = th_read(cfg), *good_vocab = th_read(vocab);

    write_text(cfg, "{\"n_layer\": 2,");
    fails(1, "config.json: not valid JSON", "info --model '%s'", m);
    fails(1, "config.json: not valid JSON", "run --model '%s' --data '%s' --out '%s' " SMALL, m, d, out);
    write_text(cfg, "[2, 2, 16]");
    fails(1, "config.json: not a JSON object", "info --model '%s'", m);
    write_text(cfg, "{\"n_layer\": 2, \"n_head\": 1e300, \"n_embd\": 16, \"vocab_size\": 50257, "
                    "\"n_positions\": 32}");
    fails(1, "\"n_head\" must be an integer", "info --model '%s'", m);
    /* found by fuzz_config: an epsilon float32 rounds to 0 */
    write_text(cfg, "{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 16, \"vocab_size\": 50257, "
                    "\"n_positions\": 32, \"layer_norm_epsilon\": 1e-50}");
    fails(1, "layer_norm_epsilon must be a number in [", "info --model '%s'", m);
    write_text(cfg, good_cfg);

    write_text(vocab, "{\"a\": 0,");
    fails(1, "vocab.json: not valid JSON", "run --model '%s' --data '%s' --out '%s' " SMALL, m, d, out);
    write_text(vocab, "[\"a\", \"b\"]");
    fails(1, "vocab.json: not a JSON object", "tokenize --model '%s'", m);
    fails(1, "vocab.json: not a JSON object", "data --model '%s' --data '%s' --seq-len 8", m, d);
    write_text(vocab, good_vocab);

    cr_assert_eq(unlink(merges), 0);
    fails(1, "merges.txt: No such file", "run --model '%s' --data '%s' --out '%s' " SMALL, m, d, out);
    fails(1, "merges.txt: No such file", "tokenize --model '%s'", m);
    cr_assert(!exists(out));
    free(good_cfg), free(good_vocab), free(cfg), free(vocab), free(merges), free(out), free(m), free(d), free(dir);
}

Test(cli, bad_jsonl_lines_are_named_by_number)
{
    char *dir = th_tmpdir("cli"), *m = model(dir, "m"), *out = th_path(dir, "out.json");
    char *f = th_path(dir, "bad.jsonl");
    static const struct {
        const char *content, *message;
    } cases[] = {
        {"{\"text\": \"one\"}\n\n{\"text\": \"three\"}\n{\"text\": \"four\"\n", "bad.jsonl:4: not valid JSON"},
        {"{\"text\": \"one\"}\n[1, 2]\n", "bad.jsonl:2: not a JSON object"},
        {"{\"tokens\": [1, \"2\"]}\n", "bad.jsonl:1: \"tokens\" must be an array of integer ids"},
        {"{\"tokens\": [1, 2.5]}\n", "bad.jsonl:1: \"tokens\" must be an array of integer ids"},
        {"{\"text\": 7}\n", "bad.jsonl:1: needs \"text\""},
        {"{\"tokens\": [1, 50257]}\n", "bad.jsonl:1: token id 50257 is outside the vocabulary [0, 50257)"},
        {"{\"tokens\": [-1, 2]}\n", "bad.jsonl:1: token id -1 is outside"},
        {"{\"tokens\": [1, 1e300]}\n", "bad.jsonl:1: token id 1e+300 is outside"},
        {"{\"text\": \"ok\"}\n\x01\x02\n", "bad.jsonl:2: not valid JSON"},
        {"{\"text\": \"Hello there\\u0000 and the rest\"}\n", "bad.jsonl:1: a string holds a NUL character"},
        {"{\"text\": \"one\"} {\"text\": \"two\"}\n", "bad.jsonl:1: not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text(f, cases[i].content);
        fails(1, cases[i].message, "run --model '%s' --data '%s' --out '%s' --batches 1 --batch-size 4 "
              "--seq-len 8 --quiet", m, f, out);
        cr_assert(!exists(out));
    }
    free(f), free(out), free(m), free(dir);
}

Test(cli, too_few_documents)
{
    char *dir = th_tmpdir("cli"), *m = model(dir, "m"), *d = docs(dir, "d.jsonl", 7);
    char *out = th_path(dir, "out.json");
    fails(1, "d.jsonl: need 8 documents for 4 batches of 2, have 7",
          "run --model '%s' --data '%s' --out '%s' --batches 4 --batch-size 2 --seq-len 8 --quiet", m, d, out);
    fails(1, "need 8 documents", "data --model '%s' --data '%s' --batches 4 --batch-size 2 --seq-len 8", m, d);
    cr_assert(!exists(out));
    free(out), free(m), free(d), free(dir);
}

/* ---------------------------------------------------------------- checkpoints */

/* Rewrites DIR/model.safetensors with its header changed by `mutate` (the
 * data section is kept byte for byte), or with `claim` as the header
 * length when it is not 0. */
static void rewrite_header(const char *dir, void (*mutate)(cJSON *), uint64_t claim, long cut)
{
    char *path = th_path(dir, "model.safetensors");
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    size_t size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(size);
    cr_assert_eq(fread(buf, 1, size, f), size);
    fclose(f);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | buf[i];
    cJSON *h = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
    cr_assert_not_null(h);
    if (mutate)
        mutate(h);
    char *text = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    uint64_t n = strlen(text), put = claim ? claim : n;
    f = fopen(path, "wb");
    for (int i = 0; i < 8; i++)
        fputc((int)(put >> (8 * i) & 0xff), f);
    fwrite(text, 1, n, f);
    fwrite(buf + 8 + hlen, 1, size - 8 - hlen - (size_t)cut, f);
    cr_assert_eq(fclose(f), 0);
    free(text);
    free(buf);
    free(path);
}

static cJSON *tensor(cJSON *h, const char *name)
{
    cJSON *t = cJSON_GetObjectItemCaseSensitive(h, name);
    cr_assert_not_null(t, "%s", name);
    return t;
}

static void set_offsets(cJSON *h, const char *name, double begin, double end)
{
    cJSON *o = cJSON_CreateArray();
    cJSON_AddItemToArray(o, cJSON_CreateNumber(begin));
    cJSON_AddItemToArray(o, cJSON_CreateNumber(end));
    cJSON_ReplaceItemInObjectCaseSensitive(tensor(h, name), "data_offsets", o);
}

static double offset(cJSON *h, const char *name, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(tensor(h, name), "data_offsets"), i)->valuedouble;
}

static void m_beyond(cJSON *h)
{
    set_offsets(h, "ln_f.bias", offset(h, "ln_f.bias", 0) + 1e6, offset(h, "ln_f.bias", 1) + 1e6);
}
static void m_huge(cJSON *h) { set_offsets(h, "ln_f.bias", 4503599627370496.0, 4503599627370496.0 + 64); }
static void m_reversed(cJSON *h) { set_offsets(h, "ln_f.bias", 64, 0); }
static void m_negative(cJSON *h) { set_offsets(h, "ln_f.bias", -64, 0); }
static void m_overlap(cJSON *h)
{
    set_offsets(h, "ln_f.bias", offset(h, "ln_f.weight", 0) + 4, offset(h, "ln_f.weight", 1) + 4);
}
static void m_dtype_i32(cJSON *h)
{
    cJSON_ReplaceItemInObjectCaseSensitive(tensor(h, "h.1.ln_2.bias"), "dtype", cJSON_CreateString("I32"));
}
static void m_dtype_unknown(cJSON *h)
{
    cJSON_ReplaceItemInObjectCaseSensitive(tensor(h, "h.1.ln_2.bias"), "dtype", cJSON_CreateString("Q4_K"));
}
static void m_shape(cJSON *h)
{
    /* 8 × 2 floats: the same bytes, the wrong shape */
    cJSON *s = cJSON_CreateArray();
    cJSON_AddItemToArray(s, cJSON_CreateNumber(8));
    cJSON_AddItemToArray(s, cJSON_CreateNumber(2));
    cJSON_ReplaceItemInObjectCaseSensitive(tensor(h, "h.0.ln_1.weight"), "shape", s);
}
static void m_missing(cJSON *h)
{
    /* renamed, so its bytes still belong to a tensor */
    cJSON_AddItemToObject(h, "h.1.mlp.c_fc.bias_renamed", cJSON_DetachItemFromObjectCaseSensitive(h, "h.1.mlp.c_fc.bias"));
}
static void m_hole(cJSON *h) { cJSON_DeleteItemFromObjectCaseSensitive(h, "h.1.mlp.c_fc.bias"); }

Test(cli, damaged_checkpoints)
{
    char *dir = th_tmpdir("cli"), *d = docs(dir, "d.jsonl", 8), *out = th_path(dir, "out.json");
    static const struct {
        void (*mutate)(cJSON *);
        uint64_t claim;
        long cut;
        const char *message;
    } cases[] = {
        {NULL, 1u << 26, 0, "header length 67108864 exceeds the file"},
        {NULL, 0, 4, "data_offsets"},       /* the data section lost its last 4 bytes */
        {m_beyond, 0, 0, "outside the data section"},
        {m_huge, 0, 0, "outside the data section"},
        {m_reversed, 0, 0, "outside the data section"},
        {m_negative, 0, 0, "non-negative integers"},
        {m_overlap, 0, 0, "overlap"},
        {m_dtype_i32, 0, 0, "tensor 'h.1.ln_2.bias' has dtype I32 (F32, F16 and BF16 are supported)"},
        {m_dtype_unknown, 0, 0, "unknown dtype 'Q4_K'"},
        {m_shape, 0, 0, "tensor 'h.0.ln_1.weight' has shape [8, 2], config says [16]"},
        {m_missing, 0, 0, "tensor 'h.1.mlp.c_fc.bias' is missing"},
        {m_hole, 0, 0, "bytes before it belong to no tensor"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[16];
        snprintf(name, sizeof name, "m%zu", i);
        char *m = model(dir, name);
        rewrite_header(m, cases[i].mutate, cases[i].claim, cases[i].cut);
        fails(1, cases[i].message, "info --model '%s'", m);
        fails(1, cases[i].message, "run --model '%s' --data '%s' --out '%s' " SMALL, m, d, out);
        cr_assert(!exists(out));
        free(m);
    }
    free(out), free(d), free(dir);
}

Test(cli, shapes_that_disagree_with_the_config)
{
    char *dir = th_tmpdir("cli"), *m = model(dir, "m"), *cfg = th_path(m, "config.json");
    static const struct {
        const char *config, *message;
    } cases[] = {
        {"{\"n_layer\": 3, \"n_head\": 2, \"n_embd\": 16, \"vocab_size\": 50257, \"n_positions\": 32}",
         "tensor 'h.2.ln_1.weight' is missing"},
        {"{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 32, \"vocab_size\": 50257, \"n_positions\": 32}",
         "tensor 'wte.weight' has shape [50257, 16], config says [50257, 32]"},
        {"{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 16, \"vocab_size\": 50000, \"n_positions\": 32, "
         "\"bos_token_id\": 0}", "config says [50000, 16]"},
        {"{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 16, \"vocab_size\": 50000, \"n_positions\": 32}",
         "\"bos_token_id\" is missing, and GPT-2's 50256 is not below vocab_size 50000"},
        {"{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 16, \"vocab_size\": 50257, \"n_positions\": 32, "
         "\"bos_token_id\": 50257}", "\"bos_token_id\" must be an integer in [0, 50256]"},
        {"{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 16, \"vocab_size\": 50257, \"n_positions\": 64}",
         "tensor 'wpe.weight' has shape [32, 16], config says [64, 16]"},
        {"{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 16, \"vocab_size\": 50257, \"n_positions\": 32, "
         "\"n_inner\": 32}", "config says [16, 32]"},
        /* a config claiming an enormous model next to this small file:
         * refused by the shapes, before any allocation */
        {"{\"n_layer\": 1024, \"n_head\": 1024, \"n_embd\": 65536, \"vocab_size\": 4194304, "
         "\"n_positions\": 1048576}", "config says"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text(cfg, cases[i].config);
        fails(1, cases[i].message, "info --model '%s'", m);
    }
    free(cfg), free(m), free(dir);
}

/* ---------------------------------------------------------------- options */

Test(cli, out_of_range_options_are_usage_errors)
{
    char *dir = th_tmpdir("cli"), *m = model(dir, "m"), *d = docs(dir, "d.jsonl", 8);
    char *out = th_path(dir, "out.json");
    static const struct {
        const char *opt, *message;
    } cases[] = {
        {"--top-k 0", "--top-k: 0 is out of range"},      {"--top-k -1", "--top-k: -1 is out of range"},
        {"--top-k 65", "--top-k: 65 is out of range"},    {"--top-k 5x", "--top-k: '5x' is not an integer"},
        {"--bins 0", "--bins: 0 is out of range"},        {"--bins -3", "--bins: -3 is out of range"},
        {"--bins 100001", "--bins: 100001"},              {"--seq-len 1", "--seq-len: 1 is out of range"},
        {"--seq-len 33", "--seq-len 33 exceeds the model's context of 32 tokens"},
        {"--batch-size 0", "--batch-size: 0 is out of range"},
        {"--batch-size -2", "--batch-size: -2 is out of range"},
        {"--batch-size 99999999999999999999", "--batch-size: '99999999999999999999' is not an integer"},
        {"--batches 0", "--batches: 0 is out of range"},  {"--batches 1048577", "--batches: 1048577"},
        {"--threads 0", "--threads: 0 is out of range"},  {"--threads 1025", "--threads: 1025"},
        {"--mem 0", "--mem: 0 is out of range"},          {"--min-len 9", "--min-len 9 exceeds --seq-len 8"},
        {"--shuffle-seed -1", "--shuffle-seed: -1"},      {"--shard 2/2", "--shard: '2/2'"},
        {"--shard 1/0", "--shard: '1/0'"},                {"--shard 0/1x", "--shard: '0/1x'"},
        {"--ablation half", "--ablation: 'half'"},        {"--ln maybe", "--ln: 'maybe'"},
        {"--preset huge", "--preset: 'huge'"},            {"stray", "unexpected argument 'stray'"},
        {"--chunk --seq-len 2", "--seq-len must be at least 3 with --chunk"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        fails(2, cases[i].message, "run --model '%s' --data '%s' --out '%s' " SMALL " %s", m, d, out,
              cases[i].opt);
    fails(2, "--out FILE.json is required", "run --model '%s' --data '%s' " SMALL, m, d);
    fails(2, "--model DIR and --data SRC are required", "run --data '%s' --out '%s' " SMALL, d, out);
    fails(2, "--seq-len 33 exceeds the model's context of 32", "data --model '%s' --data '%s' --seq-len 33", m, d);
    fails(2, "--batches: 0", "data --model '%s' --data '%s' --seq-len 8 --batches 0", m, d);
    fails(2, "logits: 33 positions exceed the model's context of 32",
          "logits --model '%s' --tokens '%s' --out '%s'", m,
          "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32", out);
    fails(2, "--tokens: id 50257 is outside the vocabulary", "logits --model '%s' --tokens '1 50257' --out '%s'",
          m, out);
    fails(2, "--tokens: '-4' is not a token id", "logits --model '%s' --tokens '1 -4' --out '%s'", m, out);
    fails(2, "--layers: 0 is out of range", "synth --out '%s/s' --layers 0", dir);
    fails(2, "--heads: 300 is out of range", "synth --out '%s/s' --heads 300", dir);
    fails(2, "--d-model 16 is not a multiple of --heads 3", "synth --out '%s/s' --heads 3 --d-model 16", dir);
    fails(2, "--dtype: 'f8'", "synth --out '%s/s' --dtype f8", dir);
    cr_assert(!exists(out), "a usage error wrote %s", out);
    free(out), free(m), free(d), free(dir);
}

Test(cli, unknown_flags_and_missing_arguments)
{
    static const char *const cmds[] = {"run",   "data",     "info",       "logits", "merge", "synth",
                                       "plot",  "tokenize", "detokenize", "qk",     "train", "tui"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        fails(2, "--bogus", "%s --bogus", cmds[i]);
        fails(2, "-x", "%s -x", cmds[i]);
    }
    static const char *const missing[] = {"run --out", "data --data", "info --model", "logits --tokens",
                                          "merge --out", "synth --out", "tokenize --model"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
        fails(2, "missing argument", "%s", missing[i]);
    fails(2, "unknown command 'frobnicate'", "frobnicate");
}

Test(cli, heads_that_do_not_exist)
{
    char *dir = th_tmpdir("cli"), *m = model(dir, "m"), *d = docs(dir, "d.jsonl", 8);
    char *out = th_path(dir, "out.json");
    static const struct {
        const char *opt, *message;
    } cases[] = {
        {"--heads 2.0", "--heads: L2H0 is not in a model of 2 layers x 2 heads"},
        {"--heads L0H2", "--heads: L0H2 is not in a model of 2 layers x 2 heads"},
        {"--heads 0.0,L99999H0", "--heads: L99999H0 is not in a model"},
        {"--heads 0.1,L0H1", "--heads: variant L0H1 appears twice"},
        {"--heads 0.x", "--heads: '0.x' is not a head"},
        {"--heads -1.0", "--heads: '-1.0' is not a head"},
        {"--heads 9999999999.0", "--heads: '9999999999.0' is not a head"},
        {"--heads MLP0", "--heads: 'MLP0' is an MLP; use --mlp"},
        {"--heads ''", "--heads: '' has an empty entry"},
        {"--heads ,", "--heads: ',' has an empty entry"},
        {"--heads 0.0,,0.1", "--heads: '0.0,,0.1' has an empty entry"},
        {"--sets L0H0", "--sets: 'L0H0' has one member"},
        {"--sets L0H0+", "--sets: 'L0H0+' has an empty entry"},
        {"--sets L0H0+L5H0", "--sets: L5H0 is not in a model"},
        {"--sets L0H0+MLP2", "--sets: MLP2 is not in a model"},
        {"--sets L0H0+0.0", "--sets: L0H0 appears twice in a set"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        fails(2, cases[i].message, "run --model '%s' --data '%s' --out '%s' " SMALL " %s", m, d, out,
              cases[i].opt);
    cr_assert(!exists(out), "a usage error wrote %s", out);
    free(out), free(m), free(d), free(dir);
}

/* ---------------------------------------------------------------- outputs */

Test(cli, unwritable_outputs)
{
    char *dir = th_tmpdir("cli"), *m = model(dir, "m"), *d = docs(dir, "d.jsonl", 8);
    char *file = th_path(dir, "file"), *res = th_path(dir, "res.json");
    write_text(file, "x");
    succeeds("run --model '%s' --data '%s' --out '%s' " SMALL, m, d, res);
    /* Under a regular file, in a missing directory, onto a directory. */
    const char *bad[3] = {"file/out", "missing/out", "m"};
    const char *why[3] = {"Not a directory", "No such file or directory", "Is a directory"};
    for (int i = 0; i < 3; i++) {
        fails(1, why[i], "run --model '%s' --data '%s' --out '%s/%s' " SMALL, m, d, dir, bad[i]);
        fails(1, why[i], "merge --out '%s/%s' '%s'", dir, bad[i], res);
        fails(1, why[i], "logits --model '%s' --tokens '1 2' --out '%s/%s'", m, dir, bad[i]);
    }
    fails(1, "file/out", "synth --out '%s/file/out'", dir);
    fails(1, "missing/out", "synth --out '%s/missing/out'", dir);
    no_temporaries(dir);
    /* stdout closed or full: an error, not silence */
    char *err;
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s' data --model '%s' --data '%s' --batches 1 --batch-size 2 --seq-len 8 "
             ">/dev/full", th_headcal(), m, d);
    cr_assert_eq(th_run(cmd, NULL, &err), 1, "%s", err);
    cr_assert(strstr(err, "stdout"), "%s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "echo hello | '%s' tokenize >/dev/full", th_headcal());
    cr_assert_eq(th_run(cmd, NULL, &err), 1, "%s", err);
    free(err);
    free(file), free(res), free(m), free(d), free(dir);
}

Test(cli, incompatible_results_are_not_merged_or_resumed)
{
    char *dir = th_tmpdir("cli"), *m = model(dir, "m"), *d = docs(dir, "d.jsonl", 8);
    char *a = th_path(dir, "a.json"), *b = th_path(dir, "b.json"), *c = th_path(dir, "c.json");
    char *out = th_path(dir, "out.json");
    succeeds("run --model '%s' --data '%s' --out '%s' " SMALL " --shard 0/2", m, d, a);
    succeeds("run --model '%s' --data '%s' --out '%s' " SMALL " --shard 1/2 --bins 7", m, d, b);
    succeeds("run --model '%s' --data '%s' --out '%s' " SMALL " --shard 1/2 --heads 0.1", m, d, c);
    fails(1, "b.json: cannot be merged: params.bins is 7, expected 40", "merge --out '%s' '%s' '%s'", out, a, b);
    fails(1, "c.json: cannot be merged: the number of variants is 2, expected 5", "merge --out '%s' '%s' '%s'",
          out, a, c);
    fails(1, "a.json: cannot be merged: batch 0 is already complete", "merge --out '%s' '%s' '%s'", out, a, a);
    write_text(out, "{\"format\": \"headcal-results/1\"");
    fails(1, "out.json: not valid JSON (line 1)", "merge --out '%s' '%s' '%s'", c, a, out);
    fails(1, "out.json: not valid JSON (line 1)", "plot '%s' --kind heatmap --format svg -o '%s/p.svg'", out, dir);
    fails(1, "none.json: No such file", "plot '%s/none.json' --kind heatmap --format svg -o '%s/p.svg'", dir, dir);
    fails(1, "missing/p.svg: cannot write", "plot '%s' --kind heatmap --format svg -o '%s/missing/p.svg'", a, dir);
    cr_assert_eq(unlink(out), 0);

    /* --resume with other options: refused, and the file is kept as it was */
    char *before = th_read(a);
    fails(2, "a.json: cannot be merged: params.bins is 40, expected 7 (--resume needs the options",
          "run --model '%s' --data '%s' --out '%s' " SMALL " --shard 0/2 --bins 7 --resume", m, d, a);
    fails(2, "written by shard 0/2, not 1/2",
          "run --model '%s' --data '%s' --out '%s' " SMALL " --shard 1/2 --resume", m, d, a);
    /* not a results file at all: never overwritten */
    write_text(out, "precious");
    fails(1, "out.json: not valid JSON", "run --model '%s' --data '%s' --out '%s' " SMALL " --resume", m, d, out);
    char *after = th_read(a), *kept = th_read(out);
    cr_assert_str_eq(after, before);
    cr_assert_str_eq(kept, "precious");
    free(before), free(after), free(kept);
    free(a), free(b), free(c), free(out), free(m), free(d), free(dir);
}

/* ---------------------------------------------------------------- odd input */

Test(cli, invalid_utf8_is_tokenized_bytewise)
{
    char *dir = th_tmpdir("cli"), *m = model(dir, "m");
    /* stray continuation, overlong, surrogate, truncated sequence, a NUL,
     * bytes that are never UTF-8, between valid text */
    static const char text[] = "ok \x80\xbf caf\xc3\xa9 \xc0\xaf \xed\xa0\x80 \xe2\x82 \xff\xfe\x00 end\xf4";
    char *in = th_path(dir, "in.bin"), *txt = th_path(dir, "doc.txt"), *jl = th_path(dir, "doc.jsonl");
    cr_assert_eq(th_write_file(in, text, sizeof text - 1), 0);
    char cmd[16384], *out, *err;
    snprintf(cmd, sizeof cmd, "'%s' tokenize < '%s' | '%s' detokenize | cmp - '%s'", th_headcal(), in,
             th_headcal(), in);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "the bytes do not round-trip: %s%s", out, err);
    free(out), free(err);
    /* the same bytes as a document: a text file, and a JSONL string */
    cr_assert_eq(th_write_file(txt, text, sizeof text - 1), 0);
    write_text(jl, "{\"text\": \"caf\xc3 \xff\xfe\"}\n");
    succeeds("data --model '%s' --data '%s' --batches 1 --batch-size 1 --seq-len 32 --format jsonl", m, txt);
    succeeds("data --model '%s' --data '%s' --batches 1 --batch-size 1 --seq-len 32 --format text", m, jl);
    char *res = th_path(dir, "r.json");
    succeeds("run --model '%s' --data '%s' --out '%s' --batches 1 --batch-size 1 --seq-len 32 --quiet", m, txt,
             res);
    free(res), free(in), free(txt), free(jl), free(m), free(dir);
}

/* ---------------------------------------------------------------- limits */

/* One head of the wide model (2 heads of d_head 336): its W_OU is 336 ×
 * 50257 floats, 64.4 MiB, more than the smallest --mem (64 MiB).  W_OU pays
 * for itself from 336·672/(672 − 336) = 672 scored positions on; a shorter
 * run takes the direct path and needs none. */
static char *wide_model(const char *dir)
{
    char *m = th_path(dir, "wide");
    succeeds("synth --out '%s' --layers 1 --heads 2 --d-model 672 --n-ctx 32 --dtype f16", m);
    return m;
}

Test(cli, mem_too_small_for_one_head, .timeout = 300)
{
    char *dir = th_tmpdir("cli"), *d = docs(dir, "d.jsonl", 34), *out = th_path(dir, "out.json");
    char *m = wide_model(dir);
    /* 34 sequences of 20 scored positions: 680, long enough for W_OU */
    fails(2, "--mem 64 MB cannot hold one head's W_OU (65 MB); raise --mem",
          "run --model '%s' --data '%s' --out '%s' --mem 64 --batches 1 --batch-size 34 --seq-len 21 --quiet", m, d,
          out);
    cr_assert(!exists(out));
    /* MLPs need no W_OU; and a larger budget holds the head */
    succeeds("run --model '%s' --data '%s' --out '%s' --mem 64 --heads none --mlp --batches 1 --batch-size 34 "
             "--seq-len 21 --quiet", m, d, out);
    succeeds("run --model '%s' --data '%s' --out '%s' --mem 80 --heads 0.0 --batches 1 --batch-size 34 --seq-len 21 "
             "--quiet", m, d, out);
    free(m), free(out), free(d), free(dir);
}

/* The bucket counts of batch b of variant id, all tables. */
static void batch_counts(const hc_results *r, const char *id, int b, uint64_t *dst)
{
    const hc_calib *c = &r->variants[hc_results_find(r, id)].calib;
    for (int t = 0; t < HC_N_COUNT_TABLES; t++)
        memcpy(dst + (size_t)t * c->n_bins, c->count[t] + (size_t)b * c->n_bins, (size_t)c->n_bins * sizeof *dst);
}

/* A short run goes direct: --mem is no reason to refuse it, and its counts
 * are those of the same sequences through W_OU (the first batch of a run
 * long enough to form it). */
Test(cli, short_run_needs_no_wou_memory, .timeout = 300)
{
    char *dir = th_tmpdir("cli"), *d = docs(dir, "d.jsonl", 34), *m = wide_model(dir);
    char *direct = th_path(dir, "direct.json"), *wou = th_path(dir, "wou.json");
    succeeds("run --model '%s' --data '%s' --out '%s' --mem 64 --heads 0.0 --batches 1 --batch-size 2 --seq-len 21 "
             "--quiet", m, d, direct);
    succeeds("run --model '%s' --data '%s' --out '%s' --mem 80 --heads 0.0 --batches 17 --batch-size 2 --seq-len 21 "
             "--quiet", m, d, wou);
    hc_results a, b;
    cr_assert_eq(hc_results_read(&a, direct), 0, "%s", hc_errmsg());
    cr_assert_eq(hc_results_read(&b, wou), 0, "%s", hc_errmsg());
    cr_assert_eq(a.variants[0].calib.positions[0], 40);
    cr_assert_eq(b.variants[0].calib.positions[0], 40);
    const char *ids[] = {"baseline", "L0H0"};
    for (int i = 0; i < 2; i++) {
        uint64_t x[HC_N_COUNT_TABLES * 40], y[HC_N_COUNT_TABLES * 40];
        cr_assert_eq(a.params.bins, 40);
        batch_counts(&a, ids[i], 0, x);
        batch_counts(&b, ids[i], 0, y);
        cr_assert_eq(memcmp(x, y, sizeof x), 0, "%s: the direct path's counts differ from W_OU's", ids[i]);
    }
    hc_results_free(&a);
    hc_results_free(&b);
    free(m), free(d), free(direct), free(wou), free(dir);
}

#define WORDS "calibration of the heads, measured 42 times; "

/* Writes a JSONL file whose second line is a document of about mib MiB. */
static char *long_line_file(const char *dir, const char *name, int mib)
{
    char *f = th_path(dir, name);
    FILE *fp = fopen(f, "w");
    cr_assert_not_null(fp);
    fputs("{\"tokens\": [1, 2, 3]}\n{\"text\": \"", fp);
    for (size_t n = 0; n < (size_t)mib << 20; n += sizeof WORDS - 1)
        fputs(WORDS, fp);
    fputs("\"}\n", fp);
    cr_assert_eq(fclose(fp), 0);
    return f;
}

Test(cli, a_50_megabyte_jsonl_line_is_read, .timeout = 120)
{
    char *dir = th_tmpdir("cli"), *m = model(dir, "m"), *f = long_line_file(dir, "long.jsonl", 50);
    char *head = th_path(dir, "head.txt");
    write_text(head, WORDS);
    char cmd[16384], *out, *err, *want;
    snprintf(cmd, sizeof cmd, "'%s' data --model '%s' --data '%s' --batches 1 --batch-size 2 --seq-len 8 "
             "--format tokens", th_headcal(), m, f);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    /* the long document's first 7 tokens are those of its first words */
    snprintf(cmd, sizeof cmd, "'%s' tokenize < '%s' | cut -d' ' -f1-7", th_headcal(), head);
    cr_assert_eq(th_run(cmd, &want, NULL), 0);
    char expect[512];
    snprintf(expect, sizeof expect, "50256 1 2 3\n50256 %.*s\n", (int)strcspn(want, "\n"), want);
    cr_assert_str_eq(out, expect);
    free(want), free(out), free(err);
    unlink(f);
    free(head), free(f), free(m), free(dir);
}

Test(cli, a_line_too_long_for_the_memory_is_an_error_not_the_end_of_the_file, .timeout = 120)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    cr_skip_test("needs a small address-space limit, which a sanitizer's shadow memory exceeds");
#else
    char *dir = th_tmpdir("cli"), *m = model(dir, "m"), *f = long_line_file(dir, "l.jsonl", 100);
    /* ~146 MiB of address space: the program and its tokenizer fit (about
     * 60 MiB with one OpenBLAS thread, whose buffers then stay small), the
     * 128 MiB buffer of the 100 MiB line does not.  Whichever allocation
     * fails, the run stops with a message; it must not take the failed read
     * for the end of the file. */
    char cmd[16384], *out, *err;
    snprintf(cmd, sizeof cmd, "ulimit -v 150000 && OPENBLAS_NUM_THREADS=1 '%s' data --model '%s' --data '%s' "
             "--batches 1 --batch-size 2 --seq-len 8 --format tokens", th_headcal(), m, f);
    cr_assert_eq(th_run(cmd, &out, &err), 1, "%s%s", out, err);
    cr_assert(!strncmp(err, "headcal: ", 9) && strchr(err, '\n') == err + strlen(err) - 1, "%s", err);
    cr_assert(strstr(err, "l.jsonl:2: ") && strstr(err, "memory"), "%s", err);
    cr_assert_str_empty(out);
    free(out), free(err);
    unlink(f);
    free(f), free(m), free(dir);
#endif
}

Test(cli, kernels_are_chosen_by_name_and_a_missing_one_is_refused)
{
    char *dir = th_tmpdir("cli"), *m = model(dir, "m"), *d = docs(dir, "d.jsonl", 8);
    char *out = th_path(dir, "out.json");
    setenv("HEADCAL_KERNEL", "fastest", 1);
    fails(2, "HEADCAL_KERNEL=fastest: expected generic, avx512, avx512bf16 or amx",
          "run --model '%s' --data '%s' --out '%s' " SMALL, m, d, out);
    cr_assert(!exists(out), "a usage error wrote %s", out);
    static const struct {
        const char *name;
        int kernel;
    } kernels[] = {{"generic", HC_KERNEL_GENERIC},
                   {"avx512", HC_KERNEL_AVX512},
                   {"avx512bf16", HC_KERNEL_AVX512BF16},
                   {"amx", HC_KERNEL_AMX}};
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "the %s kernel needs", kernels[i].name);
        setenv("HEADCAL_KERNEL", kernels[i].name, 1);
        if (hc_sweep_kernel_available(kernels[i].kernel))
            succeeds("run --model '%s' --data '%s' --out '%s' " SMALL, m, d, out);
        else
            fails(2, needle, "run --model '%s' --data '%s' --out '%s' " SMALL, m, d, out);
    }
    free(out), free(m), free(d), free(dir);
}
