/* CPU reference: global gradient norm and AdamW, as torch.optim.AdamW and
 * torch.nn.utils.clip_grad_norm_ define them:
 *   g     <- g * min(1, max_norm / (|g| + 1e-6))      (when clipping)
 *   theta <- theta (1 - lr wd)                         (decayed tensors)
 *   m     <- beta1 m + (1 - beta1) g
 *   v     <- beta2 v + (1 - beta2) g^2
 *   theta <- theta - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * The norm is summed in double over fixed blocks of 65536 elements, then the
 * block sums in order, so it does not depend on the thread count. */
#include <math.h>
#include <stdlib.h>

#include "../ops/optimizer.h"

#define NORM_BLOCK 65536

clipt_status clipt_cpu_grad_norm(clipt_context *ctx, float *norm,
                                 const float *grads,
                                 const clipt_param_segment *segments,
                                 int nsegments)
{
    double total = 0.0;
    for (int s = 0; s < nsegments; s++) {
        const float *g = grads + segments[s].offset;
        long count = (long)segments[s].count;
        long nblocks = (count + NORM_BLOCK - 1) / NORM_BLOCK;
        double *partial = malloc((size_t)(nblocks > 0 ? nblocks : 1) * sizeof(double));
        if (partial == NULL) {
            return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                                   "grad_norm: out of host memory for %ld "
                                   "partial sums", nblocks);
        }
#pragma omp parallel for num_threads(ctx->num_threads) if (nblocks > 1)
        for (long blk = 0; blk < nblocks; blk++) {
            long i0 = blk * NORM_BLOCK;
            long i1 = i0 + NORM_BLOCK < count ? i0 + NORM_BLOCK : count;
            double sum = 0.0;
            for (long i = i0; i < i1; i++) sum += (double)g[i] * g[i];
            partial[blk] = sum;
        }
        for (long blk = 0; blk < nblocks; blk++) total += partial[blk];
        free(partial);
    }
    *norm = (float)sqrt(total);
    return CLIPT_OK;
}

clipt_status clipt_cpu_adamw_update(clipt_context *ctx, float *params,
                                    const float *grads, float *m, float *v,
                                    const clipt_param_segment *segments,
                                    int nsegments, const float *norm,
                                    const clipt_adamw_hparams *hp)
{
    if (hp->step < 1) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "adamw_update: step is %lld, must be >= 1",
                               (long long)hp->step);
    }
    float scale = 1.0f;
    if (hp->max_grad_norm > 0.0 && norm != NULL) {
        double coef = hp->max_grad_norm / ((double)*norm + 1e-6);
        if (coef < 1.0) scale = (float)coef;
    }
    double bc1 = 1.0 - pow(hp->beta1, (double)hp->step);
    double bc2_sqrt = sqrt(1.0 - pow(hp->beta2, (double)hp->step));
    float step_size = (float)(hp->lr / bc1);
    float bc2_sqrt_f = (float)bc2_sqrt;
    float beta1 = (float)hp->beta1, beta2 = (float)hp->beta2;
    float one_minus_beta1 = (float)(1.0 - hp->beta1);
    float one_minus_beta2 = (float)(1.0 - hp->beta2);
    float eps = (float)hp->eps;

    for (int s = 0; s < nsegments; s++) {
        size_t off = segments[s].offset;
        long count = (long)segments[s].count;
        float decay = segments[s].decayed ? (float)(1.0 - hp->lr * hp->weight_decay) : 1.0f;
        float *p = params + off, *mm = m + off, *vv = v + off;
        const float *g = grads + off;
#pragma omp parallel for num_threads(ctx->num_threads) if (count > 65536)
        for (long i = 0; i < count; i++) {
            float gi = g[i] * scale;
            p[i] *= decay;
            mm[i] = beta1 * mm[i] + one_minus_beta1 * gi;
            vv[i] = beta2 * vv[i] + one_minus_beta2 * gi * gi;
            float denom = sqrtf(vv[i]) / bc2_sqrt_f + eps;
            p[i] -= step_size * mm[i] / denom;
        }
    }
    return CLIPT_OK;
}
