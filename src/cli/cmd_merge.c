/* headcal merge: combines the shards (or partial runs) of one run into one
 * results file. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "headcal/error.h"
#include "headcal/results.h"

int cmd_merge(int argc, char **argv)
{
    static const cli_option opts[] = {
        {'o', "out", 'o', "FILE.json", "the merged results file"},
        {0},
    };
    cli_getopt g;
    if (cli_getopt_init(&g, "merge --out FILE.json IN.json...", opts, NULL, NULL, argc, argv))
        return 0;
    const char *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
        if (c != 'o') {
            cli_bad_option("merge", argc, argv);
            return HC_EUSAGE;
        }
        out = optarg;
    }
    if (!out || optind >= argc) {
        hc_fail(HC_EUSAGE, "merge: %s (usage: headcal merge --out FILE.json IN.json...)",
                out ? "no input files" : "--out FILE.json is required");
        return HC_EUSAGE;
    }

    hc_results dst, src;
    if (hc_results_read(&dst, argv[optind]))
        return hc_errstatus();
    int rc = 0;
    for (int i = optind + 1; i < argc && rc == 0; i++) {
        rc = hc_results_read(&src, argv[i]);
        if (rc == 0) {
            rc = hc_results_merge(&dst, &src, argv[i]);
            hc_results_free(&src);
        }
    }
    if (rc == 0)
        rc = hc_results_write(&dst, out);
    hc_results_free(&dst);
    return rc ? hc_errstatus() : 0;
}
