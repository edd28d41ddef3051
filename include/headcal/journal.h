/* A run's side file.  `headcal run --out FILE` keeps its progress in
 * FILE.partial, never in FILE: the first line is the results of the run so
 * far when it started (a results file's JSON on one line), each further line one completed
 * batch (hc_results_batch_write), appended and synced as it completes, so
 * a checkpoint costs one batch's counts, not the whole file.  Only a
 * completed run replaces FILE (atomically) and removes the side file.
 *
 * The side file is also the run's lock: it stays open with an exclusive
 * flock for the whole run, and a second run on the same FILE fails at
 * once.  A batch line cut short by a crash is dropped when the side file
 * is read back. */
#ifndef HEADCAL_JOURNAL_H
#define HEADCAL_JOURNAL_H

#include <stdio.h>
#include <sys/types.h>

#include "headcal/results.h"

typedef struct {
    char out[4096];
    char path[4200];    /* out + ".partial" */
    int fd;             /* locked; -1 when closed */
    FILE *f;            /* appends, on a duplicate of fd */
    off_t end;          /* length of the complete lines */
} hc_journal;

/* Creates or opens OUT.partial and locks it; fails (exit status 1) when
 * another process holds the lock. */
int hc_journal_open(hc_journal *j, const char *out);
/* Reads the side file's results (first line, then every complete batch
 * line) into r; *found is 0 (r untouched) when the side file holds no
 * complete first line. */
int hc_journal_load(hc_journal *j, hc_results *r, int *found);
/* Rewrites the side file as r's first line (r may hold completed batches
 * already: a resume from a results file). */
int hc_journal_start(hc_journal *j, const hc_results *r);
/* Appends completed batch b of r. */
int hc_journal_append(hc_journal *j, const hc_results *r, int b);
/* The run completed: writes OUT atomically, removes the side file, unlocks. */
int hc_journal_finish(hc_journal *j, const hc_results *r);
/* Unlocks; the side file stays unless it holds nothing (a run refused
 * before its first line). */
void hc_journal_close(hc_journal *j);

/* Reads a side file without locking it (tests, inspection). */
int hc_journal_read(const char *path, hc_results *r);

#endif
