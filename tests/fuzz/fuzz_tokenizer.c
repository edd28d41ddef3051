/* The GPT-2 tokenizer on arbitrary bytes (invalid UTF-8 included): every
 * id is in the vocabulary and decoding gives back the input exactly. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "headcal/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const hc_tokenizer *tk = fuzz_gpt2();
    int32_t *ids;
    size_t n, len;
    if (hc_tokenize(tk, (const char *)data, size, &ids, &n))
        abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= hc_tokenizer_vocab_size(tk))
            abort();
    char *back = hc_detokenize(tk, ids, n, &len);
    if (!back || len != size || memcmp(back, data, size))
        abort();
    free(back);
    free(ids);
    return 0;
}
