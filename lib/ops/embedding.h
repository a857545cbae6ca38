/* Token + position embedding and the end-of-text row gather, forward and
 * backward.
 * CPU versions in lib/cpu/embedding.c, CUDA versions in kernels/embedding.cu. The
 * contracts (shapes, accumulation, NULL gradients) are those of the
 * backend table in lib/backend.h. */
#ifndef CLIPT_OPS_EMBEDDING_H
#define CLIPT_OPS_EMBEDDING_H

#include "../backend.h"

#ifdef __cplusplus
extern "C" {
#endif

clipt_status clipt_cpu_embedding_forward(clipt_context *ctx, float *out, const int32_t *ids,
    const int32_t *pos, const float *wte, const float *wpe, int N, int C);
clipt_status clipt_cpu_embedding_backward(clipt_context *ctx, float *dwte, float *dwpe,
    const float *dout, const int32_t *ids, const int32_t *pos, int N, int C, int V);
clipt_status clipt_cpu_gather_rows(clipt_context *ctx, float *out, const float *inp,
    const int32_t *rows, int B, int C);
clipt_status clipt_cpu_gather_rows_backward(clipt_context *ctx, float *dinp,
    const float *dout, const int32_t *rows, int B, int C);

clipt_status clipt_cuda_embedding_forward(clipt_context *ctx, float *out, const int32_t *ids,
    const int32_t *pos, const float *wte, const float *wpe, int N, int C);
clipt_status clipt_cuda_embedding_backward(clipt_context *ctx, float *dwte, float *dwpe,
    const float *dout, const int32_t *ids, const int32_t *pos, int N, int C, int V);
clipt_status clipt_cuda_gather_rows(clipt_context *ctx, float *out, const float *inp,
    const int32_t *rows, int B, int C);
clipt_status clipt_cuda_gather_rows_backward(clipt_context *ctx, float *dinp,
    const float *dout, const int32_t *rows, int B, int C);

#ifdef __cplusplus
}
#endif

#endif /* CLIPT_OPS_EMBEDDING_H */
