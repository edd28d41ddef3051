/* GPT-2 byte-level BPE (docs/design.md, "The tokenizer"): vocab.json + merges.txt, the GPT-2
 * pre-tokenizer with real Unicode classes, and the literal <|endoftext|>. */
#ifndef HEADCAL_TOKENIZER_H
#define HEADCAL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

/* A loaded tokenizer is read-only: any number of threads may tokenize with
 * it at once. */
typedef struct hc_tokenizer hc_tokenizer;

int hc_tokenizer_load(hc_tokenizer **tk, const char *vocab_json, const char *merges_txt);
/* Loads DIR/vocab.json and DIR/merges.txt. */
int hc_tokenizer_load_dir(hc_tokenizer **tk, const char *dir);
void hc_tokenizer_free(hc_tokenizer *tk);
int hc_tokenizer_vocab_size(const hc_tokenizer *tk);
/* Encodes len bytes of text (invalid UTF-8 is encoded byte-wise).  *ids is
 * malloc'd; the caller frees it.  No BOS is added. */
int hc_tokenize(const hc_tokenizer *tk, const char *text, size_t len, int32_t **ids, size_t *n);
/* Decodes ids to the bytes they stand for; malloc'd, NUL-terminated. */
char *hc_detokenize(const hc_tokenizer *tk, const int32_t *ids, size_t n, size_t *len);

#endif
