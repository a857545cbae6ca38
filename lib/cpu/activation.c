/* CPU reference: elementwise activation functions and addition.
 * QuickGELU(x) = x sigmoid(1.702 x), CLIP's activation.
 * GELU(x) = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), torch's exact form. */
#include <math.h>

#include "../ops/activation.h"

#define QUICK_GELU_ALPHA 1.702f

clipt_status clipt_cpu_activation_forward(clipt_context *ctx, float *out,
                                          const float *inp, size_t n,
                                          clipt_activation kind)
{
    long count = (long)n;
    if (kind == CLIPT_ACTIVATION_QUICK_GELU) {
#pragma omp parallel for num_threads(ctx->num_threads) if (count > 65536)
        for (long i = 0; i < count; i++) {
            float x = inp[i];
            out[i] = x / (1.0f + expf(-QUICK_GELU_ALPHA * x));
        }
    } else if (kind == CLIPT_ACTIVATION_GELU) {
#pragma omp parallel for num_threads(ctx->num_threads) if (count > 65536)
        for (long i = 0; i < count; i++) {
            float x = inp[i];
            out[i] = 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
        }
    } else {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "activation_forward: unknown activation %d",
                               (int)kind);
    }
    return CLIPT_OK;
}

clipt_status clipt_cpu_activation_backward(clipt_context *ctx, float *dinp,
                                           const float *dout, const float *inp,
                                           size_t n, clipt_activation kind)
{
    long count = (long)n;
    if (kind == CLIPT_ACTIVATION_QUICK_GELU) {
        /* forward: y = x s, s = sigmoid(a x)
         * dy/dx = s + a x s (1 - s) */
#pragma omp parallel for num_threads(ctx->num_threads) if (count > 65536)
        for (long i = 0; i < count; i++) {
            float x = inp[i];
            float s = 1.0f / (1.0f + expf(-QUICK_GELU_ALPHA * x));
            float grad = s + QUICK_GELU_ALPHA * x * s * (1.0f - s);
            dinp[i] += grad * dout[i];
        }
    } else if (kind == CLIPT_ACTIVATION_GELU) {
        /* forward: y = x Phi(x); dy/dx = Phi(x) + x phi(x) */
        const float inv_sqrt_2pi = 0.3989422804014327f;
#pragma omp parallel for num_threads(ctx->num_threads) if (count > 65536)
        for (long i = 0; i < count; i++) {
            float x = inp[i];
            float cdf = 0.5f * (1.0f + erff(x * (float)M_SQRT1_2));
            float pdf = inv_sqrt_2pi * expf(-0.5f * x * x);
            dinp[i] += (cdf + x * pdf) * dout[i];
        }
    } else {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "activation_backward: unknown activation %d",
                               (int)kind);
    }
    return CLIPT_OK;
}

clipt_status clipt_cpu_add(clipt_context *ctx, float *out, const float *a,
                           const float *b, size_t n)
{
    long count = (long)n;
#pragma omp parallel for num_threads(ctx->num_threads) if (count > 65536)
    for (long i = 0; i < count; i++) out[i] = a[i] + b[i];
    return CLIPT_OK;
}
