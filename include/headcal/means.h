/* The activation means of mean ablation: per-position means of every
 * head's z and every MLP's output over a run's whole dataset.
 *
 * They are computed from sums that are exact whatever the order of the
 * additions: each activation is rounded once to a multiple of 2^-32 and
 * added as a 64-bit integer.  So the sums of shards of the dataset add up
 * to bit for bit the sums of the whole, and a cluster that computes the
 * means in N pieces (`headcal means --shard I/N`, then `--merge`) ablates
 * with exactly the means one process computes.
 *
 * A means file is a safetensors file: I64 tensors z_sum and mlp_sum
 * [n_layers, seq_len, d_model] in units of 2^-32, count [seq_len] (the
 * sequences long enough to reach each position), and the run it belongs
 * to in the header's __metadata__ (docs/results-format.md). */
#ifndef HEADCAL_MEANS_H
#define HEADCAL_MEANS_H

#include <stddef.h>
#include <stdint.h>

#include "headcal/dataset.h"
#include "headcal/model.h"
#include "headcal/results.h"
#include "headcal/sweep.h"

#define HC_MEANS_FORMAT "headcal-means/1"

/* What the means were computed from: the model, the data and the options
 * that decide the token sequences, and the shard of the batches summed. */
typedef struct {
    hc_results_model model;
    hc_results_data data;
    int batch_size, batches, seq_len;
    int shard_index, shard_count;
} hc_means_id;

typedef struct {
    hc_means_id id;
    int L, S, D;
    int64_t *z_sum, *mlp_sum; /* [L, S, D], units of 2^-32 */
    int64_t *count;           /* [S] */
} hc_mean_sums;

/* The identity of the means a run of r needs (shard I/N of them). */
hc_means_id hc_means_id_of(const hc_results *r, int shard_index, int shard_count);

/* Zero sums for cfg's layers and width over S positions. */
int hc_mean_sums_init(hc_mean_sums *s, const hc_config *cfg, int S);
void hc_mean_sums_free(hc_mean_sums *s);
/* Runs the forward pass of the processed model m on tokens[B, S] (row b
 * holds lengths[b] real tokens) and adds the activations at real
 * positions.  Fails on an activation too large to sum exactly. */
int hc_mean_sums_add_batch(hc_mean_sums *s, const hc_model *m, const int32_t *tokens, const int *lengths, int B,
                           int S);
/* Adds the batches of ds that s's shard holds.  Before each batch
 * step(ctx, done, total) runs; a nonzero return stops (its message stays). */
int hc_mean_sums_run(hc_mean_sums *s, const hc_model *m, const hc_dataset *ds,
                     int (*step)(void *ctx, int done, int total), void *ctx);

/* Reads the shard files of one run and adds them up; every shard of N must
 * be there exactly once (the message names the missing ones).  The result
 * is shard 0/1. */
int hc_mean_sums_merge(hc_mean_sums *out, char *const *paths, int n);

/* The indices i < count whose mark[i] is 0, as "2, 5 and 7" in buf (for
 * messages naming missing shards); returns how many there are. */
int hc_list_unmarked(char *buf, size_t n, const int *mark, int count);

/* Written atomically; read with every field checked. */
int hc_mean_sums_write(const hc_mean_sums *s, const char *path);
int hc_mean_sums_read(hc_mean_sums *s, const char *path);

/* Whether the means in `path` (identity `have`) are the ones a run needs
 * (`want`): complete (shard 0/1) and of the same model, data and options.
 * The message names path and the first thing that differs. */
int hc_means_id_check(const hc_means_id *have, const hc_means_id *want, const char *path);

/* The means themselves; free with hc_means_free. */
int hc_means_finish(hc_means *mn, const hc_mean_sums *s);
void hc_means_free(hc_means *mn);

#endif
