/* The GPT-2 tokenizer on arbitrary bytes (invalid UTF-8 included): every
 * id is in the vocabulary and decoding gives back the input exactly. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_round_trip(fuzz_gpt2(), data, size);
    return 0;
}
