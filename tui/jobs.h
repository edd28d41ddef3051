/* Background work for the explorer: one worker thread runs analyses
 * (hc_analysis_run) one after another -- the initial sweep, then joint
 * ablations -- and bag-of-words QK panels (qk.h), while the UI thread keeps the terminal.  The two meet only
 * in a mutex-protected mailbox: progress the UI reads, and events it
 * takes (snapshots of a running sweep, finished or failed jobs).  No
 * curses here. */
#ifndef HEADCAL_TUI_JOBS_H
#define HEADCAL_TUI_JOBS_H

#include "headcal/dataset.h"
#include "headcal/model.h"
#include "headcal/qk.h"
#include "headcal/results.h"
#include "headcal/sweep.h"

typedef struct jobs jobs;

enum { JOB_SWEEP, JOB_SET, JOB_QK };
enum {
    JOB_SNAPSHOT, /* a copy of the sweep's results after another batch */
    JOB_DONE,     /* the job's results, complete */
    JOB_STOPPED   /* failed or cancelled: msg says why; r holds what was done */
};

typedef struct {
    int type, kind;  /* JOB_SNAPSHOT..., JOB_SWEEP / JOB_SET */
    hc_results *r;   /* owned by the receiver (hc_results_free + free) */
    hc_qk_result qk; /* JOB_QK's panel */
    char label[128]; /* what the job computes ("sweep", "L0H1+L1H0") */
    char msg[512];
} job_event;

typedef struct {
    int busy, queued;
    char label[128], phase[16];
    int done, total;
} job_progress;

/* checkpoint: where the sweep's results are rewritten after every batch
 * (NULL: nowhere).  model_dir: where the QK panels load the model from
 * (unprocessed, on the first request).  Signals stay with the calling
 * thread. */
int jobs_start(jobs **j, const hc_model *m, const hc_dataset *ds, const hc_sweep_opts *o,
               const char *checkpoint, const char *model_dir);
/* Queues a job on r (the job owns it from here). */
int jobs_submit(jobs *j, int kind, const char *label, hc_results *r);
/* Queues the QK panel of head (layer, head): 20 bags of 100 tokens, seed
 * 0 (headcal qk's defaults). */
int jobs_submit_qk(jobs *j, int layer, int head);
/* Takes the oldest event: 1 and *ev filled, or 0 when there is none. */
int jobs_poll(jobs *j, job_event *ev);
void jobs_progress(jobs *j, job_progress *p);
/* Cancels the running job and drops the queued ones. */
void jobs_cancel(jobs *j);
/* Cancels everything, joins the worker, frees what is left. */
void jobs_stop(jobs *j);

/* A deep copy of r (what has been done so far), for handing results
 * between threads. */
int results_copy(hc_results *dst, const hc_results *src);
void results_destroy(hc_results *r);

#endif
