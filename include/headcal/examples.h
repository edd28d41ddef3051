/* Per-position examples: for one variant (a head, an MLP, a set), the
 * scored positions where removing it changed the prediction most, kept
 * during the sweep from the statistics it computes anyway.
 *
 * Four lists per variant, each the N best of its kind:
 *   logprob_up / logprob_down        Δ = log p_after(next) − log p_before(next)
 *   confidence_up / confidence_down  Δ = top-1 p_after − top-1 p_before
 * "before" is the full model (the baseline), "after" the model with the
 * variant's members removed.  An _up list holds only Δ > 0, a _down list
 * only Δ < 0, so a head that never raises a probability has an empty _up
 * list rather than a list of its smallest decreases.
 *
 * The order is total: |Δ| descending, then batch, row and position
 * ascending.  The N best of a union of lists are therefore the N best of
 * the union of their positions, which is what makes shards, their merge
 * and --resume give exactly the examples of one uninterrupted run. */
#ifndef HEADCAL_EXAMPLES_H
#define HEADCAL_EXAMPLES_H

#include <stdint.h>

#include "headcal/sweep.h"

#define HC_EXAMPLES_DEFAULT 20
#define HC_EXAMPLES_MAX 10000
/* Top tokens kept before and after (fewer when the run's top_k is smaller). */
#define HC_EXAMPLE_TOP 5

enum { HC_EX_LOGPROB_UP, HC_EX_LOGPROB_DOWN, HC_EX_CONF_UP, HC_EX_CONF_DOWN, HC_EX_LISTS };
/* "logprob_up", "logprob_down", "confidence_up", "confidence_down" */
extern const char *const hc_example_list_names[HC_EX_LISTS];

typedef struct {
    int32_t batch, row, pos;   /* the prediction at position pos of row `row` of batch `batch` */
    int32_t target;            /* the next token, tokens[row][pos + 1] */
    double lp_before, lp_after; /* log p(target), nats */
    int k;                     /* entries of the top lists */
    int32_t id_before[HC_EXAMPLE_TOP], id_after[HC_EXAMPLE_TOP];
    float p_before[HC_EXAMPLE_TOP], p_after[HC_EXAMPLE_TOP];
} hc_example;

/* Best first; at most the run's N entries (v has room for N once used). */
typedef struct {
    int len;
    hc_example *v;
} hc_example_list;

typedef struct {
    hc_example_list list[HC_EX_LISTS];
} hc_examples;

void hc_examples_free(hc_examples *ex);

/* Δ of e for list kind `list` (after − before). */
double hc_example_delta(const hc_example *e, int list);
/* Whether a ranks before b in `list` (the total order above). */
int hc_example_before(const hc_example *a, const hc_example *b, int list);

/* Offers e to each of the four lists (capacity n); a list takes it when
 * the sign of its Δ fits and it ranks among the n best. */
int hc_examples_offer(hc_examples *ex, int n, const hc_example *e);

/* Offers every scored position of one batch's sweep output: variant v
 * against the baseline variant `base`.  This is the whole cost of the
 * examples in a run: a few comparisons per position and variant. */
int hc_examples_collect(hc_examples *ex, int n, int batch, const hc_sweep_out *out, int v, int base);

/* dst's lists become the n best of dst's and src's (disjoint positions). */
int hc_examples_merge(hc_examples *dst, const hc_examples *src, int n);

/* dst (empty) becomes src's entries from batch b, in their order.  The
 * entries of batch b that are among the n best once b completes include
 * every entry of b among the n best of any later superset of batches, so
 * the merge of these per-batch slices restores the lists exactly (the
 * side file of a running run stores them so). */
int hc_examples_of_batch(hc_examples *dst, const hc_examples *src, int b);

/* What the rest of a results file says an example may hold. */
typedef struct {
    int n;                         /* the run's N */
    int batches, batch_size, seq_len, k, d_vocab;
    const unsigned char *done;     /* [batches]: examples only in completed batches */
} hc_examples_bounds;

/* Checks lengths, order, signs, ranges and completed batches; the message
 * is "WHAT: examples.LIST[i]: ...". */
int hc_examples_check(const hc_examples *ex, const hc_examples_bounds *b, const char *what);

/* The "examples" object of a variant in the results file, and back.
 * Reading takes any shape the format allows and leaves the checks to
 * hc_examples_check; the message is "FILE: WHERE: ...". */
struct cJSON;
struct cJSON *hc_examples_json(const hc_examples *ex);
int hc_examples_from_json(hc_examples *ex, const struct cJSON *o, int n, const char *file, const char *where);

#endif
