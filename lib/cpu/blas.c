#include "blas.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* openblas_get_parallel(): 0 sequential, 1 pthreads, 2 OpenMP. */
#define BLAS_PARALLEL_OPENMP 2

int clipt_blas_begin(const clipt_context *ctx)
{
#ifdef _OPENMP
    if (openblas_get_parallel() == BLAS_PARALLEL_OPENMP) {
        int saved = omp_get_max_threads();
        if (saved != ctx->num_threads) omp_set_num_threads(ctx->num_threads);
        return saved;
    }
#endif
    if (openblas_get_num_threads() != ctx->num_threads) {
        openblas_set_num_threads(ctx->num_threads);
    }
    return 0;
}

void clipt_blas_end(int token)
{
#ifdef _OPENMP
    if (token > 0 && omp_get_max_threads() != token) omp_set_num_threads(token);
#else
    (void)token;
#endif
}

void clipt_blas_describe(char *buf, size_t size)
{
    /* OPENBLAS_VERSION is " OpenBLAS 0.3.21 ", with surrounding spaces. */
    const char *version = OPENBLAS_VERSION;
    while (*version == ' ') version++;
    size_t len = strlen(version);
    while (len > 0 && version[len - 1] == ' ') len--;
    int parallel = openblas_get_parallel();
    const char *model = parallel == BLAS_PARALLEL_OPENMP ? "OpenMP"
                        : parallel == 1                 ? "pthreads"
                                                        : "sequential";
    snprintf(buf, size, "%.*s (%s)", (int)len, version, model);
}
