/* The training loss: against PyTorch (F.cosine_similarity + F.mse_loss,
 * fixture from tests/oracle/torch_loss_adamw.py), against the double
 * reference with finite differences, and at zero-norm embeddings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "ops/loss.h"
#include "reference.h"

/* Against PyTorch: both compute in fp32 from the same fp32 inputs (the
 * library sums in double), so values agree to a few ulp: 1e-6 relative.
 * The gradient of the zero embedding is of order 1/eps = 1e8, where the two
 * differ only in rounding, so the bound is relative. */
#define TORCH_ATOL 1e-6
#define TORCH_RTOL 2e-6
/* Against the double reference: fp32 rounding of O(1) values. */
#define REF_ATOL 1e-6
#define REF_RTOL 1e-6
/* Gradient against finite differences (h = 1e-6 on the double loss). */
#define FD_ATOL 1e-6
#define FD_RTOL 1e-5
#define FD_STEP 1e-6

START_TEST(loss_matches_torch)
{
    clipt_context *ctx = clipt_test_cpu_context();
    enum { U = 6, P = 10, N = 9 };
    clipt_fixture *fx = clipt_fixture_open("tests/fixtures/loss_adamw_torch.txt", "loss-adamw", 1);
    double dims[4], E_d[U * P], E0_d[U * P], a_d[N], b_d[N], t_d[N], cos_w[N], losses_w[3], dE_w[U * P];
    clipt_fixture_next(fx, "loss_dims", dims, 4);
    ck_assert_msg(dims[0] == U && dims[1] == P && dims[2] == N, "fixture shapes differ");
    clipt_fixture_next(fx, "E", E_d, U * P);
    clipt_fixture_next(fx, "E0", E0_d, U * P);
    clipt_fixture_next(fx, "a", a_d, N);
    clipt_fixture_next(fx, "b", b_d, N);
    clipt_fixture_next(fx, "target", t_d, N);
    clipt_fixture_next(fx, "cos", cos_w, N);
    clipt_fixture_next(fx, "losses", losses_w, 3);
    clipt_fixture_next(fx, "dE", dE_w, U * P);
    clipt_fixture_close(fx);

    float E[U * P], E0[U * P], target[N], cos[N], losses[3], dE[U * P] = {0};
    int32_t a[N], b[N];
    for (int i = 0; i < U * P; i++) {
        E[i] = (float)E_d[i];
        E0[i] = (float)E0_d[i];
    }
    for (int n = 0; n < N; n++) {
        a[n] = (int32_t)a_d[n];
        b[n] = (int32_t)b_d[n];
        target[n] = (float)t_d[n];
    }
    ck_assert_int_eq(clipt_cpu_cosine_loss(ctx, losses, cos, dE, E, E0, a, b, target, N, U, P, 0.7f),
                     CLIPT_OK);
    CLIPT_CHECK_CLOSE("losses (total, distance, regulariser)", losses, losses_w, 3, TORCH_ATOL, TORCH_RTOL);
    CLIPT_CHECK_CLOSE("cosine similarities", cos, cos_w, N, TORCH_ATOL, TORCH_RTOL);
    CLIPT_CHECK_CLOSE("dE", dE, dE_w, U * P, TORCH_ATOL, TORCH_RTOL);
    clipt_context_free(ctx);
}
END_TEST

typedef struct {
    double *E, *E0, *target;
    const int32_t *a, *b;
    int N, U, P;
    double lambda;
} loss_inputs;

static void loss_forward(void *user, double *out)
{
    loss_inputs *in = user;
    double losses[3];
    ref_cosine_loss(losses, in->E, in->E0, in->a, in->b, in->target, in->N, in->U, in->P, in->lambda);
    out[0] = losses[0];
}

START_TEST(loss_gradient_matches_finite_differences)
{
    clipt_context *ctx = clipt_test_cpu_context();
    enum { U = 7, P = 13, N = 11 };
    int32_t a[N] = {0, 1, 2, 3, 4, 5, 6, 0, 3, 3, 2};
    int32_t b[N] = {1, 2, 3, 4, 5, 6, 0, 1, 3, 5, 6}; /* a repeat and a self pair */
    float E[U * P], E0[U * P], target[N], losses[3], dE[U * P] = {0};
    clipt_fill_uniform(E, U * P, 61, -1.0f, 1.0f);
    clipt_fill_uniform(E0, U * P, 62, -1.0f, 1.0f);
    clipt_fill_uniform(target, N, 63, 0.0f, 1.0f);
    loss_inputs in = {clipt_to_double(E, U * P), clipt_to_double(E0, U * P), clipt_to_double(target, N),
                      a, b, N, U, P, 0.5};
    double want[3];
    ref_cosine_loss(want, in.E, in.E0, a, b, in.target, N, U, P, 0.5);
    ck_assert_int_eq(clipt_cpu_cosine_loss(ctx, losses, NULL, dE, E, E0, a, b, target, N, U, P, 0.5f), CLIPT_OK);
    CLIPT_CHECK_CLOSE("losses", losses, want, 3, REF_ATOL, REF_RTOL);
    double one = 1.0, *g = clipt_test_calloc(U * P, sizeof(double));
    clipt_finite_differences(g, in.E, U * P, &one, 1, loss_forward, &in, FD_STEP);
    CLIPT_CHECK_CLOSE("dE", dE, g, U * P, FD_ATOL, FD_RTOL);

    /* lambda = 0 and no E0: the regulariser is 0 and adds no gradient */
    float dE2[U * P] = {0};
    double *E0_saved = in.E0;
    in.lambda = 0.0;
    in.E0 = NULL;
    ref_cosine_loss(want, in.E, NULL, a, b, in.target, N, U, P, 0.0);
    ck_assert_int_eq(clipt_cpu_cosine_loss(ctx, losses, NULL, dE2, E, NULL, a, b, target, N, U, P, 0.0f),
                     CLIPT_OK);
    CLIPT_CHECK_CLOSE("losses without regulariser", losses, want, 3, REF_ATOL, REF_RTOL);
    clipt_finite_differences(g, in.E, U * P, &one, 1, loss_forward, &in, FD_STEP);
    CLIPT_CHECK_CLOSE("dE without regulariser", dE2, g, U * P, FD_ATOL, FD_RTOL);
    free(in.E); free(E0_saved); free(in.target); free(g);
    clipt_context_free(ctx);
}
END_TEST

START_TEST(loss_finite_at_zero_norm)
{
    /* All-zero and tiny embeddings: the norms clamp at 1e-8, so cos is 0 or
     * bounded by 1 and the gradient is finite (large, of order 1e8 at most
     * for the tiny rows). */
    clipt_context *ctx = clipt_test_cpu_context();
    enum { U = 3, P = 4, N = 3 };
    float E[U * P] = {0, 0, 0, 0, 1e-30f, -1e-30f, 0, 1e-30f, 0.5f, 0.1f, -0.2f, 0.3f};
    int32_t a[N] = {0, 1, 0}, b[N] = {1, 2, 2};
    float target[N] = {0.5f, 0.9f, 0.1f}, losses[3], cos[N], dE[U * P] = {0};
    ck_assert_int_eq(clipt_cpu_cosine_loss(ctx, losses, cos, dE, E, E, a, b, target, N, U, P, 1.0f),
                     CLIPT_OK);
    for (int i = 0; i < 3; i++) ck_assert_msg(isfinite(losses[i]), "loss %d is %g", i, (double)losses[i]);
    for (int n = 0; n < N; n++) {
        ck_assert_msg(isfinite(cos[n]) && fabsf(cos[n]) <= 1.0f + 1e-6f, "cos %d is %g", n, (double)cos[n]);
    }
    ck_assert_float_eq_tol(cos[0], 0.0f, 1e-12f);
    for (int i = 0; i < U * P; i++) ck_assert_msg(isfinite(dE[i]), "dE[%d] is %g", i, (double)dE[i]);
    clipt_context_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, loss_matches_torch);
    tcase_add_test(tc, loss_gradient_matches_finite_differences);
    tcase_add_test(tc, loss_finite_at_zero_norm);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "loss");
}
