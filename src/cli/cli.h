/* Internal to the headcal command: one function per subcommand, and the
 * option-parsing helpers they share.  Each cmd_* returns an exit status;
 * on failure the message is in hc_errmsg() and main prints it once. */
#ifndef HEADCAL_CLI_H
#define HEADCAL_CLI_H

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
int cmd_means(int argc, char **argv);

/* Parses a whole decimal integer in [lo, hi] for option `opt`; on error
 * records a usage failure and returns -1. */
int cli_long(const char *opt, const char *s, long lo, long hi, long *out);
int cli_int(const char *opt, const char *s, int lo, int hi, int *out);
/* The same for a finite float in [lo, hi]. */
int cli_float(const char *opt, const char *s, float lo, float hi, float *out);
/* A storage dtype named f32, f16 or bf16. */
int cli_dtype(const char *opt, const char *s, enum hc_dtype *out);
/* --shard I/N: 0 <= I < N. */
int cli_shard(const char *s, int *i, int *n);
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
