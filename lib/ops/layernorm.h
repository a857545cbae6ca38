/* LayerNorm over the channel axis, forward and backward.
 * CPU versions in lib/cpu/layernorm.c, CUDA versions in kernels/layernorm.cu. The
 * contracts (shapes, accumulation, NULL gradients) are those of the
 * backend table in lib/backend.h. */
#ifndef CLIPT_OPS_LAYERNORM_H
#define CLIPT_OPS_LAYERNORM_H

#include "../backend.h"

#ifdef __cplusplus
extern "C" {
#endif

clipt_status clipt_cpu_layernorm_forward(clipt_context *ctx, float *out, float *mean,
    float *rstd, const float *inp, const float *weight, const float *bias,
    int N, int C, float eps);
clipt_status clipt_cpu_layernorm_backward(clipt_context *ctx, float *dinp, float *dweight,
    float *dbias, const float *dout, const float *inp, const float *weight,
    const float *mean, const float *rstd, int N, int C);

clipt_status clipt_cuda_layernorm_forward(clipt_context *ctx, float *out, float *mean,
    float *rstd, const float *inp, const float *weight, const float *bias,
    int N, int C, float eps);
clipt_status clipt_cuda_layernorm_backward(clipt_context *ctx, float *dinp, float *dweight,
    float *dbias, const float *dout, const float *inp, const float *weight,
    const float *mean, const float *rstd, int N, int C);

#ifdef __cplusplus
}
#endif

#endif /* CLIPT_OPS_LAYERNORM_H */
