/* Linear layers: fp32 forward against the double reference, backward
 * against central finite differences of the double reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "ops/matmul.h"
#include "reference.h"

/* Forward: sums of C <= 70 products of O(1) values in fp32 (sgemm may
 * reorder them); 1e-5 absolute and relative is about 20x the rounding. */
#define FORWARD_ATOL 1e-5
#define FORWARD_RTOL 1e-5
/* Backward: each gradient element sums N or OC products of values in
 * [-1, 1], so fp32 rounding is below 70 * 6e-8 = 4e-6 absolute; finite
 * differences of the double reference (h = 1e-6) are exact to ~1e-10. */
#define BACKWARD_ATOL 2e-5
#define BACKWARD_RTOL 1e-4
#define FD_STEP 1e-6

static const struct {
    int N, C, OC;
} shapes[] = {{1, 1, 1}, {1, 5, 3}, {7, 13, 11}, {16, 64, 48}, {5, 3, 70}, {33, 17, 9}};

typedef struct {
    double *x, *w, *b;
    int N, C, OC;
} mm_inputs;

static void mm_forward(void *user, double *out)
{
    mm_inputs *in = user;
    ref_matmul(out, in->x, in->w, in->b, in->N, in->C, in->OC);
}

START_TEST(matmul_matches_reference)
{
    clipt_context *ctx = clipt_test_cpu_context();
    int N = shapes[_i].N, C = shapes[_i].C, OC = shapes[_i].OC;
    size_t nx = (size_t)N * C, nw = (size_t)OC * C, ny = (size_t)N * OC;
    float *x = clipt_test_calloc(nx, sizeof(float));
    float *w = clipt_test_calloc(nw, sizeof(float));
    float *b = clipt_test_calloc(OC, sizeof(float));
    float *y = clipt_test_calloc(ny, sizeof(float));
    float *dy = clipt_test_calloc(ny, sizeof(float));
    float *dx = clipt_test_calloc(nx, sizeof(float));
    float *dw = clipt_test_calloc(nw, sizeof(float));
    float *db = clipt_test_calloc(OC, sizeof(float));
    clipt_fill_uniform(x, nx, 21 + _i, -1.0f, 1.0f);
    clipt_fill_uniform(w, nw, 22 + _i, -1.0f, 1.0f);
    clipt_fill_uniform(b, OC, 23 + _i, -1.0f, 1.0f);
    clipt_fill_uniform(dy, ny, 24 + _i, -1.0f, 1.0f);

    mm_inputs in = {clipt_to_double(x, nx), clipt_to_double(w, nw), clipt_to_double(b, OC), N, C, OC};
    double *want = clipt_test_calloc(ny, sizeof(double));
    mm_forward(&in, want);
    printf("matmul N=%d C=%d OC=%d\n", N, C, OC);
    ck_assert_int_eq(clipt_cpu_matmul_forward(ctx, y, x, w, b, N, C, OC), CLIPT_OK);
    CLIPT_CHECK_CLOSE("forward", y, want, ny, FORWARD_ATOL, FORWARD_RTOL);

    /* without a bias */
    double *bias_saved = in.b;
    in.b = NULL;
    mm_forward(&in, want);
    ck_assert_int_eq(clipt_cpu_matmul_forward(ctx, y, x, w, NULL, N, C, OC), CLIPT_OK);
    CLIPT_CHECK_CLOSE("forward without bias", y, want, ny, FORWARD_ATOL, FORWARD_RTOL);
    in.b = bias_saved;

    ck_assert_int_eq(clipt_cpu_matmul_backward(ctx, dx, dw, db, dy, x, w, N, C, OC), CLIPT_OK);
    double *wdy = clipt_to_double(dy, ny);
    double *gx = clipt_test_calloc(nx, sizeof(double));
    double *gw = clipt_test_calloc(nw, sizeof(double));
    double *gb = clipt_test_calloc(OC, sizeof(double));
    clipt_finite_differences(gx, in.x, nx, wdy, ny, mm_forward, &in, FD_STEP);
    clipt_finite_differences(gw, in.w, nw, wdy, ny, mm_forward, &in, FD_STEP);
    clipt_finite_differences(gb, in.b, OC, wdy, ny, mm_forward, &in, FD_STEP);
    CLIPT_CHECK_CLOSE("dinp", dx, gx, nx, BACKWARD_ATOL, BACKWARD_RTOL);
    CLIPT_CHECK_CLOSE("dweight", dw, gw, nw, BACKWARD_ATOL, BACKWARD_RTOL);
    CLIPT_CHECK_CLOSE("dbias", db, gb, OC, BACKWARD_ATOL, BACKWARD_RTOL);

    /* NULL gradients are skipped, the others still accumulate */
    ck_assert_int_eq(clipt_cpu_matmul_backward(ctx, NULL, dw, NULL, dy, x, w, N, C, OC), CLIPT_OK);
    for (size_t i = 0; i < nw; i++) gw[i] *= 2.0;
    CLIPT_CHECK_CLOSE("dweight accumulated, dinp skipped", dw, gw, nw, 2 * BACKWARD_ATOL, BACKWARD_RTOL);
    CLIPT_CHECK_CLOSE("dbias untouched", db, gb, OC, BACKWARD_ATOL, BACKWARD_RTOL);

    free(x); free(w); free(b); free(y); free(dy); free(dx); free(dw); free(db);
    free(in.x); free(in.w); free(in.b); free(want); free(wdy); free(gx); free(gw); free(gb);
    clipt_context_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("matmul");
    TCase *tc = tcase_create("cpu");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, matmul_matches_reference, 0, sizeof shapes / sizeof shapes[0]);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "matmul");
}
