/* The JSONL data reader with the GPT-2 tokenizer.  The first input byte
 * picks the options (batch size, batches, sequence length, chunk, shuffle,
 * min_len); the rest is the file.  Every batch it builds is well formed. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "headcal/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t k = data[0];
    hc_dataset_opts o = {.batch_size = 1 + (k & 1), .n_batches = 1 + (k >> 1 & 1), .seq_len = 3 + (k >> 2 & 7),
                         .chunk = k >> 5 & 1, .shuffle = k >> 6 & 1, .shuffle_seed = k,
                         .min_len = k >> 7 ? 4 : 0, .bos = 50256, .vocab_size = 50257, .tk = fuzz_gpt2()};
    hc_dataset *ds;
    if (hc_dataset_open(&ds, fuzz_file(0, ".jsonl", data + 1, size - 1), &o))
        return 0;
    for (int i = 0; i < hc_dataset_n_batches(ds); i++) {
        hc_batch b;
        if (hc_dataset_batch(ds, i, &b))
            abort();
        for (int r = 0; r < b.rows; r++) {
            if (b.lens[r] < 2 || b.lens[r] > o.seq_len || b.lens[r] > b.cols || b.tokens[(size_t)r * b.cols] != o.bos)
                abort();
            for (int t = 0; t < b.cols; t++)
                if (b.tokens[(size_t)r * b.cols + t] < 0 || b.tokens[(size_t)r * b.cols + t] >= o.vocab_size)
                    abort();
        }
        hc_batch_free(&b);
    }
    hc_dataset_free(ds);
    return 0;
}
