/* Shared by the CUDA files of kernels/: the CUDA state of a context, the
 * cuBLAS entry points loaded at run time, error mapping, scratch memory, and
 * the warp and block reductions the kernels use.
 *
 * Reductions here are deterministic: warp sums use a fixed butterfly of
 * shuffles and block sums add the per-warp sums in a fixed tree, so the
 * same inputs give the same bits on every run of the same device. */
#ifndef CLIPT_KERNELS_CUDA_COMMON_H
#define CLIPT_KERNELS_CUDA_COMMON_H

/* Types only: libcublas is opened with dlopen when a CUDA context is
 * created, so libclipt never links against it. */
#include <cublas_api.h>
#include <cuda_runtime.h>

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

/* ------------------------------------------------------------------------ */
/* Context state                                                            */
/* ------------------------------------------------------------------------ */

/* The cuBLAS functions libclipt calls, looked up in the library that
 * clipt_cuda_context_init() opened. */
typedef struct clipt_cublas_api {
    void *library; /* dlopen handle */
    int version;   /* major * 10000 + minor * 100 + patch */
    cublasStatus_t (*create)(cublasHandle_t *handle);
    cublasStatus_t (*destroy)(cublasHandle_t handle);
    cublasStatus_t (*set_stream)(cublasHandle_t handle, cudaStream_t stream);
    cublasStatus_t (*set_workspace)(cublasHandle_t handle, void *workspace,
                                    size_t bytes);
    cublasStatus_t (*set_math_mode)(cublasHandle_t handle, cublasMath_t mode);
    cublasStatus_t (*gemm_ex)(cublasHandle_t handle, cublasOperation_t transa,
                              cublasOperation_t transb, int m, int n, int k,
                              const void *alpha, const void *A,
                              cudaDataType Atype, int lda, const void *B,
                              cudaDataType Btype, int ldb, const void *beta,
                              void *C, cudaDataType Ctype, int ldc,
                              cublasComputeType_t compute_type,
                              cublasGemmAlgo_t algo);
    const char *(*status_name)(cublasStatus_t status);
    const char *(*status_string)(cublasStatus_t status);
} clipt_cublas_api;

/* Everything a CUDA context owns; ctx->cuda points to one of these. */
typedef struct clipt_cuda_state {
    int device;
    cudaStream_t stream;  /* every op of the context runs on it */
    int sm_count;
    int cc_major, cc_minor;
    size_t shared_per_block;  /* bytes a block may use without opt-in */
    size_t total_memory;
    clipt_cublas_api cublas;
    cublasHandle_t cublas_handle;
    void *cublas_workspace;
    size_t cublas_workspace_bytes;
    /* Grow-only scratch for ops that need temporary device memory. Ops run
     * in stream order, so one op's scratch is free again for the next. */
    void *scratch;
    size_t scratch_bytes;
} clipt_cuda_state;

/* ------------------------------------------------------------------------ */
/* Errors, launches and scratch (kernels/context.cu)                        */
/* ------------------------------------------------------------------------ */

/* Records a failed CUDA call as "what: <CUDA error string> (<name>)" and
 * returns CLIPT_ERR_DEVICE_OUT_OF_MEMORY for an allocation failure, else
 * CLIPT_ERR_CUDA. err must not be cudaSuccess. */
clipt_status clipt_cuda_error(cudaError_t err, const char *what);

/* Records a failed cuBLAS call as "what: <status string> (<name>)" and
 * returns CLIPT_ERR_CUBLAS. */
clipt_status clipt_cublas_error(const clipt_cuda_state *st,
                                cublasStatus_t status, const char *what);

/* Returns the CUDA state of ctx with its device made current on the calling
 * thread; CLIPT_ERR_MISUSE when ctx is not a CUDA context. */
clipt_status clipt_cuda_begin(clipt_context *ctx, const char *op,
                              clipt_cuda_state **out);

/* Checks the kernel launch that just happened (cudaGetLastError); the
 * message names the op and the kernel. */
clipt_status clipt_cuda_check_launch(const char *op, const char *kernel);

/* Points *out at bytes of scratch device memory, growing the context's
 * scratch buffer when needed. The memory stays valid until the next call.
 * Errors: CLIPT_ERR_DEVICE_OUT_OF_MEMORY naming op. */
clipt_status clipt_cuda_scratch(clipt_cuda_state *st, size_t bytes,
                                const char *op, void **out);

/* Blocks for a grid-stride loop over n items with `threads` per block:
 * enough to cover n, at most 32 blocks per multiprocessor, at least 1. */
unsigned int clipt_cuda_grid_stride_blocks(const clipt_cuda_state *st,
                                           size_t n, unsigned int threads);

#define CLIPT_TRY_CUDA(call, what)                                            \
    do {                                                                      \
        cudaError_t clipt_cuda_err_ = (call);                                 \
        if (clipt_cuda_err_ != cudaSuccess) {                                 \
            return clipt_cuda_error(clipt_cuda_err_, (what));                 \
        }                                                                     \
    } while (0)

/* Returns 1 when p is aligned for float4 access. */
static inline int clipt_aligned16(const void *p)
{
    return ((uintptr_t)p & 15u) == 0;
}

/* Rounds bytes up to the 256-byte alignment cudaMalloc gives, for carving
 * several arrays out of one scratch request. */
static inline size_t clipt_align256(size_t bytes)
{
    return (bytes + 255u) & ~(size_t)255u;
}

/* ------------------------------------------------------------------------ */
/* Device helpers                                                           */
/* ------------------------------------------------------------------------ */

#define CLIPT_FULL_MASK 0xffffffffu

/* Sum over the 32 lanes; every lane receives the same total. */
template <typename T>
static __device__ __forceinline__ T clipt_warp_sum(T v)
{
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(CLIPT_FULL_MASK, v, offset);
    }
    return v;
}

/* Maximum over the 32 lanes; every lane receives it. */
static __device__ __forceinline__ float clipt_warp_max(float v)
{
    for (int offset = 16; offset > 0; offset >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(CLIPT_FULL_MASK, v, offset));
    }
    return v;
}

/* Sum over a one-dimensional block whose size is a multiple of 32; every
 * thread receives the total. shared has room for 32 values. Every thread
 * of the block must call it, because it synchronises the block. */
template <typename T>
static __device__ __forceinline__ T clipt_block_sum(T v, T *shared)
{
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int nwarps = blockDim.x >> 5;
    v = clipt_warp_sum(v);
    __syncthreads(); /* an earlier call may still be reading shared */
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    T total = lane < nwarps ? shared[lane] : (T)0;
    return clipt_warp_sum(total);
}

/* VEC consecutive floats, loaded or stored as one float4 when VEC is 4.
 * Kernels templated on VEC have a float4 fast path (VEC 4, pointers and
 * row lengths multiples of 4 floats) and a general path (VEC 1). */
template <int VEC>
struct clipt_floats {
    float v[VEC];
};

template <int VEC>
static __device__ __forceinline__ clipt_floats<VEC> clipt_load(const float *p)
{
    clipt_floats<VEC> r;
    if constexpr (VEC == 4) {
        float4 t = *reinterpret_cast<const float4 *>(p);
        r.v[0] = t.x;
        r.v[1] = t.y;
        r.v[2] = t.z;
        r.v[3] = t.w;
    } else {
        for (int k = 0; k < VEC; k++) r.v[k] = p[k];
    }
    return r;
}

template <int VEC>
static __device__ __forceinline__ void clipt_store(float *p,
                                                   const clipt_floats<VEC> &r)
{
    if constexpr (VEC == 4) {
        *reinterpret_cast<float4 *>(p) = make_float4(r.v[0], r.v[1], r.v[2], r.v[3]);
    } else {
        for (int k = 0; k < VEC; k++) p[k] = r.v[k];
    }
}

#endif /* CLIPT_KERNELS_CUDA_COMMON_H */
