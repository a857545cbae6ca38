/* Whole training steps on the GPU. One step (loss, every gradient tensor,
 * AdamW) is compared with the same step on the CPU, with all tensors and
 * with only the top block training, on packed rows (the default) and on
 * rows padded to T. The batch's rows end at different columns, one after a
 * single token, so the packed rows have mixed lengths. Determinism: the
 * same steps run twice on the GPU must give bit-identical parameters. Two
 * tiny configurations cover both attention paths (head size 64 takes the
 * fast path, 16 the general one) and both activations. Without a CUDA
 * device the suite reports itself skipped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_harness.h"
#include "forward.h"
#include "optim.h"

/* The loss and the pairs' cosines come from embeddings that went through
 * two fp32 blocks on each backend; they differ by about 1e-6 relative. */
#define REL_STEP_LOSS 1e-4
/* Gradients: fp32 on both sides, summed in different orders through about
 * 20 ops. The differences are expected near 1e-5 of each tensor's largest
 * gradient (an estimate from fp32 rounding), while a wrong formula is off
 * by O(1). */
#define REL_GRAD 2e-3
/* Tensors whose exact gradient is 0 (the key bias) hold rounding noise;
 * their bound is taken from the model's largest gradient times this. */
#define GRAD_FLOOR 1e-4
/* AdamW's eps is set to ADAM_EPS_FRACTION of the largest gradient, so an
 * update moves smoothly with its gradient: a gradient error of REL_GRAD
 * of that scale moves a parameter by at most lr REL_GRAD / 0.1. */
#define ADAM_EPS_FRACTION 0.1
#define LR 1e-2

enum { U = 6, T = 20, N = 9 };

static clipt_model_config tiny_config(int width, int heads, clipt_activation act)
{
    clipt_model_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = 300;
    c.context_length = 77;
    c.width = width;
    c.heads = heads;
    c.layers = 2;
    c.mlp_width = 2 * width;
    c.projection_dim = width / 2;
    c.layer_norm_eps = 1e-5f;
    c.activation = act;
    c.bos_token_id = 298;
    c.eos_token_id = 299;
    c.pad_token_id = 0;
    return c;
}

/* Head size 64, the fast attention path, and QuickGELU. */
static clipt_model_config fast_path_config(void)
{
    return tiny_config(128, 2, CLIPT_ACTIVATION_QUICK_GELU);
}

/* Head size 16, the general attention path, and GELU. */
static clipt_model_config general_path_config(void)
{
    return tiny_config(48, 3, CLIPT_ACTIVATION_GELU);
}

/* One batch of U texts (ids after each eot are padding) and N pairs. */
typedef struct batch {
    int32_t ids[U * T];
    int32_t eot[U];
    int32_t pair_a[N], pair_b[N];
    float target[N];
    float *E0; /* (U, P) */
} batch;

static void make_batch(batch *bt, int V, int P, uint64_t seed)
{
    static const int32_t eot[U] = {5, 19, 2, 11, 8, 0};
    clipt_test_fill_ids(bt->ids, U * T, seed, V - 2);
    for (int u = 0; u < U; u++) {
        bt->eot[u] = eot[u];
        bt->ids[u * T] = V - 2;         /* start of text */
        bt->ids[u * T + eot[u]] = V - 1; /* end of text */
    }
    clipt_test_fill_ids(bt->pair_a, N, seed + 1, U);
    clipt_test_fill_ids(bt->pair_b, N, seed + 2, U);
    bt->pair_b[0] = bt->pair_a[0]; /* a text paired with itself */
    clipt_fill_uniform(bt->target, N, seed + 3, 0.0f, 1.0f);
    bt->E0 = clipt_test_calloc((size_t)U * P, sizeof(float));
    clipt_fill_uniform(bt->E0, (size_t)U * P, seed + 4, -0.3f, 0.3f);
}

static clipt_model *make_model(clipt_context *ctx, const clipt_model_config *cfg,
                               int top_blocks)
{
    clipt_model *m = NULL;
    clipt_status st = clipt_model_create(ctx, cfg, 1234, &m);
    ck_assert_msg(st == CLIPT_OK, "model: %s", clipt_last_error());
    st = clipt_model_set_trainable(m, top_blocks);
    ck_assert_msg(st == CLIPT_OK, "set_trainable: %s", clipt_last_error());
    return m;
}

/* Copies a model's parameters (or gradients) to a new host array. */
static float *host_copy(clipt_model *m, const float *buffer)
{
    float *h = clipt_test_calloc(m->nparams, sizeof(float));
    clipt_test_to_host(m->ctx, h, buffer, m->nparams * sizeof(float));
    return h;
}

static float batch_step(clipt_model *m, const batch *bt, float losses[3], float cos[N])
{
    clipt_pair_batch pairs = {N, bt->pair_a, bt->pair_b, bt->target};
    clipt_status st = clipt_batch_loss(m, bt->ids, bt->eot, U, T, &pairs, bt->E0, 0.5f, 1,
                                       losses, cos);
    ck_assert_msg(st == CLIPT_OK, "batch loss on %s: %s", clipt_context_backend(m->ctx),
                  clipt_last_error());
    return losses[0];
}

/* Compares two buffers tensor by tensor; each tensor's bound is rel times
 * its own largest value, or floor times the largest value in the model. */
static void check_by_tensor(const char *what, clipt_model *m, const float *got,
                            const float *want, double rel, double floor)
{
    double *w = clipt_to_double(want, m->nparams);
    double global = clipt_max_abs(w, m->nparams);
    for (int i = 0; i < m->ntensors; i++) {
        const clipt_tensor_entry *e = &m->tensors[i];
        double scale = fmax(clipt_max_abs(w + e->offset, e->numel), floor * global);
        char name[160];
        snprintf(name, sizeof name, "%s %s", what, e->name);
        CLIPT_CHECK_CLOSE(name, got + e->offset, w + e->offset, e->numel, rel * scale, rel);
    }
    free(w);
}

/* ------------------------------------------------------------------------ */
/* One step, CPU against GPU                                                */
/* ------------------------------------------------------------------------ */

/* pack_rows 0 computes every row on all T columns, as model->pack_rows
 * does. */
static void compare_step(const clipt_model_config *cfg, int top_blocks, int pack_rows)
{
    clipt_context *cpu = clipt_test_cpu_context();
    clipt_context *gpu = clipt_test_cuda_context(0);
    clipt_model *mc = make_model(cpu, cfg, top_blocks);
    clipt_model *mg = make_model(gpu, cfg, top_blocks);
    mc->pack_rows = pack_rows;
    mg->pack_rows = pack_rows;
    batch bt;
    make_batch(&bt, cfg->vocab_size, cfg->projection_dim, 77);

    /* the same seed gives the same parameters on both backends */
    float *p0 = host_copy(mg, mg->params);
    clipt_test_check_rel("initial parameters", p0, mc->params, mc->nparams, 0.0);

    float loss_c[3], loss_g[3], cos_c[N], cos_g[N];
    batch_step(mc, &bt, loss_c, cos_c);
    batch_step(mg, &bt, loss_g, cos_g);
    clipt_test_check_rel("losses", loss_g, loss_c, 3, REL_STEP_LOSS);
    clipt_test_check_rel("pair cosines", cos_g, cos_c, N, REL_STEP_LOSS);

    float *g_gpu = host_copy(mg, mg->grads);
    check_by_tensor("gradient", mc, g_gpu, mc->grads, REL_GRAD, GRAD_FLOOR);

    /* frozen tensors get no gradient at all */
    for (int i = 0; i < mg->ntensors; i++) {
        const clipt_tensor_entry *e = &mg->tensors[i];
        if (e->trainable) continue;
        for (size_t k = 0; k < e->numel; k++) {
            ck_assert_msg(g_gpu[e->offset + k] == 0.0f, "frozen %s has gradient %g at %zu",
                          e->name, (double)g_gpu[e->offset + k], k);
        }
    }

    /* one AdamW step with clipping active */
    double *gd = clipt_to_double(mc->grads, mc->nparams);
    double gmax = clipt_max_abs(gd, mc->nparams);
    free(gd);
    clipt_adamw_state sc, sg;
    ck_assert_int_eq(clipt_adamw_init(mc, &sc), CLIPT_OK);
    ck_assert_int_eq(clipt_adamw_init(mg, &sg), CLIPT_OK);
    float norm_c = 0.0f, norm_g = 0.0f;
    clipt_adamw_hparams hp = {LR, 0.9, 0.999, ADAM_EPS_FRACTION * gmax, 0.1, 0, 0.0};
    ck_assert_int_eq(clipt_cpu_backend.grad_norm(cpu, &norm_c, mc->grads, mc->segments,
                                                 mc->nsegments),
                     CLIPT_OK);
    hp.max_grad_norm = 0.5 * norm_c;
    clipt_status st = clipt_adamw_step(mc, &sc, &hp, &norm_c);
    ck_assert_msg(st == CLIPT_OK, "cpu AdamW: %s", clipt_last_error());
    st = clipt_adamw_step(mg, &sg, &hp, &norm_g);
    ck_assert_msg(st == CLIPT_OK, "gpu AdamW: %s", clipt_last_error());
    clipt_test_check_rel("gradient norm", &norm_g, &norm_c, 1, REL_GRAD);

    float *p1 = host_copy(mg, mg->params);
    double *want = clipt_to_double(mc->params, mc->nparams);
    /* AdamW moves each parameter by at most about lr; the bound follows
     * from the gradient tolerance, see ADAM_EPS_FRACTION */
    double atol = LR * REL_GRAD / ADAM_EPS_FRACTION;
    CLIPT_CHECK_CLOSE("parameters after AdamW", p1, want, mc->nparams, atol, 1e-6);
    int moved = 0;
    for (size_t i = 0; i < mc->nparams; i++) moved += p1[i] != p0[i];
    ck_assert_msg(moved > 0, "AdamW changed no parameter");

    free(want);
    free(p0);
    free(p1);
    free(g_gpu);
    free(bt.E0);
    clipt_adamw_release(mc, &sc);
    clipt_adamw_release(mg, &sg);
    clipt_model_free(mc);
    clipt_model_free(mg);
    clipt_context_free(gpu);
    clipt_context_free(cpu);
}

START_TEST(step_matches_cpu_fast_attention)
{
    clipt_model_config cfg = fast_path_config();
    printf("training step, width 128, 2 heads, every tensor trains\n");
    compare_step(&cfg, -1, 1);
}
END_TEST

START_TEST(step_matches_cpu_general_attention)
{
    clipt_model_config cfg = general_path_config();
    printf("training step, width 48, 3 heads, every tensor trains\n");
    compare_step(&cfg, -1, 1);
}
END_TEST

START_TEST(step_matches_cpu_top_block_only)
{
    clipt_model_config cfg = fast_path_config();
    printf("training step, width 128, only the top block and head train\n");
    compare_step(&cfg, 1, 1);
}
END_TEST

START_TEST(step_matches_cpu_padded_rows)
{
    clipt_model_config cfg = fast_path_config();
    printf("training step, width 128, 2 heads, rows padded to %d tokens\n", (int)T);
    compare_step(&cfg, -1, 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Determinism                                                              */
/* ------------------------------------------------------------------------ */

enum { DETERMINISM_STEPS = 3 };

/* Runs DETERMINISM_STEPS training steps in a fresh context and returns the
 * parameters; losses receives each step's total loss. */
static float *run_steps(const clipt_model_config *cfg, float losses_out[DETERMINISM_STEPS])
{
    clipt_context *gpu = clipt_test_cuda_context(0);
    clipt_model *m = make_model(gpu, cfg, -1);
    clipt_adamw_state s;
    ck_assert_int_eq(clipt_adamw_init(m, &s), CLIPT_OK);
    clipt_adamw_hparams hp = {1e-3, 0.9, 0.999, 1e-8, 0.1, 0, 1.0};
    for (int step = 0; step < DETERMINISM_STEPS; step++) {
        batch bt;
        make_batch(&bt, cfg->vocab_size, cfg->projection_dim, 500 + (uint64_t)step);
        float losses[3], cos[N], norm = 0.0f;
        losses_out[step] = batch_step(m, &bt, losses, cos);
        clipt_status st = clipt_adamw_step(m, &s, &hp, &norm);
        ck_assert_msg(st == CLIPT_OK, "AdamW: %s", clipt_last_error());
        free(bt.E0);
    }
    float *params = host_copy(m, m->params);
    clipt_adamw_release(m, &s);
    clipt_model_free(m);
    clipt_context_free(gpu);
    return params;
}

static void check_deterministic(const clipt_model_config *cfg)
{
    float loss1[DETERMINISM_STEPS], loss2[DETERMINISM_STEPS];
    size_t n = 0;
    {
        clipt_context *probe = clipt_test_cuda_context(0);
        clipt_model *m = make_model(probe, cfg, -1);
        n = m->nparams;
        clipt_model_free(m);
        clipt_context_free(probe);
    }
    float *a = run_steps(cfg, loss1);
    float *b = run_steps(cfg, loss2);
    for (int s = 0; s < DETERMINISM_STEPS; s++) {
        ck_assert_msg(memcmp(&loss1[s], &loss2[s], sizeof(float)) == 0,
                      "step %d: loss %.9g in one run, %.9g in the other", s + 1,
                      (double)loss1[s], (double)loss2[s]);
    }
    size_t differing = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
            if (differing == 0) first = i;
            differing++;
        }
    }
    printf("  %zu parameters after %d steps, %zu differ between two runs\n", n,
           DETERMINISM_STEPS, differing);
    ck_assert_msg(differing == 0,
                  "%zu of %zu parameters differ between two identical runs; first at "
                  "[%zu]: %.9g and %.9g",
                  differing, n, first, (double)a[first], (double)b[first]);
    free(a);
    free(b);
}

START_TEST(training_is_deterministic_fast_attention)
{
    clipt_model_config cfg = fast_path_config();
    check_deterministic(&cfg);
}
END_TEST

START_TEST(training_is_deterministic_general_attention)
{
    clipt_model_config cfg = general_path_config();
    check_deterministic(&cfg);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("cuda_train");
    TCase *tc = tcase_create("training_step");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, step_matches_cpu_fast_attention);
    tcase_add_test(tc, step_matches_cpu_general_attention);
    tcase_add_test(tc, step_matches_cpu_top_block_only);
    tcase_add_test(tc, step_matches_cpu_padded_rows);
    tcase_add_test(tc, training_is_deterministic_fast_attention);
    tcase_add_test(tc, training_is_deterministic_general_attention);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return clipt_test_run_cuda_suite(make_suite, "cuda_train");
}
