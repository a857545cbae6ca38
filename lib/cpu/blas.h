/* The CPU backend's access to OpenBLAS: thread count and description. */
#ifndef CLIPT_CPU_BLAS_H
#define CLIPT_CPU_BLAS_H

#include "../internal.h"

/* Sets OpenBLAS's thread count to the context's before a BLAS call.
 * NOTE: OpenBLAS keeps one process-wide thread count, so two contexts with
 * different counts used at the same time from two threads share whichever
 * count was set last. Results are the same; only speed changes. */
void clipt_blas_use_threads(const clipt_context *ctx);

/* Writes the BLAS library's name and version, such as "OpenBLAS 0.3.21",
 * into buf (size bytes, NUL-terminated). */
void clipt_blas_describe(char *buf, size_t size);

#endif /* CLIPT_CPU_BLAS_H */
