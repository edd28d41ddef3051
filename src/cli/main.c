/* headcal: the command-line front end.  Dispatches to one cmd_* per
 * subcommand and is the single place that reports errors to the user. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "headcal/blas.h"
#include "headcal/error.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"tui", cmd_tui, "the explorer (also: headcal with no arguments)"},
    {"info", cmd_info, "print a model's configuration"},
    {"logits", cmd_logits, "write a model's logits as float32 NPY"},
    {"synth", cmd_synth, "write a random GPT-2 checkpoint in HF layout"},
    {"train", cmd_train, "train a small GPT-2 on a token file"},
    {"run", cmd_run, "run the calibration sweep, write a results file"},
    {"plot", cmd_plot, "draw a results file as PNG, SVG, PDF or sixel"},
    {"merge", cmd_merge, "combine the shards of a run into one results file"},
    {"examples", cmd_examples, "the positions where removing a component changed most"},
    {"means", cmd_means, "compute mean ablation's means once, shardable (for --means)"},
    {"tokenize", cmd_tokenize, "text on stdin -> GPT-2 token ids"},
    {"detokenize", cmd_detokenize, "token ids on stdin -> text"},
    {"data", cmd_data, "print the token sequences a run would feed the model"},
    {"qk", cmd_qk, "a head's bag-of-words QK panel (self-attention scores)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: headcal <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`headcal COMMAND --help` lists its options; headcal(1) has the details.\n");
}

/* What a command printed is only written once stdout is flushed: a full
 * device or a closed pipe must not pass for success. */
static int flushed(void)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return 0;
    fprintf(stderr, "headcal: standard output: write error: %s\n", strerror(errno ? errno : EIO));
    return HC_EBAD;
}

int main(int argc, char **argv)
{
    hc_blas_tune(argv);
    if (argc < 2 && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
        usage(stderr);
        return HC_EUSAGE;
    }
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))) {
        usage(stdout);
        return flushed();
    }
    if (argc >= 2 && !strcmp(argv[1], "--version")) {
        printf("headcal %s\n", PACKAGE_VERSION);
        return flushed();
    }
    /* no arguments on a terminal: the explorer on the bundled default */
    const char *name = argc < 2 ? "tui" : argv[1];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(name, commands[i].name))
            continue;
        opterr = 0; /* cli_bad_option reports a bad option, once */
        int rc = argc < 2 ? commands[i].fn(argc, argv) : commands[i].fn(argc - 1, argv + 1);
        if (rc == 0)
            return flushed();
        const char *m = hc_errmsg();
        fprintf(stderr, "headcal: %s\n", *m ? m : "failed");
        return rc;
    }
    fprintf(stderr, "headcal: unknown command '%s' (see headcal --help)\n", argv[1]);
    return HC_EUSAGE;
}
