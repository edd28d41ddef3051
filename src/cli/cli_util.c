#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "headcal/error.h"

int cli_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return hc_fail(HC_EUSAGE, "%s: '%s' is not an integer", opt, s);
    if (v < lo || v > hi)
        return hc_fail(HC_EUSAGE, "%s: %ld is out of range [%ld, %ld]", opt, v, lo, hi);
    *out = v;
    return 0;
}

int cli_int(const char *opt, const char *s, int lo, int hi, int *out)
{
    long v = 0;
    if (cli_long(opt, s, lo, hi, &v))
        return -1;
    *out = (int)v;
    return 0;
}

int cli_float(const char *opt, const char *s, float lo, float hi, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || v != v)
        return hc_fail(HC_EUSAGE, "%s: '%s' is not a number", opt, s);
    if (v < lo || v > hi)
        return hc_fail(HC_EUSAGE, "%s: %g is out of range [%g, %g]", opt, (double)v, (double)lo, (double)hi);
    *out = v;
    return 0;
}

int cli_dtype(const char *opt, const char *s, enum hc_dtype *out)
{
    if (!strcmp(s, "f32")) *out = HC_F32;
    else if (!strcmp(s, "f16")) *out = HC_F16;
    else if (!strcmp(s, "bf16")) *out = HC_BF16;
    else return hc_fail(HC_EUSAGE, "%s: '%s' is not f32, f16 or bf16", opt, s);
    return 0;
}

static int add_table(cli_getopt *g, int n, const cli_option *t)
{
    for (; t && t->name && n < CLI_MAX_OPTS; t++, n++) {
        g->longopts[n] = (struct option){t->name, t->arg ? required_argument : no_argument, NULL, t->val};
        if (t->short_name) {
            size_t k = strlen(g->shortopts);
            g->shortopts[k++] = t->short_name;
            if (t->arg)
                g->shortopts[k++] = ':';
            g->shortopts[k] = 0;
        }
    }
    return n;
}

static void print_options(const char *title, const cli_option *t)
{
    if (title)
        printf("\n%s:\n", title);
    for (; t && t->name; t++) {
        char spec[128];
        int n = t->short_name ? snprintf(spec, sizeof spec, "-%c, ", t->short_name) : 0;
        snprintf(spec + n, sizeof spec - (size_t)n, "--%s%s%s", t->name, t->arg ? " " : "", t->arg ? t->arg : "");
        if (strlen(spec) <= 26)
            printf("    %-26s  %s\n", spec, t->help);
        else
            printf("    %s\n    %-26s  %s\n", spec, "", t->help);
    }
}

int cli_getopt_init(cli_getopt *g, const char *usage, const cli_option *own, const cli_option *shared,
                    const char *shared_title, int argc, char **argv)
{
    enum { HELP = 0x10000 };
    memset(g, 0, sizeof *g);
    int n = add_table(g, add_table(g, 0, own), shared);
    /* a scan with --help added; what it takes as an option's argument
     * ("--text --help") is not a request for help */
    g->longopts[n] = (struct option){"help", no_argument, NULL, HELP};
    char shortopts[sizeof g->shortopts + 1];
    snprintf(shortopts, sizeof shortopts, "%sh", g->shortopts);
    int help = 0, ch, idx = -1;
    optind = 1;
    while (!help && (ch = getopt_long(argc, argv, shortopts, g->longopts, &idx)) != -1) {
        help = ch == HELP || (ch == 'h' && idx < 0); /* -h, not a long option whose value is 'h' */
        idx = -1;
    }
    g->longopts[n] = (struct option){0, 0, 0, 0};
    optind = 1;
    if (!help)
        return 0;
    printf("usage: headcal %s\n\n", usage);
    print_options(NULL, own);
    print_options(shared_title, shared);
    printf("\nSee headcal(1) for the details.\n");
    return 1;
}

int cli_bad_option(const char *cmd, int argc, char **argv)
{
    int i = optind - 1;
    const char *what = (i >= 1 && i < argc) ? argv[i] : "?";
    return hc_fail(HC_EUSAGE, "%s: unknown option or missing argument near '%s' (see headcal --help)",
                   cmd, what);
}

int cli_no_operands(const char *cmd, int argc, char **argv)
{
    if (optind < argc)
        return hc_fail(HC_EUSAGE, "%s: unexpected argument '%s'", cmd, argv[optind]);
    return 0;
}

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

const char *cli_data_dir(void)
{
    static char buf[PATH_MAX];
    const char *env = getenv("HEADCAL_DATA");
    if (env && *env)
        return env;
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 16);
    if (n > 0) {
        buf[n] = 0;
        char *slash = strrchr(buf, '/');
        if (slash) {
            strcpy(slash + 1, "data");
            char probe[PATH_MAX + 16];
            snprintf(probe, sizeof probe, "%s/vocab.json", buf);
            if (is_dir(buf) && access(probe, R_OK) == 0)
                return buf;
        }
    }
    return HEADCAL_PKGDATADIR;
}
