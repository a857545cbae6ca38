/* The CPU backend's access to OpenBLAS: thread count and description. */
#ifndef CLIPT_CPU_BLAS_H
#define CLIPT_CPU_BLAS_H

#include "../internal.h"

/* Sets the thread count OpenBLAS uses for the calls that follow and returns
 * a token for clipt_blas_end(), which restores the previous setting.
 * With the OpenMP build of OpenBLAS (the one the Makefile links when it is
 * installed), the count is the calling thread's OpenMP setting, which is
 * restored afterwards. With the pthreads build it is OpenBLAS's one
 * process-wide count.
 * NOTE: with the pthreads build, two contexts with different counts used at
 * the same time from two threads share whichever count was set last; the
 * results are the same, only the speed changes. */
int clipt_blas_begin(const clipt_context *ctx);
void clipt_blas_end(int token);

/* Writes the BLAS library's name, version and threading model, such as
 * "OpenBLAS 0.3.21 (OpenMP)", into buf (size bytes, NUL-terminated). */
void clipt_blas_describe(char *buf, size_t size);

#endif /* CLIPT_CPU_BLAS_H */
