#include "blas.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>

void clipt_blas_use_threads(const clipt_context *ctx)
{
    if (openblas_get_num_threads() != ctx->num_threads) {
        openblas_set_num_threads(ctx->num_threads);
    }
}

void clipt_blas_describe(char *buf, size_t size)
{
    /* OPENBLAS_VERSION is " OpenBLAS 0.3.21 ", with surrounding spaces. */
    const char *version = OPENBLAS_VERSION;
    while (*version == ' ') version++;
    size_t len = strlen(version);
    while (len > 0 && version[len - 1] == ' ') len--;
    snprintf(buf, size, "%.*s", (int)len, version);
}
