/* headcal merge: combines the shards (or partial runs) of one run into one
 * results file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "headcal/error.h"
#include "headcal/means.h"
#include "headcal/fileio.h"
#include "headcal/results.h"

/* Refuses a merge that leaves batches out, naming the shards missing from
 * the inputs (shard I/N given by input given[I] - 1, 0 if none), else the
 * incomplete input or the batches no input holds. */
static int check_complete(const hc_results *r, int N, const int *given, char **in)
{
    int *mark = hc_calloc((size_t)(N > r->params.batches ? N : r->params.batches), sizeof *mark), rc = 0;
    if (!mark)
        return -1;
    char list[4096];
    for (int I = 0; I < N; I++)
        mark[I] = N == 1 || given[I];
    int n = hc_list_unmarked(list, sizeof list, mark, N);
    if (n)
        rc = hc_fail(HC_EBAD, "merge: shard%s %s of %d missing", n > 1 ? "s" : "", list, N);
    for (int b = 0; b < r->params.batches && !rc; b++)
        if (!r->done[b] && N > 1)
            rc = hc_fail(HC_EBAD, "merge: %s (shard %d/%d) is incomplete: batch %d is not done (rerun it with --resume)",
                         in[given[b % N] - 1], b % N, N, b);
    for (int b = 0; b < r->params.batches && !rc; b++)
        mark[b] = r->done[b];
    n = rc ? 0 : hc_list_unmarked(list, sizeof list, mark, r->params.batches);
    if (n)
        rc = hc_fail(HC_EBAD, "merge: batch%s %s of %d in no input (merge --partial writes them anyway)",
                     n > 1 ? "es" : "", list, r->params.batches);
    free(mark);
    return rc;
}

int cmd_merge(int argc, char **argv)
{
    static const cli_option opts[] = {
        {'o', "out", 'o', "FILE.json", "the merged results file"},
        {0, "partial", 'p', NULL, "write the merge even when batches are missing"},
        {0},
    };
    cli_getopt g;
    if (cli_getopt_init(&g, "merge [--partial] --out FILE.json IN.json...", opts, NULL, NULL, argc, argv))
        return 0;
    const char *out = NULL;
    int c, partial = 0;
    while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
        if (c != 'o' && c != 'p') {
            cli_bad_option("merge", argc, argv);
            return HC_EUSAGE;
        }
        if (c == 'p')
            partial = 1;
        else
            out = optarg;
    }
    if (!out || optind >= argc) {
        hc_fail(HC_EUSAGE, "merge: %s (usage: headcal merge --out FILE.json IN.json...)",
                out ? "no input files" : "--out FILE.json is required");
        return HC_EUSAGE;
    }

    for (int i = optind; i < argc; i++)
        if (hc_refuse_input(out, argv[i], "an input"))
            return HC_EUSAGE;
    hc_results dst, src;
    if (hc_results_read(&dst, argv[optind]))
        return hc_errstatus();
    /* which input holds each shard of the first input's split; N = 1 once
     * the inputs are not the shards of one split */
    int N = dst.params.shard_count, *given = hc_calloc((size_t)N, sizeof *given);
    int rc = given ? 0 : -1;
    if (given)
        given[dst.params.shard_index] = optind + 1;
    for (int i = optind + 1; i < argc && rc == 0; i++) {
        rc = hc_results_read(&src, argv[i]);
        if (rc == 0) {
            if (src.params.shard_count == N)
                given[src.params.shard_index] = i + 1;
            else
                N = 1;
            rc = hc_results_merge(&dst, &src, argv[i]);
            hc_results_free(&src);
        }
    }
    if (rc == 0 && !partial && check_complete(&dst, N, given, argv)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", hc_errmsg());
        rc = hc_fail(HC_EBAD, "%s; nothing written to %s", msg, out);
    }
    free(given);
    if (rc == 0)
        rc = hc_results_write(&dst, out);
    hc_results_free(&dst);
    return rc ? hc_errstatus() : 0;
}
