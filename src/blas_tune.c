#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "headcal/blas.h"

void hc_blas_tune(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE"))
        return;
    const char *core = openblas_get_corename();
    if (!core)
        return;
    int generic = !strcasecmp(core, "prescott") || !strcasecmp(core, "core2") || !strcasecmp(core, "nehalem") ||
                  !strcasecmp(core, "katmai");
    /* AVX2 kernels on an AVX-512 CPU: what 0.3.21 runs on AMD Zen 4 and 5 */
    int avx2 = !strcasecmp(core, "haswell") || !strcasecmp(core, "zen");
    if (!generic && !avx2)
        return;
    __builtin_cpu_init();
    const char *better = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512cd"))
        better = "SkylakeX";
    else if (generic && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        better = "Haswell";
    if (!better)
        return;
    setenv("OPENBLAS_CORETYPE", better, 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the slow kernels */
}
