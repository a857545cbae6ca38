/* The backend table: every operation the forward and backward passes, the
 * loss and the optimizer need, as function pointers. lib/forward.c and
 * lib/optim.c are written once against this table; lib/cpu/ implements it
 * with plain C and OpenBLAS, kernels/ with CUDA and cuBLAS.
 *
 * Rules every implementation follows:
 * - Pointers are backend memory (host memory for the CPU backend, device
 *   memory for CUDA) unless a comment marks them as host memory.
 * - Argument order: context, outputs, inputs, sizes, options.
 * - Gradients accumulate: every backward op adds into its d-outputs (dinp,
 *   dweight, dbias, ...), so callers zero them first. A NULL gradient pointer
 *   means "not needed" and its computation is skipped (frozen tensors).
 * - Ops run in order on the context's stream; results are visible to the
 *   host after synchronize() or a copy to the host.
 * - An op checks what it cannot support (for example a size its kernels do
 *   not handle) and returns a status with a message; it never aborts.
 *
 * Shapes use the legend of clipt.h (C width, NH heads, HS head size, F MLP
 * width, V vocabulary, U unique texts, P projection), with two changes:
 * B is the number of token rows (texts) and N the number of packed tokens
 * in the ops, while the loss keeps N for pairs. */
#ifndef CLIPT_BACKEND_H
#define CLIPT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A range of the flat parameter buffer that the optimizer updates, with its
 * weight-decay flag. Tensors that are frozen appear in no segment. */
typedef struct clipt_param_segment {
    size_t offset;
    size_t count;
    int decayed;
} clipt_param_segment;

/* AdamW settings of one step, as torch.optim.AdamW defines them. They are
 * doubles, like PyTorch's Python floats, so derived factors such as
 * 1 - beta1 round to fp32 once, as they do there. */
typedef struct clipt_adamw_hparams {
    double lr;
    double beta1;
    double beta2;
    double eps;
    double weight_decay;
    int64_t step;          /* 1 for the first update; sets the bias correction */
    double max_grad_norm;  /* clip by global norm when > 0 */
} clipt_adamw_hparams;

typedef struct clipt_backend {
    const char *name;

    /* ---- memory ---- */
    clipt_status (*alloc)(clipt_context *ctx, size_t bytes, const char *what,
                          void **out);
    void (*free)(clipt_context *ctx, void *ptr);
    /* host -> backend, backend -> host, backend -> backend */
    clipt_status (*upload)(clipt_context *ctx, void *dst, const void *src,
                           size_t bytes);
    clipt_status (*download)(clipt_context *ctx, void *dst, const void *src,
                             size_t bytes);
    clipt_status (*copy)(clipt_context *ctx, void *dst, const void *src,
                         size_t bytes);
    clipt_status (*zero)(clipt_context *ctx, void *ptr, size_t bytes);
    clipt_status (*synchronize)(clipt_context *ctx);

    /* ---- embedding ---- */
    /* Batches are packed: the N tokens of all rows are stored one after
     * another, with no padding (see attention below for the row bounds).
     * out (N,C) = wte[ids[n]] + wpe[pos[n]]; ids in [0, V), pos the position
     * of each token inside its row. */
    clipt_status (*embedding_forward)(clipt_context *ctx, float *out,
                                      const int32_t *ids, const int32_t *pos,
                                      const float *wte, const float *wpe,
                                      int N, int C);
    /* dwte (V,C) += dout scattered by id; dwpe += dout scattered by
     * position. The result must not depend on thread scheduling. */
    clipt_status (*embedding_backward)(clipt_context *ctx, float *dwte,
                                       float *dwpe, const float *dout,
                                       const int32_t *ids, const int32_t *pos,
                                       int N, int C, int V);

    /* ---- layernorm ---- */
    /* Per row of C: out = (inp - mean) * rstd * weight + bias, with
     * rstd = 1 / sqrt(biased variance + eps). mean, rstd (N) are saved. */
    clipt_status (*layernorm_forward)(clipt_context *ctx, float *out,
                                      float *mean, float *rstd,
                                      const float *inp, const float *weight,
                                      const float *bias, int N, int C,
                                      float eps);
    clipt_status (*layernorm_backward)(clipt_context *ctx, float *dinp,
                                       float *dweight, float *dbias,
                                       const float *dout, const float *inp,
                                       const float *weight, const float *mean,
                                       const float *rstd, int N, int C);

    /* ---- matmul (Linear layers) ---- */
    /* out (N,OC) = inp (N,C) weight^T + bias; weight (OC,C) as torch's
     * Linear stores it; bias (OC) may be NULL. */
    clipt_status (*matmul_forward)(clipt_context *ctx, float *out,
                                   const float *inp, const float *weight,
                                   const float *bias, int N, int C, int OC);
    /* dinp (N,C) += dout weight; dweight (OC,C) += dout^T inp;
     * dbias (OC) += column sums of dout. */
    clipt_status (*matmul_backward)(clipt_context *ctx, float *dinp,
                                    float *dweight, float *dbias,
                                    const float *dout, const float *inp,
                                    const float *weight, int N, int C,
                                    int OC);

    /* ---- causal multi-head attention ---- */
    /* Packed rows: row b owns tokens [offsets[b], offsets[b+1]) of the N
     * tokens, and max_len is the longest row. qkv (N,3C): channels [0,C) are
     * q, [C,2C) k, [2C,3C) v, and head h uses channels [h*HS, (h+1)*HS) of
     * each. Each token attends to the tokens of its own row up to itself:
     * out (N,C) = softmax(q k^T HS^-0.5 + causal mask) v, heads merged.
     * lse (N,NH) saves the log-sum-exp of each score row, from which the
     * backward pass rebuilds the probabilities. */
    clipt_status (*attention_forward)(clipt_context *ctx, float *out,
                                      float *lse, const float *qkv,
                                      const int32_t *offsets, int B, int N,
                                      int C, int NH, int max_len);
    clipt_status (*attention_backward)(clipt_context *ctx, float *dqkv,
                                       const float *dout, const float *qkv,
                                       const float *out, const float *lse,
                                       const int32_t *offsets, int B, int N,
                                       int C, int NH, int max_len);

    /* ---- elementwise ---- */
    clipt_status (*activation_forward)(clipt_context *ctx, float *out,
                                       const float *inp, size_t n,
                                       clipt_activation kind);
    clipt_status (*activation_backward)(clipt_context *ctx, float *dinp,
                                        const float *dout, const float *inp,
                                        size_t n, clipt_activation kind);
    /* out = a + b; out may alias a or b. */
    clipt_status (*add)(clipt_context *ctx, float *out, const float *a,
                        const float *b, size_t n);

    /* ---- end-of-text rows ---- */
    /* out (B,C) = inp[rows[b], :] for inp (N,C). */
    clipt_status (*gather_rows)(clipt_context *ctx, float *out,
                                const float *inp, const int32_t *rows, int B,
                                int C);
    /* dinp[rows[b], :] += dout[b, :]; rows are distinct. */
    clipt_status (*gather_rows_backward)(clipt_context *ctx, float *dinp,
                                         const float *dout,
                                         const int32_t *rows, int B, int C);

    /* ---- loss ---- */
    /* The training loss for N pairs over U texts with embeddings E (U,P):
     *   cos_n = <E_a, E_b> / (max(|E_a|, 1e-8) max(|E_b|, 1e-8)),
     *   a = pair_a[n], b = pair_b[n],
     *   distance = (1/N) sum_n (target_n - cos_n)^2,
     *   regulariser = (1/(U P)) sum (E - E0)^2 (skipped when E0 is NULL),
     *   total = distance + lambda * regulariser.
     * losses (3) receives total, distance, regulariser; cos (N), when not
     * NULL, receives cos_n; dE (U,P), when not NULL, accumulates the
     * gradient of total. Sums are reduced in a fixed order. */
    clipt_status (*cosine_loss)(clipt_context *ctx, float *losses,
                                float *cos, float *dE, const float *E,
                                const float *E0, const int32_t *pair_a,
                                const int32_t *pair_b, const float *target,
                                int N, int U, int P, float lambda);

    /* ---- optimizer ---- */
    /* norm (1) = sqrt(sum of squares of grads over the segments), reduced
     * in a fixed order. segments live in backend memory. */
    clipt_status (*grad_norm)(clipt_context *ctx, float *norm,
                              const float *grads,
                              const clipt_param_segment *segments,
                              int nsegments);
    /* One AdamW step over the segments. When hp->max_grad_norm > 0, grads
     * are scaled by min(1, max_grad_norm / (*norm + 1e-6)) first, as
     * torch.nn.utils.clip_grad_norm_ does; norm is backend memory and may
     * be NULL when no clipping is requested. */
    clipt_status (*adamw_update)(clipt_context *ctx, float *params,
                                 const float *grads, float *m, float *v,
                                 const clipt_param_segment *segments,
                                 int nsegments, const float *norm,
                                 const clipt_adamw_hparams *hp);
} clipt_backend;

/* The CPU backend table (lib/cpu/backend.c). */
extern const clipt_backend clipt_cpu_backend;

/* Creates and releases the CUDA state of a context (kernels/context.cu).
 * Built only with CUDA; the stubs in lib/context.c report CLIPT_ERR_NO_CUDA
 * otherwise. */
clipt_status clipt_cuda_context_init(clipt_context *ctx, int device);
void clipt_cuda_context_release(clipt_context *ctx);

/* The CUDA backend table, defined when the library is built with CUDA. */
extern const clipt_backend clipt_cuda_backend;

#ifdef __cplusplus
}
#endif

#endif /* CLIPT_BACKEND_H */
