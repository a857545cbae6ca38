/* Elementwise ops: QuickGELU and GELU forward and backward, and addition.
 * CPU versions in lib/cpu/activation.c, CUDA versions in kernels/activation.cu. The
 * contracts (shapes, accumulation, NULL gradients) are those of the
 * backend table in lib/backend.h. */
#ifndef CLIPT_OPS_ACTIVATION_H
#define CLIPT_OPS_ACTIVATION_H

#include "../backend.h"

#ifdef __cplusplus
extern "C" {
#endif

clipt_status clipt_cpu_activation_forward(clipt_context *ctx, float *out,
    const float *inp, size_t n, clipt_activation kind);
clipt_status clipt_cpu_activation_backward(clipt_context *ctx, float *dinp,
    const float *dout, const float *inp, size_t n, clipt_activation kind);
clipt_status clipt_cpu_add(clipt_context *ctx, float *out, const float *a, const float *b,
    size_t n);

clipt_status clipt_cuda_activation_forward(clipt_context *ctx, float *out,
    const float *inp, size_t n, clipt_activation kind);
clipt_status clipt_cuda_activation_backward(clipt_context *ctx, float *dinp,
    const float *dout, const float *inp, size_t n, clipt_activation kind);
clipt_status clipt_cuda_add(clipt_context *ctx, float *out, const float *a, const float *b,
    size_t n);

#ifdef __cplusplus
}
#endif

#endif /* CLIPT_OPS_ACTIVATION_H */
