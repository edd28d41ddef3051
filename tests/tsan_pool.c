/* ThreadSanitizer check of the engine's threading (`make tsan-check`; not
 * Criterion, whose runner cannot start under TSan): the pool on its own,
 * including a failing task; the sweep on 4 threads, which must give the
 * one-thread sweep's outputs bit for bit; an analysis run as a background
 * job, cancelled from another thread and then resumed; and the explorer's
 * job queue (tui/jobs.c: snapshots, cancellation, a joint ablation and a
 * QK panel) driven from a UI thread.  Prints "tsan_pool: ok" and exits 0
 * when TSan reports nothing (TSan makes the exit status non-zero
 * otherwise). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "headcal/analysis.h"
#include "headcal/dataset.h"
#include "headcal/error.h"
#include "headcal/model.h"
#include "headcal/pool.h"
#include "headcal/results.h"
#include "headcal/sweep.h"
#include "headcal/synth.h"
#include "jobs.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "tsan_pool: %s:%d: %s failed (%s)\n", __FILE__, __LINE__, #cond, \
                    hc_errmsg());                                                              \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

enum { THREADS = 4, BATCHES = 6, ROWS = 3, SEQ = 12 };

/* ---------------------------------------------------------------- the pool */

typedef struct {
    atomic_int done;
    long per_worker[THREADS]; /* each worker writes only its own slots */
    int tasks_of[THREADS];
    int fail_at;
} pool_ctx;

static int task(void *p, int t, int worker)
{
    pool_ctx *c = p;
    if (t == c->fail_at)
        return hc_fail(HC_EBAD, "task %d failed", t);
    c->per_worker[worker] += t;
    c->tasks_of[worker]++;
    atomic_fetch_add(&c->done, 1);
    usleep(20); /* long enough that every worker gets tasks */
    return 0;
}

static void check_pool(void)
{
    pool_ctx c = {.fail_at = -1};
    CHECK(hc_pool_run(THREADS, 1000, task, &c, NULL) == 0);
    long sum = 0;
    int busy = 0;
    for (int w = 0; w < THREADS; w++) {
        sum += c.per_worker[w];
        busy += c.tasks_of[w] > 0;
    }
    CHECK(atomic_load(&c.done) == 1000 && sum == 999L * 1000 / 2 && busy > 1);
    pool_ctx f = {.fail_at = 500};
    CHECK(hc_pool_run(THREADS, 1000, task, &f, NULL) == -1 && strstr(hc_errmsg(), "task 500 failed"));
}

/* ---------------------------------------------------------------- the sweep */

static void sweep_all(const hc_model *m, const hc_dataset *ds, const hc_variant_spec *vars, int n_var, int threads,
                      hc_sweep_out *outs)
{
    hc_sweep_opts o = {.top_k = 5, .threads = threads};
    hc_sweep *sw;
    CHECK(hc_sweep_new(&sw, m, vars, n_var, &o) == 0);
    for (int b = 0; b < BATCHES; b++) {
        hc_batch bt;
        CHECK(hc_dataset_batch(ds, b, &bt) == 0);
        CHECK(hc_sweep_batch(sw, bt.tokens, bt.lens, bt.rows, bt.cols, &outs[b]) == 0);
        hc_batch_free(&bt);
    }
    hc_sweep_free(sw);
}

static void check_sweep(const hc_model *m, const hc_dataset *ds)
{
    const hc_config *c = &m->cfg;
    hc_component comps[64], set[2] = {{0, 0}, {1, HC_MLP}};
    hc_variant_spec vars[64] = {{0, NULL}};
    int n_var = 1;
    for (int l = 0; l < c->n_layer; l++)
        for (int h = 0; h < c->n_head; h++) {
            comps[n_var] = (hc_component){l, h};
            vars[n_var] = (hc_variant_spec){1, &comps[n_var]};
            n_var++;
        }
    vars[n_var++] = (hc_variant_spec){2, set};
    hc_sweep_out one[BATCHES], many[BATCHES];
    sweep_all(m, ds, vars, n_var, 1, one);
    sweep_all(m, ds, vars, n_var, THREADS, many);
    for (int b = 0; b < BATCHES; b++) {
        size_t n = (size_t)one[b].n_var * one[b].n_pos;
        CHECK(one[b].n_pos == many[b].n_pos && one[b].k == many[b].k);
        CHECK(!memcmp(one[b].topk_p, many[b].topk_p, n * one[b].k * sizeof(float)));
        CHECK(!memcmp(one[b].topk_id, many[b].topk_id, n * one[b].k * sizeof(int32_t)));
        CHECK(!memcmp(one[b].nll, many[b].nll, n * sizeof(double)));
        CHECK(!memcmp(one[b].entropy, many[b].entropy, n * sizeof(double)));
        hc_sweep_out_free(&one[b]);
        hc_sweep_out_free(&many[b]);
    }
}

/* ---------------------------------------------------------------- a background job */

/* Empty results for the run of ds on m with these variants (malloc'd). */
static hc_results *new_results(const hc_model *m, const hc_dataset *ds, const char *heads, int mlp,
                               const char *sets)
{
    hc_results_model rm = {.n_layers = m->cfg.n_layer, .n_heads = m->cfg.n_head, .d_model = m->cfg.d_model,
                           .d_vocab = m->cfg.d_vocab};
    memset(rm.sha256, '0', 64);
    hc_results_data rd = {.shuffle_seed = -1};
    hc_results_params rp = {.batch_size = ROWS, .batches = BATCHES, .seq_len = SEQ, .top_k = 5, .bins = 10,
                            .ablation = HC_ABLATION_MEAN, .shard_count = 1};
    hc_results *r = malloc(sizeof *r);
    CHECK(r && hc_analysis_data_sha256(ds, rd.sha256) == 0);
    CHECK(hc_results_init(r, &rm, &rd, &rp) == 0 && hc_analysis_variants(r, heads, mlp, sets) == 0);
    return r;
}

typedef struct {
    hc_analysis a;
    hc_results *r;
    int hold;               /* after the first batch, wait to be cancelled */
    atomic_int batches_done;
    int rc;
} bg_job;

/* Runs on the job's thread.  Holding the job after its first batch until
 * the UI thread cancels it makes the cancellation land mid-run every time. */
static void progress(void *ctx, const char *phase, int done, int total)
{
    bg_job *j = ctx;
    if (strcmp(phase, "sweep"))
        return;
    atomic_store(&j->batches_done, done);
    while (j->hold && done == 1 && !atomic_load(j->a.cancel))
        usleep(100);
}

static void *run_job(void *p)
{
    bg_job *j = p;
    j->rc = hc_analysis_run(&j->a, j->r);
    return NULL;
}

static void check_background_job(const hc_model *m, const hc_dataset *ds)
{
    hc_results *rp = new_results(m, ds, "all", 1, "L0H1+L1H0"), r = *rp;
    free(rp);
    atomic_int cancel = 0;
    bg_job j = {.a = {.model = m, .ds = ds, .sweep = {.top_k = 5, .ablation = HC_ABLATION_MEAN, .threads = THREADS},
                   .cancel = &cancel, .progress = progress},
             .r = &r, .hold = 1};
    j.a.progress_ctx = &j;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, run_job, &j) == 0);
    /* the UI thread: cancel once a batch is in */
    while (atomic_load(&j.batches_done) < 1)
        usleep(1000);
    atomic_store(&cancel, 1);
    CHECK(pthread_join(th, NULL) == 0);
    int kept = 0;
    for (int b = 0; b < BATCHES; b++)
        kept += r.done[b];
    CHECK(j.rc == -1 && kept >= 1 && kept < BATCHES);
    /* resume in the background, uncancelled */
    atomic_store(&cancel, 0);
    j.hold = 0;
    CHECK(pthread_create(&th, NULL, run_job, &j) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(j.rc == 0 && hc_results_validate(&r, "resumed") == 0);
    for (int b = 0; b < BATCHES; b++)
        CHECK(r.done[b]);
    hc_results_free(&r);
}

/* ---------------------------------------------------------------- the explorer's jobs */

/* Polls until an event of one of the two types arrives (others are
 * dropped); returns its type. */
static int wait_event(jobs *j, int type_a, int type_b, job_event *ev)
{
    for (;;) {
        job_progress p;
        jobs_progress(j, LANE_SWEEP, &p); /* what the status bar reads */
        jobs_progress(j, LANE_ASK, &p);
        if (jobs_poll(j, ev)) {
            if (ev->type == type_a || ev->type == type_b)
                return ev->type;
            results_destroy(ev->r);
        }
        usleep(500);
    }
}

static void check_explorer_jobs(const hc_model *m, const hc_dataset *ds, const char *model_dir)
{
    hc_sweep_opts o = {.top_k = 5, .ablation = HC_ABLATION_MEAN, .threads = THREADS};
    jobs *j;
    CHECK(jobs_start(&j, m, ds, &o, model_dir, NULL) == 0);
    /* the initial sweep, cancelled once a snapshot has come */
    CHECK(jobs_submit(j, JOB_SWEEP, "sweep", new_results(m, ds, "all", 1, NULL)) == 0);
    job_event ev;
    wait_event(j, JOB_SNAPSHOT, JOB_SNAPSHOT, &ev);
    CHECK(ev.r && hc_results_validate(ev.r, "snapshot") == 0);
    results_destroy(ev.r);
    jobs_cancel(j);
    int t = wait_event(j, JOB_STOPPED, JOB_DONE, &ev); /* it may have finished first */
    CHECK(t == JOB_DONE || !strcmp(ev.msg, "cancelled"));
    results_destroy(ev.r);
    /* then a joint ablation and a QK panel, to the end, beside a sweep */
    CHECK(jobs_submit(j, JOB_SWEEP, "sweep", new_results(m, ds, "all", 0, NULL)) == 0);
    CHECK(jobs_submit(j, JOB_SET, "L0H1+L1H0", new_results(m, ds, "none", 0, "L0H1+L1H0")) == 0);
    CHECK(jobs_submit_qk(j, 1, 2) == 0);
    for (int done = 0; done < 3; done++) {
        CHECK(wait_event(j, JOB_DONE, JOB_STOPPED, &ev) == JOB_DONE);
        CHECK(ev.kind == JOB_QK || (ev.r && hc_results_validate(ev.r, "job") == 0));
        results_destroy(ev.r);
    }
    /* stopping with work queued */
    CHECK(jobs_submit(j, JOB_SWEEP, "sweep", new_results(m, ds, "all", 0, NULL)) == 0);
    jobs_stop(j);
}

int main(void)
{
    check_pool();

    hc_config cfg = {.n_layer = 2, .n_head = 3, .d_model = 24, .d_head = 8, .d_mlp = 96, .n_ctx = 32,
                     .d_vocab = 50257, .ln_eps = 1e-5f, .bos = 50256};
    hc_model m;
    CHECK(hc_model_alloc(&m, &cfg) == 0);
    hc_synth_params(&m, 3);
    /* the unprocessed model on disk, for the QK panel */
    char model_dir[] = "/tmp/headcal-tsan-XXXXXX";
    CHECK(mkdtemp(model_dir) && hc_model_save(&m, model_dir, HC_F32, false, false, false) == 0);
    hc_model_process(&m);

    char path[] = "/tmp/headcal-tsan-XXXXXX.jsonl";
    int fd = mkstemps(path, 6);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    unsigned s = 1;
    for (int d = 0; d < BATCHES * ROWS; d++) {
        fputs("{\"tokens\": [", f);
        for (int t = 0; t < 5 + d % 9; t++) {
            s = s * 1103515245u + 12345u;
            fprintf(f, t ? ", %u" : "%u", (s >> 8) % 50257);
        }
        fputs("]}\n", f);
    }
    CHECK(fclose(f) == 0);
    hc_dataset_opts o = {.batch_size = ROWS, .n_batches = BATCHES, .seq_len = SEQ, .bos = 50256,
                         .vocab_size = 50257};
    hc_dataset *ds;
    int rc = hc_dataset_open(&ds, path, &o);
    unlink(path);
    CHECK(rc == 0);

    check_sweep(&m, ds);
    check_background_job(&m, ds);
    check_explorer_jobs(&m, ds, model_dir);

    char p2[4200];
    snprintf(p2, sizeof p2, "%s/model.safetensors", model_dir);
    unlink(p2);
    snprintf(p2, sizeof p2, "%s/config.json", model_dir);
    unlink(p2);
    rmdir(model_dir);

    hc_dataset_free(ds);
    hc_model_free(&m);
    printf("tsan_pool: ok\n");
    return 0;
}
