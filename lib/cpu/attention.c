/* CPU reference: causal multi-head self-attention over packed rows.
 * Shapes: qkv (N,3C) for N packed tokens, with q in channels [0,C), k in
 * [C,2C), v in [2C,3C); head h uses channels [h*HS, (h+1)*HS) of each,
 * HS = C / NH. Row b owns tokens [offsets[b], offsets[b+1]).
 * out (N,C) heads merged back; lse (N,NH) log-sum-exp of each row of
 * scaled scores, which the backward pass uses to rebuild the probabilities
 * instead of storing (B,NH,T,T). Dot products run in fp32 with OpenMP SIMD
 * reductions (vectorised, summed in lanes); softmax sums run in double. */
#include <math.h>
#include <stdlib.h>

#include "../ops/attention.h"

clipt_status clipt_cpu_attention_forward(clipt_context *ctx, float *out,
                                         float *lse, const float *qkv,
                                         const int32_t *offsets, int B, int N,
                                         int C, int NH, int max_len)
{
    int HS = C / NH;
    int C3 = 3 * C;
    float scale = (float)(1.0 / sqrt((double)HS));
    clipt_status status = CLIPT_OK;

#pragma omp parallel num_threads(ctx->num_threads) if ((long)N * NH * max_len * HS > 262144)
    {
        float *score = malloc((size_t)max_len * sizeof(float));
        float *acc = malloc((size_t)HS * sizeof(float));
        if (score == NULL || acc == NULL) {
#pragma omp critical
            status = clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                                     "attention_forward: out of host memory "
                                     "for a row of %d scores", max_len);
        } else {
#pragma omp for schedule(static)
            for (int bh = 0; bh < B * NH; bh++) {
                int b = bh / NH, h = bh % NH;
                int start = offsets[b], len = offsets[b + 1] - offsets[b];
                const float *base = qkv + (size_t)start * C3;
                for (int t = 0; t < len; t++) {
                    const float *q = base + (size_t)t * C3 + h * HS;

                    /* scores of query t against keys 0..t (causal), and max */
                    float maxval = -INFINITY;
                    for (int j = 0; j <= t; j++) {
                        const float *k = base + (size_t)j * C3 + C + h * HS;
                        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                        for (int i = 0; i < HS; i++) dot += q[i] * k[i];
                        score[j] = dot * scale;
                        if (score[j] > maxval) maxval = score[j];
                    }

                    /* softmax weights, unnormalised, and their sum */
                    double sum = 0.0;
                    for (int j = 0; j <= t; j++) {
                        score[j] = expf(score[j] - maxval);
                        sum += score[j];
                    }

                    /* weighted sum of values */
                    for (int i = 0; i < HS; i++) acc[i] = 0.0f;
                    for (int j = 0; j <= t; j++) {
                        const float *v = base + (size_t)j * C3 + 2 * C + h * HS;
                        float w = score[j];
#pragma omp simd
                        for (int i = 0; i < HS; i++) acc[i] += w * v[i];
                    }
                    float *o = out + (size_t)(start + t) * C + h * HS;
                    float inv = (float)(1.0 / sum);
                    for (int i = 0; i < HS; i++) o[i] = acc[i] * inv;
                    lse[(size_t)(start + t) * NH + h] = (float)(maxval + log(sum));
                }
            }
        }
        free(score);
        free(acc);
    }
    return status;
}

clipt_status clipt_cpu_attention_backward(clipt_context *ctx, float *dqkv,
                                          const float *dout, const float *qkv,
                                          const float *out, const float *lse,
                                          const int32_t *offsets, int B, int N,
                                          int C, int NH, int max_len)
{
    (void)out;
    int HS = C / NH;
    int C3 = 3 * C;
    float scale = (float)(1.0 / sqrt((double)HS));
    clipt_status status = CLIPT_OK;

    /* forward: p_tj = exp(q_t.k_j * scale - lse_t) for j <= t
     *          out_t = sum_j p_tj v_j
     * dv_j += p_tj dout_t
     * dp_tj = dout_t . v_j
     * ds_tj = p_tj (dp_tj - sum_i p_ti dp_ti)
     * dq_t += scale sum_j ds_tj k_j;  dk_j += scale ds_tj q_t
     * Each (row, head) touches only its own tokens and channels, so threads
     * never share an output element. */
#pragma omp parallel num_threads(ctx->num_threads) if ((long)N * NH * max_len * HS > 262144)
    {
        float *p = malloc((size_t)max_len * sizeof(float));
        float *dp = malloc((size_t)max_len * sizeof(float));
        if (p == NULL || dp == NULL) {
#pragma omp critical
            status = clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                                     "attention_backward: out of host memory "
                                     "for a row of %d scores", max_len);
        } else {
#pragma omp for schedule(static)
            for (int bh = 0; bh < B * NH; bh++) {
                int b = bh / NH, h = bh % NH;
                int start = offsets[b], len = offsets[b + 1] - offsets[b];
                const float *base = qkv + (size_t)start * C3;
                float *dbase = dqkv + (size_t)start * C3;
                for (int t = 0; t < len; t++) {
                    const float *q = base + (size_t)t * C3 + h * HS;
                    const float *dout_t = dout + (size_t)(start + t) * C + h * HS;
                    float row_lse = lse[(size_t)(start + t) * NH + h];

                    /* rebuild the probabilities; dp = dout . v; their dot */
                    double pdp = 0.0;
                    for (int j = 0; j <= t; j++) {
                        const float *k = base + (size_t)j * C3 + C + h * HS;
                        const float *v = base + (size_t)j * C3 + 2 * C + h * HS;
                        float dot = 0.0f, dv = 0.0f;
#pragma omp simd reduction(+ : dot, dv)
                        for (int i = 0; i < HS; i++) {
                            dot += q[i] * k[i];
                            dv += dout_t[i] * v[i];
                        }
                        p[j] = expf(dot * scale - row_lse);
                        dp[j] = dv;
                        pdp += (double)p[j] * dv;
                    }

                    /* gradients of q_t, k_j and v_j */
                    float *dq = dbase + (size_t)t * C3 + h * HS;
                    float D = (float)pdp;
                    for (int j = 0; j <= t; j++) {
                        const float *k = base + (size_t)j * C3 + C + h * HS;
                        float *dk = dbase + (size_t)j * C3 + C + h * HS;
                        float *dv = dbase + (size_t)j * C3 + 2 * C + h * HS;
                        float ds = p[j] * (dp[j] - D) * scale;
                        float pj = p[j];
#pragma omp simd
                        for (int i = 0; i < HS; i++) {
                            dq[i] += ds * k[i];
                            dk[i] += ds * q[i];
                            dv[i] += pj * dout_t[i];
                        }
                    }
                }
            }
        }
        free(p);
        free(dp);
    }
    return status;
}
