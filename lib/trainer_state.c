/* The trainer's resumable state and the file of cached original-model
 * embeddings, both written with the checksummed state-file format. */
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

/* ------------------------------------------------------------------------ */
/* Resumable state and the embedding cache                                  */
/* ------------------------------------------------------------------------ */

/* The "trainer" section of a state file: what must match on resume, and
 * the step count. Fields are fixed-width so the layout is the same on
 * every platform the library builds for (little-endian). */
typedef struct trainer_record {
    uint32_t version;
    int32_t vocab_size, context_length, width, heads, layers, mlp_width, projection_dim;
    int32_t train_top_blocks;
    int64_t step;
    int64_t adam_step;
    uint64_t nparams;
} trainer_record;

#define TRAINER_RECORD_VERSION 1

static trainer_record make_record(const clipt_trainer *t)
{
    const clipt_model_config *c = &t->model->cfg;
    trainer_record r;
    memset(&r, 0, sizeof r);
    r.version = TRAINER_RECORD_VERSION;
    r.vocab_size = c->vocab_size;
    r.context_length = c->context_length;
    r.width = c->width;
    r.heads = c->heads;
    r.layers = c->layers;
    r.mlp_width = c->mlp_width;
    r.projection_dim = c->projection_dim;
    r.train_top_blocks = t->options.train_top_blocks;
    r.step = t->step;
    r.adam_step = t->adam.step;
    r.nparams = t->model->nparams;
    return r;
}

/* Downloads nparams floats of backend memory src into a new host buffer. */
static clipt_status download_floats(const clipt_trainer *t, const float *src, float **out)
{
    clipt_context *ctx = t->model->ctx;
    size_t bytes = t->model->nparams * sizeof(float);
    CLIPT_TRY(clipt_host_alloc(bytes, "a host copy of the parameters", (void **)out));
    clipt_status status = ctx->backend->download(ctx, *out, src, bytes);
    if (status == CLIPT_OK) status = ctx->backend->synchronize(ctx);
    if (status != CLIPT_OK) {
        free(*out);
        *out = NULL;
    }
    return status;
}

CLIPT_API clipt_status clipt_trainer_save_state(const clipt_trainer *t, const char *path,
                                                const void *extra, size_t extra_bytes)
{
    if (t == NULL || path == NULL || (extra == NULL && extra_bytes > 0)) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_trainer_save_state: NULL argument");
    }
    clipt_status status = CLIPT_OK;
    clipt_state_writer *w = NULL;
    float *params = NULL, *m = NULL, *v = NULL;
    size_t bytes = t->model->nparams * sizeof(float);
    trainer_record r = make_record(t);
    CLIPT_TRY_GOTO(download_floats(t, t->model->params, &params));
    CLIPT_TRY_GOTO(download_floats(t, t->adam.m, &m));
    CLIPT_TRY_GOTO(download_floats(t, t->adam.v, &v));
    CLIPT_TRY_GOTO(clipt_state_writer_create(&w));
    CLIPT_TRY_GOTO(clipt_state_writer_add(w, "trainer", CLIPT_SECTION_BYTES, &r, sizeof r));
    CLIPT_TRY_GOTO(clipt_state_writer_add(w, "parameters", CLIPT_SECTION_FLOAT32, params, bytes));
    CLIPT_TRY_GOTO(clipt_state_writer_add(w, "adamw.m", CLIPT_SECTION_FLOAT32, m, bytes));
    CLIPT_TRY_GOTO(clipt_state_writer_add(w, "adamw.v", CLIPT_SECTION_FLOAT32, v, bytes));
    if (extra_bytes > 0) {
        CLIPT_TRY_GOTO(clipt_state_writer_add(w, "extra", CLIPT_SECTION_BYTES, extra, extra_bytes));
    }
    CLIPT_TRY_GOTO(clipt_state_writer_commit(w, path));
fail:
    clipt_state_writer_free(w);
    free(params);
    free(m);
    free(v);
    return status;
}

CLIPT_API clipt_status clipt_trainer_load_state(clipt_trainer *t, const char *path, void *extra,
                                                size_t extra_capacity, size_t *extra_bytes)
{
    if (t == NULL || path == NULL || (extra == NULL && extra_capacity > 0)) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_trainer_load_state: NULL argument");
    }
    clipt_state *st = NULL;
    CLIPT_TRY(clipt_state_load(path, &st));
    clipt_status status = CLIPT_OK;
    trainer_record want = make_record(t), got;
    const void *params = NULL, *m = NULL, *v = NULL, *blob = NULL;
    size_t bytes = t->model->nparams * sizeof(float), nb = 0, blob_bytes = 0;
    CLIPT_TRY_GOTO(clipt_state_read(st, "trainer", CLIPT_SECTION_BYTES, &got, sizeof got));
    if (got.version != TRAINER_RECORD_VERSION) {
        status = clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                                 "%s: trainer record version %u; this libclipt reads version %d",
                                 path, got.version, TRAINER_RECORD_VERSION);
        goto fail;
    }
    if (got.vocab_size != want.vocab_size || got.context_length != want.context_length ||
        got.width != want.width || got.heads != want.heads || got.layers != want.layers ||
        got.mlp_width != want.mlp_width || got.projection_dim != want.projection_dim ||
        got.nparams != want.nparams) {
        status = clipt_set_error(CLIPT_ERR_SHAPE,
                                 "%s was saved for a model with vocab %d, context %d, width %d, "
                                 "%d heads, %d layers, mlp %d, projection %d; this model has "
                                 "vocab %d, context %d, width %d, %d heads, %d layers, mlp %d, "
                                 "projection %d",
                                 path, got.vocab_size, got.context_length, got.width, got.heads,
                                 got.layers, got.mlp_width, got.projection_dim, want.vocab_size,
                                 want.context_length, want.width, want.heads, want.layers,
                                 want.mlp_width, want.projection_dim);
        goto fail;
    }
    if (got.train_top_blocks != want.train_top_blocks) {
        status = clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                 "%s was saved training the top %d blocks (-1: all); this trainer "
                                 "trains %d; resume with the same setting",
                                 path, got.train_top_blocks, want.train_top_blocks);
        goto fail;
    }
    CLIPT_TRY_GOTO(clipt_state_get(st, "parameters", CLIPT_SECTION_FLOAT32, &params, &nb));
    if (nb == bytes) CLIPT_TRY_GOTO(clipt_state_get(st, "adamw.m", CLIPT_SECTION_FLOAT32, &m, &nb));
    if (nb == bytes) CLIPT_TRY_GOTO(clipt_state_get(st, "adamw.v", CLIPT_SECTION_FLOAT32, &v, &nb));
    if (nb != bytes) {
        status = clipt_set_error(CLIPT_ERR_CORRUPT,
                                 "%s: a parameter section has %zu bytes, expected %zu", path, nb,
                                 bytes);
        goto fail;
    }
    if (clipt_state_get(st, "extra", CLIPT_SECTION_BYTES, &blob, &blob_bytes) != CLIPT_OK) {
        blob = NULL;
        blob_bytes = 0;
        clipt_clear_error();
    }
    /* Everything is read and checked; only now change the trainer. */
    clipt_context *ctx = t->model->ctx;
    CLIPT_TRY_GOTO(ctx->backend->upload(ctx, t->model->params, params, bytes));
    CLIPT_TRY_GOTO(ctx->backend->upload(ctx, t->adam.m, m, bytes));
    CLIPT_TRY_GOTO(ctx->backend->upload(ctx, t->adam.v, v, bytes));
    CLIPT_TRY_GOTO(ctx->backend->synchronize(ctx));
    t->step = got.step;
    t->adam.step = got.adam_step;
    if (extra != NULL && blob != NULL) {
        memcpy(extra, blob, blob_bytes < extra_capacity ? blob_bytes : extra_capacity);
    }
    if (extra_bytes != NULL) *extra_bytes = blob_bytes;
fail:
    clipt_state_free(st);
    return status;
}

CLIPT_API clipt_status clipt_trainer_save_cache(const clipt_trainer *t, const char *path)
{
    if (t == NULL || path == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_trainer_save_cache: NULL argument");
    }
    size_t count = t->cache_texts.count, P = (size_t)t->model->cfg.projection_dim;
    size_t text_bytes = 0;
    for (size_t i = 0; i < count; i++) text_bytes += strlen(t->cache_texts.keys[i]) + 1;
    char *texts = NULL;
    CLIPT_TRY(clipt_host_alloc(text_bytes ? text_bytes : 1, "cached texts", (void **)&texts));
    char *p = texts;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(t->cache_texts.keys[i]) + 1;
        memcpy(p, t->cache_texts.keys[i], len);
        p += len;
    }
    uint64_t header[2] = {count, P};
    clipt_state_writer *w = NULL;
    clipt_status status = clipt_state_writer_create(&w);
    if (status == CLIPT_OK) {
        status = clipt_state_writer_add(w, "cache", CLIPT_SECTION_BYTES, header, sizeof header);
    }
    if (status == CLIPT_OK) {
        status = clipt_state_writer_add(w, "cache.texts", CLIPT_SECTION_BYTES, texts, text_bytes);
    }
    if (status == CLIPT_OK) {
        status = clipt_state_writer_add(w, "cache.embeddings", CLIPT_SECTION_FLOAT32, t->cache,
                                        count * P * sizeof(float));
    }
    if (status == CLIPT_OK) status = clipt_state_writer_commit(w, path);
    clipt_state_writer_free(w);
    free(texts);
    return status;
}

CLIPT_API clipt_status clipt_trainer_load_cache(clipt_trainer *t, const char *path)
{
    if (t == NULL || path == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_trainer_load_cache: NULL argument");
    }
    clipt_state *st = NULL;
    CLIPT_TRY(clipt_state_load(path, &st));
    clipt_status status = CLIPT_OK;
    uint64_t header[2];
    const void *texts = NULL, *emb = NULL;
    size_t text_bytes = 0, emb_bytes = 0, P = (size_t)t->model->cfg.projection_dim;
    CLIPT_TRY_GOTO(clipt_state_read(st, "cache", CLIPT_SECTION_BYTES, header, sizeof header));
    if (header[1] != P) {
        status = clipt_set_error(CLIPT_ERR_SHAPE,
                                 "%s holds embeddings of width %llu; the model's is %zu", path,
                                 (unsigned long long)header[1], P);
        goto fail;
    }
    CLIPT_TRY_GOTO(clipt_state_get(st, "cache.texts", CLIPT_SECTION_BYTES, &texts, &text_bytes));
    CLIPT_TRY_GOTO(
        clipt_state_get(st, "cache.embeddings", CLIPT_SECTION_FLOAT32, &emb, &emb_bytes));
    if (emb_bytes != header[0] * P * sizeof(float) ||
        (text_bytes > 0 && ((const char *)texts)[text_bytes - 1] != '\0')) {
        status = clipt_set_error(CLIPT_ERR_CORRUPT,
                                 "%s: the cache sections do not agree with %llu texts", path,
                                 (unsigned long long)header[0]);
        goto fail;
    }
    const char *p = texts, *end = (const char *)texts + text_bytes;
    for (uint64_t i = 0; i < header[0]; i++) {
        if (p >= end) {
            status = clipt_set_error(CLIPT_ERR_CORRUPT, "%s: text %llu of the cache is missing",
                                     path, (unsigned long long)i);
            goto fail;
        }
        CLIPT_TRY_GOTO(clipt_trainer_cache_put(t, p, (const float *)emb + i * P));
        p += strlen(p) + 1;
    }
fail:
    clipt_state_free(st);
    return status;
}
