/* AdamW and the global gradient norm: against torch.optim.AdamW with
 * clip_grad_norm_ (fixture from tests/oracle/torch_loss_adamw.py), against
 * a step worked by hand, and the model's choice of decayed tensors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model.h"
#include "ops/optimizer.h"

/* Three fp32 steps of the same formula as PyTorch's single-tensor AdamW;
 * PyTorch updates the moments with lerp and we with multiply-adds, so the
 * parameters differ by a few ulp per step: 1e-6 relative and absolute. */
#define TORCH_ATOL 1e-6
#define TORCH_RTOL 1e-6

START_TEST(adamw_matches_torch)
{
    clipt_context *ctx = clipt_test_cpu_context();
    enum { NW = 12, NB = 5 };
    clipt_fixture *fx = clipt_fixture_open("tests/fixtures/loss_adamw_torch.txt", "loss-adamw", 1);
    double hp[7], w0[NW], b0[NB];
    clipt_fixture_next(fx, "adamw_hparams", hp, 7);
    clipt_fixture_next(fx, "w0", w0, NW);
    clipt_fixture_next(fx, "b0", b0, NB);

    /* w at [0, 12) decayed, b at [16, 21) not decayed, padding between */
    float params[32] = {0}, grads[32] = {0}, m[32] = {0}, v[32] = {0}, norm = 0.0f;
    for (int i = 0; i < NW; i++) params[i] = (float)w0[i];
    for (int i = 0; i < NB; i++) params[16 + i] = (float)b0[i];
    clipt_param_segment segs[2] = {{0, NW, 1}, {16, NB, 0}};
    clipt_adamw_hparams h = {hp[0], hp[1], hp[2], hp[3], hp[4], 0, hp[5]};
    for (int step = 1; step <= (int)hp[6]; step++) {
        double gw[NW], gb[NB], want_norm, want_w[NW], want_b[NB], dummy;
        clipt_fixture_next(fx, "step", &dummy, 1);
        clipt_fixture_next(fx, "gw", gw, NW);
        clipt_fixture_next(fx, "gb", gb, NB);
        clipt_fixture_next(fx, "norm", &want_norm, 1);
        clipt_fixture_next(fx, "w", want_w, NW);
        clipt_fixture_next(fx, "b", want_b, NB);
        for (int i = 0; i < NW; i++) grads[i] = (float)gw[i];
        for (int i = 0; i < NB; i++) grads[16 + i] = (float)gb[i];
        h.step = step;
        printf("adamw step %d\n", step);
        ck_assert_int_eq(clipt_cpu_grad_norm(ctx, &norm, grads, segs, 2), CLIPT_OK);
        CLIPT_CHECK_CLOSE("gradient norm", &norm, &want_norm, 1, TORCH_ATOL, TORCH_RTOL);
        ck_assert_int_eq(clipt_cpu_adamw_update(ctx, params, grads, m, v, segs, 2, &norm, &h), CLIPT_OK);
        CLIPT_CHECK_CLOSE("decayed weight", params, want_w, NW, TORCH_ATOL, TORCH_RTOL);
        CLIPT_CHECK_CLOSE("bias without decay", params + 16, want_b, NB, TORCH_ATOL, TORCH_RTOL);
    }
    for (int i = NW; i < 16; i++) ck_assert_float_eq(params[i], 0.0f); /* padding untouched */
    clipt_fixture_close(fx);
    clipt_context_free(ctx);
}
END_TEST

START_TEST(adamw_step_by_hand)
{
    /* One element, lr 0.1, betas (0.9, 0.999), eps 1e-8, decay 0.5, p = 2,
     * g = 4, max_grad_norm 2 (so g is clipped to 2 * 4 / (4 + 1e-6)):
     *   g'  = 1.9999995
     *   p   = 2 * (1 - 0.1 * 0.5) = 1.9
     *   m   = 0.1 g' = 0.19999995,  v = 0.001 g'^2 = 0.003999998
     *   m^  = m / 0.1 = g',          v^ = v / 0.001 = g'^2
     *   p  -= 0.1 * g' / (g' + 1e-8)  ->  1.9 - 0.0999999995 = 1.8000000005
     * The second element is frozen-by-omission: it is in no segment. */
    clipt_context *ctx = clipt_test_cpu_context();
    float p[2] = {2.0f, 7.0f}, g[2] = {4.0f, 3.0f}, m[2] = {0}, v[2] = {0}, norm;
    clipt_param_segment seg = {0, 1, 1};
    clipt_adamw_hparams h = {0.1, 0.9, 0.999, 1e-8, 0.5, 1, 2.0};
    ck_assert_int_eq(clipt_cpu_grad_norm(ctx, &norm, g, &seg, 1), CLIPT_OK);
    ck_assert_float_eq(norm, 4.0f);
    ck_assert_int_eq(clipt_cpu_adamw_update(ctx, p, g, m, v, &seg, 1, &norm, &h), CLIPT_OK);
    /* tolerances: 2 ulp of each fp32 result */
    ck_assert_float_eq_tol(p[0], 1.8000000005f, 2.5e-7f);
    ck_assert_float_eq_tol(m[0], 0.19999995f, 3e-8f);
    ck_assert_float_eq_tol(v[0], 0.003999998f, 5e-10f);
    ck_assert_float_eq(p[1], 7.0f);
    ck_assert_float_eq(m[1], 0.0f);

    /* step must start at 1 */
    h.step = 0;
    ck_assert_int_eq(clipt_cpu_adamw_update(ctx, p, g, m, v, &seg, 1, &norm, &h), CLIPT_ERR_INVALID_ARGUMENT);
    clipt_context_free(ctx);
}
END_TEST

START_TEST(decay_applies_to_weight_matrices_only)
{
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model_config cfg;
    ck_assert_int_eq(clipt_model_config_preset("small", &cfg), CLIPT_OK);
    cfg.vocab_size = 100;
    cfg.layers = 2;
    clipt_model *m = NULL;
    ck_assert_int_eq(clipt_model_create(ctx, &cfg, 1, &m), CLIPT_OK);
    int decayed = 0;
    for (int i = 0; i < clipt_model_tensor_count(m); i++) {
        clipt_tensor_info info;
        ck_assert_int_eq(clipt_model_tensor_info(m, i, &info), CLIPT_OK);
        const char *n = info.name;
        int want = strstr(n, "embedding") == NULL && strstr(n, "layer_norm") == NULL &&
                   strstr(n, ".bias") == NULL;
        ck_assert_msg(info.decayed == want, "%s: decayed is %d, expected %d", n, info.decayed, want);
        ck_assert_msg(!want || info.ndim == 2, "%s: a decayed tensor must be a matrix", n);
        decayed += info.decayed;
    }
    /* per block q, k, v, out_proj, fc1, fc2; plus the projection */
    ck_assert_int_eq(decayed, 6 * cfg.layers + 1);
    clipt_model_free(m);
    clipt_context_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optimizer");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, adamw_matches_torch);
    tcase_add_test(tc, adamw_step_by_hand);
    tcase_add_test(tc, decay_applies_to_weight_matrices_only);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "optimizer");
}
