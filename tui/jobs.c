#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/analysis.h"
#include "headcal/error.h"
#include "jobs.h"

typedef struct job {
    int kind, layer, head;
    char label[128];
    hc_results *r;
    struct job *next;
} job;

typedef struct event {
    job_event ev;
    struct event *next;
} event;

struct jobs {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *queue;           /* FIFO */
    event *events;        /* FIFO */
    int stop;
    atomic_int cancel;
    job_progress prog;
    const hc_model *model;
    const hc_dataset *ds;
    hc_sweep_opts sweep;
    const char *checkpoint, *model_dir;
    /* the QK panels' unprocessed model and bag embeddings, made once */
    hc_model qk_model;
    hc_qk_embeds *qk_emb;
};

void results_destroy(hc_results *r)
{
    if (r) {
        hc_results_free(r);
        free(r);
    }
}

int results_copy(hc_results *dst, const hc_results *src)
{
    if (hc_results_init(dst, &src->model, &src->data, &src->params))
        return -1;
    for (int v = 0; v < src->n_variants; v++)
        if (hc_results_add_variant(dst, src->variants[v].kind, src->variants[v].members,
                                   src->variants[v].n_members) < 0) {
            hc_results_free(dst);
            return -1;
        }
    /* merging into an empty copy adds exactly src's completed batches */
    if (hc_results_merge(dst, src, "snapshot")) {
        hc_results_free(dst);
        return -1;
    }
    return 0;
}

/* Appends an event (called with the lock held); ownership of r moves. */
static void post(jobs *j, int type, const job *jb, hc_results *r, const hc_qk_result *qk, const char *msg)
{
    event *e = hc_calloc(1, sizeof *e);
    if (!e) {
        results_destroy(r);
        return;
    }
    e->ev.type = type;
    e->ev.kind = jb->kind;
    e->ev.r = r;
    if (qk)
        e->ev.qk = *qk;
    snprintf(e->ev.label, sizeof e->ev.label, "%s", jb->label);
    snprintf(e->ev.msg, sizeof e->ev.msg, "%s", msg ? msg : "");
    event **at = &j->events;
    while (*at)
        at = &(*at)->next;
    *at = e;
}

typedef struct {
    jobs *j;
    const job *jb;
} progress_ctx;

/* On the worker, between batches, when the results are consistent. */
static void on_progress(void *ctx, const char *phase, int done, int total)
{
    progress_ctx *pc = ctx;
    jobs *j = pc->j;
    hc_results *snap = NULL;
    if (pc->jb->kind == JOB_SWEEP && !strcmp(phase, "sweep") && done > 0) {
        snap = hc_malloc(sizeof *snap);
        if (snap && results_copy(snap, pc->jb->r)) {
            free(snap);
            snap = NULL;
        }
    }
    pthread_mutex_lock(&j->mu);
    snprintf(j->prog.phase, sizeof j->prog.phase, "%s", phase);
    j->prog.done = done;
    j->prog.total = total;
    if (snap) {
        /* only the newest snapshot matters: drop an unread older one */
        for (event **at = &j->events; *at;) {
            if ((*at)->ev.type == JOB_SNAPSHOT) {
                event *old = *at;
                *at = old->next;
                results_destroy(old->ev.r);
                free(old);
            } else {
                at = &(*at)->next;
            }
        }
        post(j, JOB_SNAPSHOT, pc->jb, snap, NULL, NULL);
    }
    pthread_mutex_unlock(&j->mu);
}

/* The embeddings every QK panel shares; on the worker. */
static int qk_prepare(jobs *j)
{
    if (j->qk_emb)
        return 0;
    enum { BAGS = 20, BAG_SIZE = 100 };
    if (hc_model_load(&j->qk_model, j->model_dir))
        return -1;
    int size = j->qk_model.cfg.d_vocab < BAG_SIZE ? j->qk_model.cfg.d_vocab : BAG_SIZE;
    int32_t *bags = hc_malloc((size_t)BAGS * (size_t)size * sizeof *bags);
    int rc = !bags || hc_qk_random_bags(0, j->qk_model.cfg.d_vocab, BAGS, size, bags) ||
             hc_qk_embed(&j->qk_model, bags, BAGS, size, &j->qk_emb);
    free(bags);
    if (rc)
        hc_model_free(&j->qk_model);
    return rc ? -1 : 0;
}

static void *worker(void *arg)
{
    jobs *j = arg;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->stop && !j->queue)
            pthread_cond_wait(&j->cv, &j->mu);
        if (j->stop)
            break;
        job *jb = j->queue;
        j->queue = jb->next;
        atomic_store(&j->cancel, 0);
        j->prog = (job_progress){.busy = 1};
        for (job *q = j->queue; q; q = q->next)
            j->prog.queued++;
        snprintf(j->prog.label, sizeof j->prog.label, "%s", jb->label);
        pthread_mutex_unlock(&j->mu);

        int rc;
        hc_qk_result qk = {0};
        if (jb->kind == JOB_QK) {
            rc = qk_prepare(j) || hc_qk_scores(j->qk_emb, jb->layer, jb->head, &qk);
        } else {
            progress_ctx pc = {j, jb};
            hc_analysis a = {.model = j->model, .ds = j->ds, .sweep = j->sweep,
                             .checkpoint = jb->kind == JOB_SWEEP ? j->checkpoint : NULL, .cancel = &j->cancel,
                             .progress = on_progress, .progress_ctx = &pc};
            rc = hc_analysis_run(&a, jb->r);
        }

        pthread_mutex_lock(&j->mu);
        post(j, rc ? JOB_STOPPED : JOB_DONE, jb, jb->r, &qk,
             rc && atomic_load(&j->cancel) ? "cancelled" : rc ? hc_errmsg() : NULL);
        free(jb);
        j->prog.busy = 0;
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

int jobs_start(jobs **out, const hc_model *m, const hc_dataset *ds, const hc_sweep_opts *o,
               const char *checkpoint, const char *model_dir)
{
    jobs *j = hc_calloc(1, sizeof *j);
    if (!j)
        return -1;
    *j = (jobs){.model = m, .ds = ds, .sweep = *o, .checkpoint = checkpoint, .model_dir = model_dir};
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    /* The worker (and the sweep's pool it starts) never takes a signal:
     * Ctrl-C and resizes belong to the UI thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&j->thread, NULL, worker, j);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        free(j);
        return hc_fail(HC_EBAD, "cannot start the worker thread");
    }
    *out = j;
    return 0;
}

static int submit(jobs *j, job *jb)
{
    pthread_mutex_lock(&j->mu);
    job **at = &j->queue;
    while (*at)
        at = &(*at)->next;
    *at = jb;
    j->prog.queued++;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return 0;
}

int jobs_submit(jobs *j, int kind, const char *label, hc_results *r)
{
    job *jb = hc_calloc(1, sizeof *jb);
    if (!jb) {
        results_destroy(r);
        return -1;
    }
    jb->kind = kind;
    jb->r = r;
    snprintf(jb->label, sizeof jb->label, "%s", label);
    return submit(j, jb);
}

int jobs_submit_qk(jobs *j, int layer, int head)
{
    job *jb = hc_calloc(1, sizeof *jb);
    if (!jb)
        return -1;
    jb->kind = JOB_QK;
    jb->layer = layer;
    jb->head = head;
    snprintf(jb->label, sizeof jb->label, "QK L%dH%d", layer, head);
    return submit(j, jb);
}

int jobs_poll(jobs *j, job_event *ev)
{
    pthread_mutex_lock(&j->mu);
    event *e = j->events;
    if (e) {
        j->events = e->next;
        *ev = e->ev;
        free(e);
    }
    pthread_mutex_unlock(&j->mu);
    return e != NULL;
}

void jobs_progress(jobs *j, job_progress *p)
{
    pthread_mutex_lock(&j->mu);
    *p = j->prog;
    pthread_mutex_unlock(&j->mu);
}

static void drop_queue(jobs *j)
{
    while (j->queue) {
        job *jb = j->queue;
        j->queue = jb->next;
        results_destroy(jb->r);
        free(jb);
    }
    j->prog.queued = 0;
}

void jobs_cancel(jobs *j)
{
    pthread_mutex_lock(&j->mu);
    drop_queue(j);
    atomic_store(&j->cancel, 1);
    pthread_mutex_unlock(&j->mu);
}

void jobs_stop(jobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->stop = 1;
    drop_queue(j);
    atomic_store(&j->cancel, 1);
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->thread, NULL);
    job_event ev;
    while (jobs_poll(j, &ev))
        results_destroy(ev.r);
    if (j->qk_emb) {
        hc_qk_embeds_free(j->qk_emb);
        hc_model_free(&j->qk_model);
    }
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}
