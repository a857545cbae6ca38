/* CPU reference: token + position embedding of packed tokens and the
 * end-of-text row gather.
 * Shapes: ids, pos (N) for N packed tokens; wte (V,C); wpe (context,C);
 * out, dout (N,C); rows (B) token indices of the end-of-text tokens. */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../ops/embedding.h"

clipt_status clipt_cpu_embedding_forward(clipt_context *ctx, float *out,
                                         const int32_t *ids, const int32_t *pos,
                                         const float *wte, const float *wpe, int N,
                                         int C)
{
#pragma omp parallel for num_threads(ctx->num_threads) if ((long)N * C > 65536)
    for (int n = 0; n < N; n++) {
        const float *wte_ix = wte + (size_t)ids[n] * C;
        const float *wpe_t = wpe + (size_t)pos[n] * C;
        float *out_n = out + (size_t)n * C;
        for (int c = 0; c < C; c++) out_n[c] = wte_ix[c] + wpe_t[c];
    }
    return CLIPT_OK;
}

clipt_status clipt_cpu_embedding_backward(clipt_context *ctx, float *dwte,
                                          float *dwpe, const float *dout,
                                          const int32_t *ids, const int32_t *pos,
                                          int N, int C, int V)
{
    (void)V;
    /* forward: out[n,:] = wte[ids[n],:] + wpe[pos[n],:]
     * Each thread owns a range of channels and walks the tokens in order, so
     * the sums do not depend on the thread count. */
#pragma omp parallel num_threads(ctx->num_threads) if ((long)N * C > 65536)
    {
        int nthreads = 1, tid = 0;
#ifdef _OPENMP
        nthreads = omp_get_num_threads();
        tid = omp_get_thread_num();
#endif
        int c0 = (int)((long)C * tid / nthreads);
        int c1 = (int)((long)C * (tid + 1) / nthreads);
        for (int n = 0; n < N; n++) {
            const float *dout_n = dout + (size_t)n * C;
            if (dwte != NULL) {
                float *dwte_ix = dwte + (size_t)ids[n] * C;
                for (int c = c0; c < c1; c++) dwte_ix[c] += dout_n[c];
            }
            if (dwpe != NULL) {
                float *dwpe_t = dwpe + (size_t)pos[n] * C;
                for (int c = c0; c < c1; c++) dwpe_t[c] += dout_n[c];
            }
        }
    }
    return CLIPT_OK;
}

clipt_status clipt_cpu_gather_rows(clipt_context *ctx, float *out,
                                   const float *inp, const int32_t *rows, int B,
                                   int C)
{
    (void)ctx;
    for (int b = 0; b < B; b++) {
        memcpy(out + (size_t)b * C, inp + (size_t)rows[b] * C, (size_t)C * sizeof(float));
    }
    return CLIPT_OK;
}

clipt_status clipt_cpu_gather_rows_backward(clipt_context *ctx, float *dinp,
                                            const float *dout,
                                            const int32_t *rows, int B, int C)
{
    (void)ctx;
    /* forward: out[b,:] = inp[rows[b], :] */
    for (int b = 0; b < B; b++) {
        float *dst = dinp + (size_t)rows[b] * C;
        const float *src = dout + (size_t)b * C;
        for (int c = 0; c < C; c++) dst[c] += src[c];
    }
    return CLIPT_OK;
}
