/* Loading a tokenizer from arbitrary vocab.json and merges.txt (the input
 * is both, split at its first NUL byte), then encoding with it: a loaded
 * tokenizer round-trips any text, with ids inside its vocabulary. */
#include <string.h>

#include "fuzz_common.h"
#include "headcal/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t vlen = nul ? (size_t)(nul - data) : size;
    const char *vocab = fuzz_file(0, ".json", data, vlen);
    const char *merges = fuzz_file(1, ".txt", nul ? nul + 1 : data + size, nul ? size - vlen - 1 : 0);
    hc_tokenizer *tk;
    if (hc_tokenizer_load(&tk, vocab, merges))
        return 0;
    /* encode the input itself: arbitrary bytes against arbitrary merges */
    fuzz_round_trip(tk, data, size);
    hc_tokenizer_free(tk);
    return 0;
}
