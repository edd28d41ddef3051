/* The cluster recipes of docs/reproduce.md (docs/slurm/) on a real
 * single-node Slurm that tests/slurm/run.sh starts and stops itself: an
 * array job with a task cancelled midway and requeued, and mean ablation's
 * three dependent jobs; each merged file must be the single-process run's,
 * byte for byte.  Skipped, with the reason, where Slurm or munge is not
 * installed or the test does not run as root. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

/* Its own hard limit below Criterion's, so the daemons are always stopped
 * by the script's own cleanup. */
Test(slurm, array_jobs_with_preemption_merge_into_the_single_run, .timeout = 900)
{
    char *dir = th_tmpdir("slurm"), cmd[16384], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "timeout -k 20 780 sh '%s' '%s' '%s' '%s/cluster'", th_src("tests/slurm/run.sh"),
             th_headcal(), th_src(""), dir);
    int st = th_run(cmd, &out, &err);
    if (st == 77)
        cr_skip_test("%s", out);
    cr_assert_eq(st, 0, "tests/slurm/run.sh exited %d:\n%s%s", st, out, err);
    cr_log_info("%s", out);
    free(out);
    free(err);
    free(dir);
}

/* docs/reproduce.md shows the scripts the test above runs; each copy there
 * (the code block after "<!-- docs/slurm/NAME -->") must be the file. */
Test(slurm, reproduce_md_shows_the_scripts_the_test_runs)
{
    static const char *const files[] = {"docs/slurm/headcal-array.sbatch", "docs/slurm/headcal-means.sbatch",
                                        "docs/slurm/submit-mean-ablation.sh"};
    char *doc = th_read(th_src("docs/reproduce.md"));
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char marker[256];
        snprintf(marker, sizeof marker, "<!-- %s -->\n```sh\n", files[i]);
        const char *at = strstr(doc, marker);
        cr_assert_not_null(at, "docs/reproduce.md does not show %s", files[i]);
        at += strlen(marker);
        char *file = th_read(th_src(files[i]));
        size_t n = strlen(file);
        cr_assert(!strncmp(at, file, n) && !strncmp(at + n, "```\n", 4),
                  "the copy of %s in docs/reproduce.md differs from the file", files[i]);
        free(file);
    }
    free(doc);
}
