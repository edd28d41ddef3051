#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "headcal/blas.h"

/* The kernels OpenBLAS should run instead of those it picked, or NULL. */
static const char *better_core(void)
{
    const char *core = openblas_get_corename();
    if (!core)
        return NULL;
    int generic = !strcasecmp(core, "prescott") || !strcasecmp(core, "core2") || !strcasecmp(core, "nehalem") ||
                  !strcasecmp(core, "katmai");
    /* AVX2 kernels on an AVX-512 CPU, as an OpenBLAS older than the CPU may pick */
    int avx2 = !strcasecmp(core, "haswell") || !strcasecmp(core, "zen");
    if (!generic && !avx2)
        return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512cd"))
        return "SkylakeX";
    if (generic && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "Haswell";
    return NULL;
}

void hc_blas_tune(char **argv)
{
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : better_core();
    if (core)
        setenv("OPENBLAS_CORETYPE", core, 1);
    /* After a threaded call OpenBLAS's idle workers spin in sched_yield
     * for 2^28 cycles (about 0.1 s) before they sleep: while the sweep's
     * own pool runs on every core, that is time taken from it (about 15,000
     * sched_yield calls in a batch of the explorer's default analysis).
     * 2^20 cycles still bridges the forward pass's consecutive products. */
    int timeout = !getenv("OPENBLAS_THREAD_TIMEOUT");
    if (timeout)
        setenv("OPENBLAS_THREAD_TIMEOUT", "20", 1);
    if (core || timeout)
        execv("/proc/self/exe", argv);
    /* exec failed: carry on as loaded */
}
