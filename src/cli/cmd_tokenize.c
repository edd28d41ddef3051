/* headcal tokenize / detokenize: text <-> GPT-2 token ids through stdin and
 * stdout.  The two commands live together because they share their options
 * and their input handling. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "headcal/buf.h"
#include "headcal/error.h"
#include "headcal/tokenizer.h"

/* Parses [--model DIR] (no operands) and loads that directory's tokenizer,
 * or the bundled one; 1: --help was printed. */
static int setup(const char *cmd, int argc, char **argv, hc_tokenizer **tk)
{
    static const cli_option opts[] = {
        {0, "model", 'm', "DIR", "the tokenizer's directory (default: the bundled one)"},
        {0},
    };
    char usage[64];
    snprintf(usage, sizeof usage, "%s [--model DIR]", cmd);
    cli_getopt g;
    if (cli_getopt_init(&g, usage, opts, NULL, NULL, argc, argv))
        return 1;
    const char *dir = NULL;
    int c;
    while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
        if (c != 'm')
            return cli_bad_option(cmd, argc, argv);
        dir = optarg;
    }
    if (optind < argc)
        return hc_fail(HC_EUSAGE, "%s: unexpected argument '%s' (the input is read from stdin)", cmd,
                       argv[optind]);
    return hc_tokenizer_load_dir(tk, dir ? dir : cli_data_dir());
}

/* All of stdin, NUL-terminated. */
static int read_stdin(char **buf, size_t *len)
{
    hc_buf b = HC_BUF_INIT;
    size_t got;
    do {
        if (hc_buf_reserve(&b, 1 << 16))
            return -1;
        got = fread(b.s + b.len, 1, 1 << 16, stdin);
        b.len += got;
    } while (got);
    if (ferror(stdin)) {
        hc_buf_free(&b);
        return hc_fail(HC_EBAD, "stdin: %s", strerror(errno));
    }
    return (*buf = hc_buf_detach(&b, len)) ? 0 : -1;
}

static int flush_stdout(void)
{
    if (fflush(stdout) || ferror(stdout))
        return hc_fail(HC_EBAD, "stdout: %s", strerror(errno));
    return 0;
}

int cmd_tokenize(int argc, char **argv)
{
    hc_tokenizer *tk = NULL;
    char *text = NULL;
    int32_t *ids = NULL;
    size_t len, n;
    int rc = -1, s = setup("tokenize", argc, argv, &tk);
    if (s > 0)
        return 0;
    if (s || read_stdin(&text, &len) ||
        hc_tokenize(tk, text, len, &ids, &n))
        goto out;
    for (size_t i = 0; i < n; i++)
        printf(i ? " %d" : "%d", (int)ids[i]);
    putchar('\n');
    rc = flush_stdout();
out:
    free(ids);
    free(text);
    hc_tokenizer_free(tk);
    return rc ? hc_errstatus() : 0;
}

int cmd_detokenize(int argc, char **argv)
{
    hc_tokenizer *tk = NULL;
    char *text = NULL, *bytes = NULL;
    int32_t *ids = NULL;
    size_t len, n = 0, out_len;
    int rc = -1, s = setup("detokenize", argc, argv, &tk);
    if (s > 0)
        return 0;
    if (s || read_stdin(&text, &len))
        goto out;
    /* Whitespace-separated decimal ids; at most one id per two bytes. */
    ids = hc_malloc((len / 2 + 1) * sizeof *ids);
    if (!ids)
        goto out;
    int top = hc_tokenizer_vocab_size(tk) - 1;
    for (char *p = text + strspn(text, " \t\r\n"); *p; p += strspn(p, " \t\r\n")) {
        size_t w = strcspn(p, " \t\r\n");
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end != p + w || errno) {
            hc_fail(HC_EBAD, "stdin: '%.*s' is not a token id", (int)(w > 40 ? 40 : w), p);
            goto out;
        }
        if (v < 0 || v > top) {
            hc_fail(HC_EBAD, "stdin: token id %ld is out of range [0, %d]", v, top);
            goto out;
        }
        ids[n++] = (int32_t)v;
        p += w;
    }
    if (strlen(text) != len) {
        hc_fail(HC_EBAD, "stdin: unexpected NUL byte");
        goto out;
    }
    if (!(bytes = hc_detokenize(tk, ids, n, &out_len)))
        goto out;
    fwrite(bytes, 1, out_len, stdout);
    rc = flush_stdout();
out:
    free(bytes);
    free(ids);
    free(text);
    hc_tokenizer_free(tk);
    return rc ? hc_errstatus() : 0;
}
