/* QuickGELU and GELU forward and backward, and elementwise addition. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops/activation.h"
#include "reference.h"

/* Forward: one fp32 exp/erf per element, accurate to a few ulp. */
#define FORWARD_ATOL 1e-6
#define FORWARD_RTOL 1e-6
/* Backward: the derivative formula in fp32 against finite differences of
 * the double function (h = 1e-6): a few ulp of O(1) values. */
#define BACKWARD_ATOL 1e-6
#define BACKWARD_RTOL 1e-5
#define FD_STEP 1e-6

typedef struct {
    double *x;
    size_t n;
    clipt_activation kind;
} act_inputs;

static void act_forward(void *user, double *out)
{
    act_inputs *in = user;
    ref_activation(out, in->x, in->n, in->kind);
}

static const clipt_activation kinds[] = {CLIPT_ACTIVATION_QUICK_GELU, CLIPT_ACTIVATION_GELU};
static const char *kind_names[] = {"quick_gelu", "gelu"};

START_TEST(activation_matches_reference)
{
    clipt_context *ctx = clipt_test_cpu_context();
    size_t n = 1001; /* odd, and covers [-8, 8] including the tails */
    float *x = clipt_test_calloc(n, sizeof(float));
    float *y = clipt_test_calloc(n, sizeof(float));
    float *dy = clipt_test_calloc(n, sizeof(float));
    float *dx = clipt_test_calloc(n, sizeof(float));
    clipt_fill_uniform(x, n, 41, -8.0f, 8.0f);
    x[0] = 0.0f;
    clipt_fill_uniform(dy, n, 42, -1.0f, 1.0f);
    act_inputs in = {clipt_to_double(x, n), n, kinds[_i]};
    double *want = clipt_test_calloc(n, sizeof(double));
    act_forward(&in, want);
    printf("activation %s\n", kind_names[_i]);
    ck_assert_int_eq(clipt_cpu_activation_forward(ctx, y, x, n, kinds[_i]), CLIPT_OK);
    CLIPT_CHECK_CLOSE("forward", y, want, n, FORWARD_ATOL, FORWARD_RTOL);
    ck_assert_int_eq(clipt_cpu_activation_backward(ctx, dx, dy, x, n, kinds[_i]), CLIPT_OK);
    /* The function is elementwise, so differences of sum(dy * f(x)) with
     * respect to each x_i give dy_i f'(x_i). */
    double *wdy = clipt_to_double(dy, n);
    double *g = clipt_test_calloc(n, sizeof(double));
    clipt_finite_differences(g, in.x, n, wdy, n, act_forward, &in, FD_STEP);
    CLIPT_CHECK_CLOSE("dinp", dx, g, n, BACKWARD_ATOL, BACKWARD_RTOL);
    free(x); free(y); free(dy); free(dx); free(in.x); free(want); free(wdy); free(g);
    clipt_context_free(ctx);
}
END_TEST

START_TEST(activation_rejects_unknown_kind)
{
    clipt_context *ctx = clipt_test_cpu_context();
    float x = 1.0f, y = 0.0f;
    ck_assert_int_eq(clipt_cpu_activation_forward(ctx, &y, &x, 1, (clipt_activation)7),
                     CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "unknown activation"));
    clipt_context_free(ctx);
}
END_TEST

START_TEST(add_is_elementwise_and_may_alias)
{
    clipt_context *ctx = clipt_test_cpu_context();
    float a[5] = {1, 2, 3, 4, 5}, b[5] = {10, 20, 30, 40, 50};
    ck_assert_int_eq(clipt_cpu_add(ctx, a, a, b, 5), CLIPT_OK);
    for (int i = 0; i < 5; i++) ck_assert_float_eq(a[i], (float)(11 * (i + 1)));
    clipt_context_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("activation");
    TCase *tc = tcase_create("cpu");
    tcase_add_loop_test(tc, activation_matches_reference, 0, 2);
    tcase_add_test(tc, activation_rejects_unknown_kind);
    tcase_add_test(tc, add_is_elementwise_and_may_alias);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "activation");
}
