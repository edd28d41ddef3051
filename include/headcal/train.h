/* GPT-2 training on the CPU (OpenBLAS): the analysis's own forward pass
 * with its activations kept, backward, AdamW, warmup + cosine schedule, gradient clipping, held-out
 * loss and resumable checkpoints in the HF layout.  The unembedding is tied
 * to w_e: training never reads or writes w_u / b_u. */
#ifndef HEADCAL_TRAIN_H
#define HEADCAL_TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "headcal/model.h"
#include "headcal/safetensors.h"

typedef struct {
    int batch;              /* sequences per step                          */
    int seq;                /* positions per sequence (<= n_ctx)           */
    int steps;              /* total optimizer steps                       */
    int warmup;             /* linear warmup steps, then cosine to min_lr  */
    float lr, min_lr;
    float weight_decay;     /* AdamW, on the weight matrices and embeddings */
    float beta1, beta2, eps;
    float clip;             /* global gradient-norm clip (0: none)         */
    uint64_t seed;          /* init and batch sampling                     */
    int eval_every;         /* held-out loss every N steps (0: at the end) */
    int save_every;         /* checkpoint every N steps (0: at the end)    */
    int stop_at;            /* leave, checkpointed, at this step, as an
                               interrupted run would (0: run to the end) */
    int extend;             /* a resume may change steps (and only steps)  */
    enum hc_dtype dtype;    /* of model.safetensors                        */
    FILE *log;              /* progress lines; NULL for silence            */
} hc_train_opts;

/* Sensible defaults for everything but seq (set from the config). */
void hc_train_defaults(hc_train_opts *o);

/* Reads a .tokens file: uint16 little-endian token ids, each < vocab.
 * *ids is malloc'd. */
int hc_tokens_load(const char *path, int vocab, int32_t **ids, size_t *n);

/* The buffers of a step of up to B sequences of S positions, kept from step
 * to step (ws NULL below: allocated for the one call). */
typedef struct hc_train_ws hc_train_ws;
hc_train_ws *hc_train_ws_new(const hc_config *cfg, int B, int S);
void hc_train_ws_free(hc_train_ws *ws);

/* Mean cross-entropy of targets[B*S] given tokens[B*S], and when grad is
 * not NULL its gradient, written (not added) into grad, a slab laid out like
 * m->slab (hc_params_layout); the w_u and b_u sections are left zero. */
int hc_train_grad(const hc_model *m, hc_train_ws *ws, const int32_t *tokens, const int32_t *targets, int B, int S,
                  float *grad, double *loss);

/* The [B*S, V] logits the trainer computes its loss from, by the same
 * calls (for the tests that compare them with hc_forward's on the same
 * weights with w_u = w_eᵀ). */
int hc_train_logits(const hc_model *m, const int32_t *tokens, int B, int S, float *logits);

/* Where step `step`'s B training windows start, each in [0, span): a
 * stream of its own seeded by a hash of (seed, step), so a resumed run
 * sees the same batches and no two steps share their draws. */
void hc_train_window_starts(uint64_t seed, int step, int B, size_t span, size_t *starts);

/* Mean next-token loss over eval[n] cut into consecutive windows of S+1
 * tokens (stride S), B windows at a time. */
int hc_train_eval(const hc_model *m, hc_train_ws *ws, const int32_t *eval, size_t n, int B, int S, double *loss);

/* Trains a model of config cfg on train[n_train] into dir: config.json,
 * model.safetensors (o->dtype), vocab.json, merges.txt from tokenizer_dir,
 * the run's options train-options.json, and the resume state
 * train-state.safetensors (F32 parameters, Adam moments, step), written
 * last at each checkpoint.  If dir already holds a state, training
 * continues from its step, giving the result an uninterrupted run gives; a
 * state recorded with other options or other training data is refused,
 * naming the difference.  eval may be NULL.  *final_eval gets the
 * last held-out loss (NAN without eval). */
int hc_train(const hc_config *cfg, const hc_train_opts *o, const int32_t *train, size_t n_train,
             const int32_t *eval, size_t n_eval, const char *dir, const char *tokenizer_dir, double *final_eval);

#endif
