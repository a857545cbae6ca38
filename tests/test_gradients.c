/* The whole model's gradient, loss -> every parameter tensor, against
 * central finite differences of an independent double-precision encoder
 * (tests/reference.c: full-length rows, LayerNorm on every row, explicit
 * softmax), on tiny configurations. Also: frozen blocks get no gradient. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "harness.h"
#include "reference.h"

/* Forward: fp32 through two blocks of width 12 against double; errors of
 * a few 1e-7 relative on O(1) embeddings. */
#define EMBED_ATOL 2e-6
#define EMBED_RTOL 1e-5
/* Gradients: fp32 backward through two blocks against finite differences
 * (h = 1e-6; the embeddings feed a LayerNorm with rstd near 40, so a
 * larger step would leave truncation errors near 1e-5). Rounding compounds through about 20
 * ops, so each element may be off by ~1e-5 of its tensor's largest
 * gradient; 2e-4 of that plus 2e-3 relative catches any wrong formula,
 * which is off by O(1). */
#define GRAD_ATOL_SCALE 2e-4
#define GRAD_RTOL 2e-3
/* Some gradients are exactly zero in exact arithmetic (the key bias: adding
 * a constant to every score of a row leaves the softmax unchanged), and the
 * fp32 result is rounding noise around 0. The floor of 1e-5 of the largest
 * gradient in the model bounds that noise. */
#define GRAD_FLOOR_SCALE 1e-5
#define FD_STEP 1e-6

enum { U = 4, T = 7, N = 6 };
static const int32_t ids[U * T] = {
    11, 3, 7, 12, 0, 5, 2,   /* eot 5 */
    11, 9, 12, 4, 4, 4, 4,   /* eot 2, then padding */
    11, 12, 1, 1, 1, 1, 1,   /* eot 1 */
    11, 6, 2, 8, 10, 3, 12,  /* eot 6, the full row */
};
static const int32_t eot[U] = {5, 2, 1, 6};
static const int32_t pair_a[N] = {0, 1, 2, 3, 0, 2};
static const int32_t pair_b[N] = {1, 2, 3, 0, 0, 1}; /* with a self pair */
static const float target[N] = {0.8f, 0.3f, 0.55f, 0.1f, 0.93f, 0.4f};
#define LAMBDA 0.3f

static clipt_model_config tiny_config(clipt_activation act)
{
    clipt_model_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = 13;
    c.context_length = 9;
    c.width = 12;
    c.heads = 3;
    c.layers = 2;
    c.mlp_width = 20;
    c.projection_dim = 6;
    c.layer_norm_eps = 1e-5f;
    c.activation = act;
    c.bos_token_id = 11;
    c.eos_token_id = 12;
    return c;
}

typedef struct {
    const clipt_model *model;
    double *params;
    double *E0;
} model_inputs;

static void model_loss(void *user, double *out)
{
    model_inputs *in = user;
    double E[U * 6], target_d[N], losses[3];
    for (int n = 0; n < N; n++) target_d[n] = target[n];
    ref_encode(E, in->model, in->params, ids, eot, U, T);
    ref_cosine_loss(losses, E, in->E0, pair_a, pair_b, target_d, N, U, 6, LAMBDA);
    out[0] = losses[0];
}

/* Fills E0 with embeddings of a model from another seed, so the
 * regulariser has a non-zero gradient. */
static void make_E0(clipt_context *ctx, clipt_model_config *cfg, float *E0)
{
    clipt_model *m0 = NULL;
    ck_assert_int_eq(clipt_model_create(ctx, cfg, 99, &m0), CLIPT_OK);
    ck_assert_int_eq(clipt_model_encode(m0, ids, eot, U, T, E0), CLIPT_OK);
    clipt_model_free(m0);
}

static const clipt_activation acts[] = {CLIPT_ACTIVATION_QUICK_GELU, CLIPT_ACTIVATION_GELU};

START_TEST(model_gradient_matches_finite_differences)
{
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model_config cfg = tiny_config(acts[_i]);
    clipt_model *m = NULL;
    ck_assert_int_eq(clipt_model_create(ctx, &cfg, 7, &m), CLIPT_OK);
    float E0[U * 6];
    make_E0(ctx, &cfg, E0);

    size_t np = clipt_model_param_count(m);
    float *pf = clipt_test_calloc(np, sizeof(float));
    ck_assert_int_eq(clipt_model_get_params(m, 0, np, pf), CLIPT_OK);
    model_inputs in = {m, clipt_to_double(pf, np), clipt_to_double(E0, U * 6)};

    /* the forward pass against the reference encoder */
    float E[U * 6];
    double E_want[U * 6];
    ck_assert_int_eq(clipt_model_encode(m, ids, eot, U, T, E), CLIPT_OK);
    ref_encode(E_want, m, in.params, ids, eot, U, T);
    printf("model gradient, activation %d\n", (int)acts[_i]);
    CLIPT_CHECK_CLOSE("embeddings", E, E_want, U * 6, EMBED_ATOL, EMBED_RTOL);

    /* the loss and its gradient */
    clipt_pair_batch pairs = {N, pair_a, pair_b, target};
    float losses[3];
    ck_assert_int_eq(clipt_batch_loss(m, ids, eot, U, T, &pairs, E0, LAMBDA, 1, losses, NULL), CLIPT_OK);
    double want_loss;
    model_loss(&in, &want_loss);
    CLIPT_CHECK_CLOSE("loss", losses, &want_loss, 1, 1e-6, 1e-5);

    float *grads = clipt_test_calloc(np, sizeof(float));
    ck_assert_int_eq(m->ctx->backend->download(m->ctx, grads, m->grads, np * sizeof(float)), CLIPT_OK);
    double one = 1.0;
    double *g = clipt_test_calloc(np, sizeof(double));
    for (int t = 0; t < clipt_model_tensor_count(m); t++) {
        clipt_tensor_info info;
        ck_assert_int_eq(clipt_model_tensor_info(m, t, &info), CLIPT_OK);
        clipt_finite_differences(g + info.offset, in.params + info.offset, info.numel, &one, 1,
                                 model_loss, &in, FD_STEP);
    }
    double floor_atol = GRAD_FLOOR_SCALE * clipt_max_abs(g, np);
    for (int t = 0; t < clipt_model_tensor_count(m); t++) {
        clipt_tensor_info info;
        ck_assert_int_eq(clipt_model_tensor_info(m, t, &info), CLIPT_OK);
        double atol = GRAD_ATOL_SCALE * clipt_max_abs(g + info.offset, info.numel) + floor_atol;
        CLIPT_CHECK_CLOSE(info.name + (strncmp(info.name, "text_model.", 11) == 0 ? 11 : 0),
                          grads + info.offset, g + info.offset, info.numel, atol, GRAD_RTOL);
    }
    free(g);
    free(pf); free(grads); free(in.params); free(in.E0);
    clipt_model_free(m);
    clipt_context_free(ctx);
}
END_TEST

START_TEST(frozen_blocks_get_no_gradient)
{
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model_config cfg = tiny_config(CLIPT_ACTIVATION_QUICK_GELU);
    clipt_model *m = NULL;
    ck_assert_int_eq(clipt_model_create(ctx, &cfg, 7, &m), CLIPT_OK);
    float E0[U * 6], losses[3];
    make_E0(ctx, &cfg, E0);
    clipt_pair_batch pairs = {N, pair_a, pair_b, target};
    size_t np = clipt_model_param_count(m);
    float *full = clipt_test_calloc(np, sizeof(float));
    float *part = clipt_test_calloc(np, sizeof(float));

    ck_assert_int_eq(clipt_batch_loss(m, ids, eot, U, T, &pairs, E0, LAMBDA, 1, losses, NULL), CLIPT_OK);
    ck_assert_int_eq(m->ctx->backend->download(m->ctx, full, m->grads, np * sizeof(float)), CLIPT_OK);
    /* train only the top block (layer 1) and the head */
    ck_assert_int_eq(clipt_model_set_trainable(m, 1), CLIPT_OK);
    ck_assert_int_eq(clipt_batch_loss(m, ids, eot, U, T, &pairs, E0, LAMBDA, 1, losses, NULL), CLIPT_OK);
    ck_assert_int_eq(m->ctx->backend->download(m->ctx, part, m->grads, np * sizeof(float)), CLIPT_OK);

    for (int t = 0; t < clipt_model_tensor_count(m); t++) {
        clipt_tensor_info info;
        ck_assert_int_eq(clipt_model_tensor_info(m, t, &info), CLIPT_OK);
        int frozen = strstr(info.name, "embeddings") != NULL || strstr(info.name, "layers.0.") != NULL;
        for (size_t k = 0; k < info.numel; k++) {
            float want = frozen ? 0.0f : full[info.offset + k];
            ck_assert_msg(part[info.offset + k] == want,
                          "%s[%zu]: gradient %g with the lower block frozen, expected %g", info.name,
                          k, (double)part[info.offset + k], (double)want);
        }
    }
    ck_assert_int_eq(clipt_model_set_trainable(m, 3), CLIPT_ERR_INVALID_ARGUMENT);
    free(full); free(part);
    clipt_model_free(m);
    clipt_context_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gradients");
    TCase *tc = tcase_create("cpu");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, model_gradient_matches_finite_differences, 0, 2);
    tcase_add_test(tc, frozen_blocks_get_no_gradient);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "gradients");
}
