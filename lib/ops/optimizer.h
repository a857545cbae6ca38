/* AdamW over the flat parameter buffer and the global gradient norm.
 * CPU versions in lib/cpu/optimizer.c, CUDA versions in kernels/optimizer.cu. The
 * contracts (shapes, accumulation, NULL gradients) are those of the
 * backend table in lib/backend.h. */
#ifndef CLIPT_OPS_OPTIMIZER_H
#define CLIPT_OPS_OPTIMIZER_H

#include "../backend.h"

#ifdef __cplusplus
extern "C" {
#endif

clipt_status clipt_cpu_grad_norm(clipt_context *ctx, float *norm, const float *grads,
    const clipt_param_segment *segments, int nsegments);
clipt_status clipt_cpu_adamw_update(clipt_context *ctx, float *params,
    const float *grads, float *m, float *v,
    const clipt_param_segment *segments, int nsegments, const float *norm,
    const clipt_adamw_hparams *hp);

clipt_status clipt_cuda_grad_norm(clipt_context *ctx, float *norm, const float *grads,
    const clipt_param_segment *segments, int nsegments);
clipt_status clipt_cuda_adamw_update(clipt_context *ctx, float *params,
    const float *grads, float *m, float *v,
    const clipt_param_segment *segments, int nsegments, const float *norm,
    const clipt_adamw_hparams *hp);

#ifdef __cplusplus
}
#endif

#endif /* CLIPT_OPS_OPTIMIZER_H */
