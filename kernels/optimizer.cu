/* The global gradient norm and AdamW over the flat parameter buffer. CPU
 * twin: lib/cpu/optimizer.c, whose header gives the update formulas (those
 * of torch.optim.AdamW and torch.nn.utils.clip_grad_norm_).
 *
 * Shapes: params, grads, m, v: the flat buffers; segments (nsegments) in
 *         device memory, each an (offset, count, decayed) range; norm (1) in
 *         device memory.
 * Mapping:
 *   grad_norm_partial_sums_fixed_grid: always 1024 blocks of 256 threads.
 *     In every segment thread g takes elements g, g + 1024*256, ..., and
 *     the block sums its threads' squares. grad_norm_finish_single_block:
 *     one block of 1024 threads adds the 1024 block sums and takes the
 *     square root. The grid is fixed, so the order of the sums, and with it
 *     the result, depends on the segments alone.
 *   adamw_update_segments_grid_stride: one launch for all segments; each
 *     thread walks every segment with a grid stride and updates its
 *     elements, four at a time (float4) where the segment's offset and
 *     count are multiples of 4 and the buffers are aligned, else one at a
 *     time. The clipping factor is read from norm on the device, so the
 *     host never waits for it.
 * Shared memory: 32 doubles in each norm kernel.
 * Numerics: squares summed in double. The AdamW update uses the _rn
 *   intrinsics, which nvcc never fuses into fma, so each step rounds as the
 *   CPU loop's separate multiplies and adds do.
 * Limits: none beyond the segments lying inside the buffers.
 */
#include <math.h>

#include "cuda_common.h"
#include "ops/optimizer.h"

#define NORM_BLOCKS 1024
#define NORM_THREADS 256
#define ADAMW_THREADS 256
#define ADAMW_BLOCKS_PER_SM 4

/* Factors of one AdamW step, rounded to fp32 on the host as the CPU
 * reference rounds them. */
typedef struct adamw_factors {
    float beta1, beta2;
    float one_minus_beta1, one_minus_beta2;
    float eps;
    float step_size;  /* lr / (1 - beta1^t) */
    float bc2_sqrt;   /* sqrt(1 - beta2^t) */
    float decay;      /* 1 - lr wd, for decayed segments */
    double max_grad_norm;
} adamw_factors;

/* ------------------------------------------------------------------------ */
/* Kernels                                                                  */
/* ------------------------------------------------------------------------ */

__global__ void __launch_bounds__(NORM_THREADS)
grad_norm_partial_sums_fixed_grid(double *partial, const float *grads,
                                  const clipt_param_segment *segments, int nsegments,
                                  int grads_aligned)
{
    __shared__ double red_s[32];
    size_t first = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    double sum = 0.0;
    for (int s = 0; s < nsegments; s++) {
        size_t offset = segments[s].offset, count = segments[s].count;
        const float *g = grads + offset;
        if (grads_aligned && offset % 4 == 0 && count % 4 == 0) {
            const float4 *g4 = reinterpret_cast<const float4 *>(g);
            for (size_t i = first; i < count / 4; i += stride) {
                float4 x = g4[i];
                sum += (double)x.x * x.x + (double)x.y * x.y + (double)x.z * x.z +
                       (double)x.w * x.w;
            }
        } else {
            for (size_t i = first; i < count; i += stride) sum += (double)g[i] * g[i];
        }
    }
    sum = clipt_block_sum(sum, red_s);
    if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

__global__ void __launch_bounds__(NORM_BLOCKS)
grad_norm_finish_single_block(float *norm, const double *partial)
{
    __shared__ double red_s[32];
    double total = clipt_block_sum(partial[threadIdx.x], red_s);
    if (threadIdx.x == 0) *norm = (float)sqrt(total);
}

/* One element of AdamW, rounding after every operation like the CPU loop. */
static __device__ __forceinline__ void adamw_element(float &p, float g, float &m, float &v,
                                                     float scale, float decay,
                                                     const adamw_factors &f)
{
    float gi = __fmul_rn(g, scale);
    p = __fmul_rn(p, decay);
    m = __fadd_rn(__fmul_rn(f.beta1, m), __fmul_rn(f.one_minus_beta1, gi));
    v = __fadd_rn(__fmul_rn(f.beta2, v), __fmul_rn(__fmul_rn(f.one_minus_beta2, gi), gi));
    float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), f.bc2_sqrt), f.eps);
    p = __fsub_rn(p, __fdiv_rn(__fmul_rn(f.step_size, m), denom));
}

__global__ void __launch_bounds__(ADAMW_THREADS)
adamw_update_segments_grid_stride(float *params, const float *grads, float *m, float *v,
                                  const clipt_param_segment *segments, int nsegments,
                                  const float *norm, adamw_factors f, int buffers_aligned)
{
    /* clip by the global norm: g <- g min(1, max_norm / (norm + 1e-6)) */
    float scale = 1.0f;
    if (f.max_grad_norm > 0.0 && norm != NULL) {
        double coef = f.max_grad_norm / ((double)*norm + 1e-6);
        if (coef < 1.0) scale = (float)coef;
    }
    size_t first = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (int s = 0; s < nsegments; s++) {
        size_t offset = segments[s].offset, count = segments[s].count;
        float decay = segments[s].decayed ? f.decay : 1.0f;
        float *p = params + offset, *mm = m + offset, *vv = v + offset;
        const float *g = grads + offset;
        if (buffers_aligned && offset % 4 == 0 && count % 4 == 0) {
            for (size_t i = first; i < count / 4; i += stride) {
                float4 p4 = reinterpret_cast<float4 *>(p)[i];
                float4 m4 = reinterpret_cast<float4 *>(mm)[i];
                float4 v4 = reinterpret_cast<float4 *>(vv)[i];
                float4 g4 = reinterpret_cast<const float4 *>(g)[i];
                adamw_element(p4.x, g4.x, m4.x, v4.x, scale, decay, f);
                adamw_element(p4.y, g4.y, m4.y, v4.y, scale, decay, f);
                adamw_element(p4.z, g4.z, m4.z, v4.z, scale, decay, f);
                adamw_element(p4.w, g4.w, m4.w, v4.w, scale, decay, f);
                reinterpret_cast<float4 *>(p)[i] = p4;
                reinterpret_cast<float4 *>(mm)[i] = m4;
                reinterpret_cast<float4 *>(vv)[i] = v4;
            }
        } else {
            for (size_t i = first; i < count; i += stride) {
                adamw_element(p[i], g[i], mm[i], vv[i], scale, decay, f);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Launchers                                                                */
/* ------------------------------------------------------------------------ */

extern "C" clipt_status clipt_cuda_grad_norm(clipt_context *ctx, float *norm,
                                             const float *grads,
                                             const clipt_param_segment *segments,
                                             int nsegments)
{
    const char *op = "grad_norm";
    if (nsegments < 0) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "%s: %d segments", op, nsegments);
    }
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    double *partial = NULL;
    CLIPT_TRY(clipt_cuda_scratch(st, NORM_BLOCKS * sizeof(double), op, (void **)&partial));
    grad_norm_partial_sums_fixed_grid<<<NORM_BLOCKS, NORM_THREADS, 0, st->stream>>>(
        partial, grads, segments, nsegments, clipt_aligned16(grads));
    CLIPT_TRY(clipt_cuda_check_launch(op, "grad_norm_partial_sums_fixed_grid"));
    grad_norm_finish_single_block<<<1, NORM_BLOCKS, 0, st->stream>>>(norm, partial);
    return clipt_cuda_check_launch(op, "grad_norm_finish_single_block");
}

extern "C" clipt_status clipt_cuda_adamw_update(clipt_context *ctx, float *params,
                                                const float *grads, float *m, float *v,
                                                const clipt_param_segment *segments,
                                                int nsegments, const float *norm,
                                                const clipt_adamw_hparams *hp)
{
    const char *op = "adamw_update";
    if (hp->step < 1) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "%s: step is %lld, must be >= 1", op, (long long)hp->step);
    }
    if (nsegments < 0) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "%s: %d segments", op, nsegments);
    }
    if (nsegments == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));

    /* the same double-precision factors as the CPU reference */
    double bc1 = 1.0 - pow(hp->beta1, (double)hp->step);
    double bc2_sqrt = sqrt(1.0 - pow(hp->beta2, (double)hp->step));
    adamw_factors f;
    f.beta1 = (float)hp->beta1;
    f.beta2 = (float)hp->beta2;
    f.one_minus_beta1 = (float)(1.0 - hp->beta1);
    f.one_minus_beta2 = (float)(1.0 - hp->beta2);
    f.eps = (float)hp->eps;
    f.step_size = (float)(hp->lr / bc1);
    f.bc2_sqrt = (float)bc2_sqrt;
    f.decay = (float)(1.0 - hp->lr * hp->weight_decay);
    f.max_grad_norm = hp->max_grad_norm;

    int aligned = clipt_aligned16(params) && clipt_aligned16(grads) && clipt_aligned16(m) &&
                  clipt_aligned16(v);
    unsigned grid = (unsigned)(st->sm_count * ADAMW_BLOCKS_PER_SM);
    adamw_update_segments_grid_stride<<<grid, ADAMW_THREADS, 0, st->stream>>>(
        params, grads, m, v, segments, nsegments, norm, f, aligned);
    return clipt_cuda_check_launch(op, "adamw_update_segments_grid_stride");
}
