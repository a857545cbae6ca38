/* CPU reference: LayerNorm over the last axis.
 * Shapes: inp, out, dinp, dout (N,C); weight, bias (C); mean, rstd (N).
 * Statistics are accumulated in double; rstd = 1 / sqrt(var + eps) with the
 * biased variance, as torch.nn.LayerNorm computes it. */
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../ops/layernorm.h"

clipt_status clipt_cpu_layernorm_forward(clipt_context *ctx, float *out,
                                         float *mean, float *rstd,
                                         const float *inp, const float *weight,
                                         const float *bias, int N, int C,
                                         float eps)
{
#pragma omp parallel for num_threads(ctx->num_threads) if ((long)N * C > 65536)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;

        /* mean, then the variance around it (two passes) */
        double sum = 0.0;
        for (int c = 0; c < C; c++) sum += x[c];
        double m = sum / C;
        double var = 0.0;
        for (int c = 0; c < C; c++) {
            double d = x[c] - m;
            var += d * d;
        }
        var /= C;
        double s = 1.0 / sqrt(var + (double)eps);

        /* normalise, scale and shift */
        for (int c = 0; c < C; c++) {
            float norm = (float)((x[c] - m) * s);
            y[c] = norm * weight[c] + bias[c];
        }
        if (mean != NULL) mean[n] = (float)m;
        if (rstd != NULL) rstd[n] = (float)s;
    }
    return CLIPT_OK;
}

clipt_status clipt_cpu_layernorm_backward(clipt_context *ctx, float *dinp,
                                          float *dweight, float *dbias,
                                          const float *dout, const float *inp,
                                          const float *weight,
                                          const float *mean, const float *rstd,
                                          int N, int C)
{
    int parallel = (long)N * C > 65536;

    /* forward: y = norm * weight + bias, norm = (x - mean) * rstd
     * dnorm = dy * weight
     * dx = rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm)) */
    if (dinp != NULL) {
#pragma omp parallel for num_threads(ctx->num_threads) if (parallel)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C;
            const float *dy = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            float m = mean[n], s = rstd[n];
            double dnorm_mean = 0.0, dnorm_norm_mean = 0.0;
            for (int c = 0; c < C; c++) {
                float norm = (x[c] - m) * s;
                float dnorm = dy[c] * weight[c];
                dnorm_mean += dnorm;
                dnorm_norm_mean += (double)dnorm * norm;
            }
            dnorm_mean /= C;
            dnorm_norm_mean /= C;
            for (int c = 0; c < C; c++) {
                float norm = (x[c] - m) * s;
                float dnorm = dy[c] * weight[c];
                dx[c] += (float)((dnorm - dnorm_mean - norm * dnorm_norm_mean) * s);
            }
        }
    }

    /* dweight = sum over rows of dy * norm; dbias = sum over rows of dy.
     * Each thread owns a channel range and walks rows in order, so the sums
     * do not depend on the thread count. */
    if (dweight != NULL || dbias != NULL) {
#pragma omp parallel num_threads(ctx->num_threads) if (parallel)
        {
            int nthreads = 1, tid = 0;
#ifdef _OPENMP
            nthreads = omp_get_num_threads();
            tid = omp_get_thread_num();
#endif
            int c0 = (int)((long)C * tid / nthreads);
            int c1 = (int)((long)C * (tid + 1) / nthreads);
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * C;
                const float *dy = dout + (size_t)n * C;
                float m = mean[n], s = rstd[n];
                for (int c = c0; c < c1; c++) {
                    if (dweight != NULL) dweight[c] += dy[c] * ((x[c] - m) * s);
                    if (dbias != NULL) dbias[c] += dy[c];
                }
            }
        }
    }
    return CLIPT_OK;
}
