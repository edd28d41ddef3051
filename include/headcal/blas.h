/* OpenBLAS 0.3.21 (Debian 12) does not recognise some newer x86 CPUs and
 * falls back to its Prescott (SSE3) kernels, 3-4x slower than the AVX2 or
 * AVX-512 ones the CPU can run; on AMD Zen 4 and 5 it takes its AVX2
 * (Haswell) kernels although the CPU has AVX-512, and its AVX-512
 * (SkylakeX) kernels measured 1.6-2x faster on Zen 5 (docs/benchmarks.md).
 * The kernel is chosen when the library is
 * loaded, so the only fix from inside the program is to set
 * OPENBLAS_CORETYPE and re-execute itself.  An OPENBLAS_CORETYPE already
 * in the environment is always respected, as is OPENBLAS_THREAD_TIMEOUT. */
#ifndef HEADCAL_BLAS_H
#define HEADCAL_BLAS_H

/* Re-executes argv with a better OPENBLAS_CORETYPE when OpenBLAS fell back
 * to a generic kernel on a CPU with AVX2/AVX-512, or to AVX2 kernels on a
 * CPU with AVX-512, and with a short OPENBLAS_THREAD_TIMEOUT (idle workers
 * sleep instead of spinning beside the sweep's pool) unless the
 * environment sets one; returns if it did not. */
void hc_blas_tune(char **argv);

#endif
