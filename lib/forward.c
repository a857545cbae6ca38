/* Forward and backward orchestration of the CLIP text encoder:
 *
 *   x = token_embedding[ids] + position_embedding[0..T)
 *   for each block: x += out_proj(attention(qkv(LN1(x))))
 *                   x += fc2(act(fc1(LN2(x))))
 *   embedding = LN_final(x[b, eot[b]]) text_projection^T
 *
 * Because attention is causal, the output at eot[b] depends only on
 * columns 0..eot[b]. Each row is therefore cut after its end-of-text token
 * and the rows are packed one after another with no padding: the matrix
 * products run on the real tokens only, and attention keeps to each row
 * through its offsets.
 *
 * Only the end-of-text rows of the last block's output are used. That block
 * computes attention for every token, because their keys and values are
 * needed. The rest of the block, the final LayerNorm and the projection run
 * on the B end-of-text rows only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"

/* ------------------------------------------------------------------------ */
/* Workspace                                                                */
/* ------------------------------------------------------------------------ */

void clipt_activations_release(clipt_model *m)
{
    clipt_activations *a = &m->acts;
    if (a->memory != NULL) m->ctx->backend->free(m->ctx, a->memory);
    memset(a, 0, sizeof *a);
    if (m->loss.memory != NULL) m->ctx->backend->free(m->ctx, m->loss.memory);
    memset(&m->loss, 0, sizeof m->loss);
    m->forward_ready = 0;
}

/* Carves consecutive 64-byte aligned pieces out of one allocation. With
 * base NULL it only measures. */
typedef struct carver {
    char *base;
    size_t used;
} carver;

static void *carve(carver *cv, size_t bytes)
{
    size_t start = (cv->used + 63) / 64 * 64;
    cv->used = start + bytes;
    return cv->base == NULL ? NULL : cv->base + start;
}

static void layout_activations(clipt_activations *a, const clipt_model_config *c,
                               carver *cv)
{
    size_t B = (size_t)a->capacity_rows, ntok = a->capacity_tokens;
    size_t C = c->width, F = c->mlp_width, P = c->projection_dim;
    size_t NL = (size_t)a->layers, NH = c->heads;
    size_t f = sizeof(float);
    a->ids = carve(cv, ntok * sizeof(int32_t));
    a->pos = carve(cv, ntok * sizeof(int32_t));
    a->offsets = carve(cv, (B + 1) * sizeof(int32_t));
    a->eot = carve(cv, B * sizeof(int32_t));
    a->encoded = carve(cv, ntok * C * f);
    a->ln1 = carve(cv, NL * ntok * C * f);
    a->ln1_mean = carve(cv, NL * ntok * f);
    a->ln1_rstd = carve(cv, NL * ntok * f);
    a->qkv = carve(cv, NL * ntok * 3 * C * f);
    a->atty = carve(cv, NL * ntok * C * f);
    a->att_lse = carve(cv, NL * ntok * NH * f);
    a->residual2 = carve(cv, NL * ntok * C * f);
    a->ln2 = carve(cv, NL * ntok * C * f);
    a->ln2_mean = carve(cv, NL * ntok * f);
    a->ln2_rstd = carve(cv, NL * ntok * f);
    a->fch = carve(cv, NL * ntok * F * f);
    a->fch_act = carve(cv, NL * ntok * F * f);
    a->residual3 = carve(cv, NL * ntok * C * f);
    a->scratch = carve(cv, ntok * C * f);
    a->eot_residual = carve(cv, B * C * f);
    a->eot_atty = carve(cv, B * C * f);
    a->pooled = carve(cv, B * C * f);
    a->lnf = carve(cv, B * C * f);
    a->lnf_mean = carve(cv, B * f);
    a->lnf_rstd = carve(cv, B * f);
    a->output = carve(cv, B * P * f);
    if (a->with_grads) {
        a->dresidual = carve(cv, ntok * C * f);
        a->dln = carve(cv, ntok * C * f);
        a->dqkv = carve(cv, ntok * 3 * C * f);
        a->datty = carve(cv, ntok * C * f);
        a->dfch_act = carve(cv, ntok * F * f);
        a->dfch = carve(cv, ntok * F * f);
        a->deot_atty = carve(cv, B * C * f);
        a->dpooled = carve(cv, B * C * f);
        a->dlnf = carve(cv, B * C * f);
        a->doutput = carve(cv, B * P * f);
    }
}

clipt_status clipt_activations_reserve(clipt_model *m, int B, size_t ntok,
                                       int training)
{
    clipt_activations *a = &m->acts;
    int layers = training ? m->cfg.layers : 1;
    if (a->memory != NULL && a->capacity_rows >= B && a->capacity_tokens >= ntok &&
        a->layers >= layers && a->with_grads >= training) {
        return CLIPT_OK;
    }
    clipt_activations fresh;
    memset(&fresh, 0, sizeof fresh);
    fresh.capacity_rows = B > a->capacity_rows ? B : a->capacity_rows;
    fresh.capacity_tokens = ntok > a->capacity_tokens ? ntok : a->capacity_tokens;
    fresh.layers = layers > a->layers ? layers : a->layers;
    fresh.with_grads = training || a->with_grads;

    carver measure = {NULL, 0};
    layout_activations(&fresh, &m->cfg, &measure);
    clipt_context *ctx = m->ctx;
    if (a->memory != NULL) ctx->backend->free(ctx, a->memory);
    memset(a, 0, sizeof *a);
    m->forward_ready = 0;
    void *memory = NULL;
    CLIPT_TRY(ctx->backend->alloc(ctx, measure.used, "activations", &memory));
    fresh.memory = memory;
    carver place = {memory, 0};
    layout_activations(&fresh, &m->cfg, &place);
    *a = fresh;
    clipt_log(ctx, CLIPT_LOG_DEBUG,
              "activations: %d rows, %zu tokens, %d layer(s), %.1f MiB",
              a->capacity_rows, a->capacity_tokens, a->layers,
              (double)measure.used / 1048576.0);
    return CLIPT_OK;
}

static clipt_status reserve_loss_scratch(clipt_model *m, int N, size_t nE0)
{
    clipt_loss_scratch *s = &m->loss;
    if (s->memory != NULL && s->capacity_pairs >= N && s->capacity_embeddings >= nE0) {
        return CLIPT_OK;
    }
    clipt_loss_scratch fresh;
    memset(&fresh, 0, sizeof fresh);
    fresh.capacity_pairs = N > s->capacity_pairs ? N : s->capacity_pairs;
    fresh.capacity_embeddings = nE0 > s->capacity_embeddings ? nE0 : s->capacity_embeddings;
    size_t n = (size_t)fresh.capacity_pairs;
    for (int pass = 0; pass < 2; pass++) {
        carver cv = {pass == 0 ? NULL : fresh.memory, 0};
        fresh.pair_a = carve(&cv, n * sizeof(int32_t));
        fresh.pair_b = carve(&cv, n * sizeof(int32_t));
        fresh.target = carve(&cv, n * sizeof(float));
        fresh.cos = carve(&cv, n * sizeof(float));
        fresh.losses = carve(&cv, 4 * sizeof(float));
        fresh.E0 = carve(&cv, fresh.capacity_embeddings * sizeof(float));
        if (pass == 0) {
            clipt_context *ctx = m->ctx;
            if (s->memory != NULL) ctx->backend->free(ctx, s->memory);
            memset(s, 0, sizeof *s);
            CLIPT_TRY(ctx->backend->alloc(ctx, cv.used, "loss scratch", &fresh.memory));
        }
    }
    *s = fresh;
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Batch checks and upload                                                  */
/* ------------------------------------------------------------------------ */

clipt_status clipt_check_batch(const clipt_model *m, const int32_t *ids,
                               const int32_t *eot, int B, int T)
{
    if (ids == NULL || eot == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "token ids and end-of-text positions must not "
                               "be NULL");
    }
    if (B < 1) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "batch has %d rows; need at least 1", B);
    }
    if (T < 1 || T > m->cfg.context_length) {
        return clipt_set_error(CLIPT_ERR_SHAPE,
                               "token rows have %d columns; the model takes "
                               "1 to %d (its context length)",
                               T, m->cfg.context_length);
    }
    int V = m->cfg.vocab_size;
    for (int b = 0; b < B; b++) {
        if (eot[b] < 0 || eot[b] >= T) {
            return clipt_set_error(CLIPT_ERR_SHAPE,
                                   "row %d: end-of-text position %d is "
                                   "outside [0, %d)",
                                   b, eot[b], T);
        }
        const int32_t *row = ids + (size_t)b * T;
        for (int t = 0; t <= eot[b]; t++) {
            if (row[t] < 0 || row[t] >= V) {
                return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                       "row %d, column %d: token id %d is "
                                       "outside the vocabulary [0, %d)",
                                       b, t, row[t], V);
            }
        }
    }
    return CLIPT_OK;
}

/* Packs each row's tokens up to its end of text into the workspace, with
 * their positions, the row offsets and the end-of-text token indices. With
 * packing off, every row keeps all T columns and id 0 after its end. */
static clipt_status upload_batch(clipt_model *m, const int32_t *ids,
                                 const int32_t *eot, int B, int T, size_t N)
{
    clipt_context *ctx = m->ctx;
    const clipt_backend *be = ctx->backend;
    int32_t *host = NULL;
    size_t count = 2 * N + 2 * (size_t)B + 1;
    CLIPT_TRY(clipt_host_alloc(count * sizeof(int32_t), "packed token ids", (void **)&host));
    int32_t *packed = host, *pos = host + N, *offsets = host + 2 * N;
    int32_t *rows = offsets + B + 1;
    size_t n = 0;
    for (int b = 0; b < B; b++) {
        int len = m->pack_rows ? eot[b] + 1 : T;
        offsets[b] = (int32_t)n;
        rows[b] = (int32_t)n + eot[b];
        for (int t = 0; t < len; t++, n++) {
            packed[n] = t <= eot[b] ? ids[(size_t)b * T + t] : 0;
            pos[n] = t;
        }
    }
    offsets[B] = (int32_t)n;
    clipt_activations *a = &m->acts;
    clipt_status status = be->upload(ctx, a->ids, packed, N * sizeof(int32_t));
    if (status == CLIPT_OK) status = be->upload(ctx, a->pos, pos, N * sizeof(int32_t));
    if (status == CLIPT_OK) {
        status = be->upload(ctx, a->offsets, offsets, ((size_t)B + 1) * sizeof(int32_t));
    }
    if (status == CLIPT_OK) status = be->upload(ctx, a->eot, rows, (size_t)B * sizeof(int32_t));
    /* The upload may run asynchronously; wait before freeing the source. */
    if (status == CLIPT_OK) status = be->synchronize(ctx);
    free(host);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Forward                                                                  */
/* ------------------------------------------------------------------------ */

static clipt_status run_forward(clipt_model *m, int B, int ntok, int max_len,
                                int training)
{
    clipt_context *ctx = m->ctx;
    const clipt_backend *be = ctx->backend;
    const clipt_model_config *c = &m->cfg;
    clipt_activations *a = &m->acts;
    int C = c->width, NH = c->heads, F = c->mlp_width, P = c->projection_dim;
    float eps = c->layer_norm_eps;
    const float *p = m->params;
    size_t stride = a->capacity_tokens;

    CLIPT_TRY(be->embedding_forward(ctx, a->encoded, a->ids, a->pos, p + m->wte,
                                    p + m->wpe, ntok, C));
    const float *residual = a->encoded;
    for (int l = 0; l < c->layers; l++) {
        const clipt_layer_offsets *o = &m->layer[l];
        size_t s = training ? (size_t)l : 0;
        float *ln1 = a->ln1 + s * stride * C;
        float *ln1_mean = a->ln1_mean + s * stride;
        float *ln1_rstd = a->ln1_rstd + s * stride;
        float *qkv = a->qkv + s * stride * 3 * C;
        float *atty = a->atty + s * stride * C;
        float *lse = a->att_lse + s * stride * NH;
        float *residual2 = a->residual2 + s * stride * C;
        float *ln2 = a->ln2 + s * stride * C;
        float *ln2_mean = a->ln2_mean + s * stride;
        float *ln2_rstd = a->ln2_rstd + s * stride;
        float *fch = a->fch + s * stride * F;
        float *fch_act = a->fch_act + s * stride * F;
        float *residual3 = a->residual3 + s * stride * C;

        /* attention: residual2 = residual + out_proj(attn(qkv(ln1))) */
        CLIPT_TRY(be->layernorm_forward(ctx, ln1, ln1_mean, ln1_rstd, residual,
                                        p + o->ln1_weight, p + o->ln1_bias, ntok,
                                        C, eps));
        CLIPT_TRY(be->matmul_forward(ctx, qkv, ln1, p + o->qkv_weight,
                                     p + o->qkv_bias, ntok, C, 3 * C));
        CLIPT_TRY(be->attention_forward(ctx, atty, lse, qkv, a->offsets, B, ntok, C,
                                        NH, max_len));

        /* The last block continues on the B end-of-text rows only. */
        int rows = ntok;
        const float *block_in = residual, *att_out = atty;
        if (l == c->layers - 1) {
            CLIPT_TRY(be->gather_rows(ctx, a->eot_residual, residual, a->eot, B, C));
            CLIPT_TRY(be->gather_rows(ctx, a->eot_atty, atty, a->eot, B, C));
            rows = B;
            block_in = a->eot_residual;
            att_out = a->eot_atty;
        }
        CLIPT_TRY(be->matmul_forward(ctx, a->scratch, att_out,
                                     p + o->attn_out_weight,
                                     p + o->attn_out_bias, rows, C, C));
        CLIPT_TRY(be->add(ctx, residual2, block_in, a->scratch, (size_t)rows * C));

        /* MLP: residual3 = residual2 + fc2(act(fc1(ln2))) */
        CLIPT_TRY(be->layernorm_forward(ctx, ln2, ln2_mean, ln2_rstd, residual2,
                                        p + o->ln2_weight, p + o->ln2_bias, rows,
                                        C, eps));
        CLIPT_TRY(be->matmul_forward(ctx, fch, ln2, p + o->fc1_weight,
                                     p + o->fc1_bias, rows, C, F));
        CLIPT_TRY(be->activation_forward(ctx, fch_act, fch, (size_t)rows * F,
                                         c->activation));
        CLIPT_TRY(be->matmul_forward(ctx, a->scratch, fch_act, p + o->fc2_weight,
                                     p + o->fc2_bias, rows, F, C));
        CLIPT_TRY(be->add(ctx, residual3, residual2, a->scratch, (size_t)rows * C));
        residual = residual3;
    }

    /* head: final LayerNorm and projection of the end-of-text rows */
    if (c->layers > 0) {
        CLIPT_TRY(be->copy(ctx, a->pooled, residual, (size_t)B * C * sizeof(float)));
    } else {
        CLIPT_TRY(be->gather_rows(ctx, a->pooled, residual, a->eot, B, C));
    }
    CLIPT_TRY(be->layernorm_forward(ctx, a->lnf, a->lnf_mean, a->lnf_rstd,
                                    a->pooled, p + m->lnf_weight,
                                    p + m->lnf_bias, B, C, eps));
    CLIPT_TRY(be->matmul_forward(ctx, a->output, a->lnf, p + m->projection,
                                 NULL, B, C, P));
    return CLIPT_OK;
}

clipt_status clipt_forward(clipt_model *m, const int32_t *ids,
                           const int32_t *eot, int B, int T, int training,
                           size_t *tokens)
{
    CLIPT_TRY(clipt_check_batch(m, ids, eot, B, T));
    size_t N = 0;
    int max_len = 0;
    for (int b = 0; b < B; b++) {
        int len = m->pack_rows ? eot[b] + 1 : T;
        N += (size_t)len;
        if (len > max_len) max_len = len;
    }
    if (N > (size_t)INT32_MAX / 4) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "batch of %d rows has %zu tokens; split it into "
                               "batches of fewer than %d tokens",
                               B, N, INT32_MAX / 4);
    }
    m->forward_ready = 0;
    CLIPT_TRY(clipt_activations_reserve(m, B, N, training));
    CLIPT_TRY(upload_batch(m, ids, eot, B, T, N));
    CLIPT_TRY(run_forward(m, B, (int)N, max_len, training));
    if (training) {
        m->forward_ready = 1;
        m->forward_B = B;
        m->forward_N = (int)N;
        m->forward_max_len = max_len;
    }
    if (tokens != NULL) *tokens = N;
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Backward                                                                 */
/* ------------------------------------------------------------------------ */

clipt_status clipt_backward(clipt_model *m)
{
    if (!m->forward_ready || m->grads == NULL) {
        return clipt_set_error(CLIPT_ERR_MISUSE,
                               "backward pass requested without a training "
                               "forward pass and gradient buffer");
    }
    clipt_context *ctx = m->ctx;
    const clipt_backend *be = ctx->backend;
    const clipt_model_config *c = &m->cfg;
    clipt_activations *a = &m->acts;
    int B = m->forward_B, ntok = m->forward_N, max_len = m->forward_max_len;
    int C = c->width, NH = c->heads, F = c->mlp_width, P = c->projection_dim;
    const float *p = m->params;
    float *g = m->grads;
    size_t stride = a->capacity_tokens;
    size_t f = sizeof(float);
    m->forward_ready = 0;

    CLIPT_TRY(be->zero(ctx, a->dresidual, (size_t)ntok * C * f));
    CLIPT_TRY(be->zero(ctx, a->dpooled, (size_t)B * C * f));
    CLIPT_TRY(be->zero(ctx, a->dlnf, (size_t)B * C * f));

    /* head: output = lnf projection^T; lnf = LN(pooled) */
    CLIPT_TRY(be->matmul_backward(ctx, a->dlnf, g + m->projection, NULL,
                                  a->doutput, a->lnf, p + m->projection, B, C, P));
    CLIPT_TRY(be->layernorm_backward(ctx, a->dpooled, g + m->lnf_weight,
                                     g + m->lnf_bias, a->dlnf, a->pooled,
                                     p + m->lnf_weight, a->lnf_mean,
                                     a->lnf_rstd, B, C));
    if (c->layers == 0) {
        /* pooled = encoded[eot] */
        CLIPT_TRY(be->gather_rows_backward(ctx, a->dresidual, a->dpooled, a->eot, B, C));
    }

    int lowest = m->first_trainable_layer;
    for (int l = c->layers - 1; l >= lowest; l--) {
        const clipt_layer_offsets *o = &m->layer[l];
        size_t s = (size_t)l;
        /* Gradient into this block's input is needed unless it is the
         * lowest trainable block and the embeddings are frozen. */
        int need_dinp = l > lowest || m->train_embeddings;
        const float *residual = l == 0 ? a->encoded : a->residual3 + (s - 1) * stride * C;
        const float *ln1 = a->ln1 + s * stride * C;
        const float *ln1_mean = a->ln1_mean + s * stride;
        const float *ln1_rstd = a->ln1_rstd + s * stride;
        const float *qkv = a->qkv + s * stride * 3 * C;
        const float *atty = a->atty + s * stride * C;
        const float *lse = a->att_lse + s * stride * NH;
        const float *residual2 = a->residual2 + s * stride * C;
        const float *ln2 = a->ln2 + s * stride * C;
        const float *ln2_mean = a->ln2_mean + s * stride;
        const float *ln2_rstd = a->ln2_rstd + s * stride;
        const float *fch = a->fch + s * stride * F;
        const float *fch_act = a->fch_act + s * stride * F;

        /* The last block ran its MLP and output projection on the B
         * end-of-text rows; its gradient there starts in dpooled. */
        int last = l == c->layers - 1;
        int rows = last ? B : ntok;
        float *dres = last ? a->dpooled : a->dresidual;
        float *datt_out = last ? a->deot_atty : a->datty;
        const float *att_out = last ? a->eot_atty : atty;

        /* residual3 = residual2 + fc2(act(fc1(ln2(residual2))));
         * dres contains d residual3 and becomes d residual2 */
        CLIPT_TRY(be->zero(ctx, a->dfch_act, (size_t)rows * F * f));
        CLIPT_TRY(be->matmul_backward(ctx, a->dfch_act, g + o->fc2_weight,
                                      g + o->fc2_bias, dres, fch_act,
                                      p + o->fc2_weight, rows, F, C));
        CLIPT_TRY(be->zero(ctx, a->dfch, (size_t)rows * F * f));
        CLIPT_TRY(be->activation_backward(ctx, a->dfch, a->dfch_act, fch,
                                          (size_t)rows * F, c->activation));
        CLIPT_TRY(be->zero(ctx, a->dln, (size_t)rows * C * f));
        CLIPT_TRY(be->matmul_backward(ctx, a->dln, g + o->fc1_weight,
                                      g + o->fc1_bias, a->dfch, ln2,
                                      p + o->fc1_weight, rows, C, F));
        CLIPT_TRY(be->layernorm_backward(ctx, dres, g + o->ln2_weight,
                                         g + o->ln2_bias, a->dln, residual2,
                                         p + o->ln2_weight, ln2_mean, ln2_rstd,
                                         rows, C));

        /* residual2 = residual + out_proj(attn(qkv(ln1(residual))));
         * dres becomes d residual (on the end-of-text rows, for the last
         * block, so it is scattered into the full-length gradients) */
        CLIPT_TRY(be->zero(ctx, datt_out, (size_t)rows * C * f));
        CLIPT_TRY(be->matmul_backward(ctx, datt_out, g + o->attn_out_weight,
                                      g + o->attn_out_bias, dres, att_out,
                                      p + o->attn_out_weight, rows, C, C));
        if (last) {
            CLIPT_TRY(be->zero(ctx, a->datty, (size_t)ntok * C * f));
            CLIPT_TRY(be->gather_rows_backward(ctx, a->datty, a->deot_atty, a->eot, B, C));
            CLIPT_TRY(be->gather_rows_backward(ctx, a->dresidual, a->dpooled, a->eot, B, C));
        }
        CLIPT_TRY(be->zero(ctx, a->dqkv, (size_t)ntok * 3 * C * f));
        CLIPT_TRY(be->attention_backward(ctx, a->dqkv, a->datty, qkv, atty, lse,
                                         a->offsets, B, ntok, C, NH, max_len));
        CLIPT_TRY(be->zero(ctx, a->dln, (size_t)ntok * C * f));
        CLIPT_TRY(be->matmul_backward(ctx, a->dln, g + o->qkv_weight,
                                      g + o->qkv_bias, a->dqkv, ln1,
                                      p + o->qkv_weight, ntok, C, 3 * C));
        CLIPT_TRY(be->layernorm_backward(ctx, need_dinp ? a->dresidual : NULL,
                                         g + o->ln1_weight, g + o->ln1_bias,
                                         a->dln, residual, p + o->ln1_weight,
                                         ln1_mean, ln1_rstd, ntok, C));
    }

    if (m->train_embeddings) {
        CLIPT_TRY(be->embedding_backward(ctx, g + m->wte, g + m->wpe,
                                         a->dresidual, a->ids, a->pos, ntok, C,
                                         c->vocab_size));
    }
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Loss of one batch                                                        */
/* ------------------------------------------------------------------------ */

clipt_status clipt_batch_loss(clipt_model *m, const int32_t *ids,
                              const int32_t *eot, int U, int T,
                              const clipt_pair_batch *pairs, const float *E0,
                              float lambda, int with_grads, float losses[3],
                              float *cos)
{
    clipt_context *ctx = m->ctx;
    const clipt_backend *be = ctx->backend;
    int P = m->cfg.projection_dim;
    if (pairs == NULL || pairs->N < 1 || pairs->pair_a == NULL ||
        pairs->pair_b == NULL || pairs->target == NULL || losses == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "batch loss: need at least one pair with its "
                               "two row indices and target");
    }
    if (!isfinite(lambda) || lambda < 0.0f) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "batch loss: lambda is %g, must be finite and "
                               ">= 0",
                               (double)lambda);
    }
    int N = pairs->N;
    for (int n = 0; n < N; n++) {
        if (pairs->pair_a[n] < 0 || pairs->pair_a[n] >= U ||
            pairs->pair_b[n] < 0 || pairs->pair_b[n] >= U) {
            return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                   "pair %d refers to rows %d and %d; the "
                                   "batch has rows [0, %d)",
                                   n, pairs->pair_a[n], pairs->pair_b[n], U);
        }
        if (!isfinite(pairs->target[n])) {
            return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                   "pair %d: target %g is not finite", n,
                                   (double)pairs->target[n]);
        }
    }
    size_t nE0 = E0 != NULL ? (size_t)U * P : 0;
    if (with_grads) CLIPT_TRY(clipt_model_zero_grads(m));
    CLIPT_TRY(clipt_forward(m, ids, eot, U, T, with_grads, NULL));
    CLIPT_TRY(reserve_loss_scratch(m, N, nE0));

    clipt_loss_scratch *s = &m->loss;
    clipt_activations *a = &m->acts;
    CLIPT_TRY(be->upload(ctx, s->pair_a, pairs->pair_a, (size_t)N * sizeof(int32_t)));
    CLIPT_TRY(be->upload(ctx, s->pair_b, pairs->pair_b, (size_t)N * sizeof(int32_t)));
    CLIPT_TRY(be->upload(ctx, s->target, pairs->target, (size_t)N * sizeof(float)));
    if (E0 != NULL) CLIPT_TRY(be->upload(ctx, s->E0, E0, nE0 * sizeof(float)));
    if (with_grads) {
        CLIPT_TRY(be->zero(ctx, a->doutput, (size_t)U * P * sizeof(float)));
    }
    CLIPT_TRY(be->cosine_loss(ctx, s->losses, s->cos,
                              with_grads ? a->doutput : NULL, a->output,
                              E0 != NULL ? s->E0 : NULL, s->pair_a, s->pair_b,
                              s->target, N, U, P, lambda));
    CLIPT_TRY(be->download(ctx, losses, s->losses, 3 * sizeof(float)));
    if (cos != NULL) CLIPT_TRY(be->download(ctx, cos, s->cos, (size_t)N * sizeof(float)));
    CLIPT_TRY(be->synchronize(ctx));
    if (!isfinite(losses[0])) {
        m->forward_ready = 0;
        return clipt_set_error(CLIPT_ERR_NONFINITE,
                               "batch loss is %g (distance %g, regulariser "
                               "%g); embeddings or targets contain NaN or "
                               "infinity",
                               (double)losses[0], (double)losses[1],
                               (double)losses[2]);
    }
    if (with_grads) CLIPT_TRY(clipt_backward(m));
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Public inference                                                         */
/* ------------------------------------------------------------------------ */

/* Rows per forward pass of clipt_model_encode, which bounds its memory. */
#define ENCODE_CHUNK_ROWS 1024

CLIPT_API clipt_status clipt_model_encode(clipt_model *m, const int32_t *ids,
                                          const int32_t *eot, int B, int T,
                                          float *embeddings)
{
    if (m == NULL || embeddings == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_model_encode: model and embeddings must "
                               "not be NULL");
    }
    CLIPT_TRY(clipt_check_batch(m, ids, eot, B, T));
    clipt_context *ctx = m->ctx;
    int P = m->cfg.projection_dim;
    for (int b0 = 0; b0 < B; b0 += ENCODE_CHUNK_ROWS) {
        int rows = B - b0 < ENCODE_CHUNK_ROWS ? B - b0 : ENCODE_CHUNK_ROWS;
        CLIPT_TRY(clipt_forward(m, ids + (size_t)b0 * T, eot + b0, rows, T, 0, NULL));
        CLIPT_TRY(ctx->backend->download(ctx, embeddings + (size_t)b0 * P,
                                         m->acts.output,
                                         (size_t)rows * P * sizeof(float)));
    }
    return ctx->backend->synchronize(ctx);
}
