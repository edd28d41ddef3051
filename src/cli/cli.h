/* Internal to the headcal command: one function per subcommand, and the
 * option-parsing helpers they share.  Each cmd_* returns an exit status;
 * on failure the message is in hc_errmsg() and main prints it once. */
#ifndef HEADCAL_CLI_H
#define HEADCAL_CLI_H

#include <getopt.h>

#include "headcal/safetensors.h"

/* -- commands */
int cmd_info(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_tui(int argc, char **argv);
int cmd_qk(int argc, char **argv);

/* One option of a command: what getopt_long needs and the line `headcal
 * CMD --help` prints, in one table (git's parse-options), so the help
 * cannot drift from what is parsed.  A table ends with {0}. */
typedef struct {
    char short_name;  /* 0, or the letter of a short form (-o), which val repeats */
    const char *name; /* the long name, without "--" */
    int val;          /* what getopt_long returns for it */
    const char *arg;  /* the argument's placeholder ("DIR"); NULL: a flag */
    const char *help;
} cli_option;

enum { CLI_MAX_OPTS = 48 };
/* getopt_long's view of a command's options. */
typedef struct {
    struct option longopts[CLI_MAX_OPTS + 2];
    char shortopts[3 * CLI_MAX_OPTS + 1];
} cli_getopt;

/* Builds g from the command's own options and, when `shared` is not
 * NULL, the options it shares with others (the run options).  If argv asks
 * for --help (or -h), prints the help to stdout and returns 1: the command
 * then exits 0.  usage is the synopsis after "headcal ". */
int cli_getopt_init(cli_getopt *g, const char *usage, const cli_option *own, const cli_option *shared,
                    const char *shared_title, int argc, char **argv);

/* Parses a whole decimal integer in [lo, hi] for option `opt`; on error
 * records a usage failure and returns -1. */
int cli_long(const char *opt, const char *s, long lo, long hi, long *out);
int cli_int(const char *opt, const char *s, int lo, int hi, int *out);
/* The same for a finite float in [lo, hi]. */
int cli_float(const char *opt, const char *s, float lo, float hi, float *out);
/* A storage dtype named f32, f16 or bf16. */
int cli_dtype(const char *opt, const char *s, enum hc_dtype *out);
/* Standard usage error for an unknown option or a missing argument, as
 * reported by getopt_long (optopt / argv). */
int cli_bad_option(const char *cmd, int argc, char **argv);
/* A usage error naming the first operand left after the options (the
 * commands take options only); 0 when there is none. */
int cli_no_operands(const char *cmd, int argc, char **argv);
/* Location of the bundled data directory: $HEADCAL_DATA, else the build
 * tree's data/ (next to the binary), else the installed pkgdatadir. */
const char *cli_data_dir(void);

#endif
