#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "headcal/error.h"
#include "headcal/tokenizer.h"

enum { SLOTS = 4 };
static char paths[SLOTS][4096];

static void remove_files(void)
{
    for (int i = 0; i < SLOTS; i++)
        if (paths[i][0])
            unlink(paths[i]);
}

const char *fuzz_file(int slot, const char *suffix, const uint8_t *data, size_t size)
{
    char *p = paths[slot];
    if (!p[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(p, sizeof paths[0], "%s/headcal-fuzz-XXXXXX%s", tmp && *tmp ? tmp : "/tmp", suffix);
        int fd = mkstemps(p, (int)strlen(suffix));
        if (fd < 0) {
            perror(p);
            abort();
        }
        close(fd);
        static int registered;
        if (!registered++)
            atexit(remove_files);
    }
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        perror(p);
        abort();
    }
    return p;
}

void fuzz_round_trip(const hc_tokenizer *tk, const uint8_t *data, size_t size)
{
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
}

const struct hc_tokenizer *fuzz_gpt2(void)
{
    static hc_tokenizer *tk;
    if (!tk && hc_tokenizer_load_dir(&tk, FUZZ_DATA_DIR)) {
        fprintf(stderr, "fuzz: %s\n", hc_errmsg());
        abort();
    }
    return tk;
}
