/* GPT-2 byte-level BPE.  Internally every token is kept as the raw bytes it
 * stands for (vocab.json and merges.txt spell bytes through the byte-to-
 * unicode table; they are mapped back once at load time), and a merge is
 * keyed by the pair of token ids it joins, so encoding never builds
 * strings: a piece starts as one id per byte and merges rewrite ids.
 *
 * Invalid UTF-8: GPT-2's reference works on Unicode strings and never sees
 * it.  Here the text is split into maximal valid UTF-8 runs, which are
 * pre-tokenized and encoded normally, and the bytes between them, each of
 * which becomes a piece of its own (so its token is that byte's token).
 * Decoding therefore gives back the input bytes exactly, valid or not. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <cjson/cJSON.h>
#include <math.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/bytemap.h"
#include "headcal/error.h"
#include "headcal/json.h"
#include "headcal/fileio.h"
#include "headcal/tokenizer.h"

#define MAX_FILE_BYTES ((size_t)256 << 20)
/* Pieces up to this many bytes are remembered per call; longer ones are
 * rare (long words, whitespace runs) and would only bloat the cache. */
#define CACHE_PIECE_MAX 64

static const char EOT[] = "<|endoftext|>";
static const char PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

struct hc_tokenizer {
    int n_vocab;
    char *tok_bytes;    /* arena: the bytes of every token */
    uint32_t *tok_off;  /* [n_vocab] offset of token id's bytes in the arena */
    uint32_t *tok_len;  /* [n_vocab] */
    hc_bytemap vocab;   /* token bytes -> id */
    hc_bytemap merges;  /* (left id, right id) as 8 bytes -> rank << 32 | merged id */
    int32_t byte_id[256];
    int16_t byte_of_cp[324]; /* inverse of the byte-to-unicode table, -1 elsewhere */
    int32_t eot;        /* id of <|endoftext|>, or -1 if the vocab lacks it */
    pcre2_code *re;
};

/* ---------------------------------------------------------------- bytes */

/* GPT-2's byte-to-unicode table: printable Latin-1 bytes stand for
 * themselves, the other 68 get U+0100.. in ascending byte order. */
static void byte_to_cp(uint32_t cp[256])
{
    uint32_t extra = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
        cp[b] = printable ? (uint32_t)b : extra++;
    }
}

/* Length of the valid UTF-8 sequence at s (1..4) with its code point in
 * *cp, or 0 if s does not start one (overlong forms, surrogates and code
 * points past U+10FFFF are invalid, as for PCRE2). */
static int utf8_seq(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned c = s[0];
    int n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        n = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < (size_t)n)
        return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

static size_t valid_prefix(const unsigned char *s, size_t len)
{
    size_t i = 0;
    uint32_t cp;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int k = utf8_seq(s + i, len - i, &cp);
        if (!k)
            break;
        i += (size_t)k;
    }
    return i;
}

/* Maps a token as spelt in the tokenizer files (UTF-8 of byte-to-unicode
 * characters) back to the bytes it stands for; out needs len bytes.
 * Returns the byte count, or -1 for a character outside the table. */
static long unmap(const hc_tokenizer *tk, const char *s, size_t len, char *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    long n = 0;
    while (i < len) {
        uint32_t cp;
        int k = utf8_seq(u + i, len - i, &cp);
        if (!k || cp >= 324 || tk->byte_of_cp[cp] < 0)
            return -1;
        out[n++] = (char)tk->byte_of_cp[cp];
        i += (size_t)k;
    }
    return n;
}

/* A token shown in a one-line message: printable ASCII only, shortened. */
static const char *shown(const char *s, char buf[40])
{
    size_t i = 0;
    for (; s[i] && i < 32; i++)
        buf[i] = (s[i] >= 32 && s[i] < 127) ? s[i] : '?';
    if (s[i])
        buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
    buf[i] = 0;
    return buf;
}

/* ---------------------------------------------------------------- loading */

static int load_vocab(hc_tokenizer *tk, const char *path)
{
    cJSON *root;
    size_t len;
    if (hc_json_read(path, MAX_FILE_BYTES, &root, &len))
        return -1;
    int rc = -1;
    uint8_t *seen = NULL;
    char sb[40];
    if (!cJSON_IsObject(root)) {
        hc_fail(HC_EBAD, "%s: not a JSON object mapping tokens to ids", path);
        goto out;
    }
    int n = cJSON_GetArraySize(root);
    if (n == 0) {
        hc_fail(HC_EBAD, "%s: the vocabulary is empty", path);
        goto out;
    }
    tk->n_vocab = n;
    /* A token's bytes are no longer than its spelling in the file (escapes
     * only shrink), so the file's length bounds the arena. */
    tk->tok_bytes = hc_malloc(len);
    tk->tok_off = hc_calloc((size_t)n, sizeof *tk->tok_off);
    tk->tok_len = hc_calloc((size_t)n, sizeof *tk->tok_len);
    seen = hc_calloc((size_t)n, 1);
    if (!tk->tok_bytes || !tk->tok_off || !tk->tok_len || !seen ||
        hc_bytemap_init(&tk->vocab, (size_t)n))
        goto out;
    size_t used = 0;
    for (cJSON *e = root->child; e; e = e->next) {
        double v = e->valuedouble;
        if (!cJSON_IsNumber(e) || !isfinite(v) || v != floor(v) || v < 0 || v >= n) {
            hc_fail(HC_EBAD, "%s: token \"%s\": the id must be an integer in [0, %d]", path,
                    shown(e->string, sb), n - 1);
            goto out;
        }
        int id = (int)v;
        if (seen[id]) {
            hc_fail(HC_EBAD, "%s: id %d is given to two tokens", path, id);
            goto out;
        }
        seen[id] = 1;
        long bl = unmap(tk, e->string, strlen(e->string), tk->tok_bytes + used);
        if (bl < 0) {
            hc_fail(HC_EBAD, "%s: token \"%s\" (id %d) has a character outside GPT-2's byte alphabet",
                    path, shown(e->string, sb), id);
            goto out;
        }
        if (bl == 0) {
            hc_fail(HC_EBAD, "%s: id %d is an empty token", path, id);
            goto out;
        }
        int put = hc_bytemap_put(&tk->vocab, tk->tok_bytes + used, (size_t)bl, (uint64_t)id, NULL);
        if (put < 0)
            goto out;
        if (put == 0) {
            hc_fail(HC_EBAD, "%s: token \"%s\" appears twice", path, shown(e->string, sb));
            goto out;
        }
        tk->tok_off[id] = (uint32_t)used;
        tk->tok_len[id] = (uint32_t)bl;
        used += (size_t)bl;
    }
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        const uint64_t *id = hc_bytemap_get(&tk->vocab, &c, 1);
        if (!id) {
            hc_fail(HC_EBAD, "%s: no token for byte 0x%02x", path, b);
            goto out;
        }
        tk->byte_id[b] = (int32_t)*id;
    }
    const uint64_t *eot = hc_bytemap_get(&tk->vocab, EOT, strlen(EOT));
    tk->eot = eot ? (int32_t)*eot : -1;
    rc = 0;
out:
    free(seen);
    cJSON_Delete(root);
    return rc;
}

static int load_merges(hc_tokenizer *tk, const char *path)
{
    char *text;
    size_t len;
    if (hc_read_file(path, MAX_FILE_BYTES, &text, &len))
        return -1;
    int rc = -1;
    char *scratch = hc_malloc(len + 1);
    if (!scratch || hc_bytemap_init(&tk->merges, len / 8))
        goto out;
    const char *p = text, *end = text + len;
    uint32_t rank = 0;
    for (long line = 1; p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        size_t ll = (size_t)((eol ? eol : end) - p);
        if (ll && p[ll - 1] == '\r')
            ll--;
        if (line == 1 && ll >= 8 && !memcmp(p, "#version", 8)) {
            p = next;
            continue;
        }
        const char *sp = memchr(p, ' ', ll);
        if (!sp || sp == p || sp == p + ll - 1 || memchr(sp + 1, ' ', ll - (size_t)(sp + 1 - p))) {
            hc_fail(HC_EBAD, "%s:%ld: expected two tokens separated by one space", path, line);
            goto out;
        }
        long la = unmap(tk, p, (size_t)(sp - p), scratch);
        long lb = la < 0 ? -1 : unmap(tk, sp + 1, ll - (size_t)(sp + 1 - p), scratch + la);
        if (lb < 0) {
            hc_fail(HC_EBAD, "%s:%ld: a character outside GPT-2's byte alphabet", path, line);
            goto out;
        }
        const uint64_t *a = hc_bytemap_get(&tk->vocab, scratch, (size_t)la);
        const uint64_t *b = hc_bytemap_get(&tk->vocab, scratch + la, (size_t)lb);
        const uint64_t *ab = hc_bytemap_get(&tk->vocab, scratch, (size_t)(la + lb));
        if (!a || !b || !ab) {
            hc_fail(HC_EBAD, "%s:%ld: the merge uses a token that is not in the vocabulary", path, line);
            goto out;
        }
        uint32_t key[2] = {(uint32_t)*a, (uint32_t)*b};
        int put = hc_bytemap_put(&tk->merges, key, sizeof key, (uint64_t)rank << 32 | *ab, NULL);
        if (put < 0)
            goto out;
        if (put == 0) {
            hc_fail(HC_EBAD, "%s:%ld: duplicate merge", path, line);
            goto out;
        }
        rank++;
        p = next;
    }
    rc = 0;
out:
    free(scratch);
    free(text);
    return rc;
}

int hc_tokenizer_load(hc_tokenizer **out, const char *vocab_json, const char *merges_txt)
{
    *out = NULL;
    hc_tokenizer *tk = hc_calloc(1, sizeof *tk);
    if (!tk)
        return -1;
    uint32_t cp[256];
    byte_to_cp(cp);
    memset(tk->byte_of_cp, 0xff, sizeof tk->byte_of_cp);
    for (int b = 0; b < 256; b++)
        tk->byte_of_cp[cp[b]] = (int16_t)b;
    if (load_vocab(tk, vocab_json) || load_merges(tk, merges_txt)) {
        hc_tokenizer_free(tk);
        return -1;
    }
    int err;
    PCRE2_SIZE at;
    tk->re = pcre2_compile((PCRE2_SPTR)PATTERN, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err,
                           &at, NULL);
    if (!tk->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        hc_tokenizer_free(tk);
        return hc_fail(HC_EBAD, "pre-tokenizer pattern: %s", (const char *)msg);
    }
    /* Without JIT support pcre2_match falls back to the interpreter. */
    pcre2_jit_compile(tk->re, PCRE2_JIT_COMPLETE);
    *out = tk;
    return 0;
}

int hc_tokenizer_load_dir(hc_tokenizer **tk, const char *dir)
{
    char v[4096], m[4096];
    if (hc_path_join(v, sizeof v, dir, "vocab.json") || hc_path_join(m, sizeof m, dir, "merges.txt"))
        return -1;
    return hc_tokenizer_load(tk, v, m);
}

void hc_tokenizer_free(hc_tokenizer *tk)
{
    if (!tk)
        return;
    free(tk->tok_bytes);
    free(tk->tok_off);
    free(tk->tok_len);
    hc_bytemap_free(&tk->vocab);
    hc_bytemap_free(&tk->merges);
    pcre2_code_free(tk->re);
    free(tk);
}

int hc_tokenizer_vocab_size(const hc_tokenizer *tk) { return tk->n_vocab; }

/* ---------------------------------------------------------------- encoding */

/* One symbol of a piece during BPE: a doubly linked list over byte
 * positions; a symbol absorbed by its left neighbour gets id -1. */
typedef struct {
    int32_t id;
    uint32_t prev, next; /* NONE at the ends */
} sym;

/* A candidate merge of symbols left and right (adjacent when pushed). */
typedef struct {
    uint32_t rank, left, right;
    int32_t lid, rid, merged;
} cand;

#define NONE UINT32_MAX

/* Per-call state, so one tokenizer serves any number of threads. */
typedef struct {
    const hc_tokenizer *tk;
    int32_t *out;
    size_t n, cap;
    pcre2_match_data *md;
    hc_bytemap cache; /* piece bytes -> offset in cids << 8 | count */
    int32_t *cids;
    size_t cn, ccap;
    sym *syms;
    size_t syms_cap;
    cand *heap;
    size_t heap_n, heap_cap;
    uint32_t *touched; /* symbols merged in the current round */
    size_t touched_cap;
} enc;

static int emit(enc *e, int32_t id)
{
    if (e->n == e->cap && hc_grow(e->out, e->cap, e->n + 1))
        return -1;
    e->out[e->n++] = id;
    return 0;
}

static int cand_less(const cand *a, const cand *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->left < b->left;
}

static int heap_push(enc *e, uint32_t left, uint32_t right)
{
    const sym *s = e->syms;
    uint32_t key[2] = {(uint32_t)s[left].id, (uint32_t)s[right].id};
    const uint64_t *m = hc_bytemap_get(&e->tk->merges, key, sizeof key);
    if (!m)
        return 0;
    if (hc_grow(e->heap, e->heap_cap, e->heap_n + 1))
        return -1;
    cand c = {(uint32_t)(*m >> 32), left, right, s[left].id, s[right].id, (int32_t)(uint32_t)*m};
    size_t i = e->heap_n++;
    while (i > 0 && cand_less(&c, &e->heap[(i - 1) / 2])) {
        e->heap[i] = e->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    e->heap[i] = c;
    return 0;
}

static cand heap_pop(enc *e)
{
    cand top = e->heap[0], last = e->heap[--e->heap_n];
    size_t i = 0, n = e->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && cand_less(&e->heap[c + 1], &e->heap[c]))
            c++;
        if (!cand_less(&e->heap[c], &last))
            break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n)
        e->heap[i] = last;
    return top;
}

/* BPE of one piece, exactly as GPT-2's reference: take the lowest-ranked
 * adjacent pair, merge all its occurrences left to right, repeat.  A heap
 * of candidates ordered by (rank, position) yields one rank's occurrences
 * in order; pairs created by a round are pushed only after it, so even a
 * merges file whose new pairs outrank the current one behaves like the
 * reference.  Stale candidates are recognised by their ids. */
static int bpe(enc *e, const unsigned char *p, size_t len)
{
    if (hc_grow(e->syms, e->syms_cap, len) ||
        hc_grow(e->touched, e->touched_cap, len))
        return -1;
    sym *s = e->syms;
    uint32_t *t = e->touched;
    for (size_t i = 0; i < len; i++)
        s[i] = (sym){e->tk->byte_id[p[i]], i ? (uint32_t)i - 1 : NONE, i + 1 < len ? (uint32_t)i + 1 : NONE};
    e->heap_n = 0;
    for (size_t i = 0; i + 1 < len; i++)
        if (heap_push(e, (uint32_t)i, (uint32_t)i + 1))
            return -1;
    while (e->heap_n) {
        uint32_t rank = e->heap[0].rank;
        size_t nt = 0;
        while (e->heap_n && e->heap[0].rank == rank) {
            cand c = heap_pop(e);
            if (s[c.left].id != c.lid || s[c.left].next != c.right || s[c.right].id != c.rid)
                continue;
            s[c.left].id = c.merged;
            s[c.left].next = s[c.right].next;
            if (s[c.right].next != NONE)
                s[s[c.right].next].prev = c.left;
            s[c.right].id = -1;
            t[nt++] = c.left;
        }
        for (size_t k = 0; k < nt; k++) {
            uint32_t i = t[k];
            if (s[i].id < 0)
                continue;
            if ((s[i].prev != NONE && heap_push(e, s[i].prev, i)) ||
                (s[i].next != NONE && heap_push(e, i, s[i].next)))
                return -1;
        }
    }
    return 0;
}

static int encode_piece(enc *e, const unsigned char *p, size_t len)
{
    if (len == 1)
        return emit(e, e->tk->byte_id[p[0]]);
    const uint64_t *hit = len <= CACHE_PIECE_MAX ? hc_bytemap_get(&e->cache, p, len) : NULL;
    if (hit) {
        size_t off = (size_t)(*hit >> 8), cnt = (size_t)(*hit & 0xff);
        for (size_t i = 0; i < cnt; i++)
            if (emit(e, e->cids[off + i]))
                return -1;
        return 0;
    }
    if (bpe(e, p, len))
        return -1;
    size_t first = e->n;
    for (uint32_t i = 0; i != NONE; i = e->syms[i].next)
        if (emit(e, e->syms[i].id))
            return -1;
    if (len > CACHE_PIECE_MAX)
        return 0;
    size_t cnt = e->n - first;
    if (hc_grow(e->cids, e->ccap, e->cn + cnt))
        return -1;
    memcpy(e->cids + e->cn, e->out + first, cnt * sizeof *e->cids);
    if (hc_bytemap_put(&e->cache, p, len, (uint64_t)e->cn << 8 | cnt, NULL) < 0)
        return -1;
    e->cn += cnt;
    return 0;
}

/* Pre-tokenizes a valid UTF-8 run.  Every character matches some
 * alternative of the pattern, so each match starts where the last ended. */
static int encode_run(enc *e, const unsigned char *s, size_t len)
{
    size_t at = 0;
    while (at < len) {
        int rc = pcre2_match(e->tk->re, s, len, at, PCRE2_NO_UTF_CHECK, e->md, NULL);
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return hc_fail(HC_EBAD, "pre-tokenizer: %s", (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
        if (ov[0] != at || ov[1] <= at)
            return hc_fail(HC_EBAD, "pre-tokenizer: no piece at byte %zu", at);
        if (encode_piece(e, s + at, ov[1] - at))
            return -1;
        at = ov[1];
    }
    return 0;
}

/* Text without <|endoftext|>: valid runs and single invalid bytes. */
static int encode_segment(enc *e, const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t v = valid_prefix(s + i, len - i);
        if (v && encode_run(e, s + i, v))
            return -1;
        i += v;
        if (i < len && emit(e, e->tk->byte_id[s[i++]]))
            return -1;
    }
    return 0;
}

int hc_tokenize(const hc_tokenizer *tk, const char *text, size_t len, int32_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (len > INT32_MAX)
        return hc_fail(HC_EBAD, "text of %zu bytes is too long to tokenize", len);
    enc e = {.tk = tk};
    int rc = -1;
    e.md = pcre2_match_data_create_from_pattern(tk->re, NULL);
    if (!e.md) {
        hc_fail(HC_EBAD, "out of memory");
        goto out;
    }
    if (hc_bytemap_init(&e.cache, 1024) || hc_grow(e.out, e.cap, len / 3 + 16))
        goto out;
    const unsigned char *s = (const unsigned char *)text, *end = s + len;
    size_t eot_len = strlen(EOT);
    while (s < end) {
        const unsigned char *hit = tk->eot >= 0 ? memmem(s, (size_t)(end - s), EOT, eot_len) : NULL;
        const unsigned char *stop = hit ? hit : end;
        if (encode_segment(&e, s, (size_t)(stop - s)))
            goto out;
        s = stop;
        if (hit) {
            if (emit(&e, tk->eot))
                goto out;
            s += eot_len;
        }
    }
    *ids = e.out;
    *n = e.n;
    e.out = NULL;
    rc = 0;
out:
    free(e.out);
    pcre2_match_data_free(e.md);
    hc_bytemap_free(&e.cache);
    free(e.cids);
    free(e.syms);
    free(e.heap);
    free(e.touched);
    return rc;
}

char *hc_detokenize(const hc_tokenizer *tk, const int32_t *ids, size_t n, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tk->n_vocab) {
            hc_fail(HC_EBAD, "token id %ld is out of range [0, %d]", (long)ids[i], tk->n_vocab - 1);
            return NULL;
        }
        total += tk->tok_len[ids[i]];
    }
    char *out = hc_malloc(total + 1);
    if (!out)
        return NULL;
    char *w = out;
    for (size_t i = 0; i < n; i++) {
        memcpy(w, tk->tok_bytes + tk->tok_off[ids[i]], tk->tok_len[ids[i]]);
        w += tk->tok_len[ids[i]];
    }
    *w = 0;
    if (len)
        *len = total;
    return out;
}
