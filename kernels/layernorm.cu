/* LayerNorm over the channel axis, forward and backward. CPU twin:
 * lib/cpu/layernorm.c.
 *
 * Shapes: inp, out, dinp, dout (N,C) row-major; weight, bias, dweight, dbias
 *         (C); mean, rstd (N), saved by the forward pass.
 * Mapping:
 *   layernorm_forward_warp_per_row<VEC> and
 *   layernorm_backward_input_warp_per_row<VEC>: one warp per row, 8 warps
 *     (256 threads) per block, grid.x = ceil(N / 8). Lane k reads VEC
 *     channels at k*VEC, k*VEC + 32*VEC, ...; the row is read two or three
 *     times, the later passes mostly from L1.
 *   layernorm_backward_params_partial_sums: block (32, 8) covers 32
 *     channels of one chunk of rows. threadIdx.y strides over the chunk's
 *     rows, then the 8 partial sums are added in order. grid = (ceil(C/32),
 *     chunks). layernorm_backward_params_finish: one thread per channel
 *     adds the chunks' sums in chunk order into dweight and dbias.
 * Shared memory: the partial-sum kernel holds 2 x 8 x 33 floats; the
 *   row kernels use none.
 * Numerics: fp32 throughout, mean and variance in two passes (the CPU
 *   reference accumulates in double). The weight and bias gradients are
 *   reduced over a chunk size that depends on N alone, so the result does
 *   not depend on the device or on scheduling.
 * Limits: VEC 4 (the fast path) needs C % 4 == 0 and 16-byte aligned
 *   pointers; VEC 1 takes any C >= 1.
 */
#include "cuda_common.h"
#include "ops/layernorm.h"

#define LN_WARPS_PER_BLOCK 8
#define LN_CHUNK_ROWS 128
#define LN_MAX_CHUNKS 65535 /* grid.y limit */

/* ------------------------------------------------------------------------ */
/* Kernels                                                                  */
/* ------------------------------------------------------------------------ */

template <int VEC>
__global__ void layernorm_forward_warp_per_row(float *out, float *mean, float *rstd,
                                               const float *inp, const float *weight,
                                               const float *bias, int N, int C,
                                               float eps)
{
    int row = blockIdx.x * LN_WARPS_PER_BLOCK + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= N) return; /* whole warps leave; no block barrier follows */
    const float *x = inp + (size_t)row * C;
    float *y = out + (size_t)row * C;

    /* mean */
    float sum = 0.0f;
    for (int c = lane * VEC; c < C; c += 32 * VEC) {
        clipt_floats<VEC> v = clipt_load<VEC>(x + c);
        for (int k = 0; k < VEC; k++) sum += v.v[k];
    }
    float m = clipt_warp_sum(sum) / C;

    /* biased variance around the mean, then rstd */
    float sq = 0.0f;
    for (int c = lane * VEC; c < C; c += 32 * VEC) {
        clipt_floats<VEC> v = clipt_load<VEC>(x + c);
        for (int k = 0; k < VEC; k++) {
            float d = v.v[k] - m;
            sq += d * d;
        }
    }
    float s = 1.0f / sqrtf(clipt_warp_sum(sq) / C + eps);

    /* normalise, scale and shift */
    for (int c = lane * VEC; c < C; c += 32 * VEC) {
        clipt_floats<VEC> v = clipt_load<VEC>(x + c);
        clipt_floats<VEC> w = clipt_load<VEC>(weight + c);
        clipt_floats<VEC> b = clipt_load<VEC>(bias + c);
        for (int k = 0; k < VEC; k++) v.v[k] = (v.v[k] - m) * s * w.v[k] + b.v[k];
        clipt_store<VEC>(y + c, v);
    }
    if (lane == 0) {
        if (mean != NULL) mean[row] = m;
        if (rstd != NULL) rstd[row] = s;
    }
}

template <int VEC>
__global__ void layernorm_backward_input_warp_per_row(float *dinp, const float *dout,
                                                      const float *inp,
                                                      const float *weight,
                                                      const float *mean,
                                                      const float *rstd, int N, int C)
{
    int row = blockIdx.x * LN_WARPS_PER_BLOCK + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= N) return;
    const float *x = inp + (size_t)row * C;
    const float *dy = dout + (size_t)row * C;
    float *dx = dinp + (size_t)row * C;
    float m = mean[row], s = rstd[row];

    /* forward: y = norm * weight + bias, norm = (x - mean) * rstd
     * dnorm = dy * weight; means of dnorm and of dnorm * norm */
    float dnorm_sum = 0.0f, dnorm_norm_sum = 0.0f;
    for (int c = lane * VEC; c < C; c += 32 * VEC) {
        clipt_floats<VEC> xv = clipt_load<VEC>(x + c);
        clipt_floats<VEC> dyv = clipt_load<VEC>(dy + c);
        clipt_floats<VEC> w = clipt_load<VEC>(weight + c);
        for (int k = 0; k < VEC; k++) {
            float norm = (xv.v[k] - m) * s;
            float dnorm = dyv.v[k] * w.v[k];
            dnorm_sum += dnorm;
            dnorm_norm_sum += dnorm * norm;
        }
    }
    float dnorm_mean = clipt_warp_sum(dnorm_sum) / C;
    float dnorm_norm_mean = clipt_warp_sum(dnorm_norm_sum) / C;

    /* dx += rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm)) */
    for (int c = lane * VEC; c < C; c += 32 * VEC) {
        clipt_floats<VEC> xv = clipt_load<VEC>(x + c);
        clipt_floats<VEC> dyv = clipt_load<VEC>(dy + c);
        clipt_floats<VEC> w = clipt_load<VEC>(weight + c);
        clipt_floats<VEC> acc = clipt_load<VEC>(dx + c);
        for (int k = 0; k < VEC; k++) {
            float norm = (xv.v[k] - m) * s;
            float dnorm = dyv.v[k] * w.v[k];
            acc.v[k] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
        }
        clipt_store<VEC>(dx + c, acc);
    }
}

/* partial_dw[chunk, c] = sum over the chunk's rows of dy * norm;
 * partial_db[chunk, c] = sum of dy. */
__global__ void layernorm_backward_params_partial_sums(float *partial_dw, float *partial_db,
                                                       const float *dout, const float *inp,
                                                       const float *mean, const float *rstd,
                                                       int N, int C, int chunk_rows)
{
    __shared__ float dw_s[8][33];
    __shared__ float db_s[8][33];
    int tx = threadIdx.x, ty = threadIdx.y;
    int c = blockIdx.x * 32 + tx;
    int chunk = blockIdx.y;
    int r0 = chunk * chunk_rows;
    int r1 = min(r0 + chunk_rows, N);

    float dw = 0.0f, db = 0.0f;
    if (c < C) {
        for (int r = r0 + ty; r < r1; r += 8) {
            float dy = dout[(size_t)r * C + c];
            float norm = (inp[(size_t)r * C + c] - mean[r]) * rstd[r];
            dw += dy * norm;
            db += dy;
        }
    }
    dw_s[ty][tx] = dw;
    db_s[ty][tx] = db;
    __syncthreads();
    if (ty == 0 && c < C) {
        float dw_total = 0.0f, db_total = 0.0f;
        for (int k = 0; k < 8; k++) {
            dw_total += dw_s[k][tx];
            db_total += db_s[k][tx];
        }
        partial_dw[(size_t)chunk * C + c] = dw_total;
        partial_db[(size_t)chunk * C + c] = db_total;
    }
}

__global__ void layernorm_backward_params_finish(float *dweight, float *dbias,
                                                 const float *partial_dw,
                                                 const float *partial_db, int chunks,
                                                 int C)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float dw = 0.0f, db = 0.0f;
    for (int k = 0; k < chunks; k++) {
        dw += partial_dw[(size_t)k * C + c];
        db += partial_db[(size_t)k * C + c];
    }
    if (dweight != NULL) dweight[c] += dw;
    if (dbias != NULL) dbias[c] += db;
}

/* ------------------------------------------------------------------------ */
/* Launchers                                                                */
/* ------------------------------------------------------------------------ */

static clipt_status check_shape(const char *op, int N, int C)
{
    if (N < 0 || C < 1) {
        return clipt_set_error(CLIPT_ERR_SHAPE, "%s: N=%d rows of C=%d channels; need "
                               "N >= 0 and C >= 1", op, N, C);
    }
    return CLIPT_OK;
}

extern "C" clipt_status clipt_cuda_layernorm_forward(clipt_context *ctx, float *out,
                                                     float *mean, float *rstd,
                                                     const float *inp,
                                                     const float *weight,
                                                     const float *bias, int N, int C,
                                                     float eps)
{
    const char *op = "layernorm_forward";
    CLIPT_TRY(check_shape(op, N, C));
    if (N == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    unsigned grid = (unsigned)((N + LN_WARPS_PER_BLOCK - 1) / LN_WARPS_PER_BLOCK);
    unsigned threads = 32 * LN_WARPS_PER_BLOCK;
    if (C % 4 == 0 && clipt_aligned16(out) && clipt_aligned16(inp) &&
        clipt_aligned16(weight) && clipt_aligned16(bias)) {
        layernorm_forward_warp_per_row<4><<<grid, threads, 0, st->stream>>>(
            out, mean, rstd, inp, weight, bias, N, C, eps);
        return clipt_cuda_check_launch(op, "layernorm_forward_warp_per_row<4>");
    }
    layernorm_forward_warp_per_row<1><<<grid, threads, 0, st->stream>>>(
        out, mean, rstd, inp, weight, bias, N, C, eps);
    return clipt_cuda_check_launch(op, "layernorm_forward_warp_per_row<1>");
}

/* dweight += sum over rows of dy * norm, dbias += sum of dy, in two
 * deterministic stages through scratch memory. */
static clipt_status params_backward(clipt_cuda_state *st, float *dweight, float *dbias,
                                    const float *dout, const float *inp,
                                    const float *mean, const float *rstd, int N, int C)
{
    const char *op = "layernorm_backward";
    int chunk_rows = LN_CHUNK_ROWS;
    if ((N + chunk_rows - 1) / chunk_rows > LN_MAX_CHUNKS) {
        chunk_rows = (N + LN_MAX_CHUNKS - 1) / LN_MAX_CHUNKS;
    }
    int chunks = (N + chunk_rows - 1) / chunk_rows;
    size_t partial_bytes = clipt_align256((size_t)chunks * C * sizeof(float));
    char *scratch = NULL;
    CLIPT_TRY(clipt_cuda_scratch(st, 2 * partial_bytes, op, (void **)&scratch));
    float *partial_dw = (float *)scratch;
    float *partial_db = (float *)(scratch + partial_bytes);

    dim3 grid((unsigned)((C + 31) / 32), (unsigned)chunks);
    layernorm_backward_params_partial_sums<<<grid, dim3(32, 8), 0, st->stream>>>(
        partial_dw, partial_db, dout, inp, mean, rstd, N, C, chunk_rows);
    CLIPT_TRY(clipt_cuda_check_launch(op, "layernorm_backward_params_partial_sums"));
    layernorm_backward_params_finish<<<(C + 255) / 256, 256, 0, st->stream>>>(
        dweight, dbias, partial_dw, partial_db, chunks, C);
    return clipt_cuda_check_launch(op, "layernorm_backward_params_finish");
}

extern "C" clipt_status clipt_cuda_layernorm_backward(clipt_context *ctx, float *dinp,
                                                      float *dweight, float *dbias,
                                                      const float *dout,
                                                      const float *inp,
                                                      const float *weight,
                                                      const float *mean,
                                                      const float *rstd, int N, int C)
{
    const char *op = "layernorm_backward";
    CLIPT_TRY(check_shape(op, N, C));
    if (N == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    if (dinp != NULL) {
        unsigned grid = (unsigned)((N + LN_WARPS_PER_BLOCK - 1) / LN_WARPS_PER_BLOCK);
        unsigned threads = 32 * LN_WARPS_PER_BLOCK;
        if (C % 4 == 0 && clipt_aligned16(dinp) && clipt_aligned16(dout) &&
            clipt_aligned16(inp) && clipt_aligned16(weight)) {
            layernorm_backward_input_warp_per_row<4><<<grid, threads, 0, st->stream>>>(
                dinp, dout, inp, weight, mean, rstd, N, C);
            CLIPT_TRY(clipt_cuda_check_launch(op, "layernorm_backward_input_warp_per_row<4>"));
        } else {
            layernorm_backward_input_warp_per_row<1><<<grid, threads, 0, st->stream>>>(
                dinp, dout, inp, weight, mean, rstd, N, C);
            CLIPT_TRY(clipt_cuda_check_launch(op, "layernorm_backward_input_warp_per_row<1>"));
        }
    }
    if (dweight != NULL || dbias != NULL) {
        CLIPT_TRY(params_backward(st, dweight, dbias, dout, inp, mean, rstd, N, C));
    }
    return CLIPT_OK;
}
