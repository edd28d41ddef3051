/* Data sources (docs/design.md, "Data sources"): `--data SRC` turned into batches of token
 * sequences, exactly what a run feeds the model.
 *
 * SRC is `ioi`, a FILE.jsonl (one object a line with "tokens", an array of
 * ids, or "text", a string; "tokens" wins when both are present), a
 * FILE.txt (one document), or a directory (its *.txt and *.jsonl files in
 * strcmp order of their names; dotfiles and other files are ignored).
 *
 * Sequences: BOS + the document's tokens.  A document with fewer than 2
 * tokens, or whose BOS + tokens is shorter than min_len, is dropped from
 * the list *before* batching, so every batch is full and batch i holds the
 * kept sequences [i*B, (i+1)*B) of the (optionally shuffled) list.
 * Truncate mode cuts each sequence to seq_len tokens (BOS included).
 * Chunk mode splits each document into consecutive windows of seq_len - 1
 * tokens, each with its own BOS; the last, partial window is kept when it
 * has at least 2 tokens (and meets min_len); windows are batched in
 * document order.  The shuffle (numpy's legacy shuffle, mt19937.h) permutes
 * documents, not windows.
 *
 * `ioi`: batch i is the B prompts of hc_ioi_prompts(B, seed=i), each BOS +
 * prompt cut to seq_len; chunk, min_len and the shuffle do not apply. */
#ifndef HEADCAL_DATASET_H
#define HEADCAL_DATASET_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "headcal/tokenizer.h"

typedef struct {
    int batch_size;         /* B >= 1 */
    int n_batches;          /* N >= 1; fewer than N*B sequences is an error */
    int seq_len;            /* >= 2 (>= 3 with chunk): tokens a sequence may hold, BOS included */
    int min_len;            /* 0..seq_len: shorter sequences (BOS included, before the cut) are dropped */
    bool chunk;
    bool shuffle;
    uint32_t shuffle_seed;  /* np.random.seed(shuffle_seed) */
    int32_t bos;            /* 50256 for GPT-2 */
    int vocab_size;         /* every id, BOS included, must be below it */
    const hc_tokenizer *tk; /* for text documents and ioi; NULL accepts "tokens" only */
    size_t *available;      /* when the source holds too few sequences, how many it holds; may be NULL */
} hc_dataset_opts;

typedef struct hc_dataset hc_dataset;

/* One batch: tokens [rows, cols] row-major, cols = the longest row, rows
 * right-padded with BOS.  Row r holds lens[r] real tokens (BOS included);
 * positions 0..lens[r]-2 are scored, the prediction at t being for token
 * t+1. */
typedef struct {
    int rows, cols;
    int32_t *tokens;
    int *lens;
    long n_scored;          /* Σ (lens[r] - 1) */
} hc_batch;

/* Reads the source, checks every id against the vocabulary and builds the
 * N*B sequences; errors name the file and line ("FILE:LINE: ...") or both
 * numbers when there are too few documents. */
int hc_dataset_open(hc_dataset **ds, const char *src, const hc_dataset_opts *o);
void hc_dataset_free(hc_dataset *ds);
int hc_dataset_n_batches(const hc_dataset *ds);
/* The scored positions of every batch together (Σ of their n_scored). */
long hc_dataset_n_scored(const hc_dataset *ds);
/* Fills b with batch i (0 <= i < n_batches); free with hc_batch_free. */
int hc_dataset_batch(const hc_dataset *ds, int i, hc_batch *b);
void hc_batch_free(hc_batch *b);

/* What `headcal data` prints, one line per row (padding never shown):
 * jsonl  {"batch": i, "text": decoded text without the BOS, "tokens": [ids, BOS included]}
 * text   the decoded text without the BOS, escaped as the inside of a JSON
 *        string (\n, \t, \", \\ ...), so one sequence is one line
 * tokens the ids, BOS included, space-separated
 * Decoded bytes that are not UTF-8 become U+FFFD, as Python's
 * bytes.decode("utf-8", "replace") (a cut can split a character). */
typedef enum { HC_DATA_JSONL, HC_DATA_TEXT, HC_DATA_TOKENS } hc_data_format;
int hc_data_format_parse(const char *s, hc_data_format *fmt);
int hc_batch_print(FILE *f, const hc_batch *b, int batch_index, const hc_tokenizer *tk,
                   hc_data_format fmt);
/* Decoded bytes as the inside of a JSON string: UTF-8 passed through,
 * controls escaped, ill-formed bytes as U+FFFD (as the text format does). */
void hc_put_json_text(FILE *f, const unsigned char *s, size_t n);
/* The text of the tokens ids[n], as hc_put_json_text writes it.  cut: they
 * start a shortened context, whose leading continuation bytes (at most
 * three: what the cut left of a character split across tokens) are dropped
 * rather than shown as U+FFFD.  -1 (recorded) if they cannot be decoded. */
int hc_put_tokens_text(FILE *f, const hc_tokenizer *tk, const int32_t *ids, size_t n, int cut);

#endif
