/* Causal multi-head self-attention, forward and backward.
 * CPU versions in lib/cpu/attention.c, CUDA versions in kernels/attention.cu. The
 * contracts (shapes, accumulation, NULL gradients) are those of the
 * backend table in lib/backend.h. */
#ifndef CLIPT_OPS_ATTENTION_H
#define CLIPT_OPS_ATTENTION_H

#include "../backend.h"

#ifdef __cplusplus
extern "C" {
#endif

clipt_status clipt_cpu_attention_forward(clipt_context *ctx, float *out, float *lse,
    const float *qkv, const int32_t *offsets, int B, int N, int C, int NH,
    int max_len);
clipt_status clipt_cpu_attention_backward(clipt_context *ctx, float *dqkv,
    const float *dout, const float *qkv, const float *out, const float *lse,
    const int32_t *offsets, int B, int N, int C, int NH, int max_len);

clipt_status clipt_cuda_attention_forward(clipt_context *ctx, float *out, float *lse,
    const float *qkv, const int32_t *offsets, int B, int N, int C, int NH,
    int max_len);
clipt_status clipt_cuda_attention_backward(clipt_context *ctx, float *dqkv,
    const float *dout, const float *qkv, const float *out, const float *lse,
    const int32_t *offsets, int B, int N, int C, int NH, int max_len);

#ifdef __cplusplus
}
#endif

#endif /* CLIPT_OPS_ATTENTION_H */
