#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "headcal/clock.h"
#include "headcal/error.h"

static void *or_exit(void *p)
{
    if (!p) {
        fprintf(stderr, "bench: %s\n", hc_errmsg());
        exit(1);
    }
    return p;
}

void *bench_malloc(size_t n) { return or_exit(hc_malloc(n)); }
void *bench_calloc(size_t n, size_t size) { return or_exit(hc_calloc(n, size)); }

double bench_sgemm_peak(int threads, int m, int n, int k)
{
    float *a = bench_malloc(sizeof(float) * (size_t)m * k), *b = bench_malloc(sizeof(float) * (size_t)k * n),
          *c = bench_calloc((size_t)m * n, sizeof(float));
    for (size_t i = 0; i < (size_t)m * k; i++)
        a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)k * n; i++)
        b[i] = (float)(i % 5) * 0.1f;
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, b, n, 0, c, n); /* warm-up */
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = hc_seconds();
        int runs = 0;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, b, n, 0, c, n);
            runs++;
        } while (hc_seconds() - t0 < 0.5);
        double g = 2.0 * m * n * k * runs / (hc_seconds() - t0) / 1e9;
        best = g > best ? g : best;
    }
    openblas_set_num_threads(saved);
    free(a);
    free(b);
    free(c);
    return best;
}

double bench_peak_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6))
            kb = atof(line + 6);
    if (f)
        fclose(f);
    return kb / 1024.0;
}

void bench_print_machine(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    int cores = 0;
    char model[256] = "?";
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = 0;
        }
        if (!strncmp(line, "processor", 9))
            cores++;
    }
    if (f)
        fclose(f);
    printf("machine: %s, %d cores, %s\n", model, cores, openblas_get_config());
}
