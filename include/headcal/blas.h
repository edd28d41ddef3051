/* OpenBLAS 0.3.21 (Debian 12) does not recognise some newer x86 CPUs and
 * falls back to its Prescott (SSE3) kernels, 3-4x slower than the AVX2 or
 * AVX-512 ones the CPU can run.  The kernel is chosen when the library is
 * loaded, so the only fix from inside the program is to set
 * OPENBLAS_CORETYPE and re-execute itself.  An OPENBLAS_CORETYPE already
 * in the environment is always respected. */
#ifndef HEADCAL_BLAS_H
#define HEADCAL_BLAS_H

/* Re-executes argv with a better OPENBLAS_CORETYPE when OpenBLAS fell back
 * to a generic kernel on a CPU with AVX2/AVX-512; returns if it did not. */
void hc_blas_tune(char **argv);

#endif
