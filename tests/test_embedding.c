/* Token + position embedding and the end-of-text gather: forward against
 * the double reference, backward against finite differences, and the
 * backward's independence from the thread count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops/embedding.h"
#include "reference.h"

/* One fp32 addition per element. */
#define FORWARD_ATOL 1e-6
#define FORWARD_RTOL 1e-6
/* Backward sums at most B*T = 60 values of [-1, 1] in fp32. */
#define BACKWARD_ATOL 1e-5
#define BACKWARD_RTOL 1e-5
#define FD_STEP 1e-6

/* Rows of equal length T packed back to back: token n has position n % T. */
typedef struct {
    const int32_t *ids;
    double *wte, *wpe;
    int B, T, C;
} emb_inputs;

static int32_t *positions(int B, int T)
{
    int32_t *pos = clipt_test_calloc((size_t)B * T, sizeof(int32_t));
    for (int i = 0; i < B * T; i++) pos[i] = i % T;
    return pos;
}

static void emb_forward(void *user, double *out)
{
    emb_inputs *in = user;
    ref_embedding(out, in->ids, in->wte, in->wpe, in->B, in->T, in->C);
}

static const struct {
    int B, T, C, V;
} shapes[] = {{1, 1, 1, 1}, {2, 3, 5, 4}, {3, 7, 13, 6}, {4, 15, 9, 50}};

START_TEST(embedding_matches_reference)
{
    clipt_context *ctx = clipt_test_cpu_context();
    int B = shapes[_i].B, T = shapes[_i].T, C = shapes[_i].C, V = shapes[_i].V;
    size_t n = (size_t)B * T * C;
    int32_t *ids = clipt_test_calloc((size_t)B * T, sizeof(int32_t));
    for (int i = 0; i < B * T; i++) ids[i] = (i * 7 + 3) % V; /* repeated ids */
    float *wte = clipt_test_calloc((size_t)V * C, sizeof(float));
    float *wpe = clipt_test_calloc((size_t)T * C, sizeof(float));
    float *out = clipt_test_calloc(n, sizeof(float));
    float *dout = clipt_test_calloc(n, sizeof(float));
    float *dwte = clipt_test_calloc((size_t)V * C, sizeof(float));
    float *dwpe = clipt_test_calloc((size_t)T * C, sizeof(float));
    clipt_fill_uniform(wte, (size_t)V * C, 51, -1.0f, 1.0f);
    clipt_fill_uniform(wpe, (size_t)T * C, 52, -1.0f, 1.0f);
    clipt_fill_uniform(dout, n, 53, -1.0f, 1.0f);
    emb_inputs in = {ids, clipt_to_double(wte, (size_t)V * C), clipt_to_double(wpe, (size_t)T * C), B, T, C};
    double *want = clipt_test_calloc(n, sizeof(double));
    emb_forward(&in, want);
    printf("embedding B=%d T=%d C=%d V=%d\n", B, T, C, V);
    int32_t *pos = positions(B, T);
    ck_assert_int_eq(clipt_cpu_embedding_forward(ctx, out, ids, pos, wte, wpe, B * T, C), CLIPT_OK);
    CLIPT_CHECK_CLOSE("forward", out, want, n, FORWARD_ATOL, FORWARD_RTOL);

    ck_assert_int_eq(clipt_cpu_embedding_backward(ctx, dwte, dwpe, dout, ids, pos, B * T, C, V), CLIPT_OK);
    double *wd = clipt_to_double(dout, n);
    double *gte = clipt_test_calloc((size_t)V * C, sizeof(double));
    double *gpe = clipt_test_calloc((size_t)T * C, sizeof(double));
    clipt_finite_differences(gte, in.wte, (size_t)V * C, wd, n, emb_forward, &in, FD_STEP);
    clipt_finite_differences(gpe, in.wpe, (size_t)T * C, wd, n, emb_forward, &in, FD_STEP);
    CLIPT_CHECK_CLOSE("dwte", dwte, gte, (size_t)V * C, BACKWARD_ATOL, BACKWARD_RTOL);
    CLIPT_CHECK_CLOSE("dwpe", dwpe, gpe, (size_t)T * C, BACKWARD_ATOL, BACKWARD_RTOL);

    free(ids); free(pos); free(wte); free(wpe); free(out); free(dout); free(dwte); free(dwpe);
    free(in.wte); free(in.wpe); free(want); free(wd); free(gte); free(gpe);
    clipt_context_free(ctx);
}
END_TEST

START_TEST(embedding_backward_same_bits_any_thread_count)
{
    /* Large enough to run threaded; ids repeat so rows share gradients. */
    int B = 64, T = 12, C = 100, V = 37;
    size_t n = (size_t)B * T * C;
    int32_t *ids = clipt_test_calloc((size_t)B * T, sizeof(int32_t));
    for (int i = 0; i < B * T; i++) ids[i] = (i * 13) % V;
    float *dout = clipt_test_calloc(n, sizeof(float));
    clipt_fill_uniform(dout, n, 54, -1.0f, 1.0f);
    float *d1 = clipt_test_calloc((size_t)V * C, sizeof(float));
    float *d2 = clipt_test_calloc((size_t)V * C, sizeof(float));
    clipt_context_options opts;
    clipt_context_options_init(&opts);
    opts.device = "cpu";
    clipt_context *one = NULL, *two = NULL;
    opts.num_threads = 1;
    ck_assert_int_eq(clipt_context_create(&opts, &one), CLIPT_OK);
    opts.num_threads = 2;
    ck_assert_int_eq(clipt_context_create(&opts, &two), CLIPT_OK);
    int32_t *pos = positions(B, T);
    ck_assert_int_eq(clipt_cpu_embedding_backward(one, d1, NULL, dout, ids, pos, B * T, C, V), CLIPT_OK);
    ck_assert_int_eq(clipt_cpu_embedding_backward(two, d2, NULL, dout, ids, pos, B * T, C, V), CLIPT_OK);
    ck_assert_msg(memcmp(d1, d2, (size_t)V * C * sizeof(float)) == 0,
                  "token embedding gradient differs between 1 and 2 threads");
    free(ids); free(pos); free(dout); free(d1); free(d2);
    clipt_context_free(one);
    clipt_context_free(two);
}
END_TEST

START_TEST(gather_rows_and_backward)
{
    clipt_context *ctx = clipt_test_cpu_context();
    int B = 3, T = 5, C = 4;
    float inp[60], out[12], dout[12], dinp[60] = {0};
    int32_t rows[3] = {4, 0, 2};
    for (int i = 0; i < 60; i++) inp[i] = (float)i;
    for (int i = 0; i < 12; i++) dout[i] = (float)(i + 1);
    int32_t tokens[3];
    for (int b = 0; b < B; b++) tokens[b] = b * T + rows[b];
    ck_assert_int_eq(clipt_cpu_gather_rows(ctx, out, inp, tokens, B, C), CLIPT_OK);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            ck_assert_float_eq(out[b * C + c], inp[(b * T + rows[b]) * C + c]);
    ck_assert_int_eq(clipt_cpu_gather_rows_backward(ctx, dinp, dout, tokens, B, C), CLIPT_OK);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++) {
                float want = t == rows[b] ? dout[b * C + c] : 0.0f;
                ck_assert_float_eq(dinp[(b * T + t) * C + c], want);
            }
    clipt_context_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("embedding");
    TCase *tc = tcase_create("cpu");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, embedding_matches_reference, 0, sizeof shapes / sizeof shapes[0]);
    tcase_add_test(tc, embedding_backward_same_bits_any_thread_count);
    tcase_add_test(tc, gather_rows_and_backward);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "embedding");
}
