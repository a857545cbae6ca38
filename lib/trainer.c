/* The fine-tuning loop: batches of text pairs, the cached embeddings of
 * the frozen original M0, AdamW with a warm-up + cosine schedule, and
 * resumable state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trainer.h"

/* ------------------------------------------------------------------------ */
/* Text batches                                                             */
/* ------------------------------------------------------------------------ */

void clipt_text_batch_init(clipt_text_batch *b)
{
    memset(b, 0, sizeof *b);
    clipt_strmap_init(&b->texts);
}

void clipt_text_batch_release(clipt_text_batch *b)
{
    clipt_strmap_release(&b->texts);
    free(b->rows);
    free(b->ids);
    free(b->eot);
    free(b->pair_a);
    free(b->pair_b);
    free(b->target);
    memset(b, 0, sizeof *b);
}

/* Grows an array of elem-byte items to at least count items. */
static clipt_status grow_array(void **array, size_t *capacity, size_t count,
                               size_t elem, const char *what)
{
    if (count <= *capacity) return CLIPT_OK;
    size_t cap = *capacity ? *capacity : 256;
    while (cap < count) cap *= 2;
    void *p = realloc(*array, cap * elem);
    if (p == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory for %zu %s", cap, what);
    }
    *array = p;
    *capacity = cap;
    return CLIPT_OK;
}

clipt_status clipt_text_batch_build(clipt_text_batch *b,
                                    clipt_tokenizer *tokenizer, int T,
                                    const clipt_pair *pairs, size_t n)
{
    if (pairs == NULL || n == 0) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "a batch needs at least one pair");
    }
    if (n > (size_t)INT32_MAX / 2) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "batch of %zu pairs is too large", n);
    }
    /* The map of texts is rebuilt for every batch. */
    clipt_strmap_release(&b->texts);
    clipt_strmap_init(&b->texts);
    CLIPT_TRY(grow_array((void **)&b->pair_a, &b->pair_a_capacity, n, sizeof(int32_t),
                         "pair indices"));
    CLIPT_TRY(grow_array((void **)&b->pair_b, &b->pair_b_capacity, n, sizeof(int32_t),
                         "pair indices"));
    CLIPT_TRY(grow_array((void **)&b->target, &b->target_capacity, n, sizeof(float),
                         "pair targets"));

    for (size_t i = 0; i < n; i++) {
        const clipt_pair *p = &pairs[i];
        if (p->text_a == NULL || p->text_b == NULL) {
            return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "pair %zu has a NULL text", i);
        }
        if (!isfinite(p->target)) {
            return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                   "pair %zu (\"%s\", \"%s\"): target %g is not finite", i,
                                   p->text_a, p->text_b, p->target);
        }
        CLIPT_TRY(clipt_strmap_insert(&b->texts, p->text_a, &b->pair_a[i], NULL));
        CLIPT_TRY(clipt_strmap_insert(&b->texts, p->text_b, &b->pair_b[i], NULL));
        b->target[i] = (float)p->target;
    }
    b->N = (int)n;
    b->U = (int)b->texts.count;
    b->T = T;

    size_t U = (size_t)b->U;
    CLIPT_TRY(grow_array((void **)&b->rows, &b->rows_capacity, U, sizeof(char *), "text rows"));
    CLIPT_TRY(grow_array((void **)&b->eot, &b->eot_capacity, U, sizeof(int32_t), "text rows"));
    CLIPT_TRY(grow_array((void **)&b->ids, &b->ids_capacity, U * (size_t)T, sizeof(int32_t),
                         "token ids"));
    for (size_t u = 0; u < U; u++) b->rows[u] = b->texts.keys[u];
    CLIPT_TRY(clipt_tokenizer_encode_batch(tokenizer, b->rows, b->U, T, b->ids, b->eot));
    b->tokens = 0;
    for (size_t u = 0; u < U; u++) b->tokens += b->eot[u] + 1;
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Options and creation                                                     */
/* ------------------------------------------------------------------------ */

CLIPT_API void clipt_trainer_options_init(clipt_trainer_options *o)
{
    if (o == NULL) return;
    memset(o, 0, sizeof *o);
    o->learning_rate = 1e-5;
    o->warmup_steps = 100;
    o->total_steps = 1000;
    o->schedule = CLIPT_SCHEDULE_COSINE;
    o->weight_decay = 0.01;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->max_grad_norm = 1.0;
    o->lambda = 1.0;
    o->train_top_blocks = -1;
}

static clipt_status check_options(const clipt_trainer_options *o, int layers)
{
    const struct {
        const char *name;
        double value;
        double lo, hi;
    } ranges[] = {
        {"learning_rate", o->learning_rate, 0.0, 10.0},
        {"weight_decay", o->weight_decay, 0.0, 1e6},
        {"beta1", o->beta1, 0.0, 0.999999999},
        {"beta2", o->beta2, 0.0, 0.999999999},
        {"eps", o->eps, 0.0, 1.0},
        {"max_grad_norm", o->max_grad_norm, 0.0, 1e30},
        {"lambda", o->lambda, 0.0, 1e30},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        if (!(ranges[i].value >= ranges[i].lo && ranges[i].value <= ranges[i].hi)) {
            return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                   "trainer option %s is %g; it must lie in [%g, %g]",
                                   ranges[i].name, ranges[i].value, ranges[i].lo, ranges[i].hi);
        }
    }
    if (o->warmup_steps < 0 || o->total_steps < 1) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "trainer options: warmup_steps is %lld and total_steps %lld; "
                               "need warmup_steps >= 0 and total_steps >= 1",
                               (long long)o->warmup_steps, (long long)o->total_steps);
    }
    if (o->schedule != CLIPT_SCHEDULE_COSINE && o->schedule != CLIPT_SCHEDULE_CONSTANT) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "unknown learning-rate schedule %d",
                               (int)o->schedule);
    }
    if (o->train_top_blocks < -1 || o->train_top_blocks > layers) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "train_top_blocks is %d; use -1 for every tensor or 0 to %d",
                               o->train_top_blocks, layers);
    }
    return CLIPT_OK;
}

clipt_status clipt_model_clone(const clipt_model *model, clipt_model **out)
{
    clipt_model *copy = NULL;
    CLIPT_TRY(clipt_model_create_zeroed(model->ctx, &model->cfg, &copy));
    clipt_context *ctx = model->ctx;
    clipt_status status = ctx->backend->copy(ctx, copy->params, model->params,
                                             model->nparams * sizeof(float));
    if (status == CLIPT_OK) status = ctx->backend->synchronize(ctx);
    if (status != CLIPT_OK) {
        clipt_model_free(copy);
        return status;
    }
    copy->pack_rows = model->pack_rows;
    *out = copy;
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_trainer_create(clipt_model *model, clipt_tokenizer *tokenizer,
                                            const clipt_trainer_options *options,
                                            clipt_trainer **out)
{
    if (out != NULL) *out = NULL;
    if (model == NULL || tokenizer == NULL || out == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_trainer_create: model, tokenizer and out must not be NULL");
    }
    clipt_trainer_options defaults;
    if (options == NULL) {
        clipt_trainer_options_init(&defaults);
        options = &defaults;
    }
    CLIPT_TRY(check_options(options, model->cfg.layers));
    if (clipt_tokenizer_vocab_size(tokenizer) > model->cfg.vocab_size) {
        return clipt_set_error(CLIPT_ERR_SHAPE,
                               "the tokenizer has %d ids but the model's vocabulary has %d rows",
                               clipt_tokenizer_vocab_size(tokenizer), model->cfg.vocab_size);
    }
    clipt_trainer *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory for a trainer");
    }
    clipt_status status = CLIPT_OK;
    t->model = model;
    t->tokenizer = tokenizer;
    t->options = *options;
    clipt_text_batch_init(&t->batch);
    clipt_strmap_init(&t->cache_texts);
    CLIPT_TRY_GOTO(clipt_model_set_trainable(model, options->train_top_blocks));
    CLIPT_TRY_GOTO(clipt_model_enable_grads(model));
    CLIPT_TRY_GOTO(clipt_adamw_init(model, &t->adam));
    CLIPT_TRY_GOTO(clipt_model_clone(model, &t->original));
    clipt_log(model->ctx, CLIPT_LOG_INFO,
              "trainer: lr %g, warm-up %lld of %lld steps, weight decay %g, lambda %g, %s",
              options->learning_rate, (long long)options->warmup_steps,
              (long long)options->total_steps, options->weight_decay, options->lambda,
              options->train_top_blocks < 0 ? "all tensors trained" : "lower blocks frozen");
    *out = t;
    return CLIPT_OK;
fail:
    clipt_trainer_free(t);
    return status;
}

CLIPT_API void clipt_trainer_free(clipt_trainer *t)
{
    if (t == NULL) return;
    if (t->adam.m != NULL) clipt_adamw_release(t->model, &t->adam);
    clipt_model_free(t->original);
    clipt_text_batch_release(&t->batch);
    clipt_strmap_release(&t->cache_texts);
    free(t->cache);
    free(t->E0);
    free(t);
}

CLIPT_API double clipt_trainer_learning_rate(const clipt_trainer *t, int64_t steps)
{
    if (t == NULL) return NAN;
    const clipt_trainer_options *o = &t->options;
    if (steps < o->warmup_steps) {
        return o->learning_rate * (double)(steps + 1) / (double)o->warmup_steps;
    }
    if (o->schedule == CLIPT_SCHEDULE_CONSTANT) return o->learning_rate;
    int64_t span = o->total_steps - o->warmup_steps;
    double progress = span > 0 ? (double)(steps - o->warmup_steps) / (double)span : 1.0;
    if (progress > 1.0) progress = 1.0;
    return o->learning_rate * 0.5 * (1.0 + cos(M_PI * progress));
}

CLIPT_API int64_t clipt_trainer_steps(const clipt_trainer *t)
{
    return t == NULL ? 0 : t->step;
}

CLIPT_API clipt_status clipt_trainer_set_total_steps(clipt_trainer *t, int64_t total_steps)
{
    if (t == NULL || total_steps < 1) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_trainer_set_total_steps: need a trainer and a length >= 1, "
                               "got %lld",
                               (long long)total_steps);
    }
    t->options.total_steps = total_steps;
    return CLIPT_OK;
}

CLIPT_API size_t clipt_trainer_cache_size(const clipt_trainer *t)
{
    return t == NULL ? 0 : t->cache_texts.count;
}

/* ------------------------------------------------------------------------ */
/* Cached embeddings of the original model                                  */
/* ------------------------------------------------------------------------ */

clipt_status clipt_trainer_cache_put(clipt_trainer *t, const char *text, const float *embedding)
{
    size_t P = (size_t)t->model->cfg.projection_dim;
    int32_t row;
    int inserted;
    CLIPT_TRY(clipt_strmap_insert(&t->cache_texts, text, &row, &inserted));
    if ((size_t)row >= t->cache_capacity) {
        size_t cap = t->cache_capacity ? t->cache_capacity * 2 : 1024;
        float *p = realloc(t->cache, cap * P * sizeof(float));
        if (p == NULL) {
            return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                                   "out of host memory caching %zu embeddings", cap);
        }
        t->cache = p;
        t->cache_capacity = cap;
    }
    memcpy(t->cache + (size_t)row * P, embedding, P * sizeof(float));
    return CLIPT_OK;
}

clipt_status clipt_trainer_fill_original(clipt_trainer *t, const clipt_text_batch *b)
{
    size_t P = (size_t)t->model->cfg.projection_dim, U = (size_t)b->U, T = (size_t)b->T;
    CLIPT_TRY(grow_array((void **)&t->E0, &t->E0_capacity, U * P, sizeof(float),
                         "original embeddings"));
    /* rows not cached yet, packed into a batch of their own */
    int32_t *missing = malloc(U * sizeof(int32_t));
    int32_t *ids = malloc(U * T * sizeof(int32_t));
    int32_t *eot = malloc(U * sizeof(int32_t));
    float *emb = malloc(U * P * sizeof(float));
    clipt_status status = CLIPT_OK;
    if (missing == NULL || ids == NULL || eot == NULL || emb == NULL) {
        status = clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                                 "out of host memory encoding %zu texts with the original model", U);
        goto done;
    }
    int count = 0;
    for (size_t u = 0; u < U; u++) {
        if (clipt_strmap_find(&t->cache_texts, b->rows[u]) >= 0) continue;
        memcpy(ids + (size_t)count * T, b->ids + u * T, T * sizeof(int32_t));
        eot[count] = b->eot[u];
        missing[count++] = (int32_t)u;
    }
    if (count > 0) {
        CLIPT_TRY_GOTO(clipt_model_encode(t->original, ids, eot, count, (int)T, emb));
        for (int i = 0; i < count; i++) {
            CLIPT_TRY_GOTO(clipt_trainer_cache_put(t, b->rows[missing[i]], emb + (size_t)i * P));
        }
    }
    for (size_t u = 0; u < U; u++) {
        int32_t row = clipt_strmap_find(&t->cache_texts, b->rows[u]);
        memcpy(t->E0 + u * P, t->cache + (size_t)row * P, P * sizeof(float));
    }
done:
fail:
    free(missing);
    free(ids);
    free(eot);
    free(emb);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Step                                                                     */
/* ------------------------------------------------------------------------ */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

CLIPT_API clipt_status clipt_trainer_step(clipt_trainer *t, const clipt_pair *pairs, size_t n,
                                          clipt_step_stats *stats)
{
    if (t == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "clipt_trainer_step: trainer is NULL");
    }
    double start = now_seconds();
    clipt_model *m = t->model;
    clipt_text_batch *b = &t->batch;
    CLIPT_TRY(clipt_text_batch_build(b, t->tokenizer, m->cfg.context_length, pairs, n));
    double lambda = t->options.lambda;
    if (lambda > 0.0) CLIPT_TRY(clipt_trainer_fill_original(t, b));

    double lr = clipt_trainer_learning_rate(t, t->step);
    float losses[3];
    clipt_pair_batch pb = {b->N, b->pair_a, b->pair_b, b->target};
    CLIPT_TRY(clipt_batch_loss(m, b->ids, b->eot, b->U, b->T, &pb, lambda > 0.0 ? t->E0 : NULL,
                               (float)lambda, 1, losses, NULL));
    clipt_adamw_hparams hp = {lr,
                              t->options.beta1,
                              t->options.beta2,
                              t->options.eps,
                              t->options.weight_decay,
                              0,
                              t->options.max_grad_norm};
    float norm = 0.0f;
    CLIPT_TRY(clipt_adamw_step(m, &t->adam, &hp, &norm));
    CLIPT_TRY(m->ctx->backend->synchronize(m->ctx));
    t->step++;
    if (stats != NULL) {
        memset(stats, 0, sizeof *stats);
        stats->step = t->step;
        stats->loss = losses[0];
        stats->distance = losses[1];
        stats->regulariser = losses[2];
        stats->grad_norm = norm;
        stats->learning_rate = lr;
        stats->pairs = b->N;
        stats->texts = b->U;
        stats->tokens = b->tokens;
        stats->seconds = now_seconds() - start;
    }
    return CLIPT_OK;
}
