#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/analysis.h"
#include "headcal/clock.h"
#include "headcal/error.h"
#include "jobs.h"

typedef struct job {
    int kind;
    hc_component c;
    char label[128];
    hc_results *r;
    struct job *next;
} job;

typedef struct event {
    job_event ev;
    struct event *next;
} event;

typedef struct {
    jobs *j;
    pthread_t thread;
    pthread_cond_t cv;
    job *queue; /* FIFO */
    atomic_int cancel;
    job_progress prog;
    int started;
} lane;

struct jobs {
    pthread_mutex_t mu;
    event *events; /* FIFO */
    int stop;
    lane lanes[N_LANES];
    const hc_model *model;
    const hc_dataset *ds;
    hc_sweep_opts sweep;
    char model_dir[4096];
    char why[512]; /* why there is no model */
    /* the QK panels' unprocessed model and bag embeddings, made once (on the ask lane) */
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

int results_adopt(hc_results *dst, const hc_results *src, int v)
{
    const hc_variant *s = &src->variants[v];
    int idx = hc_results_find(dst, s->id);
    if (idx >= 0)
        return idx;
    if ((idx = hc_results_add_variant(dst, s->kind, s->members, s->n_members)) < 0)
        return -1;
    int covered = 1;
    for (int b = 0; b < dst->params.batches; b++) {
        if (dst->done[b] && src->done[b] && hc_calib_merge_batch(&dst->variants[idx].calib, &s->calib, b))
            return -1;
        covered &= dst->done[b] || !src->done[b];
    }
    /* the set's examples only when they come from batches shown here */
    if (covered && hc_examples_merge(&dst->variants[idx].examples, &s->examples, dst->params.examples))
        return -1;
    return idx;
}

static int lane_of(int kind)
{
    return kind == JOB_SWEEP ? LANE_SWEEP : LANE_ASK;
}

/* Appends an event (called with the lock held); ownership of r moves. */
static job_event *post(jobs *j, int type, const job *jb, hc_results *r, const hc_qk_result *qk, const char *msg)
{
    event *e = hc_calloc(1, sizeof *e);
    if (!e) {
        results_destroy(r);
        return NULL;
    }
    e->ev.type = type;
    e->ev.kind = jb->kind;
    e->ev.c = jb->c;
    e->ev.r = r;
    if (qk)
        e->ev.qk = *qk;
    snprintf(e->ev.label, sizeof e->ev.label, "%s", jb->label);
    snprintf(e->ev.msg, sizeof e->ev.msg, "%s", msg ? msg : "");
    event **at = &j->events;
    while (*at)
        at = &(*at)->next;
    *at = e;
    return &e->ev;
}

typedef struct {
    lane *ln;
    const job *jb;
} progress_ctx;

/* With the lock held: snap becomes the one snapshot waiting (only the
 * newest matters: an unread older one is dropped). */
static void post_snapshot(jobs *j, const job *jb, hc_results *snap, int partial)
{
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
    job_event *ev = post(j, JOB_SNAPSHOT, jb, snap, NULL, NULL);
    if (ev)
        ev->partial = partial;
}

static hc_results *snapshot_of(const hc_results *r)
{
    hc_results *snap = hc_malloc(sizeof *snap);
    if (snap && results_copy(snap, r)) {
        free(snap);
        snap = NULL;
    }
    return snap;
}

/* On the worker, between batches, when the results are consistent. */
static void on_progress(void *ctx, const char *phase, int done, int total)
{
    progress_ctx *pc = ctx;
    jobs *j = pc->ln->j;
    hc_results *snap = pc->jb->kind == JOB_SWEEP && !strcmp(phase, "sweep") && done > 0 ? snapshot_of(pc->jb->r) : NULL;
    pthread_mutex_lock(&j->mu);
    job_progress *p = &pc->ln->prog;
    snprintf(p->phase, sizeof p->phase, "%s", phase);
    p->done = done;
    p->total = total;
    p->frac = 0;
    if (snap)
        post_snapshot(j, pc->jb, snap, 0);
    pthread_mutex_unlock(&j->mu);
}

/* On the sweep's worker, inside the first batch: the heads finished so far
 * shown before the batch ends (the others' cells stay empty until they
 * come). */
static void on_partial(void *ctx, const hc_results *part)
{
    progress_ctx *pc = ctx;
    hc_results *snap = snapshot_of(part);
    if (!snap)
        return;
    pthread_mutex_lock(&pc->ln->j->mu);
    post_snapshot(pc->ln->j, pc->jb, snap, 1);
    pthread_mutex_unlock(&pc->ln->j->mu);
}

/* On the sweep's pool threads, after each tile of a batch. */
static void on_tick(void *ctx, int done, int total)
{
    progress_ctx *pc = ctx;
    pthread_mutex_lock(&pc->ln->j->mu);
    double f = total ? (double)done / total : 0;
    if (f > pc->ln->prog.frac && f < 1)
        pc->ln->prog.frac = f;
    pthread_mutex_unlock(&pc->ln->j->mu);
}

/* The embeddings every QK panel shares; on the ask lane. */
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

static int run_job(lane *ln, job *jb, hc_qk_result *qk)
{
    jobs *j = ln->j;
    if (!j->model)
        return hc_fail(HC_EBAD, "%s", j->why);
    if (jb->kind == JOB_QK)
        return qk_prepare(j) || hc_qk_scores(j->qk_emb, jb->c.layer, jb->c.head, qk) ? -1 : 0;
    progress_ctx pc = {ln, jb};
    hc_analysis a = {.model = j->model, .ds = j->ds, .sweep = j->sweep, .cancel = &ln->cancel,
                     .progress = on_progress, .tick = on_tick,
                     .partial = jb->kind == JOB_SWEEP ? on_partial : NULL, .progress_ctx = &pc};
    /* the two lanes share the cores: each takes half of the sweep's workers */
    if (ln == &j->lanes[LANE_ASK] && a.sweep.threads > 1)
        a.sweep.threads = (a.sweep.threads + 1) / 2;
    return hc_analysis_run(&a, jb->r);
}

static void *worker(void *arg)
{
    lane *ln = arg;
    jobs *j = ln->j;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->stop && !ln->queue)
            pthread_cond_wait(&ln->cv, &j->mu);
        if (j->stop)
            break;
        job *jb = ln->queue;
        ln->queue = jb->next;
        atomic_store(&ln->cancel, 0);
        ln->prog = (job_progress){.busy = 1, .start = hc_seconds()};
        for (job *q = ln->queue; q; q = q->next)
            ln->prog.queued++;
        snprintf(ln->prog.label, sizeof ln->prog.label, "%s", jb->label);
        pthread_mutex_unlock(&j->mu);

        hc_qk_result qk = {0};
        int rc = run_job(ln, jb, &qk);

        pthread_mutex_lock(&j->mu);
        post(j, rc ? JOB_STOPPED : JOB_DONE, jb, jb->r, &qk,
             rc && atomic_load(&ln->cancel) ? "cancelled" : rc ? hc_errmsg() : NULL);
        free(jb);
        ln->prog.busy = 0;
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

int jobs_start(jobs **out, const hc_model *m, const hc_dataset *ds, const hc_sweep_opts *o, const char *model_dir,
               const char *why)
{
    jobs *j = hc_calloc(1, sizeof *j);
    if (!j)
        return -1;
    *j = (jobs){.model = m, .ds = ds, .sweep = *o};
    snprintf(j->model_dir, sizeof j->model_dir, "%s", model_dir);
    snprintf(j->why, sizeof j->why, "%s", why && *why ? why : "no model");
    pthread_mutex_init(&j->mu, NULL);
    /* The workers (and the pools they start) never take a signal: Ctrl-C
     * and resizes belong to the UI thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    for (int i = 0; i < N_LANES && !rc; i++) {
        lane *ln = &j->lanes[i];
        ln->j = j;
        pthread_cond_init(&ln->cv, NULL);
        rc = pthread_create(&ln->thread, NULL, worker, ln);
        ln->started = !rc;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    *out = j;
    if (rc) {
        jobs_stop(j);
        *out = NULL;
        return hc_fail(HC_EBAD, "cannot start the explorer's worker threads");
    }
    return 0;
}

static int submit(jobs *j, job *jb)
{
    lane *ln = &j->lanes[lane_of(jb->kind)];
    pthread_mutex_lock(&j->mu);
    job **at = &ln->queue;
    while (*at)
        at = &(*at)->next;
    *at = jb;
    ln->prog.queued++;
    pthread_cond_signal(&ln->cv);
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
    jb->c = (hc_component){layer, head};
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

void jobs_progress(jobs *j, int lane_id, job_progress *p)
{
    pthread_mutex_lock(&j->mu);
    *p = j->lanes[lane_id].prog;
    pthread_mutex_unlock(&j->mu);
}

/* With the lock held: every queued job posts that it was dropped. */
static void drop_queues(jobs *j)
{
    for (int i = 0; i < N_LANES; i++) {
        lane *ln = &j->lanes[i];
        while (ln->queue) {
            job *jb = ln->queue;
            ln->queue = jb->next;
            results_destroy(jb->r);
            post(j, JOB_STOPPED, jb, NULL, NULL, "dropped before it started");
            free(jb);
        }
        ln->prog.queued = 0;
        atomic_store(&ln->cancel, 1);
    }
}

void jobs_cancel(jobs *j)
{
    pthread_mutex_lock(&j->mu);
    drop_queues(j);
    pthread_mutex_unlock(&j->mu);
}

void jobs_stop(jobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->stop = 1;
    drop_queues(j);
    for (int i = 0; i < N_LANES; i++)
        if (j->lanes[i].started)
            pthread_cond_signal(&j->lanes[i].cv);
    pthread_mutex_unlock(&j->mu);
    for (int i = 0; i < N_LANES; i++)
        if (j->lanes[i].started) {
            pthread_join(j->lanes[i].thread, NULL);
            pthread_cond_destroy(&j->lanes[i].cv);
        }
    job_event ev;
    while (jobs_poll(j, &ev))
        results_destroy(ev.r);
    if (j->qk_emb) {
        hc_qk_embeds_free(j->qk_emb);
        hc_model_free(&j->qk_model);
    }
    pthread_mutex_destroy(&j->mu);
    free(j);
}
