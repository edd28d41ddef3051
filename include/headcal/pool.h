/* The one worker pool: runs n_tasks independent tasks on n_threads
 * threads.  While it runs, OpenBLAS is held to one thread per caller so
 * the two never oversubscribe the cores; outside it, OpenBLAS may thread
 * its big GEMMs (the forward pass) while the pool is idle. */
#ifndef HEADCAL_POOL_H
#define HEADCAL_POOL_H

#include <stdatomic.h>

/* fn(ctx, task, worker): worker in [0, n_threads) indexes per-thread
 * scratch.  Tasks are handed out in order; when *cancel becomes non-zero
 * no further task starts.  Returns 0, or -1 if a task failed (fn returns
 * non-zero) or the run was cancelled. */
int hc_pool_run(int n_threads, int n_tasks, int (*fn)(void *ctx, int task, int worker), void *ctx,
                atomic_int *cancel);
/* Cores available to this process. */
int hc_ncores(void);

#endif
