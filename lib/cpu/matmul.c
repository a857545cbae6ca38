/* CPU reference: Linear layers through OpenBLAS's sgemm.
 * Shapes: inp (N,C); weight (OC,C) as torch.nn.Linear stores it; bias (OC);
 * out, dout (N,OC). Bias sums are plain loops so their order is fixed. */
#include <cblas.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../ops/matmul.h"
#include "blas.h"

clipt_status clipt_cpu_matmul_forward(clipt_context *ctx, float *out,
                                      const float *inp, const float *weight,
                                      const float *bias, int N, int C, int OC)
{
    /* out = bias broadcast over rows, then out += inp weight^T */
    float beta = 0.0f;
    if (bias != NULL) {
#pragma omp parallel for num_threads(ctx->num_threads) if ((long)N * OC > 65536)
        for (int n = 0; n < N; n++) {
            memcpy(out + (size_t)n * OC, bias, (size_t)OC * sizeof(float));
        }
        beta = 1.0f;
    }
    int token = clipt_blas_begin(ctx);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp,
                C, weight, C, beta, out, OC);
    clipt_blas_end(token);
    return CLIPT_OK;
}

clipt_status clipt_cpu_matmul_backward(clipt_context *ctx, float *dinp,
                                       float *dweight, float *dbias,
                                       const float *dout, const float *inp,
                                       const float *weight, int N, int C,
                                       int OC)
{
    int token = clipt_blas_begin(ctx);

    /* forward: out = inp weight^T + bias */
    /* dinp (N,C) += dout (N,OC) weight (OC,C) */
    if (dinp != NULL) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f,
                    dout, OC, weight, C, 1.0f, dinp, C);
    }
    /* dweight (OC,C) += dout^T (OC,N) inp (N,C) */
    if (dweight != NULL) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f,
                    dout, OC, inp, C, 1.0f, dweight, C);
    }
    clipt_blas_end(token);

    /* dbias (OC) += sum over rows of dout; each thread owns a column range */
    if (dbias != NULL) {
#pragma omp parallel num_threads(ctx->num_threads) if ((long)N * OC > 65536)
        {
            int nthreads = 1, tid = 0;
#ifdef _OPENMP
            nthreads = omp_get_num_threads();
            tid = omp_get_thread_num();
#endif
            int o0 = (int)((long)OC * tid / nthreads);
            int o1 = (int)((long)OC * (tid + 1) / nthreads);
            for (int n = 0; n < N; n++) {
                const float *dout_n = dout + (size_t)n * OC;
                for (int o = o0; o < o1; o++) dbias[o] += dout_n[o];
            }
        }
    }
    return CLIPT_OK;
}
