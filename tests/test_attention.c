/* Causal multi-head attention over packed rows: fp32 forward against the
 * double reference (an explicit masked softmax matrix), the saved
 * log-sum-exp against its definition, and the backward pass against central
 * finite differences; rows of equal and of mixed lengths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "ops/attention.h"
#include "reference.h"

/* Forward: fp32 dot products over at most 128 channels and a softmax
 * summed in double; the rounding stays below 3e-7 on O(1) values. */
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

/* Packed rows of lengths len[0..B): the reference runs on each row alone. */
typedef struct {
    double *qkv;
    const int *len;
    int B, C, NH;
} att_inputs;

static void att_forward(void *user, double *out)
{
    att_inputs *in = user;
    size_t start = 0;
    for (int b = 0; b < in->B; b++) {
        ref_attention(out + start * in->C, in->qkv + start * 3 * in->C, 1, in->len[b], in->C, in->NH);
        start += (size_t)in->len[b];
    }
}

/* Fills offsets (B+1) from the row lengths and returns the token count. */
static int make_offsets(int32_t *offsets, const int *len, int B)
{
    offsets[0] = 0;
    for (int b = 0; b < B; b++) offsets[b + 1] = offsets[b] + len[b];
    return offsets[B];
}

/* Runs forward, log-sum-exp and backward checks on rows of lengths len. */
static void check_attention(const int *len, int B, int C, int NH, uint64_t seed)
{
    clipt_context *ctx = clipt_test_cpu_context();
    int HS = C / NH;
    int32_t *offsets = clipt_test_calloc((size_t)B + 1, sizeof(int32_t));
    int N = make_offsets(offsets, len, B);
    int max_len = 0;
    for (int b = 0; b < B; b++) max_len = len[b] > max_len ? len[b] : max_len;
    size_t nqkv = (size_t)N * 3 * C, nout = (size_t)N * C, nlse = (size_t)N * NH;
    float *qkv = clipt_test_calloc(nqkv, sizeof(float));
    float *out = clipt_test_calloc(nout, sizeof(float));
    float *lse = clipt_test_calloc(nlse, sizeof(float));
    float *dout = clipt_test_calloc(nout, sizeof(float));
    float *dqkv = clipt_test_calloc(nqkv, sizeof(float));
    clipt_fill_uniform(qkv, nqkv, seed, -1.5f, 1.5f);
    clipt_fill_uniform(dout, nout, seed + 1, -1.0f, 1.0f);

    att_inputs in = {clipt_to_double(qkv, nqkv), len, B, C, NH};
    double *want = clipt_test_calloc(nout, sizeof(double));
    att_forward(&in, want);
    ck_assert_int_eq(clipt_cpu_attention_forward(ctx, out, lse, qkv, offsets, B, N, C, NH, max_len),
                     CLIPT_OK);
    CLIPT_CHECK_CLOSE("forward", out, want, nout, FORWARD_ATOL, FORWARD_RTOL);

    /* lse[n,h] = log sum_{j<=t} exp(q_t . k_j / sqrt(HS)) within the row */
    double *want_lse = clipt_test_calloc(nlse, sizeof(double));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < len[b]; t++) {
                size_t qi = (size_t)offsets[b] + t;
                double sum = 0.0;
                for (int j = 0; j <= t; j++) {
                    size_t kj = (size_t)offsets[b] + j;
                    double dot = 0.0;
                    for (int k = 0; k < HS; k++)
                        dot += in.qkv[qi * 3 * C + h * HS + k] * in.qkv[kj * 3 * C + C + h * HS + k];
                    sum += exp(dot / sqrt((double)HS));
                }
                want_lse[qi * NH + h] = log(sum);
            }
    CLIPT_CHECK_CLOSE("log-sum-exp", lse, want_lse, nlse, FORWARD_ATOL, FORWARD_RTOL);

    ck_assert_int_eq(clipt_cpu_attention_backward(ctx, dqkv, dout, qkv, out, lse, offsets, B, N, C,
                                                  NH, max_len),
                     CLIPT_OK);
    double *wdout = clipt_to_double(dout, nout);
    double *g = clipt_test_calloc(nqkv, sizeof(double));
    clipt_finite_differences(g, in.qkv, nqkv, wdout, nout, att_forward, &in, FD_STEP);
    CLIPT_CHECK_CLOSE("dqkv", dqkv, g, nqkv, BACKWARD_ATOL, BACKWARD_RTOL);

    free(offsets); free(qkv); free(out); free(lse); free(dout); free(dqkv); free(in.qkv);
    free(want); free(want_lse); free(wdout); free(g);
    clipt_context_free(ctx);
}

START_TEST(attention_matches_reference)
{
    int B = shapes[_i].B, T = shapes[_i].T;
    int len[3];
    for (int b = 0; b < B; b++) len[b] = T;
    printf("attention B=%d T=%d C=%d NH=%d\n", B, T, shapes[_i].C, shapes[_i].NH);
    check_attention(len, B, shapes[_i].C, shapes[_i].NH, 31 + _i);
}
END_TEST

START_TEST(attention_mixed_row_lengths)
{
    /* rows of 1, 5, 3, 8 and 2 tokens packed back to back */
    static const int len[5] = {1, 5, 3, 8, 2};
    printf("attention rows of lengths 1 5 3 8 2, C=16 NH=4\n");
    check_attention(len, 5, 16, 4, 77);
}
END_TEST

START_TEST(attention_is_causal)
{
    /* Changing the last token's q, k and v must leave every earlier
     * output row exactly as it was, and rows never see each other. */
    clipt_context *ctx = clipt_test_cpu_context();
    int C = 8, NH = 2;
    static const int len[2] = {6, 4};
    int32_t offsets[3];
    int N = make_offsets(offsets, len, 2);
    size_t nqkv = (size_t)N * 3 * C, nout = (size_t)N * C;
    float *qkv = clipt_test_calloc(nqkv, sizeof(float));
    float *out1 = clipt_test_calloc(nout, sizeof(float));
    float *out2 = clipt_test_calloc(nout, sizeof(float));
    float lse[20];
    clipt_fill_uniform(qkv, nqkv, 5, -1.0f, 1.0f);
    ck_assert_int_eq(clipt_cpu_attention_forward(ctx, out1, lse, qkv, offsets, 2, N, C, NH, 6), CLIPT_OK);
    /* change the last token of row 0 */
    for (int c = 0; c < 3 * C; c++) qkv[(size_t)5 * 3 * C + c] += 10.0f;
    ck_assert_int_eq(clipt_cpu_attention_forward(ctx, out2, lse, qkv, offsets, 2, N, C, NH, 6), CLIPT_OK);
    for (size_t i = 0; i < nout; i++) {
        if (i / C == 5) continue;
        ck_assert_msg(out1[i] == out2[i], "output %zu changed from %g to %g", i, (double)out1[i],
                      (double)out2[i]);
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
    tcase_add_test(tc, attention_mixed_row_lengths);
    tcase_add_test(tc, attention_is_causal);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "attention");
}
