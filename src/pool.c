#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "headcal/error.h"
#include "headcal/pool.h"

typedef struct {
    int (*fn)(void *, int, int);
    void *ctx;
    int n_tasks;
    atomic_int next, failed;
    atomic_int *cancel;
    char msg[1024];
    int status;
    pthread_mutex_t lock;
} job;

typedef struct {
    job *j;
    int worker;
} arg;

static void *worker_main(void *p)
{
    arg *a = p;
    job *j = a->j;
    for (;;) {
        if (atomic_load(&j->failed) || (j->cancel && atomic_load(j->cancel)))
            break;
        int t = atomic_fetch_add(&j->next, 1);
        if (t >= j->n_tasks)
            break;
        if (j->fn(j->ctx, t, a->worker)) {
            /* keep the first failure's message: messages are per thread */
            pthread_mutex_lock(&j->lock);
            if (!atomic_load(&j->failed)) {
                snprintf(j->msg, sizeof j->msg, "%s", hc_errmsg());
                j->status = hc_errstatus();
            }
            atomic_store(&j->failed, 1);
            pthread_mutex_unlock(&j->lock);
        }
    }
    return NULL;
}

int hc_ncores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set) > 0 ? CPU_COUNT(&set) : 1;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int hc_pool_run(int n_threads, int n_tasks, int (*fn)(void *ctx, int task, int worker), void *ctx,
                atomic_int *cancel)
{
    job j = {.fn = fn, .ctx = ctx, .n_tasks = n_tasks, .cancel = cancel};
    pthread_mutex_init(&j.lock, NULL);
    if (n_threads < 1)
        n_threads = 1;
    if (n_threads > n_tasks)
        n_threads = n_tasks > 0 ? n_tasks : 1;
    int blas = openblas_get_num_threads();
    openblas_set_num_threads(1);
    pthread_t *th = hc_calloc((size_t)n_threads, sizeof *th);
    arg *args = hc_calloc((size_t)n_threads, sizeof *args);
    int started = 0;
    if (th && args) {
        for (int i = 1; i < n_threads; i++) {
            args[i] = (arg){&j, i};
            if (pthread_create(&th[i], NULL, worker_main, &args[i]) != 0)
                break;
            started = i;
        }
        args[0] = (arg){&j, 0};
        worker_main(&args[0]); /* the caller is worker 0 */
        for (int i = 1; i <= started; i++)
            pthread_join(th[i], NULL);
    }
    free(th);
    free(args);
    openblas_set_num_threads(blas);
    pthread_mutex_destroy(&j.lock);
    if (!th || !args)
        return -1;
    if (atomic_load(&j.failed))
        return hc_fail(j.status, "%s", j.msg);
    if (cancel && atomic_load(cancel))
        return hc_fail(HC_EBAD, "cancelled");
    return 0;
}
