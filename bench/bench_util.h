/* What every benchmark prints beside its own figures: the machine's sgemm
 * peak measured in the same run, peak resident memory, and the CPU; and
 * the benchmarks' allocation. */
#ifndef HEADCAL_BENCH_UTIL_H
#define HEADCAL_BENCH_UTIL_H

#include <stddef.h>

/* hc_malloc and hc_calloc for a benchmark, which has nothing to fall back
 * to: a failure prints the message and exits 1. */
void *bench_malloc(size_t n);
void *bench_calloc(size_t n, size_t size);

/* GFLOP/s of a 2048³ sgemm on all cores (best of a few), and of the
 * d_head-deep shape the sweep runs on one core. */
double bench_sgemm_peak(int threads, int m, int n, int k);
double bench_peak_rss_mb(void);
void bench_print_machine(void);

#endif
