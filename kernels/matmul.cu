/* Linear layers, out = inp weight^T + bias, forward and backward, with the
 * products in cuBLAS. CPU twin: lib/cpu/matmul.c.
 *
 * Shapes: inp, dinp (N,C); weight, dweight (OC,C) as torch.nn.Linear
 *         stores them; bias, dbias (OC); out, dout (N,OC). Row-major.
 * cuBLAS is column-major, and a row-major (R,K) matrix is the same memory
 * as a column-major (K,R) one, so each product is written transposed:
 *   out^T (OC,N)    = weight (OC,C) inp^T (C,N)      gemm(T, N, OC, N, C)
 *   dinp^T (C,N)   += weight^T (C,OC) dout^T (OC,N)  gemm(N, N, C, N, OC)
 *   dweight^T (C,OC) += inp^T (C,N) dout (N,OC)      gemm(N, T, C, OC, N)
 * The bias is broadcast into out first and the product added (beta = 1).
 * Mapping:
 *   matmul_bias_broadcast_rows<VEC>: one thread per VEC columns of one
 *     row, grid-stride over N*OC/VEC.
 *   bias_grad_partial_sums: block (32, 8) covers 32 columns of one chunk
 *     of rows. threadIdx.y strides over the chunk's rows, then the 8 partial
 *     sums are added in order. bias_grad_finish: one thread per column adds
 *     the chunks' sums in chunk order into dbias.
 * Shared memory: 8 x 33 floats in bias_grad_partial_sums.
 * Numerics: fp32 products accumulated in fp32 (CUBLAS_COMPUTE_32F), or
 *   TF32 tensor-core products (CUBLAS_COMPUTE_32F_FAST_TF32) when the
 *   context allows TF32. cuBLAS gives the same bits on every run with the
 *   same device, stream and workspace; the bias gradient's chunk size
 *   depends on N alone.
 * Limits: sizes are int, as cuBLAS' 32-bit interface takes them; VEC 4
 *   needs OC % 4 == 0 and aligned pointers, VEC 1 takes any OC.
 */
#include "cuda_common.h"
#include "ops/matmul.h"

#define BIAS_THREADS 256
#define BIAS_CHUNK_ROWS 128
#define BIAS_MAX_CHUNKS 65535 /* grid.y limit */

/* ------------------------------------------------------------------------ */
/* Kernels                                                                  */
/* ------------------------------------------------------------------------ */

template <int VEC>
__global__ void matmul_bias_broadcast_rows(float *out, const float *bias, int N, int OC)
{
    int groups = OC / VEC;
    size_t total = (size_t)N * groups;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        size_t n = i / groups;
        int o = (int)(i % groups) * VEC;
        clipt_store<VEC>(out + n * OC + o, clipt_load<VEC>(bias + o));
    }
}

/* partial[chunk, o] = sum over the chunk's rows of dout[n, o]. */
__global__ void bias_grad_partial_sums(float *partial, const float *dout, int N, int OC,
                                       int chunk_rows)
{
    __shared__ float sum_s[8][33];
    int tx = threadIdx.x, ty = threadIdx.y;
    int o = blockIdx.x * 32 + tx;
    int chunk = blockIdx.y;
    int r0 = chunk * chunk_rows;
    int r1 = min(r0 + chunk_rows, N);

    float sum = 0.0f;
    if (o < OC) {
        for (int r = r0 + ty; r < r1; r += 8) sum += dout[(size_t)r * OC + o];
    }
    sum_s[ty][tx] = sum;
    __syncthreads();
    if (ty == 0 && o < OC) {
        float total = 0.0f;
        for (int k = 0; k < 8; k++) total += sum_s[k][tx];
        partial[(size_t)chunk * OC + o] = total;
    }
}

__global__ void bias_grad_finish(float *dbias, const float *partial, int chunks, int OC)
{
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= OC) return;
    float sum = 0.0f;
    for (int k = 0; k < chunks; k++) sum += partial[(size_t)k * OC + o];
    dbias[o] += sum;
}

/* ------------------------------------------------------------------------ */
/* Launchers                                                                */
/* ------------------------------------------------------------------------ */

/* C = alpha op(A) op(B) + beta C in column-major terms, on the context's
 * stream, fp32 or TF32 as the context allows. */
static clipt_status gemm(clipt_context *ctx, clipt_cuda_state *st, const char *what,
                         cublasOperation_t transa, cublasOperation_t transb, int m,
                         int n, int k, const float *A, int lda, const float *B, int ldb,
                         float beta, float *C, int ldc)
{
    const float alpha = 1.0f;
    cublasComputeType_t compute = ctx->allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                  : CUBLAS_COMPUTE_32F;
    cublasStatus_t cs = st->cublas.gemm_ex(st->cublas_handle, transa, transb, m, n, k,
                                           &alpha, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb,
                                           &beta, C, CUDA_R_32F, ldc, compute,
                                           CUBLAS_GEMM_DEFAULT);
    if (cs != CUBLAS_STATUS_SUCCESS) return clipt_cublas_error(st, cs, what);
    return CLIPT_OK;
}

static clipt_status check_shape(const char *op, int N, int C, int OC)
{
    if (N < 0 || C < 1 || OC < 1) {
        return clipt_set_error(CLIPT_ERR_SHAPE, "%s: N=%d, C=%d, OC=%d; need N >= 0, "
                               "C >= 1 and OC >= 1", op, N, C, OC);
    }
    return CLIPT_OK;
}

extern "C" clipt_status clipt_cuda_matmul_forward(clipt_context *ctx, float *out,
                                                  const float *inp, const float *weight,
                                                  const float *bias, int N, int C,
                                                  int OC)
{
    const char *op = "matmul_forward";
    CLIPT_TRY(check_shape(op, N, C, OC));
    if (N == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));

    /* out = bias broadcast over rows, then out += inp weight^T */
    float beta = 0.0f;
    if (bias != NULL) {
        size_t n = (size_t)N * OC;
        if (OC % 4 == 0 && clipt_aligned16(out) && clipt_aligned16(bias)) {
            unsigned grid = clipt_cuda_grid_stride_blocks(st, n / 4, BIAS_THREADS);
            matmul_bias_broadcast_rows<4><<<grid, BIAS_THREADS, 0, st->stream>>>(out, bias,
                                                                                N, OC);
            CLIPT_TRY(clipt_cuda_check_launch(op, "matmul_bias_broadcast_rows<4>"));
        } else {
            unsigned grid = clipt_cuda_grid_stride_blocks(st, n, BIAS_THREADS);
            matmul_bias_broadcast_rows<1><<<grid, BIAS_THREADS, 0, st->stream>>>(out, bias,
                                                                                N, OC);
            CLIPT_TRY(clipt_cuda_check_launch(op, "matmul_bias_broadcast_rows<1>"));
        }
        beta = 1.0f;
    }
    return gemm(ctx, st, "matmul_forward: cublasGemmEx out = inp weight^T", CUBLAS_OP_T,
                CUBLAS_OP_N, OC, N, C, weight, C, inp, C, beta, out, OC);
}

/* dbias += column sums of dout, in two deterministic stages. */
static clipt_status bias_backward(clipt_cuda_state *st, float *dbias, const float *dout,
                                  int N, int OC)
{
    const char *op = "matmul_backward";
    int chunk_rows = BIAS_CHUNK_ROWS;
    if ((N + chunk_rows - 1) / chunk_rows > BIAS_MAX_CHUNKS) {
        chunk_rows = (N + BIAS_MAX_CHUNKS - 1) / BIAS_MAX_CHUNKS;
    }
    int chunks = (N + chunk_rows - 1) / chunk_rows;
    float *partial = NULL;
    CLIPT_TRY(clipt_cuda_scratch(st, (size_t)chunks * OC * sizeof(float), op,
                                 (void **)&partial));
    dim3 grid((unsigned)((OC + 31) / 32), (unsigned)chunks);
    bias_grad_partial_sums<<<grid, dim3(32, 8), 0, st->stream>>>(partial, dout, N, OC,
                                                                  chunk_rows);
    CLIPT_TRY(clipt_cuda_check_launch(op, "bias_grad_partial_sums"));
    bias_grad_finish<<<(OC + 255) / 256, 256, 0, st->stream>>>(dbias, partial, chunks, OC);
    return clipt_cuda_check_launch(op, "bias_grad_finish");
}

extern "C" clipt_status clipt_cuda_matmul_backward(clipt_context *ctx, float *dinp,
                                                   float *dweight, float *dbias,
                                                   const float *dout, const float *inp,
                                                   const float *weight, int N, int C,
                                                   int OC)
{
    const char *op = "matmul_backward";
    CLIPT_TRY(check_shape(op, N, C, OC));
    if (N == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));

    /* forward: out = inp weight^T + bias */
    if (dinp != NULL) {
        CLIPT_TRY(gemm(ctx, st, "matmul_backward: cublasGemmEx dinp += dout weight",
                       CUBLAS_OP_N, CUBLAS_OP_N, C, N, OC, weight, C, dout, OC, 1.0f, dinp,
                       C));
    }
    if (dweight != NULL) {
        CLIPT_TRY(gemm(ctx, st, "matmul_backward: cublasGemmEx dweight += dout^T inp",
                       CUBLAS_OP_N, CUBLAS_OP_T, C, OC, N, inp, C, dout, OC, 1.0f, dweight,
                       C));
    }
    if (dbias != NULL) CLIPT_TRY(bias_backward(st, dbias, dout, N, OC));
    return CLIPT_OK;
}
