/* The training loss: cosine-similarity distance to the Wu-Palmer targets
 * plus the MSE regulariser, with its gradient.
 * CPU versions in lib/cpu/loss.c, CUDA versions in kernels/loss.cu. The
 * contracts (shapes, accumulation, NULL gradients) are those of the
 * backend table in lib/backend.h. */
#ifndef CLIPT_OPS_LOSS_H
#define CLIPT_OPS_LOSS_H

#include "../backend.h"

#ifdef __cplusplus
extern "C" {
#endif

clipt_status clipt_cpu_cosine_loss(clipt_context *ctx, float *losses, float *cos,
    float *dE, const float *E, const float *E0, const int32_t *pair_a,
    const int32_t *pair_b, const float *target, int N, int U, int P,
    float lambda);

clipt_status clipt_cuda_cosine_loss(clipt_context *ctx, float *losses, float *cos,
    float *dE, const float *E, const float *E0, const int32_t *pair_a,
    const int32_t *pair_b, const float *target, int N, int U, int P,
    float lambda);

#ifdef __cplusplus
}
#endif

#endif /* CLIPT_OPS_LOSS_H */
