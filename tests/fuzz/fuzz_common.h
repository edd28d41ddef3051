/* Shared by the libFuzzer harnesses: the parsers read files, so each
 * input is written to a private temporary file first. */
#ifndef HEADCAL_FUZZ_COMMON_H
#define HEADCAL_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Replaces the contents of this process's temporary file `slot` (0..3),
 * whose name ends in `suffix`, with data; returns its path.  The files are
 * removed at exit.  Aborts on I/O errors (they are not the input's fault). */
const char *fuzz_file(int slot, const char *suffix, const uint8_t *data, size_t size);

/* The bundled tokenizer (data/vocab.json, data/merges.txt), loaded once. */
struct hc_tokenizer;
const struct hc_tokenizer *fuzz_gpt2(void);

/* Aborts unless tk encodes data (any bytes) to ids inside its vocabulary
 * that decode to data exactly. */
void fuzz_round_trip(const struct hc_tokenizer *tk, const uint8_t *data, size_t size);

#endif
