/* A run's results ("format": "headcal-results/1"): what was
 * measured (model, data, parameters), which batches are complete, and the
 * per-batch calibration counts of every variant.  docs/results-format.md
 * describes the file field by field.
 *
 * Sharding: shard I/N (0 <= I < N) runs exactly the batches b with
 * b % N == I.  Shards of one run hold disjoint batches, so merging them
 * adds their per-batch counts into exactly the counts of the unsharded run.
 * A merged file is an ordinary run file (shard 0/1 unless every input had
 * the same shard) whose incomplete batches --resume can still fill in. */
#ifndef HEADCAL_RESULTS_H
#define HEADCAL_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "headcal/calib.h"
#include "headcal/component.h"
#include "headcal/metrics.h"

#define HC_RESULTS_FORMAT "headcal-results/1"
/* Counts stay below 2^53 so that a JSON number (a double) holds them exactly. */
#define HC_COUNT_LIMIT (UINT64_C(1) << 53)


typedef enum { HC_VARIANT_BASELINE, HC_VARIANT_HEAD, HC_VARIANT_MLP, HC_VARIANT_SET } hc_variant_kind;

typedef struct {
    char *id;               /* "baseline", "L10H7", "MLP3", "L10H7+L11H10" */
    hc_variant_kind kind;
    int n_members;          /* 0 for the baseline, 1 for a head or MLP, >= 2 for a set */
    hc_component *members;  /* in forward-pass order */
    hc_calib calib;
} hc_variant;


/* The words the file (and the command line) uses for the enumerations,
 * indexed by their values; data mode 0 is "truncate", 1 "chunk". */
extern const char *const hc_variant_kind_names[4];
extern const char *const hc_ablation_names[2];
extern const char *const hc_ln_names[2];
extern const char *const hc_data_mode_names[2];

typedef struct {
    char path[4096];
    char sha256[65];        /* 64 lowercase hex digits */
    int n_layers, n_heads, d_model, d_vocab;
} hc_results_model;

typedef struct {
    char source[4096];
    char sha256[65];
    int64_t shuffle_seed;   /* -1: not shuffled; else [0, 2^32) */
    int chunk;              /* mode: 0 "truncate", 1 "chunk" */
} hc_results_data;

typedef struct {
    int batch_size, batches, seq_len, top_k, bins;
    int ablation, ln;           /* HC_ABLATION_*, HC_LN_* */
    int shard_index, shard_count;
} hc_results_params;

typedef struct {
    hc_results_model model;
    hc_results_data data;
    hc_results_params params;
    unsigned char *done;    /* [params.batches]: the batch is complete in every variant */
    int n_variants;
    hc_variant *variants;
} hc_results;

/* Validates the description of a run and starts its results with no
 * variants and no completed batches. */
int hc_results_init(hc_results *r, const hc_results_model *model, const hc_results_data *data,
                    const hc_results_params *params);
void hc_results_free(hc_results *r);

/* Adds a variant (its members in any order; they are sorted), with empty
 * counts; returns its index.  Refuses components outside the model, a set
 * of fewer than 2 or with repeated members, and an id already present. */
int hc_results_add_variant(hc_results *r, hc_variant_kind kind, const hc_component *members,
                           int n_members);
/* Index of the variant with this id (or of the baseline), -1 if none. */
int hc_results_find(const hc_results *r, const char *id);
int hc_results_baseline(const hc_results *r);

/* Whether shard I/N runs batch b. */
static inline int hc_shard_has(int shard_index, int shard_count, int batch)
{
    return batch % shard_count == shard_index;
}

/* Scored positions over the completed batches. */
uint64_t hc_results_positions(const hc_results *r);

/* Every metric of variant v against the baseline, over the completed
 * batches, recomputed from the counts. */
int hc_results_metrics(const hc_results *r, int v, hc_metrics *m);

/* Checks the invariants the counts must satisfy (see the format document:
 * correct <= count, k events per position, confidences inside their bins,
 * the same positions in every variant, data only in completed batches of
 * this shard, counts below 2^53, a baseline present).  The message is
 * prefixed with `what` (a file name). */
int hc_results_validate(const hc_results *r, const char *what);

/* Whether `other` (read from other_path) describes the same run as r: the
 * same model and data hashes and shapes, the same parameters apart from the
 * shard, the same variant ids.  The message names other_path and the first
 * field that differs. */
int hc_results_compatible(const hc_results *r, const hc_results *other, const char *other_path);

/* Adds src's completed batches to dst.  Refuses an incompatible src and a
 * batch completed in both (overlapping shards); dst is unchanged then. */
int hc_results_merge(hc_results *dst, const hc_results *src, const char *src_path);

/* The results file, written atomically (never half-written) with the
 * derived metrics alongside the counts; refuses results that fail
 * hc_results_validate. */
int hc_results_write(const hc_results *r, const char *path);
/* Reads and validates a results file completely; every problem is one
 * message "FILE: where: what is wrong".  Derived metrics in the file are
 * ignored (recompute with hc_results_metrics). */
int hc_results_read(hc_results *r, const char *path);

#endif
