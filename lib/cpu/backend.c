/* The CPU backend table: host memory and the reference ops of lib/cpu/. */
#include <stdlib.h>
#include <string.h>

#include "../ops/activation.h"
#include "../ops/attention.h"
#include "../ops/embedding.h"
#include "../ops/layernorm.h"
#include "../ops/loss.h"
#include "../ops/matmul.h"
#include "../ops/optimizer.h"

static clipt_status cpu_alloc(clipt_context *ctx, size_t bytes,
                              const char *what, void **out)
{
    (void)ctx;
    return clipt_host_alloc(bytes, what, out);
}

static void cpu_free(clipt_context *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

static clipt_status cpu_copy(clipt_context *ctx, void *dst, const void *src,
                             size_t bytes)
{
    (void)ctx;
    if (bytes > 0) memmove(dst, src, bytes);
    return CLIPT_OK;
}

static clipt_status cpu_zero(clipt_context *ctx, void *ptr, size_t bytes)
{
    (void)ctx;
    if (bytes > 0) memset(ptr, 0, bytes);
    return CLIPT_OK;
}

static clipt_status cpu_synchronize(clipt_context *ctx)
{
    (void)ctx;
    return CLIPT_OK;
}

const clipt_backend clipt_cpu_backend = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .synchronize = cpu_synchronize,
    .embedding_forward = clipt_cpu_embedding_forward,
    .embedding_backward = clipt_cpu_embedding_backward,
    .layernorm_forward = clipt_cpu_layernorm_forward,
    .layernorm_backward = clipt_cpu_layernorm_backward,
    .matmul_forward = clipt_cpu_matmul_forward,
    .matmul_backward = clipt_cpu_matmul_backward,
    .attention_forward = clipt_cpu_attention_forward,
    .attention_backward = clipt_cpu_attention_backward,
    .activation_forward = clipt_cpu_activation_forward,
    .activation_backward = clipt_cpu_activation_backward,
    .add = clipt_cpu_add,
    .gather_rows = clipt_cpu_gather_rows,
    .gather_rows_backward = clipt_cpu_gather_rows_backward,
    .cosine_loss = clipt_cpu_cosine_loss,
    .grad_norm = clipt_cpu_grad_norm,
    .adamw_update = clipt_cpu_adamw_update,
};
