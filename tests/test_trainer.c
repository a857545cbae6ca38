/* The trainer on real WordNet with a tiny model: learning happens (the loss
 * falls, held-out correlation rises), resuming reproduces the same losses,
 * a saved model reloads with the trainer's embeddings, the M0 cache, the
 * schedule, and a non-finite loss leaves the parameters untouched. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "harness.h"
#include "trainer.h"

#define MERGES "data/bpe_simple_vocab_16e6.txt.gz"
#define PAIRS 64
#define STEPS 100

typedef struct fixture {
    clipt_context *ctx;
    clipt_model *model;
    clipt_tokenizer *tok;
    clipt_wordnet *wn;
    clipt_sampler *sampler;
    clipt_trainer *trainer;
} fixture;

/* A model small enough for a test, with CLIP's full vocabulary. */
static clipt_model_config tiny_config(void)
{
    clipt_model_config c;
    ck_assert_int_eq(clipt_model_config_preset("small", &c), CLIPT_OK);
    c.width = 64;
    c.heads = 2;
    c.layers = 2;
    c.mlp_width = 64;
    c.projection_dim = 64;
    return c;
}

static void open_fixture(fixture *f, double lr, double lambda, uint64_t sampler_seed)
{
    memset(f, 0, sizeof *f);
    f->ctx = clipt_test_cpu_context();
    clipt_model_config c = tiny_config();
    ck_assert_int_eq(clipt_model_create(f->ctx, &c, 3, &f->model), CLIPT_OK);
    ck_assert_msg(clipt_tokenizer_load(MERGES, &f->tok) == CLIPT_OK, "%s", clipt_last_error());
    ck_assert_msg(clipt_wordnet_load(NULL, &f->wn) == CLIPT_OK, "%s", clipt_last_error());
    clipt_sampler_options so;
    clipt_sampler_options_init(&so);
    so.seed = sampler_seed;
    so.split_seed = 1234;
    ck_assert_msg(clipt_sampler_create(f->wn, &so, &f->sampler) == CLIPT_OK, "%s", clipt_last_error());
    clipt_trainer_options to;
    clipt_trainer_options_init(&to);
    to.learning_rate = lr;
    to.lambda = lambda;
    to.warmup_steps = 10;
    to.total_steps = 200;
    ck_assert_msg(clipt_trainer_create(f->model, f->tok, &to, &f->trainer) == CLIPT_OK, "%s",
                  clipt_last_error());
}

static void close_fixture(fixture *f)
{
    clipt_trainer_free(f->trainer);
    clipt_sampler_free(f->sampler);
    clipt_wordnet_free(f->wn);
    clipt_tokenizer_free(f->tok);
    clipt_model_free(f->model);
    clipt_context_free(f->ctx);
}

/* Runs n steps and stores each step's loss. */
static void train_steps(fixture *f, int n, double *losses)
{
    clipt_pair pairs[PAIRS];
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(clipt_sampler_draw(f->sampler, pairs, PAIRS), CLIPT_OK);
        clipt_step_stats s;
        clipt_status st = clipt_trainer_step(f->trainer, pairs, PAIRS, &s);
        ck_assert_msg(st == CLIPT_OK, "step %d: %s", i, clipt_last_error());
        losses[i] = s.loss;
    }
}

START_TEST(training_lowers_loss_and_raises_correlation)
{
    /* 100 steps of 64 pairs at lr 3e-3 on the tiny model. Measured: the
     * held-out Spearman goes from 0.11 to 0.26 and the mean loss from
     * 0.106 to 0.087; the bounds below (+0.05, x0.9) leave room for that. */
    fixture f;
    open_fixture(&f, 3e-3, 0.0, 11);
    clipt_pair eval[400];
    ck_assert_int_eq(clipt_sampler_eval_pairs(f.sampler, 7, eval, 400), CLIPT_OK);
    clipt_eval_stats before, after;
    ck_assert_int_eq(clipt_trainer_evaluate(f.trainer, eval, 400, &before), CLIPT_OK);
    double losses[STEPS];
    train_steps(&f, STEPS, losses);
    ck_assert_int_eq(clipt_trainer_evaluate(f.trainer, eval, 400, &after), CLIPT_OK);
    double first = 0, last = 0;
    for (int i = 0; i < 10; i++) {
        first += losses[i] / 10;
        last += losses[STEPS - 10 + i] / 10;
    }
    printf("  loss %.4f -> %.4f, held-out spearman %.4f -> %.4f, drift %.4f\n", first, last,
           before.spearman, after.spearman, after.drift);
    ck_assert_msg(last < 0.9 * first, "mean loss of the last 10 steps %.4f is not below 0.9 x %.4f",
                  last, first);
    ck_assert_msg(after.spearman > before.spearman + 0.05,
                  "held-out spearman %.4f did not rise by 0.05 from %.4f", after.spearman,
                  before.spearman);
    ck_assert_msg(before.drift == 1.0 || fabs(before.drift - 1.0) < 1e-6, "drift before training %g",
                  before.drift);
    ck_assert_msg(after.drift < 1.0, "drift after training %g", after.drift);
    ck_assert_int_eq(clipt_trainer_steps(f.trainer), STEPS);
    close_fixture(&f);
}
END_TEST

START_TEST(resume_gives_the_same_losses)
{
    /* Six steps in one go against three steps, save, a fresh process-like
     * setup, load, three more. The CPU backend is deterministic for a fixed
     * thread count, so the losses must be identical, bit for bit. */
    enum { N = 6, HALF = 3 };
    double straight[N], resumed[N];
    fixture a;
    open_fixture(&a, 3e-3, 0.5, 21);
    train_steps(&a, N, straight);
    close_fixture(&a);

    char *dir = clipt_test_tempdir();
    char *state = clipt_test_join(dir, "state.clipt");
    char *cache = clipt_test_join(dir, "m0_cache.clipt");
    fixture b;
    open_fixture(&b, 3e-3, 0.5, 21);
    train_steps(&b, HALF, resumed);
    clipt_sampler_state ss;
    ck_assert_int_eq(clipt_sampler_get_state(b.sampler, &ss), CLIPT_OK);
    ck_assert_int_eq(clipt_trainer_save_state(b.trainer, state, &ss, sizeof ss), CLIPT_OK);
    ck_assert_int_eq(clipt_trainer_save_cache(b.trainer, cache), CLIPT_OK);
    size_t cached = clipt_trainer_cache_size(b.trainer);
    ck_assert_uint_gt(cached, 0);
    close_fixture(&b);

    fixture c;
    open_fixture(&c, 3e-3, 0.5, 999); /* the sampler seed is restored below */
    clipt_sampler_state loaded;
    size_t bytes = 0;
    ck_assert_msg(clipt_trainer_load_state(c.trainer, state, &loaded, sizeof loaded, &bytes) ==
                      CLIPT_OK,
                  "%s", clipt_last_error());
    ck_assert_uint_eq(bytes, sizeof loaded);
    ck_assert_int_eq(clipt_sampler_set_state(c.sampler, &loaded), CLIPT_OK);
    ck_assert_int_eq(clipt_trainer_load_cache(c.trainer, cache), CLIPT_OK);
    ck_assert_uint_eq(clipt_trainer_cache_size(c.trainer), cached);
    ck_assert_int_eq(clipt_trainer_steps(c.trainer), HALF);
    train_steps(&c, N - HALF, resumed + HALF);
    for (int i = 0; i < N; i++) {
        printf("  step %d: loss %.9g straight, %.9g resumed\n", i + 1, straight[i], resumed[i]);
        ck_assert_msg(straight[i] == resumed[i], "step %d: loss %.9g after resuming, %.9g straight",
                      i + 1, resumed[i], straight[i]);
    }
    close_fixture(&c);
    clipt_test_remove_tree(dir);
    free(state);
    free(cache);
    free(dir);
}
END_TEST

START_TEST(saved_model_reloads_with_same_embeddings)
{
    fixture f;
    open_fixture(&f, 3e-3, 0.0, 31);
    double losses[5];
    train_steps(&f, 5, losses);
    char *dir = clipt_test_tempdir();
    char *out = clipt_test_join(dir, "model");
    clipt_save_options so;
    clipt_save_options_init(&so);
    ck_assert_msg(clipt_model_save(f.model, out, &so) == CLIPT_OK, "%s", clipt_last_error());
    clipt_model *back = NULL;
    ck_assert_msg(clipt_model_load(f.ctx, out, &back) == CLIPT_OK, "%s", clipt_last_error());

    const char *texts[3] = {"dog", "a photo of a cat.", "hot dog"};
    int32_t ids[3 * 77], eot[3];
    ck_assert_int_eq(clipt_tokenizer_encode_batch(f.tok, texts, 3, 77, ids, eot), CLIPT_OK);
    float e1[3 * 64], e2[3 * 64]; /* projection_dim 64 */
    ck_assert_int_eq(clipt_model_encode(f.model, ids, eot, 3, 77, e1), CLIPT_OK);
    ck_assert_int_eq(clipt_model_encode(back, ids, eot, 3, 77, e2), CLIPT_OK);
    ck_assert_msg(memcmp(e1, e2, sizeof e1) == 0, "the reloaded model encodes differently");
    clipt_model_free(back);
    clipt_test_remove_tree(dir);
    free(out);
    free(dir);
    close_fixture(&f);
}
END_TEST

START_TEST(nonfinite_loss_leaves_parameters)
{
    fixture f;
    open_fixture(&f, 3e-3, 0.0, 41);
    /* A huge projection overflows the embeddings to infinity. */
    clipt_tensor_info info;
    ck_assert_int_eq(clipt_model_find_tensor(f.model, "text_projection.weight", &info), CLIPT_OK);
    float *huge = clipt_test_calloc(info.numel, sizeof(float));
    for (size_t i = 0; i < info.numel; i++) huge[i] = 1e38f;
    ck_assert_int_eq(clipt_model_set_params(f.model, info.offset, info.numel, huge), CLIPT_OK);
    size_t np = clipt_model_param_count(f.model);
    float *before = clipt_test_calloc(np, sizeof(float)), *after = clipt_test_calloc(np, sizeof(float));
    ck_assert_int_eq(clipt_model_get_params(f.model, 0, np, before), CLIPT_OK);
    clipt_pair pairs[PAIRS];
    ck_assert_int_eq(clipt_sampler_draw(f.sampler, pairs, PAIRS), CLIPT_OK);
    ck_assert_int_eq(clipt_trainer_step(f.trainer, pairs, PAIRS, NULL), CLIPT_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "NaN"));
    ck_assert_int_eq(clipt_model_get_params(f.model, 0, np, after), CLIPT_OK);
    ck_assert_msg(memcmp(before, after, np * sizeof(float)) == 0, "a failed step changed parameters");
    ck_assert_int_eq(clipt_trainer_steps(f.trainer), 0);

    /* a target that is not finite is rejected before any work */
    pairs[3].target = NAN;
    ck_assert_int_eq(clipt_trainer_step(f.trainer, pairs, PAIRS, NULL), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "pair 3"));
    free(huge);
    free(before);
    free(after);
    close_fixture(&f);
}
END_TEST

START_TEST(learning_rate_schedule)
{
    fixture f;
    open_fixture(&f, 1e-3, 0.0, 51);
    /* warm-up 10 steps, cosine to 0 at 200 */
    ck_assert_double_eq_tol(clipt_trainer_learning_rate(f.trainer, 0), 1e-4, 1e-15);
    ck_assert_double_eq_tol(clipt_trainer_learning_rate(f.trainer, 9), 1e-3, 1e-15);
    ck_assert_double_eq_tol(clipt_trainer_learning_rate(f.trainer, 10), 1e-3, 1e-15);
    ck_assert_double_eq_tol(clipt_trainer_learning_rate(f.trainer, 105), 0.5e-3, 1e-15);
    ck_assert_double_eq_tol(clipt_trainer_learning_rate(f.trainer, 200), 0.0, 1e-15);
    ck_assert_double_eq_tol(clipt_trainer_learning_rate(f.trainer, 500), 0.0, 1e-15);
    ck_assert_int_eq(clipt_trainer_set_total_steps(f.trainer, 0), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_trainer_set_total_steps(f.trainer, 100), CLIPT_OK);
    ck_assert_double_eq_tol(clipt_trainer_learning_rate(f.trainer, 55), 0.5e-3, 1e-15);
    close_fixture(&f);
}
END_TEST

START_TEST(trainer_rejects_bad_options)
{
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model_config c = tiny_config();
    clipt_model *m = NULL;
    clipt_tokenizer *tok = NULL;
    ck_assert_int_eq(clipt_model_create(ctx, &c, 3, &m), CLIPT_OK);
    ck_assert_int_eq(clipt_tokenizer_load(MERGES, &tok), CLIPT_OK);
    clipt_trainer *t = NULL;
    clipt_trainer_options o;
    clipt_trainer_options_init(&o);
    o.learning_rate = -1;
    ck_assert_int_eq(clipt_trainer_create(m, tok, &o, &t), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "learning_rate"));
    clipt_trainer_options_init(&o);
    o.train_top_blocks = 3;
    ck_assert_int_eq(clipt_trainer_create(m, tok, &o, &t), CLIPT_ERR_INVALID_ARGUMENT);
    clipt_trainer_options_init(&o);
    o.total_steps = 0;
    ck_assert_int_eq(clipt_trainer_create(m, tok, &o, &t), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_trainer_create(NULL, tok, NULL, &t), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(clipt_trainer_create(m, tok, NULL, &t), CLIPT_OK);
    ck_assert_int_eq(clipt_trainer_step(t, NULL, 0, NULL), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_trainer_load_state(t, "/nonexistent/state.clipt", NULL, 0, NULL),
                     CLIPT_ERR_FILE_NOT_FOUND);
    clipt_trainer_free(t);
    clipt_trainer_free(NULL);
    clipt_tokenizer_free(tok);
    clipt_model_free(m);
    clipt_context_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("trainer");
    TCase *tc = tcase_create("wordnet");
    tcase_set_timeout(tc, 300);
    FILE *merges = fopen(MERGES, "rb");
    FILE *wordnet = fopen("/usr/share/wordnet/data.noun", "rb");
    if (merges == NULL || wordnet == NULL) {
        clipt_test_skip("trainer", merges == NULL ? "missing " MERGES "; run scripts/setup"
                                                  : "missing /usr/share/wordnet; run scripts/setup");
    } else {
        tcase_add_test(tc, training_lowers_loss_and_raises_correlation);
        tcase_add_test(tc, resume_gives_the_same_losses);
        tcase_add_test(tc, saved_model_reloads_with_same_embeddings);
        tcase_add_test(tc, nonfinite_loss_leaves_parameters);
        tcase_add_test(tc, learning_rate_schedule);
        tcase_add_test(tc, trainer_rejects_bad_options);
    }
    if (merges != NULL) fclose(merges);
    if (wordnet != NULL) fclose(wordnet);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "trainer");
}
