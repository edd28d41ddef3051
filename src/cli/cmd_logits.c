/* headcal logits: a model's logits for one sequence, as float32 NPY. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "headcal/error.h"
#include "headcal/forward.h"
#include "headcal/model.h"
#include "headcal/npy.h"
#include "headcal/tokenizer.h"

static int parse_ids(const char *s, int32_t **ids, size_t *n)
{
    size_t cap = 0, k = 0;
    int32_t *v = NULL;
    while (*s) {
        while (*s == ' ' || *s == ',' || *s == '\t' || *s == '\n')
            s++;
        if (!*s)
            break;
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s || x < 0 || x > 0x7fffffff) {
            free(v);
            return hc_fail(HC_EUSAGE, "--tokens: '%.20s' is not a token id", s);
        }
        if (hc_grow(v, cap, k + 1)) {
            free(v);
            return -1;
        }
        v[k++] = (int32_t)x;
        s = end;
    }
    *ids = v;
    *n = k;
    return 0;
}

int cmd_logits(int argc, char **argv)
{
    enum { O_NOBOS = 256, O_PROCESSED };
    static const cli_option opts[] = {
        {0, "model", 'm', "DIR", "the model directory"},
        {0, "tokens", 't', "\"ID ID...\"", "the token ids (BOS is prepended)"},
        {0, "text", 'x', "STR", "a text, tokenised with the model's tokenizer"},
        {0, "out", 'o', "FILE.npy", "the logits, float32 [positions, vocab]"},
        {0, "no-bos", O_NOBOS, NULL, "do not prepend BOS"},
        {0, "processed", O_PROCESSED, NULL, "the processed model's logits (a constant per position apart)"},
        {0},
    };
    cli_getopt g;
    if (cli_getopt_init(&g, "logits --model DIR (--tokens \"ID ID...\" | --text STR) [--no-bos] [--processed] --out FILE.npy",
                        opts, NULL, NULL, argc, argv))
        return 0;
    const char *dir = NULL, *tokens = NULL, *text = NULL, *out = NULL;
    int bos = 1, processed = 0, ch;
    while ((ch = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
        switch (ch) {
        case 'm': dir = optarg; break;
        case 't': tokens = optarg; break;
        case 'x': text = optarg; break;
        case 'o': out = optarg; break;
        case O_NOBOS: bos = 0; break;
        case O_PROCESSED: processed = 1; break;
        default: cli_bad_option("logits", argc, argv); return HC_EUSAGE;
        }
    }
    if (!dir || !tokens == !text || !out || optind < argc) {
        hc_fail(HC_EUSAGE,
                "logits: usage: headcal logits --model DIR (--tokens \"ID ID...\" | --text STR) [--no-bos] --out FILE.npy");
        return HC_EUSAGE;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    if (tokens && parse_ids(tokens, &ids, &n))
        return hc_errstatus();
    if (text) {
        hc_tokenizer *tk;
        if (hc_tokenizer_load_dir(&tk, dir))
            return hc_errstatus();
        int bad = hc_tokenize(tk, text, strlen(text), &ids, &n);
        hc_tokenizer_free(tk);
        if (bad)
            return hc_errstatus();
    }
    hc_model m;
    if (hc_model_load(&m, dir)) {
        free(ids);
        return hc_errstatus();
    }
    int rc = 0;
    size_t S = n + (size_t)bos;
    int32_t *seq = hc_malloc(S * sizeof *seq);
    if (!seq)
        rc = -1;
    else if (S == 0)
        rc = hc_fail(HC_EUSAGE, "logits: no tokens");
    else if (S > (size_t)m.cfg.n_ctx)
        rc = hc_fail(HC_EUSAGE, "logits: %zu positions exceed the model's context of %d", S, m.cfg.n_ctx);
    for (size_t i = 0; !rc && i < n; i++)
        if (ids[i] >= m.cfg.d_vocab)
            rc = tokens ? hc_fail(HC_EUSAGE, "--tokens: id %d is outside the vocabulary [0, %d)", (int)ids[i],
                                  m.cfg.d_vocab)
                        : hc_fail(HC_EBAD, "%s: the tokenizer's id %d is outside the model's vocabulary [0, %d)",
                                  dir, (int)ids[i], m.cfg.d_vocab);
    float *logits = NULL;
    if (!rc) {
        seq[0] = m.cfg.bos;
        memcpy(seq + bos, ids, n * sizeof *ids);
        if (processed)
            hc_model_process(&m);
        logits = hc_malloc(S * (size_t)m.cfg.d_vocab * sizeof(float));
        hc_acts acts = {.logits = logits};
        rc = !logits || hc_forward(&m, seq, 1, (int)S, &acts);
    }
    if (!rc) {
        size_t shape[2] = {S, (size_t)m.cfg.d_vocab};
        rc = hc_npy_write_f32(out, logits, 2, shape);
    }
    free(logits);
    free(seq);
    free(ids);
    hc_model_free(&m);
    return rc ? hc_errstatus() : 0;
}
