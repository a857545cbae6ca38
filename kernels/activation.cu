/* Elementwise ops: QuickGELU and GELU forward and backward, and addition.
 * CPU twin: lib/cpu/activation.c.
 *
 * Shapes: any flat array of n floats; out may alias a or b in add.
 *   QuickGELU(x) = x sigmoid(1.702 x), CLIP's activation;
 *   GELU(x) = 0.5 x (1 + erf(x / sqrt 2)), torch's exact form.
 * Mapping: activation_forward_elementwise<VEC>,
 *   activation_backward_elementwise<VEC> and add_elementwise<VEC>: one
 *   thread per VEC consecutive floats, grid-stride over n/VEC, 256 threads
 *   per block and at most 32 blocks per multiprocessor.
 * Shared memory: none.
 * Numerics: the same fp32 formulas as the CPU loops. The device's expf and
 *   erff are within 2 ulp of the host's, and nvcc may contract a multiply
 *   and an add into one fma.
 * Limits: VEC 4 (the fast path) needs n % 4 == 0 and 16-byte aligned
 *   pointers; VEC 1 takes anything else. The backward pass accumulates
 *   into dinp, as every backward op does.
 *
 * The backend table keeps the Linear bias and the activation as separate
 * ops (lib/forward.c calls matmul_forward then activation_forward, and
 * saves both outputs for the backward pass), so the bias add lives in
 * kernels/matmul.cu and is not fused here.
 */
#include <math.h>

#include "cuda_common.h"
#include "ops/activation.h"

#define ACT_THREADS 256
#define QUICK_GELU_ALPHA 1.702f
#define INV_SQRT_2PI 0.3989422804014327f

/* ------------------------------------------------------------------------ */
/* Kernels                                                                  */
/* ------------------------------------------------------------------------ */

static __device__ __forceinline__ float activation_value(float x, int kind)
{
    if (kind == CLIPT_ACTIVATION_QUICK_GELU) return x / (1.0f + expf(-QUICK_GELU_ALPHA * x));
    return 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
}

/* The derivative of activation_value at x. */
static __device__ __forceinline__ float activation_slope(float x, int kind)
{
    if (kind == CLIPT_ACTIVATION_QUICK_GELU) {
        /* y = x s, s = sigmoid(a x): dy/dx = s + a x s (1 - s) */
        float s = 1.0f / (1.0f + expf(-QUICK_GELU_ALPHA * x));
        return s + QUICK_GELU_ALPHA * x * s * (1.0f - s);
    }
    /* y = x Phi(x): dy/dx = Phi(x) + x phi(x) */
    float cdf = 0.5f * (1.0f + erff(x * (float)M_SQRT1_2));
    float pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
    return cdf + x * pdf;
}

template <int VEC>
__global__ void activation_forward_elementwise(float *out, const float *inp, size_t groups,
                                               int kind)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < groups; i += stride) {
        clipt_floats<VEC> x = clipt_load<VEC>(inp + i * VEC);
        for (int k = 0; k < VEC; k++) x.v[k] = activation_value(x.v[k], kind);
        clipt_store<VEC>(out + i * VEC, x);
    }
}

template <int VEC>
__global__ void activation_backward_elementwise(float *dinp, const float *dout,
                                                const float *inp, size_t groups, int kind)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < groups; i += stride) {
        clipt_floats<VEC> x = clipt_load<VEC>(inp + i * VEC);
        clipt_floats<VEC> dy = clipt_load<VEC>(dout + i * VEC);
        clipt_floats<VEC> acc = clipt_load<VEC>(dinp + i * VEC);
        for (int k = 0; k < VEC; k++) acc.v[k] += activation_slope(x.v[k], kind) * dy.v[k];
        clipt_store<VEC>(dinp + i * VEC, acc);
    }
}

template <int VEC>
__global__ void add_elementwise(float *out, const float *a, const float *b, size_t groups)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < groups; i += stride) {
        /* both loads precede the store, so out may alias a or b */
        clipt_floats<VEC> x = clipt_load<VEC>(a + i * VEC);
        clipt_floats<VEC> y = clipt_load<VEC>(b + i * VEC);
        for (int k = 0; k < VEC; k++) x.v[k] += y.v[k];
        clipt_store<VEC>(out + i * VEC, x);
    }
}

/* ------------------------------------------------------------------------ */
/* Launchers                                                                */
/* ------------------------------------------------------------------------ */

static clipt_status check_kind(const char *op, clipt_activation kind)
{
    if (kind != CLIPT_ACTIVATION_QUICK_GELU && kind != CLIPT_ACTIVATION_GELU) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "%s: unknown activation %d", op,
                               (int)kind);
    }
    return CLIPT_OK;
}

extern "C" clipt_status clipt_cuda_activation_forward(clipt_context *ctx, float *out,
                                                      const float *inp, size_t n,
                                                      clipt_activation kind)
{
    const char *op = "activation_forward";
    CLIPT_TRY(check_kind(op, kind));
    if (n == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    if (n % 4 == 0 && clipt_aligned16(out) && clipt_aligned16(inp)) {
        unsigned grid = clipt_cuda_grid_stride_blocks(st, n / 4, ACT_THREADS);
        activation_forward_elementwise<4><<<grid, ACT_THREADS, 0, st->stream>>>(out, inp,
                                                                               n / 4, kind);
        return clipt_cuda_check_launch(op, "activation_forward_elementwise<4>");
    }
    unsigned grid = clipt_cuda_grid_stride_blocks(st, n, ACT_THREADS);
    activation_forward_elementwise<1><<<grid, ACT_THREADS, 0, st->stream>>>(out, inp, n,
                                                                           kind);
    return clipt_cuda_check_launch(op, "activation_forward_elementwise<1>");
}

extern "C" clipt_status clipt_cuda_activation_backward(clipt_context *ctx, float *dinp,
                                                       const float *dout, const float *inp,
                                                       size_t n, clipt_activation kind)
{
    const char *op = "activation_backward";
    CLIPT_TRY(check_kind(op, kind));
    if (n == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    if (n % 4 == 0 && clipt_aligned16(dinp) && clipt_aligned16(dout) &&
        clipt_aligned16(inp)) {
        unsigned grid = clipt_cuda_grid_stride_blocks(st, n / 4, ACT_THREADS);
        activation_backward_elementwise<4><<<grid, ACT_THREADS, 0, st->stream>>>(
            dinp, dout, inp, n / 4, kind);
        return clipt_cuda_check_launch(op, "activation_backward_elementwise<4>");
    }
    unsigned grid = clipt_cuda_grid_stride_blocks(st, n, ACT_THREADS);
    activation_backward_elementwise<1><<<grid, ACT_THREADS, 0, st->stream>>>(dinp, dout,
                                                                            inp, n, kind);
    return clipt_cuda_check_launch(op, "activation_backward_elementwise<1>");
}

extern "C" clipt_status clipt_cuda_add(clipt_context *ctx, float *out, const float *a,
                                       const float *b, size_t n)
{
    const char *op = "add";
    if (n == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    if (n % 4 == 0 && clipt_aligned16(out) && clipt_aligned16(a) && clipt_aligned16(b)) {
        unsigned grid = clipt_cuda_grid_stride_blocks(st, n / 4, ACT_THREADS);
        add_elementwise<4><<<grid, ACT_THREADS, 0, st->stream>>>(out, a, b, n / 4);
        return clipt_cuda_check_launch(op, "add_elementwise<4>");
    }
    unsigned grid = clipt_cuda_grid_stride_blocks(st, n, ACT_THREADS);
    add_elementwise<1><<<grid, ACT_THREADS, 0, st->stream>>>(out, a, b, n);
    return clipt_cuda_check_launch(op, "add_elementwise<1>");
}
