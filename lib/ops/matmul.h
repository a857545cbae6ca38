/* Linear layers: y = x W^T + b, forward and backward.
 * CPU versions in lib/cpu/matmul.c, CUDA versions in kernels/matmul.cu. The
 * contracts (shapes, accumulation, NULL gradients) are those of the
 * backend table in lib/backend.h. */
#ifndef CLIPT_OPS_MATMUL_H
#define CLIPT_OPS_MATMUL_H

#include "../backend.h"

#ifdef __cplusplus
extern "C" {
#endif

clipt_status clipt_cpu_matmul_forward(clipt_context *ctx, float *out, const float *inp,
    const float *weight, const float *bias, int N, int C, int OC);
clipt_status clipt_cpu_matmul_backward(clipt_context *ctx, float *dinp, float *dweight,
    float *dbias, const float *dout, const float *inp, const float *weight,
    int N, int C, int OC);

clipt_status clipt_cuda_matmul_forward(clipt_context *ctx, float *out, const float *inp,
    const float *weight, const float *bias, int N, int C, int OC);
clipt_status clipt_cuda_matmul_backward(clipt_context *ctx, float *dinp, float *dweight,
    float *dbias, const float *dout, const float *inp, const float *weight,
    int N, int C, int OC);

#ifdef __cplusplus
}
#endif

#endif /* CLIPT_OPS_MATMUL_H */
