/* CPU reference: token + position embedding and end-of-text row gather.
 * Shapes: ids (B,T); wte (V,C); wpe (>= T, C); out (B,T,C); rows (B). */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../ops/embedding.h"

clipt_status clipt_cpu_embedding_forward(clipt_context *ctx, float *out,
                                         const int32_t *ids, const float *wte,
                                         const float *wpe, int B, int T, int C)
{
    long rows = (long)B * T;
#pragma omp parallel for num_threads(ctx->num_threads) if (rows * C > 65536)
    for (long bt = 0; bt < rows; bt++) {
        int t = (int)(bt % T);
        const float *wte_ix = wte + (size_t)ids[bt] * C;
        const float *wpe_t = wpe + (size_t)t * C;
        float *out_bt = out + (size_t)bt * C;
        for (int c = 0; c < C; c++) out_bt[c] = wte_ix[c] + wpe_t[c];
    }
    return CLIPT_OK;
}

clipt_status clipt_cpu_embedding_backward(clipt_context *ctx, float *dwte,
                                          float *dwpe, const float *dout,
                                          const int32_t *ids, int B, int T,
                                          int C, int V)
{
    (void)V;
    /* forward: out[b,t,:] = wte[ids[b,t],:] + wpe[t,:]
     * Each thread owns a range of channels and walks the rows in order, so
     * the sums do not depend on the thread count. */
#pragma omp parallel num_threads(ctx->num_threads) if ((long)B * T * C > 65536)
    {
        int nthreads = 1, tid = 0;
#ifdef _OPENMP
        nthreads = omp_get_num_threads();
        tid = omp_get_thread_num();
#endif
        int c0 = (int)((long)C * tid / nthreads);
        int c1 = (int)((long)C * (tid + 1) / nthreads);
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                const float *dout_bt = dout + ((size_t)b * T + t) * C;
                if (dwte != NULL) {
                    float *dwte_ix = dwte + (size_t)ids[(size_t)b * T + t] * C;
                    for (int c = c0; c < c1; c++) dwte_ix[c] += dout_bt[c];
                }
                if (dwpe != NULL) {
                    float *dwpe_t = dwpe + (size_t)t * C;
                    for (int c = c0; c < c1; c++) dwpe_t[c] += dout_bt[c];
                }
            }
        }
    }
    return CLIPT_OK;
}

clipt_status clipt_cpu_gather_rows(clipt_context *ctx, float *out,
                                   const float *inp, const int32_t *rows,
                                   int B, int T, int C)
{
    (void)ctx;
    for (int b = 0; b < B; b++) {
        const float *src = inp + ((size_t)b * T + rows[b]) * C;
        memcpy(out + (size_t)b * C, src, (size_t)C * sizeof(float));
    }
    return CLIPT_OK;
}

clipt_status clipt_cpu_gather_rows_backward(clipt_context *ctx, float *dinp,
                                            const float *dout,
                                            const int32_t *rows, int B, int T,
                                            int C)
{
    (void)ctx;
    /* forward: out[b,:] = inp[b, rows[b], :] */
    for (int b = 0; b < B; b++) {
        float *dst = dinp + ((size_t)b * T + rows[b]) * C;
        const float *src = dout + (size_t)b * C;
        for (int c = 0; c < C; c++) dst[c] += src[c];
    }
    return CLIPT_OK;
}
