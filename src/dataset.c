/* Data sources → documents → sequences → batches (dataset.h).  A first
 * pass validates every document and remembers only where it is (file,
 * line, byte range); documents are then ordered, read back and tokenised
 * one by one until the N*B sequences a run needs exist.  A corpus larger
 * than memory streams: what stays in memory is one reference per document
 * and the sequences the run uses. */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "headcal/dataset.h"
#include "headcal/error.h"
#include "headcal/json.h"
#include "headcal/fileio.h"
#include "headcal/ioi.h"
#include "headcal/mt19937.h"

enum { MAX_TXT_BYTES = 1 << 30 };

struct hc_dataset {
    int batch_size, n_batches;
    int32_t bos;            /* also the padding */
    int32_t *tok;           /* every sequence back to back */
    size_t *off;            /* [N*B + 1] start of each sequence in tok */
};

/* A growable list of sequences. */
typedef struct {
    int32_t *tok;
    size_t n_tok, cap_tok;
    size_t *off;            /* off[0] = 0; sequence k is tok[off[k] .. off[k+1]) */
    size_t n_seq, cap_seq;
} seqbuf;

/* Appends BOS + ids[0..n). */
static int seq_add(seqbuf *s, int32_t bos, const int32_t *ids, size_t n)
{
    if (hc_grow(s->tok, s->cap_tok, s->n_tok + n + 1) ||
        hc_grow(s->off, s->cap_seq, s->n_seq + 2))
        return -1;
    if (s->n_seq == 0)
        s->off[0] = 0;
    s->tok[s->n_tok] = bos;
    memcpy(s->tok + s->n_tok + 1, ids, n * sizeof *ids);
    s->n_tok += n + 1;
    s->off[++s->n_seq] = s->n_tok;
    return 0;
}

/* One document: where it is, and, once loaded, either its text or its
 * ids. */
typedef struct {
    const char *file;
    long line;              /* 0: the whole file is the document */
    long offset;            /* of the line in the file */
    size_t len;             /* bytes of the line, or of the whole file */
    char *text;
    size_t text_len;
    int32_t *ids;
    size_t n_ids;
} doc;

static void doc_unload(doc *d)
{
    free(d->text);
    free(d->ids);
    d->text = NULL;
    d->ids = NULL;
    d->text_len = d->n_ids = 0;
}

typedef struct {
    doc *v;
    size_t n, cap;
    char **files;           /* the paths docs point into */
    size_t n_files, cap_files;
} doclist;

static void doclist_free(doclist *dl)
{
    for (size_t i = 0; i < dl->n; i++)
        doc_unload(&dl->v[i]);
    for (size_t i = 0; i < dl->n_files; i++)
        free(dl->files[i]);
    free(dl->v);
    free(dl->files);
}

static const char *file_add(doclist *dl, const char *path)
{
    if (hc_grow(dl->files, dl->cap_files, dl->n_files + 1))
        return NULL;
    char *p = hc_strdup(path);
    if (!p)
        return NULL;
    return dl->files[dl->n_files++] = p;
}

static doc *doc_add(doclist *dl, const char *file, long line)
{
    if (hc_grow(dl->v, dl->cap, dl->n + 1))
        return NULL;
    doc *d = &dl->v[dl->n++];
    memset(d, 0, sizeof *d);
    d->file = file;
    d->line = line;
    return d;
}

/* "FILE:LINE" or "FILE", the prefix of every message about a document. */
static const char *where(const doc *d, char *buf, size_t n)
{
    if (d->line)
        snprintf(buf, n, "%s:%ld", d->file, d->line);
    else
        snprintf(buf, n, "%s", d->file);
    return buf;
}

static int check_ids(const doc *d, const int32_t *ids, size_t n, int vocab)
{
    char w[4200];
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            return hc_fail(HC_EBAD, "%s: token id %d is outside the vocabulary [0, %d)",
                           where(d, w, sizeof w), ids[i], vocab);
    return 0;
}

/* A "tokens" array: integers only, each in the vocabulary. */
static int json_ids(doc *d, const cJSON *arr, int vocab)
{
    char w[4200];
    size_t n = (size_t)cJSON_GetArraySize(arr);
    d->ids = hc_mallocarray(n, sizeof *d->ids);
    if (!d->ids)
        return -1;
    const cJSON *it;
    size_t k = 0;
    cJSON_ArrayForEach(it, arr) {
        if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble))
            return hc_fail(HC_EBAD, "%s: \"tokens\" must be an array of integer ids",
                           where(d, w, sizeof w));
        double v = it->valuedouble;
        if (v < 0 || v >= vocab)
            return hc_fail(HC_EBAD, "%s: token id %.15g is outside the vocabulary [0, %d)",
                           where(d, w, sizeof w), v, vocab);
        d->ids[k++] = (int32_t)v;
    }
    d->n_ids = k;
    return 0;
}

static int parse_jsonl_line(doc *d, const char *line, size_t len, int vocab)
{
    char w[4200];
    cJSON *j;
    if (hc_json_parse(line, len, where(d, w, sizeof w), &j))
        return -1;
    int rc = 0;
    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(j, "tokens");
    cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
    if (!cJSON_IsObject(j))
        rc = hc_fail(HC_EBAD, "%s: not a JSON object", where(d, w, sizeof w));
    else if (cJSON_IsArray(tokens))
        rc = json_ids(d, tokens, vocab);
    else if (cJSON_IsString(text)) {
        /* taken from the tree, not copied: a huge line costs one copy less */
        d->text = text->valuestring;
        d->text_len = strlen(d->text);
        text->valuestring = NULL;
    } else
        rc = hc_fail(HC_EBAD, "%s: needs \"text\" (a string) or \"tokens\" (an array of ids)",
                     where(d, w, sizeof w));
    cJSON_Delete(j);
    return rc;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

static int read_jsonl(doclist *dl, const char *path, int vocab)
{
    const char *file = file_add(dl, path);
    if (!file)
        return -1;
    FILE *f = fopen(path, "rb");
    if (!f)
        return hc_fail(HC_EBAD, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0, offset = 0;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) != -1) {
        lineno++;
        if (!blank(line, (size_t)len)) {
            /* validated now, kept as a reference: loaded again when used */
            doc *d = doc_add(dl, file, lineno);
            rc = d ? parse_jsonl_line(d, line, (size_t)len, vocab) : -1;
            if (d) {
                d->offset = offset;
                d->len = (size_t)len;
                doc_unload(d);
            }
        }
        offset += len;
        if (cap > (1u << 20)) { /* do not keep a huge line's buffer for the rest of the file */
            free(line);
            line = NULL;
            cap = 0;
        }
    }
    /* getline also returns -1 when it cannot allocate: that is not the end */
    if (rc == 0 && (ferror(f) || !feof(f)))
        rc = hc_fail(HC_EBAD, "%s:%ld: %s", path, lineno + 1,
                     errno == ENOMEM ? "out of memory reading the line" : "read error");
    free(line);
    fclose(f);
    return rc;
}

static int read_txt(doclist *dl, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return hc_fail(HC_EBAD, "%s: %s", path, strerror(errno));
    if ((unsigned long long)sb.st_size > MAX_TXT_BYTES)
        return hc_fail(HC_EBAD, "%s: file too large (%lld bytes, limit %d)", path, (long long)sb.st_size,
                       MAX_TXT_BYTES);
    const char *file = file_add(dl, path);
    doc *d = file ? doc_add(dl, file, 0) : NULL;
    if (!d)
        return -1;
    d->len = (size_t)sb.st_size;
    return 0;
}

/* Reads a document back (it was validated by the first pass; a file that
 * changed since is reported, not trusted). */
static int doc_load(doc *d, int vocab)
{
    if (!d->line)
        return hc_read_file(d->file, MAX_TXT_BYTES, &d->text, &d->text_len);
    FILE *f = fopen(d->file, "rb");
    if (!f)
        return hc_fail(HC_EBAD, "%s: %s", d->file, strerror(errno));
    char *buf = hc_malloc(d->len + 1);
    int rc = buf ? 0 : -1;
    if (!rc && (fseek(f, d->offset, SEEK_SET) != 0 || fread(buf, 1, d->len, f) != d->len))
        rc = hc_fail(HC_EBAD, "%s:%ld: the file changed while it was being read", d->file, d->line);
    fclose(f);
    if (!rc)
        buf[d->len] = 0;
    if (!rc)
        rc = parse_jsonl_line(d, buf, d->len, vocab);
    free(buf);
    return rc;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n > k && !strcmp(s + n - k, suf);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_file_source(doclist *dl, const char *path, int vocab)
{
    if (has_suffix(path, ".jsonl"))
        return read_jsonl(dl, path, vocab);
    if (has_suffix(path, ".txt"))
        return read_txt(dl, path);
    return hc_fail(HC_EBAD, "%s: not a data source (expected ioi, FILE.jsonl, FILE.txt or a directory)",
                   path);
}

/* A directory's *.txt and *.jsonl regular files, in strcmp order. */
static int read_dir(doclist *dl, const char *dir, int vocab)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return hc_fail(HC_EBAD, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(dp))) {
        if (e->d_name[0] == '.' || !(has_suffix(e->d_name, ".txt") || has_suffix(e->d_name, ".jsonl")))
            continue;
        char path[4096];
        struct stat sb;
        if (hc_path_join(path, sizeof path, dir, e->d_name) ||
            hc_grow(names, cap, n + 1))
            rc = -1;
        else if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && !(names[n++] = hc_strdup(path)))
            rc = -1;
    }
    closedir(dp);
    if (rc == 0 && n == 0)
        rc = hc_fail(HC_EBAD, "%s: no *.txt or *.jsonl files in the directory", dir);
    if (rc == 0)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = read_file_source(dl, names[i], vocab);
        free(names[i]);
    }
    free(names);
    return rc;
}

static int tokenize_checked(const hc_dataset_opts *o, const doc *d, const char *text, size_t len,
                            int32_t **ids, size_t *n)
{
    char w[4200];
    if (!o->tk)
        return hc_fail(HC_EBAD, "%s: text needs a tokenizer", where(d, w, sizeof w));
    if (hc_tokenize(o->tk, text, len, ids, n)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", hc_errmsg());
        return hc_fail(hc_errstatus(), "%s: %s", where(d, w, sizeof w), msg);
    }
    if (check_ids(d, *ids, *n, o->vocab_size)) {
        free(*ids);
        *ids = NULL;
        return -1;
    }
    return 0;
}

/* Appends the sequences one document contributes (docs/design.md,
 * "Sequences and batches"); *added says how many (0: the document is
 * skipped). */
static int doc_sequences(seqbuf *s, const hc_dataset_opts *o, const int32_t *ids, size_t n,
                         size_t *added)
{
    size_t min = (size_t)o->min_len, before = s->n_seq;
    size_t w = (size_t)o->seq_len - 1;
    if (!o->chunk) {
        if (n >= 2 && n + 1 >= min && seq_add(s, o->bos, ids, n < w ? n : w))
            return -1;
    } else {
        for (size_t k = 0; k < n; k += w) {
            size_t len = n - k < w ? n - k : w;
            if (len >= 2 && len + 1 >= min && seq_add(s, o->bos, ids + k, len))
                return -1;
        }
    }
    *added = s->n_seq - before;
    return 0;
}

static int too_few(const char *src, const hc_dataset_opts *o, size_t have, size_t n_docs,
                   size_t skipped)
{
    long need = (long)o->n_batches * o->batch_size;
    if (o->available)
        *o->available = have;
    if (o->chunk)
        return hc_fail(HC_EBAD, "%s: need %ld windows for %d batches of %d, have %zu (from %zu documents)",
                       src, need, o->n_batches, o->batch_size, have, n_docs);
    if (skipped)
        return hc_fail(HC_EBAD, "%s: need %ld documents for %d batches of %d, have %zu "
                       "(%zu more were too short)",
                       src, need, o->n_batches, o->batch_size, have, skipped);
    return hc_fail(HC_EBAD, "%s: need %ld documents for %d batches of %d, have %zu",
                   src, need, o->n_batches, o->batch_size, have);
}

static int build_from_docs(seqbuf *s, const char *src, const hc_dataset_opts *o, size_t need)
{
    doclist dl = {0};
    struct stat sb;
    int rc;
    if (stat(src, &sb) != 0)
        rc = hc_fail(HC_EBAD, "%s: %s", src, strerror(errno));
    else if (S_ISDIR(sb.st_mode))
        rc = read_dir(&dl, src, o->vocab_size);
    else
        rc = read_file_source(&dl, src, o->vocab_size);

    size_t *order = rc ? NULL : hc_mallocarray(dl.n, sizeof *order);
    if (!order)
        rc = -1;
    for (size_t i = 0; !rc && i < dl.n; i++)
        order[i] = i;
    if (!rc && o->shuffle) {
        hc_mt19937 rng;
        hc_mt_seed(&rng, o->shuffle_seed);
        hc_np_shuffle(&rng, order, dl.n, sizeof *order);
    }
    size_t skipped = 0;
    for (size_t i = 0; !rc && i < dl.n && s->n_seq < need; i++) {
        doc *d = &dl.v[order[i]];
        if (doc_load(d, o->vocab_size)) {
            rc = -1;
            break;
        }
        int32_t *ids = d->ids;
        size_t n = d->n_ids, added = 0;
        if (d->text && tokenize_checked(o, d, d->text, d->text_len, &ids, &n)) {
            doc_unload(d);
            rc = -1;
            break;
        }
        rc = doc_sequences(s, o, ids, n, &added);
        skipped += added == 0;
        if (ids != d->ids)
            free(ids);
        doc_unload(d);
    }
    if (!rc && s->n_seq < need)
        rc = too_few(src, o, s->n_seq, dl.n, skipped);
    free(order);
    doclist_free(&dl);
    return rc;
}

static int build_ioi(seqbuf *s, const hc_dataset_opts *o)
{
    doc d = {.file = "ioi"};
    size_t cut = (size_t)o->seq_len - 1;
    for (int b = 0; b < o->n_batches; b++) {
        char **texts;
        if (hc_ioi_prompts(o->batch_size, (unsigned)b, &texts))
            return -1;
        int rc = 0;
        for (int r = 0; rc == 0 && r < o->batch_size; r++) {
            int32_t *ids;
            size_t n;
            rc = tokenize_checked(o, &d, texts[r], strlen(texts[r]), &ids, &n);
            if (rc == 0) {
                rc = seq_add(s, o->bos, ids, n < cut ? n : cut);
                free(ids);
            }
        }
        hc_ioi_free(texts, o->batch_size);
        if (rc)
            return -1;
    }
    return 0;
}

static int check_opts(const hc_dataset_opts *o)
{
    if (o->batch_size < 1 || o->n_batches < 1)
        return hc_fail(HC_EUSAGE, "batch size and number of batches must be at least 1");
    if (o->seq_len < (o->chunk ? 3 : 2))
        return hc_fail(HC_EUSAGE, "--seq-len must be at least %s", o->chunk ? "3 with --chunk" : "2");
    if (o->min_len < 0 || o->min_len > o->seq_len)
        return hc_fail(HC_EUSAGE, "--min-len %d must lie in [0, --seq-len %d]", o->min_len, o->seq_len);
    if (o->bos < 0 || o->bos >= o->vocab_size)
        return hc_fail(HC_EBAD, "BOS id %d is outside the vocabulary [0, %d)", o->bos, o->vocab_size);
    return 0;
}

int hc_dataset_open(hc_dataset **out, const char *src, const hc_dataset_opts *o)
{
    *out = NULL;
    if (check_opts(o))
        return -1;
    size_t need = (size_t)o->n_batches * (size_t)o->batch_size;
    seqbuf s = {0};
    int rc = !strcmp(src, "ioi") ? build_ioi(&s, o) : build_from_docs(&s, src, o, need);
    hc_dataset *ds = rc ? NULL : hc_calloc(1, sizeof *ds);
    if (!ds) {
        free(s.tok);
        free(s.off);
        return -1;
    }
    ds->batch_size = o->batch_size;
    ds->n_batches = o->n_batches;
    ds->bos = o->bos;
    ds->tok = s.tok;        /* sequences past need (a chunked document's tail) are never read */
    ds->off = s.off;
    *out = ds;
    return 0;
}

void hc_dataset_free(hc_dataset *ds)
{
    if (!ds)
        return;
    free(ds->tok);
    free(ds->off);
    free(ds);
}

int hc_dataset_n_batches(const hc_dataset *ds)
{
    return ds->n_batches;
}

long hc_dataset_n_scored(const hc_dataset *ds)
{
    /* each sequence scores all its tokens but the first (the BOS) */
    size_t n_seq = (size_t)ds->n_batches * ds->batch_size;
    return (long)(ds->off[n_seq] - ds->off[0] - n_seq);
}

void hc_batch_free(hc_batch *b)
{
    free(b->tokens);
    free(b->lens);
    memset(b, 0, sizeof *b);
}

int hc_dataset_batch(const hc_dataset *ds, int i, hc_batch *b)
{
    memset(b, 0, sizeof *b);
    if (i < 0 || i >= ds->n_batches)
        return hc_fail(HC_EUSAGE, "batch %d does not exist (0..%d)", i, ds->n_batches - 1);
    const size_t *off = ds->off + (size_t)i * ds->batch_size;
    int rows = ds->batch_size, cols = 0;
    for (int r = 0; r < rows; r++)
        if ((int)(off[r + 1] - off[r]) > cols)
            cols = (int)(off[r + 1] - off[r]);
    b->tokens = hc_malloc((size_t)rows * cols * sizeof *b->tokens);
    b->lens = hc_malloc((size_t)rows * sizeof *b->lens);
    if (!b->tokens || !b->lens) {
        hc_batch_free(b);
        return -1;
    }
    b->rows = rows;
    b->cols = cols;
    for (int r = 0; r < rows; r++) {
        const int32_t *seq = ds->tok + off[r];
        int len = (int)(off[r + 1] - off[r]);
        int32_t *row = b->tokens + (size_t)r * cols;
        memcpy(row, seq, (size_t)len * sizeof *row);
        for (int t = len; t < cols; t++)
            row[t] = ds->bos;
        b->lens[r] = len;
        b->n_scored += len - 1;
    }
    return 0;
}

int hc_data_format_parse(const char *s, hc_data_format *fmt)
{
    if (!strcmp(s, "jsonl"))
        *fmt = HC_DATA_JSONL;
    else if (!strcmp(s, "text"))
        *fmt = HC_DATA_TEXT;
    else if (!strcmp(s, "tokens"))
        *fmt = HC_DATA_TOKENS;
    else
        return hc_fail(HC_EUSAGE, "--format: '%s' is not one of text, tokens, jsonl", s);
    return 0;
}

/* Each maximal ill-formed subsequence becomes one U+FFFD: Unicode's "best
 * practice", which Python's "replace" follows. */
void hc_put_json_text(FILE *f, const unsigned char *s, size_t n)
{
    static const char repl[] = "\xEF\xBF\xBD";
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            switch (c) {
            case '"': fputs("\\\"", f); break;
            case '\\': fputs("\\\\", f); break;
            case '\n': fputs("\\n", f); break;
            case '\r': fputs("\\r", f); break;
            case '\t': fputs("\\t", f); break;
            case '\b': fputs("\\b", f); break;
            case '\f': fputs("\\f", f); break;
            default:
                if (c < 0x20)
                    fprintf(f, "\\u%04x", c);
                else
                    fputc((int)c, f);
            }
            i++;
            continue;
        }
        /* Valid second-byte range per lead byte (Unicode Table 3-7). */
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            fputs(repl, f);
            i++;
            continue;
        }
        size_t k = 1;
        while (k <= need && i + k < n && s[i + k] >= (k == 1 ? lo : 0x80u) &&
               s[i + k] <= (k == 1 ? hi : 0xBFu))
            k++;
        if (k > need)
            fwrite(s + i, 1, k, f);
        else
            fputs(repl, f);
        i += k;
    }
}

int hc_put_tokens_text(FILE *f, const hc_tokenizer *tk, const int32_t *ids, size_t n, int cut)
{
    size_t len, skip = 0;
    char *text = hc_detokenize(tk, ids, n, &len);
    if (!text)
        return -1;
    while (cut && skip < len && skip < 3 && ((unsigned char)text[skip] & 0xC0) == 0x80)
        skip++;
    hc_put_json_text(f, (const unsigned char *)text + skip, len - skip);
    free(text);
    return 0;
}

int hc_batch_print(FILE *f, const hc_batch *b, int batch_index, const hc_tokenizer *tk,
                   hc_data_format fmt)
{
    for (int r = 0; r < b->rows; r++) {
        const int32_t *row = b->tokens + (size_t)r * b->cols;
        int len = b->lens[r];
        if (fmt == HC_DATA_TOKENS) {
            for (int t = 0; t < len; t++)
                fprintf(f, t ? " %d" : "%d", row[t]);
            fputc('\n', f);
            continue;
        }
        size_t n;
        char *text = hc_detokenize(tk, row + 1, (size_t)(len - 1), &n);
        if (!text)
            return -1;
        if (fmt == HC_DATA_JSONL)
            fprintf(f, "{\"batch\": %d, \"text\": \"", batch_index);
        hc_put_json_text(f, (const unsigned char *)text, n);
        free(text);
        if (fmt == HC_DATA_JSONL) {
            fputs("\", \"tokens\": [", f);
            for (int t = 0; t < len; t++)
                fprintf(f, t ? ", %d" : "%d", row[t]);
            fputs("]}", f);
        }
        fputc('\n', f);
    }
    return 0;
}
