/* A whole analysis: the sweep over every batch of a dataset, accumulated
 * into a results structure, checkpointed after each batch so that an
 * interrupted run resumes exactly.  Shared by `headcal run` and the
 * explorer's background jobs; no terminal I/O here. */
#ifndef HEADCAL_ANALYSIS_H
#define HEADCAL_ANALYSIS_H

#include <stdatomic.h>

#include "headcal/dataset.h"
#include "headcal/results.h"
#include "headcal/sweep.h"

/* Adds the variants a command line asks for to r (which has none yet):
 * the baseline, the heads in `heads` ("all", "none", or "L.H,LxHy,..."),
 * every layer's MLP when mlp is set, and each set in `sets`
 * ("L10H7+L11H10,MLP3+L0H1", may be NULL). */
int hc_analysis_variants(hc_results *r, const char *heads, int mlp, const char *sets);

/* SHA-256 of the token sequences a run feeds the model (every batch, shard
 * or not): the data's identity, whatever the source. */
int hc_analysis_data_sha256(const hc_dataset *ds, char hex[65]);

/* Opens the data the run of r read (src, or the recorded data.source when
 * src is NULL) with the recorded batching, for a model of config cfg whose
 * tokenizer is tk, and checks it is the same data: refuses, naming the
 * source, when it is missing or its hash is not data.sha256. */
int hc_analysis_reopen_data(const hc_results *r, const char *src, const hc_config *cfg, const hc_tokenizer *tk,
                            hc_dataset **ds);

typedef struct {
    const hc_model *model;      /* processed */
    const hc_dataset *ds;
    hc_sweep_opts sweep;
    const hc_means *means;      /* mean ablation's means (headcal means --means); NULL: computed here */
    const char *checkpoint;     /* results file written at the start and after every batch; NULL: none */
    /* Called with batch -1 once the options are accepted, then after each
     * completed batch (a run's side file); a failure stops the run.  May be NULL. */
    int (*saved)(void *ctx, const hc_results *r, int batch);
    void *saved_ctx;
    atomic_int *cancel;         /* set from a signal handler or the UI; may be NULL */
    /* Progress: phase "means" (mean ablation's pre-pass) or "sweep";
     * batches done and to do in this phase. */
    void (*progress)(void *ctx, const char *phase, int done, int total);
    void *progress_ctx;
    /* Progress inside the current batch (hc_sweep_set_tick), with
     * progress_ctx; may be NULL. */
    void (*tick)(void *ctx, int done, int total);
    /* While r has no completed batch, in a batch whose variants finish in
     * steps (the first: W_OU is formed a layer at a time,
     * hc_sweep_set_part), after each step but the last, with progress_ctx:
     * part is a results structure like r's with only the variants
     * finished so far (the baseline among them) and the current batch,
     * marked complete — the first heads' results long before the batch
     * ends.  The caller may copy it; it is freed on return.  May be NULL. */
    void (*partial)(void *ctx, const hc_results *part);
} hc_analysis;

/* Runs every batch of r's shard that r does not mark done.  On failure or
 * cancellation the completed batches stay in r (and in the checkpoint). */
int hc_analysis_run(const hc_analysis *a, hc_results *r);

#endif
