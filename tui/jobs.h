/* Background work for the explorer, on two lanes so that what the user
 * asks for never waits behind the sweep: the sweep lane runs the initial
 * sweep (hc_analysis_run over every head), the ask lane runs the joint
 * ablations and bag-of-words QK panels (qk.h) the user requests, each
 * beside the other while the UI thread keeps the terminal.  They meet
 * only in a mutex-protected mailbox: progress the UI reads, and events it
 * takes (snapshots of a running sweep, finished, failed, cancelled or
 * dropped jobs).  No curses here. */
#ifndef HEADCAL_TUI_JOBS_H
#define HEADCAL_TUI_JOBS_H

#include "headcal/dataset.h"
#include "headcal/model.h"
#include "headcal/qk.h"
#include "headcal/results.h"
#include "headcal/sweep.h"

typedef struct jobs jobs;

enum { JOB_SWEEP, JOB_SET, JOB_QK };
enum { LANE_SWEEP, LANE_ASK, N_LANES }; /* JOB_SWEEP runs on the first, the others on the second */
enum {
    JOB_SNAPSHOT, /* a copy of the sweep's results after another batch */
    JOB_DONE,     /* the job's results, complete */
    JOB_STOPPED   /* failed, cancelled or dropped before it started: msg says why; r holds what was done */
};

typedef struct {
    int type, kind;  /* JOB_SNAPSHOT..., JOB_SWEEP / JOB_SET / JOB_QK */
    hc_component c;  /* JOB_QK: its head */
    hc_results *r;   /* owned by the receiver (results_destroy); NULL when dropped */
    hc_qk_result qk; /* JOB_QK's panel */
    char label[128]; /* what the job computes ("sweep", "L0H1+L1H0", "QK L3H1"): the set's id for JOB_SET */
    char msg[512];
    int partial;     /* JOB_SNAPSHOT inside the first batch: only the variants done so far, the batch unfinished */
} job_event;

typedef struct {
    int busy, queued;
    char label[128], phase[16];
    int done, total; /* batches (or the means pre-pass's batches) of the running job */
    double frac;     /* of the current batch, in [0, 1) */
    double start;    /* hc_seconds() when the running job started */
} job_progress;

/* model_dir: where the QK panels load the model from (unprocessed, on the
 * first request).  m and ds may be NULL when no model is at hand: then
 * every job fails with `why` (e.g. "the model DIR cannot be read: ...").
 * Signals stay with the calling thread. */
int jobs_start(jobs **j, const hc_model *m, const hc_dataset *ds, const hc_sweep_opts *o, const char *model_dir,
               const char *why);
/* Queues a job on r (the job owns it from here). */
int jobs_submit(jobs *j, int kind, const char *label, hc_results *r);
/* Queues the QK panel of head (layer, head): 20 bags of 100 tokens, seed
 * 0 (headcal qk's defaults). */
int jobs_submit_qk(jobs *j, int layer, int head);
/* Takes the oldest event: 1 and *ev filled, or 0 when there is none. */
int jobs_poll(jobs *j, job_event *ev);
void jobs_progress(jobs *j, int lane, job_progress *p);
/* Cancels the running jobs and drops the queued ones (each posts
 * JOB_STOPPED). */
void jobs_cancel(jobs *j);
/* Cancels everything, joins the workers, frees what is left. */
void jobs_stop(jobs *j);

/* A deep copy of r (what has been done so far), for handing results
 * between threads. */
int results_copy(hc_results *dst, const hc_results *src);
void results_destroy(hc_results *r);
/* Adds variant v of src to dst (unless dst has it) with the counts of the
 * batches complete in both: how a joint ablation computed on its own
 * joins the analysis shown.  Returns its index in dst, or -1. */
int results_adopt(hc_results *dst, const hc_results *src, int v);

#endif
