/* The bag-of-words QK panel (the notebook's first cell): how strongly a
 * head attends from a token to itself when the query and key sides are
 * built from different "embeddings" of the same token.
 *
 * Embeddings of token t (raw HF weights; layer 0 is block 0):
 *   W_E   wte[t]
 *   MLP0  MLP_0(LN2_0(resid_mid)), biases included, where
 *         resid_mid = W_E + LN1_0(W_E) · W_V^0 · W_O^0 (all heads, no
 *         attention biases): block 0 with each token attending to itself
 *   W_EE  resid_mid + MLP0
 *   W_U   the unembedding vector as TransformerLens processes it:
 *         w_u[:, t] ⊙ ln_f.weight (w_u is wte when tied, else lm_head),
 *         centred over d_model, then centred over the vocabulary.
 * For head (l, h) and a bag of distinct tokens t_1..t_N:
 *   q_i = LN1_l(X_Q[t_i]) · W_Q^h + b_Q^h,  k_j = LN1_l(X_K[t_j]) · W_K^h + b_K^h,
 *   S_ij = q_i · k_j / sqrt(d_head),  score = mean_i (S_ii − logsumexp_j S_ij),
 * averaged over bags, with its standard error across bags (sample standard
 * deviation / sqrt(bags); NaN for a single bag).
 *
 * Everything here reads the model and writes only its outputs, so several
 * threads may compute panels from one model at once. */
#ifndef HEADCAL_QK_H
#define HEADCAL_QK_H

#include <stdint.h>

#include "headcal/model.h"

/* Rows of the panel (query side) and its columns (key side), in order. */
enum { HC_QK_SIDES = 3 };
extern const char *const hc_qk_query_names[HC_QK_SIDES]; /* "W_U", "MLP0", "W_EE" */
extern const char *const hc_qk_key_names[HC_QK_SIDES];   /* "W_EE", "W_E", "MLP0" */

typedef struct {
    int layer, head, n_bags, bag_size;
    double score[HC_QK_SIDES][HC_QK_SIDES]; /* [query][key] mean over bags    */
    double sem[HC_QK_SIDES][HC_QK_SIDES];   /* its standard error; NaN if 1 bag */
} hc_qk_result;

/* The embeddings of the tokens of a set of bags; independent of the head,
 * so one set serves every head's panel.  It points into the model, which
 * must outlive it. */
typedef struct hc_qk_embeds hc_qk_embeds;

/* Computes the embeddings for bags[n_bags * bag_size] (row b is bag b).
 * m must be unprocessed, as hc_model_load returns it.  The bags must pass
 * hc_qk_check_bags. */
int hc_qk_embed(const hc_model *m, const int32_t *bags, int n_bags, int bag_size, hc_qk_embeds **out);
/* The panel of head (layer, head) over the embedded bags. */
int hc_qk_scores(const hc_qk_embeds *e, int layer, int head, hc_qk_result *out);
void hc_qk_embeds_free(hc_qk_embeds *e);
/* hc_qk_embed + hc_qk_scores for one head. */
int hc_qk_compute(const hc_model *m, int layer, int head, const int32_t *bags, int n_bags, int bag_size,
                  hc_qk_result *out);

/* Fails (HC_EBAD, prefixed by `what`, e.g. a file name) unless there is at
 * least one bag, bag_size >= 2, every id is in [0, d_vocab) and no id
 * repeats within a bag. */
int hc_qk_check_bags(const char *what, const int32_t *bags, int n_bags, int bag_size, int d_vocab);
/* Reads a bags file: a JSON array of bags, each an array of token ids, all
 * the same length; checked as above.  *bags is malloc'd. */
int hc_qk_bags_load(const char *path, int d_vocab, int32_t **bags, int *n_bags, int *bag_size);
/* n_bags random bags of bag_size distinct ids (bag_size <= d_vocab): bag b
 * is the first bag_size entries of the b-th call of numpy's legacy
 * RandomState(seed).permutation(d_vocab), so numpy reproduces them. */
int hc_qk_random_bags(uint32_t seed, int d_vocab, int n_bags, int bag_size, int32_t *bags);

#endif
