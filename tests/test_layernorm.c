/* LayerNorm: fp32 forward against the double reference, and the backward
 * pass against central finite differences of the double reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "ops/layernorm.h"
#include "reference.h"

/* Forward: fp32 arithmetic on O(1) values over at most 64 channels stays
 * within a few units of 2^-24 relative; 1e-5 leaves a wide margin while any
 * formula error is O(1). */
#define FORWARD_ATOL 1e-5
#define FORWARD_RTOL 1e-5
/* Backward: the fp32 analytic gradient against differences of the double
 * reference (h = 1e-6, truncation error near 1e-12). An fp32 gradient
 * element sums C <= 64 terms of size at most rstd |dy w|, so its rounding
 * error is below 64 * 6e-8 = 4e-6 of that term scale: atol is 1e-5 of it.
 * Cancellation can leave a tiny gradient (C = 2 gives nearly 0), which is
 * why the bound is absolute in the term scale, plus 1e-3 relative. */
#define BACKWARD_RTOL 1e-3
#define BACKWARD_ATOL_SCALE 1e-5
#define FD_STEP 1e-6

static const struct {
    int N, C;
} shapes[] = {{1, 1}, {1, 2}, {3, 7}, {5, 13}, {2, 64}, {4, 33}};

typedef struct {
    double *x, *w, *b;
    int N, C;
} ln_inputs;

static void ln_forward(void *user, double *out)
{
    ln_inputs *in = user;
    ref_layernorm(out, in->x, in->w, in->b, in->N, in->C, 1e-5);
}

START_TEST(layernorm_matches_reference)
{
    clipt_context *ctx = NULL;
    clipt_context_options opts;
    clipt_context_options_init(&opts);
    opts.device = "cpu";
    ck_assert_int_eq(clipt_context_create(&opts, &ctx), CLIPT_OK);

    int N = shapes[_i].N, C = shapes[_i].C;
    size_t n = (size_t)N * C;
    float *x = clipt_test_calloc(n, sizeof(float));
    float *w = clipt_test_calloc(C, sizeof(float));
    float *b = clipt_test_calloc(C, sizeof(float));
    float *y = clipt_test_calloc(n, sizeof(float));
    float *dy = clipt_test_calloc(n, sizeof(float));
    float *mean = clipt_test_calloc(N, sizeof(float));
    float *rstd = clipt_test_calloc(N, sizeof(float));
    float *dx = clipt_test_calloc(n, sizeof(float));
    float *dw = clipt_test_calloc(C, sizeof(float));
    float *db = clipt_test_calloc(C, sizeof(float));
    clipt_fill_uniform(x, n, 11 + _i, -2.0f, 3.0f);
    clipt_fill_uniform(w, C, 12 + _i, 0.5f, 1.5f);
    clipt_fill_uniform(b, C, 13 + _i, -0.5f, 0.5f);
    clipt_fill_uniform(dy, n, 14 + _i, -1.0f, 1.0f);

    ln_inputs in = {clipt_to_double(x, n), clipt_to_double(w, C),
                    clipt_to_double(b, C), N, C};
    double *want = clipt_test_calloc(n, sizeof(double));
    ln_forward(&in, want);

    printf("layernorm N=%d C=%d\n", N, C);
    ck_assert_int_eq(clipt_cpu_layernorm_forward(ctx, y, mean, rstd, x, w, b, N, C, 1e-5f), CLIPT_OK);
    CLIPT_CHECK_CLOSE("forward", y, want, n, FORWARD_ATOL, FORWARD_RTOL);

    ck_assert_int_eq(clipt_cpu_layernorm_backward(ctx, dx, dw, db, dy, x, w, mean, rstd, N, C), CLIPT_OK);
    double *wdy = clipt_to_double(dy, n);
    double max_rstd = 0.0;
    for (int r = 0; r < N; r++) max_rstd = fmax(max_rstd, rstd[r]);
    double term = max_rstd * 1.5 * clipt_max_abs(wdy, n); /* |w| < 1.5 */
    double atol = BACKWARD_ATOL_SCALE * term;
    double *gx = clipt_test_calloc(n, sizeof(double));
    double *gw = clipt_test_calloc(C, sizeof(double));
    double *gb = clipt_test_calloc(C, sizeof(double));
    clipt_finite_differences(gx, in.x, n, wdy, n, ln_forward, &in, FD_STEP);
    clipt_finite_differences(gw, in.w, C, wdy, n, ln_forward, &in, FD_STEP);
    clipt_finite_differences(gb, in.b, C, wdy, n, ln_forward, &in, FD_STEP);
    CLIPT_CHECK_CLOSE("dinp", dx, gx, n, atol, BACKWARD_RTOL);
    CLIPT_CHECK_CLOSE("dweight", dw, gw, C, BACKWARD_ATOL_SCALE * N * clipt_max_abs(wdy, n) * 5.0, BACKWARD_RTOL);
    CLIPT_CHECK_CLOSE("dbias", db, gb, C, BACKWARD_ATOL_SCALE * N * clipt_max_abs(wdy, n), BACKWARD_RTOL);

    /* Gradients accumulate: a second backward pass doubles them. */
    ck_assert_int_eq(clipt_cpu_layernorm_backward(ctx, dx, dw, db, dy, x, w, mean, rstd, N, C), CLIPT_OK);
    for (size_t i = 0; i < n; i++) gx[i] *= 2.0;
    for (int i = 0; i < C; i++) gb[i] *= 2.0;
    CLIPT_CHECK_CLOSE("dinp accumulated twice", dx, gx, n, atol, BACKWARD_RTOL);
    CLIPT_CHECK_CLOSE("dbias accumulated twice", db, gb, C, BACKWARD_ATOL_SCALE * N * clipt_max_abs(wdy, n), BACKWARD_RTOL);

    free(x); free(w); free(b); free(y); free(dy); free(mean); free(rstd);
    free(dx); free(dw); free(db); free(in.x); free(in.w); free(in.b);
    free(want); free(wdy); free(gx); free(gw); free(gb);
    clipt_context_free(ctx);
}
END_TEST

START_TEST(layernorm_constant_row_is_finite)
{
    /* A row with zero variance normalises to 0, so the output is the bias.
     * The input gradient is rstd (dnorm - mean(dnorm)) with rstd = eps^-0.5:
     * large but finite, never NaN. */
    clipt_context *ctx = NULL;
    clipt_context_options opts;
    clipt_context_options_init(&opts);
    opts.device = "cpu";
    ck_assert_int_eq(clipt_context_create(&opts, &ctx), CLIPT_OK);
    float x[8] = {3, 3, 3, 3, 3, 3, 3, 3}, w[8], b[8], y[8], dy[8], dx[8] = {0};
    float dw[8] = {0}, db[8] = {0}, mean, rstd;
    clipt_fill_uniform(w, 8, 1, 0.5f, 1.5f);
    clipt_fill_uniform(b, 8, 2, -1.0f, 1.0f);
    clipt_fill_uniform(dy, 8, 3, -1.0f, 1.0f);
    ck_assert_int_eq(clipt_cpu_layernorm_forward(ctx, y, &mean, &rstd, x, w, b, 1, 8, 1e-5f), CLIPT_OK);
    ck_assert_int_eq(clipt_cpu_layernorm_backward(ctx, dx, dw, db, dy, x, w, &mean, &rstd, 1, 8), CLIPT_OK);
    double want[8], dnorm_mean = 0.0;
    for (int i = 0; i < 8; i++) dnorm_mean += (double)dy[i] * w[i] / 8.0;
    for (int i = 0; i < 8; i++) want[i] = ((double)dy[i] * w[i] - dnorm_mean) / sqrt(1e-5);
    for (int i = 0; i < 8; i++) ck_assert_float_eq_tol(y[i], b[i], 1e-6f);
    /* relative 1e-5: fp32 rstd and a sum of 8 terms */
    CLIPT_CHECK_CLOSE("dinp of a constant row", dx, want, 8, 1e-5 * 316.0, 1e-5);
    clipt_context_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layernorm");
    TCase *tc = tcase_create("cpu");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, layernorm_matches_reference, 0, sizeof shapes / sizeof shapes[0]);
    tcase_add_test(tc, layernorm_constant_row_is_finite);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "layernorm");
}
