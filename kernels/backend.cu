/* The CUDA backend table: device memory, copies on the context's stream,
 * and the ops of the other files in kernels/.
 *
 * Memory comes from cudaMalloc and goes back through cudaFree once the
 * context's stream has finished its work. Copies and fills are
 * asynchronous on the context's stream. An upload from pageable host
 * memory returns once the source has been staged, so the caller may reuse
 * it at once.
 *
 * NOTE: the CUDA ops have been compiled and reviewed but not yet run on a
 * GPU. tests/test_cuda_ops.c and tests/test_cuda_train.c hold them to the
 * CPU backend wherever a device is present (make gpu-check). */
#include <stdio.h>

#include "cuda_common.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/embedding.h"
#include "ops/layernorm.h"
#include "ops/loss.h"
#include "ops/matmul.h"
#include "ops/optimizer.h"

static clipt_status cuda_alloc(clipt_context *ctx, size_t bytes,
                               const char *what, void **out)
{
    *out = NULL;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, "alloc", &st));
    void *p = NULL;
    /* A zero-byte request still returns a distinct pointer to free. */
    cudaError_t err = cudaMalloc(&p, bytes > 0 ? bytes : 1);
    if (err == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        size_t free_bytes = 0, total_bytes = 0;
        (void)cudaMemGetInfo(&free_bytes, &total_bytes);
        (void)cudaGetLastError();
        return clipt_set_error(CLIPT_ERR_DEVICE_OUT_OF_MEMORY,
                               "out of device memory allocating %zu bytes "
                               "(%.1f MiB) for %s on cuda:%d (%.1f MiB free of "
                               "%.1f MiB); use smaller batches",
                               bytes, (double)bytes / 1048576.0, what, st->device,
                               (double)free_bytes / 1048576.0,
                               (double)total_bytes / 1048576.0);
    }
    if (err != cudaSuccess) {
        char what_full[160];
        snprintf(what_full, sizeof what_full, "allocating %zu bytes for %s", bytes, what);
        return clipt_cuda_error(err, what_full);
    }
    *out = p;
    return CLIPT_OK;
}

static void cuda_free(clipt_context *ctx, void *ptr)
{
    if (ptr == NULL) return;
    clipt_cuda_state *st = NULL;
    if (clipt_cuda_begin(ctx, "free", &st) != CLIPT_OK) return;
    /* Work queued on the stream may still use the memory. A failure here
     * can only repeat an earlier asynchronous error, which the next
     * synchronize reports. */
    (void)cudaStreamSynchronize(st->stream);
    (void)cudaFree(ptr);
}

static clipt_status cuda_copy_kind(clipt_context *ctx, void *dst, const void *src,
                                   size_t bytes, cudaMemcpyKind kind,
                                   const char *op)
{
    if (bytes == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    CLIPT_TRY_CUDA(cudaMemcpyAsync(dst, src, bytes, kind, st->stream), op);
    return CLIPT_OK;
}

static clipt_status cuda_upload(clipt_context *ctx, void *dst, const void *src,
                                size_t bytes)
{
    return cuda_copy_kind(ctx, dst, src, bytes, cudaMemcpyHostToDevice,
                          "upload to the device");
}

static clipt_status cuda_download(clipt_context *ctx, void *dst, const void *src,
                                  size_t bytes)
{
    return cuda_copy_kind(ctx, dst, src, bytes, cudaMemcpyDeviceToHost,
                          "download from the device");
}

static clipt_status cuda_copy(clipt_context *ctx, void *dst, const void *src,
                              size_t bytes)
{
    return cuda_copy_kind(ctx, dst, src, bytes, cudaMemcpyDeviceToDevice,
                          "copy on the device");
}

static clipt_status cuda_zero(clipt_context *ctx, void *ptr, size_t bytes)
{
    if (bytes == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, "zero", &st));
    CLIPT_TRY_CUDA(cudaMemsetAsync(ptr, 0, bytes, st->stream), "zero device memory");
    return CLIPT_OK;
}

static clipt_status cuda_synchronize(clipt_context *ctx)
{
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, "synchronize", &st));
    /* Errors of earlier asynchronous work (a faulting kernel) surface here. */
    CLIPT_TRY_CUDA(cudaStreamSynchronize(st->stream),
                   "waiting for the CUDA stream (an earlier op failed)");
    return CLIPT_OK;
}

extern "C" const clipt_backend clipt_cuda_backend = {
    /* name */ "cuda",
    /* alloc */ cuda_alloc,
    /* free */ cuda_free,
    /* upload */ cuda_upload,
    /* download */ cuda_download,
    /* copy */ cuda_copy,
    /* zero */ cuda_zero,
    /* synchronize */ cuda_synchronize,
    /* embedding_forward */ clipt_cuda_embedding_forward,
    /* embedding_backward */ clipt_cuda_embedding_backward,
    /* layernorm_forward */ clipt_cuda_layernorm_forward,
    /* layernorm_backward */ clipt_cuda_layernorm_backward,
    /* matmul_forward */ clipt_cuda_matmul_forward,
    /* matmul_backward */ clipt_cuda_matmul_backward,
    /* attention_forward */ clipt_cuda_attention_forward,
    /* attention_backward */ clipt_cuda_attention_backward,
    /* activation_forward */ clipt_cuda_activation_forward,
    /* activation_backward */ clipt_cuda_activation_backward,
    /* add */ clipt_cuda_add,
    /* gather_rows */ clipt_cuda_gather_rows,
    /* gather_rows_backward */ clipt_cuda_gather_rows_backward,
    /* cosine_loss */ clipt_cuda_cosine_loss,
    /* grad_norm */ clipt_cuda_grad_norm,
    /* adamw_update */ clipt_cuda_adamw_update,
};
