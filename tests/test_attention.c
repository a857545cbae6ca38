/* Causal multi-head attention: fp32 forward against the double reference
 * (an explicit masked softmax matrix), the saved log-sum-exp against its
 * definition, and the backward pass against central finite differences. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "ops/attention.h"
#include "reference.h"

/* Forward: the CPU op accumulates in double and rounds once to fp32, so
 * it matches the reference to fp32 rounding of O(1) values. */
#define FORWARD_ATOL 1e-6
#define FORWARD_RTOL 1e-6
/* Backward: gradients are accumulated in fp32 over up to T = 13 key
 * positions of O(1) terms; rounding stays below 1e-6, and the finite
 * differences (h = 1e-6 on the double reference) are exact to ~1e-10. */
#define BACKWARD_ATOL 1e-5
#define BACKWARD_RTOL 1e-4
#define FD_STEP 1e-6

static const struct {
    int B, T, C, NH;
} shapes[] = {
    {1, 1, 1, 1},   /* a single token: output equals its value vector */
    {1, 1, 8, 2},
    {2, 5, 6, 3},   /* head size 2 */
    {1, 7, 10, 5},
    {3, 13, 24, 3}, /* T not a multiple of anything, head size 8 */
    {2, 12, 128, 2} /* CLIP's head size 64 */
};

typedef struct {
    double *qkv;
    int B, T, C, NH;
} att_inputs;

static void att_forward(void *user, double *out)
{
    att_inputs *in = user;
    ref_attention(out, in->qkv, in->B, in->T, in->C, in->NH);
}

START_TEST(attention_matches_reference)
{
    clipt_context *ctx = clipt_test_cpu_context();
    int B = shapes[_i].B, T = shapes[_i].T, C = shapes[_i].C, NH = shapes[_i].NH;
    int HS = C / NH;
    size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, nlse = (size_t)B * NH * T;
    float *qkv = clipt_test_calloc(nqkv, sizeof(float));
    float *out = clipt_test_calloc(nout, sizeof(float));
    float *lse = clipt_test_calloc(nlse, sizeof(float));
    float *dout = clipt_test_calloc(nout, sizeof(float));
    float *dqkv = clipt_test_calloc(nqkv, sizeof(float));
    clipt_fill_uniform(qkv, nqkv, 31 + _i, -1.5f, 1.5f);
    clipt_fill_uniform(dout, nout, 32 + _i, -1.0f, 1.0f);

    att_inputs in = {clipt_to_double(qkv, nqkv), B, T, C, NH};
    double *want = clipt_test_calloc(nout, sizeof(double));
    att_forward(&in, want);
    printf("attention B=%d T=%d C=%d NH=%d\n", B, T, C, NH);
    ck_assert_int_eq(clipt_cpu_attention_forward(ctx, out, lse, qkv, B, T, C, NH), CLIPT_OK);
    CLIPT_CHECK_CLOSE("forward", out, want, nout, FORWARD_ATOL, FORWARD_RTOL);

    /* lse[b,h,t] = log sum_{j<=t} exp(q_t . k_j / sqrt(HS)) */
    double *want_lse = clipt_test_calloc(nlse, sizeof(double));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                double sum = 0.0;
                for (int j = 0; j <= t; j++) {
                    double dot = 0.0;
                    for (int k = 0; k < HS; k++)
                        dot += in.qkv[((size_t)b * T + t) * 3 * C + h * HS + k] *
                               in.qkv[((size_t)b * T + j) * 3 * C + C + h * HS + k];
                    sum += exp(dot / sqrt((double)HS));
                }
                want_lse[((size_t)b * NH + h) * T + t] = log(sum);
            }
    CLIPT_CHECK_CLOSE("log-sum-exp", lse, want_lse, nlse, FORWARD_ATOL, FORWARD_RTOL);

    ck_assert_int_eq(clipt_cpu_attention_backward(ctx, dqkv, dout, qkv, out, lse, B, T, C, NH), CLIPT_OK);
    double *wdout = clipt_to_double(dout, nout);
    double *g = clipt_test_calloc(nqkv, sizeof(double));
    clipt_finite_differences(g, in.qkv, nqkv, wdout, nout, att_forward, &in, FD_STEP);
    CLIPT_CHECK_CLOSE("dqkv", dqkv, g, nqkv, BACKWARD_ATOL, BACKWARD_RTOL);

    free(qkv); free(out); free(lse); free(dout); free(dqkv); free(in.qkv);
    free(want); free(want_lse); free(wdout); free(g);
    clipt_context_free(ctx);
}
END_TEST

START_TEST(attention_is_causal)
{
    /* Changing the last token's q, k and v must leave every earlier
     * output row exactly as it was. */
    clipt_context *ctx = clipt_test_cpu_context();
    int B = 1, T = 6, C = 8, NH = 2;
    size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C;
    float *qkv = clipt_test_calloc(nqkv, sizeof(float));
    float *out1 = clipt_test_calloc(nout, sizeof(float));
    float *out2 = clipt_test_calloc(nout, sizeof(float));
    float lse[12];
    clipt_fill_uniform(qkv, nqkv, 5, -1.0f, 1.0f);
    ck_assert_int_eq(clipt_cpu_attention_forward(ctx, out1, lse, qkv, B, T, C, NH), CLIPT_OK);
    for (int c = 0; c < 3 * C; c++) qkv[(size_t)(T - 1) * 3 * C + c] += 10.0f;
    ck_assert_int_eq(clipt_cpu_attention_forward(ctx, out2, lse, qkv, B, T, C, NH), CLIPT_OK);
    for (size_t i = 0; i < (size_t)(T - 1) * C; i++) {
        ck_assert_msg(out1[i] == out2[i], "output %zu changed from %g to %g", i,
                      (double)out1[i], (double)out2[i]);
    }
    free(qkv); free(out1); free(out2);
    clipt_context_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("attention");
    TCase *tc = tcase_create("cpu");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, attention_matches_reference, 0, sizeof shapes / sizeof shapes[0]);
    tcase_add_test(tc, attention_is_causal);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "attention");
}
