/* Model configuration, the named-tensor table over one flat parameter
 * buffer, CLIP's initialisation, and parameter access. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "rng.h"

/* Tensors start on 16-float (64-byte) boundaries so vector loads stay
 * aligned; k and v follow q directly so the three form one matrix. */
#define TENSOR_ALIGN 16

CLIPT_API clipt_status clipt_model_config_preset(const char *name,
                                                 clipt_model_config *cfg)
{
    if (cfg == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_model_config_preset: cfg is NULL");
    }
    if (name == NULL) name = "vit-b-32";
    clipt_model_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = 49408;
    c.context_length = 77;
    c.layer_norm_eps = 1e-5f;
    c.activation = CLIPT_ACTIVATION_QUICK_GELU;
    c.bos_token_id = 49406;
    c.eos_token_id = 49407;
    c.pad_token_id = 1;
    if (strcmp(name, "vit-b-32") == 0) {
        c.width = 512;
        c.heads = 8;
        c.layers = 12;
        c.mlp_width = 2048;
        c.projection_dim = 512;
    } else if (strcmp(name, "small") == 0) {
        c.width = 256;
        c.heads = 4;
        c.layers = 4;
        c.mlp_width = 1024;
        c.projection_dim = 256;
    } else {
        return clipt_set_error(CLIPT_ERR_NOT_FOUND,
                               "unknown model preset \"%s\"; the presets are "
                               "\"vit-b-32\" and \"small\"",
                               name);
    }
    *cfg = c;
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_model_config_validate(const clipt_model_config *c)
{
    if (c == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "model config is NULL");
    }
    const struct {
        const char *name;
        int value;
    } sizes[] = {
        {"vocab_size", c->vocab_size},   {"context_length", c->context_length},
        {"width", c->width},             {"heads", c->heads},
        {"layers", c->layers},           {"mlp_width", c->mlp_width},
        {"projection_dim", c->projection_dim},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (sizes[i].value < 1) {
            return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                   "model config: %s is %d, must be >= 1",
                                   sizes[i].name, sizes[i].value);
        }
    }
    if (c->width % c->heads != 0) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "model config: width %d is not a multiple of "
                               "heads %d",
                               c->width, c->heads);
    }
    if (!(c->layer_norm_eps > 0.0f) || !isfinite(c->layer_norm_eps)) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "model config: layer_norm_eps is %g, must be "
                               "a positive finite number",
                               (double)c->layer_norm_eps);
    }
    if (c->activation != CLIPT_ACTIVATION_QUICK_GELU &&
        c->activation != CLIPT_ACTIVATION_GELU) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "model config: unknown activation %d",
                               (int)c->activation);
    }
    /* Guard the int arithmetic of offsets and activation sizes: each tensor
     * stays below 2^31 elements. */
    double biggest = (double)c->vocab_size * c->width;
    double mlp = (double)c->mlp_width * c->width;
    if (biggest > 2147483647.0 || mlp > 2147483647.0 ||
        (double)c->width * 3 > 2147483647.0) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "model config: a tensor would hold 2^31 or more "
                               "elements (vocab_size %d, width %d, "
                               "mlp_width %d)",
                               c->vocab_size, c->width, c->mlp_width);
    }
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Tensor table                                                             */
/* ------------------------------------------------------------------------ */

typedef struct table_builder {
    clipt_tensor_entry *entries;
    int count;
    int capacity;
    size_t next;   /* next free float */
} table_builder;

/* Appends a tensor; `packed` places it right after the previous one instead
 * of on the next aligned boundary. Returns its offset. */
static size_t add_tensor(table_builder *tb, const char *name, int64_t d0,
                         int64_t d1, int decayed, int place, int packed)
{
    clipt_tensor_entry *e = &tb->entries[tb->count++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ndim = d1 > 0 ? 2 : 1;
    e->shape[0] = d0;
    e->shape[1] = d1 > 0 ? d1 : 0;
    e->numel = (size_t)d0 * (size_t)(d1 > 0 ? d1 : 1);
    if (!packed) tb->next = (tb->next + TENSOR_ALIGN - 1) / TENSOR_ALIGN * TENSOR_ALIGN;
    e->offset = tb->next;
    e->decayed = decayed;
    e->place = place;
    e->trainable = 1;
    tb->next += e->numel;
    return e->offset;
}

static clipt_status build_table(clipt_model *m)
{
    const clipt_model_config *c = &m->cfg;
    int C = c->width, F = c->mlp_width, L = c->layers;
    table_builder tb = {0};
    tb.capacity = 5 + 16 * L;
    CLIPT_TRY(clipt_host_calloc((size_t)tb.capacity * sizeof(clipt_tensor_entry),
                                "the tensor table", (void **)&tb.entries));
    clipt_status status = clipt_host_calloc((size_t)L * sizeof(clipt_layer_offsets),
                                            "the layer offsets", (void **)&m->layer);
    if (status != CLIPT_OK) {
        free(tb.entries);
        return status;
    }

    const int E = CLIPT_PLACE_EMBEDDING, H = CLIPT_PLACE_HEAD;
    m->wte = add_tensor(&tb, "text_model.embeddings.token_embedding.weight",
                        c->vocab_size, C, 0, E, 0);
    m->wpe = add_tensor(&tb, "text_model.embeddings.position_embedding.weight",
                        c->context_length, C, 0, E, 0);
    char name[CLIPT_TENSOR_NAME_MAX];
#define LAYER_NAME(suffix) \
    (snprintf(name, sizeof name, "text_model.encoder.layers.%d.%s", l, suffix), name)
    for (int l = 0; l < L; l++) {
        clipt_layer_offsets *o = &m->layer[l];
        o->ln1_weight = add_tensor(&tb, LAYER_NAME("layer_norm1.weight"), C, 0, 0, l, 0);
        o->ln1_bias = add_tensor(&tb, LAYER_NAME("layer_norm1.bias"), C, 0, 0, l, 0);
        o->qkv_weight = add_tensor(&tb, LAYER_NAME("self_attn.q_proj.weight"), C, C, 1, l, 0);
        add_tensor(&tb, LAYER_NAME("self_attn.k_proj.weight"), C, C, 1, l, 1);
        add_tensor(&tb, LAYER_NAME("self_attn.v_proj.weight"), C, C, 1, l, 1);
        o->qkv_bias = add_tensor(&tb, LAYER_NAME("self_attn.q_proj.bias"), C, 0, 0, l, 0);
        add_tensor(&tb, LAYER_NAME("self_attn.k_proj.bias"), C, 0, 0, l, 1);
        add_tensor(&tb, LAYER_NAME("self_attn.v_proj.bias"), C, 0, 0, l, 1);
        o->attn_out_weight = add_tensor(&tb, LAYER_NAME("self_attn.out_proj.weight"), C, C, 1, l, 0);
        o->attn_out_bias = add_tensor(&tb, LAYER_NAME("self_attn.out_proj.bias"), C, 0, 0, l, 0);
        o->ln2_weight = add_tensor(&tb, LAYER_NAME("layer_norm2.weight"), C, 0, 0, l, 0);
        o->ln2_bias = add_tensor(&tb, LAYER_NAME("layer_norm2.bias"), C, 0, 0, l, 0);
        o->fc1_weight = add_tensor(&tb, LAYER_NAME("mlp.fc1.weight"), F, C, 1, l, 0);
        o->fc1_bias = add_tensor(&tb, LAYER_NAME("mlp.fc1.bias"), F, 0, 0, l, 0);
        o->fc2_weight = add_tensor(&tb, LAYER_NAME("mlp.fc2.weight"), C, F, 1, l, 0);
        o->fc2_bias = add_tensor(&tb, LAYER_NAME("mlp.fc2.bias"), C, 0, 0, l, 0);
    }
#undef LAYER_NAME
    m->lnf_weight = add_tensor(&tb, "text_model.final_layer_norm.weight", C, 0, 0, H, 0);
    m->lnf_bias = add_tensor(&tb, "text_model.final_layer_norm.bias", C, 0, 0, H, 0);
    m->projection = add_tensor(&tb, "text_projection.weight", c->projection_dim, C, 1, H, 0);

    m->tensors = tb.entries;
    m->ntensors = tb.count;
    m->nparams = (tb.next + TENSOR_ALIGN - 1) / TENSOR_ALIGN * TENSOR_ALIGN;
    return CLIPT_OK;
}

/* Fills a host copy of the parameters with CLIP's initialisation. */
static void init_params(const clipt_model *m, float *host, uint64_t seed)
{
    const clipt_model_config *c = &m->cfg;
    double C = c->width, L = c->layers;
    float attn_std = (float)pow(C, -0.5);
    float proj_std = (float)(pow(C, -0.5) * pow(2.0 * L, -0.5));
    float fc_std = (float)pow(2.0 * C, -0.5);
    clipt_rng rng;
    clipt_rng_seed(&rng, seed);

    memset(host, 0, m->nparams * sizeof(float));
    for (int i = 0; i < m->ntensors; i++) {
        const clipt_tensor_entry *e = &m->tensors[i];
        float *p = host + e->offset;
        const char *n = e->name;
        float std = 0.0f;
        if (strstr(n, "token_embedding")) std = 0.02f;
        else if (strstr(n, "position_embedding")) std = 0.01f;
        else if (strstr(n, "layer_norm") && strstr(n, ".weight")) {
            for (size_t k = 0; k < e->numel; k++) p[k] = 1.0f;
            continue;
        } else if (e->ndim == 1) continue;  /* biases and LayerNorm biases */
        else if (strstr(n, "q_proj") || strstr(n, "k_proj") || strstr(n, "v_proj")) std = attn_std;
        else if (strstr(n, "out_proj") || strstr(n, "fc2")) std = proj_std;
        else if (strstr(n, "fc1")) std = fc_std;
        else if (strstr(n, "text_projection")) std = attn_std;
        clipt_rng_fill_normal(&rng, p, e->numel, std);
    }
}

static clipt_status update_segments(clipt_model *m)
{
    clipt_context *ctx = m->ctx;
    if (m->segments_device != NULL) {
        ctx->backend->free(ctx, m->segments_device);
        m->segments_device = NULL;
    }
    free(m->segments);
    m->segments = NULL;
    m->nsegments = 0;
    CLIPT_TRY(clipt_host_alloc((size_t)m->ntensors * sizeof(clipt_param_segment),
                               "optimizer segments", (void **)&m->segments));
    /* Merge neighbouring trainable tensors with the same decay flag. */
    for (int i = 0; i < m->ntensors; i++) {
        const clipt_tensor_entry *e = &m->tensors[i];
        if (!e->trainable) continue;
        clipt_param_segment *last = m->nsegments > 0 ? &m->segments[m->nsegments - 1] : NULL;
        if (last != NULL && last->decayed == e->decayed &&
            last->offset + last->count == e->offset) {
            last->count += e->numel;
        } else {
            clipt_param_segment *s = &m->segments[m->nsegments++];
            s->offset = e->offset;
            s->count = e->numel;
            s->decayed = e->decayed;
        }
    }
    size_t bytes = (size_t)(m->nsegments > 0 ? m->nsegments : 1) * sizeof(clipt_param_segment);
    CLIPT_TRY(ctx->backend->alloc(ctx, bytes, "optimizer segments",
                                  (void **)&m->segments_device));
    return ctx->backend->upload(ctx, m->segments_device, m->segments,
                                (size_t)m->nsegments * sizeof(clipt_param_segment));
}

clipt_status clipt_model_set_trainable(clipt_model *m, int top_blocks)
{
    int L = m->cfg.layers;
    if (top_blocks > L) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "cannot train the top %d blocks of a model "
                               "with %d layers",
                               top_blocks, L);
    }
    m->train_embeddings = top_blocks < 0;
    m->first_trainable_layer = top_blocks < 0 ? 0 : L - top_blocks;
    for (int i = 0; i < m->ntensors; i++) {
        clipt_tensor_entry *e = &m->tensors[i];
        if (e->place == CLIPT_PLACE_EMBEDDING) e->trainable = m->train_embeddings;
        else if (e->place == CLIPT_PLACE_HEAD) e->trainable = 1;
        else e->trainable = e->place >= m->first_trainable_layer;
    }
    return update_segments(m);
}

CLIPT_API clipt_status clipt_model_create(clipt_context *ctx,
                                          const clipt_model_config *cfg,
                                          uint64_t seed, clipt_model **out)
{
    if (out != NULL) *out = NULL;
    if (ctx == NULL || cfg == NULL || out == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_model_create: ctx, cfg and out must not "
                               "be NULL");
    }
    CLIPT_TRY(clipt_model_config_validate(cfg));

    clipt_status status = CLIPT_OK;
    float *host = NULL;
    clipt_model *m = calloc(1, sizeof *m);
    if (m == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory allocating a model");
    }
    m->ctx = ctx;
    m->cfg = *cfg;
    m->pack_rows = 1;
    CLIPT_TRY_GOTO(build_table(m));
    CLIPT_TRY_GOTO(clipt_model_set_trainable(m, -1));
    CLIPT_TRY_GOTO(ctx->backend->alloc(ctx, m->nparams * sizeof(float),
                                       "model parameters", (void **)&m->params));
    if (ctx->backend == &clipt_cpu_backend) {
        init_params(m, m->params, seed);
    } else {
        CLIPT_TRY_GOTO(clipt_host_alloc(m->nparams * sizeof(float),
                                        "initial parameters", (void **)&host));
        init_params(m, host, seed);
        CLIPT_TRY_GOTO(ctx->backend->upload(ctx, m->params, host,
                                            m->nparams * sizeof(float)));
        CLIPT_TRY_GOTO(ctx->backend->synchronize(ctx));
    }
    free(host);
    clipt_log(ctx, CLIPT_LOG_INFO,
              "model: %d layers, width %d, %d heads, %zu parameters (%.1f MiB)",
              cfg->layers, cfg->width, cfg->heads, m->nparams,
              (double)m->nparams * sizeof(float) / 1048576.0);
    *out = m;
    return CLIPT_OK;

fail:
    free(host);
    clipt_model_free(m);
    return status;
}

CLIPT_API void clipt_model_free(clipt_model *m)
{
    if (m == NULL) return;
    clipt_context *ctx = m->ctx;
    clipt_activations_release(m);
    if (m->params != NULL) ctx->backend->free(ctx, m->params);
    if (m->grads != NULL) ctx->backend->free(ctx, m->grads);
    if (m->segments_device != NULL) ctx->backend->free(ctx, m->segments_device);
    free(m->segments);
    free(m->tensors);
    free(m->layer);
    free(m);
}

clipt_status clipt_model_enable_grads(clipt_model *m)
{
    if (m->grads != NULL) return CLIPT_OK;
    clipt_context *ctx = m->ctx;
    CLIPT_TRY(ctx->backend->alloc(ctx, m->nparams * sizeof(float),
                                  "parameter gradients", (void **)&m->grads));
    return ctx->backend->zero(ctx, m->grads, m->nparams * sizeof(float));
}

clipt_status clipt_model_zero_grads(clipt_model *m)
{
    if (m->grads == NULL) return clipt_model_enable_grads(m);
    return m->ctx->backend->zero(m->ctx, m->grads, m->nparams * sizeof(float));
}

CLIPT_API clipt_status clipt_model_get_config(const clipt_model *m,
                                              clipt_model_config *cfg)
{
    if (m == NULL || cfg == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_model_get_config: NULL argument");
    }
    *cfg = m->cfg;
    return CLIPT_OK;
}

CLIPT_API size_t clipt_model_param_count(const clipt_model *m)
{
    return m == NULL ? 0 : m->nparams;
}

CLIPT_API int clipt_model_tensor_count(const clipt_model *m)
{
    return m == NULL ? 0 : m->ntensors;
}

static void fill_info(const clipt_tensor_entry *e, clipt_tensor_info *info)
{
    memset(info, 0, sizeof *info);
    info->name = e->name;
    info->ndim = e->ndim;
    for (int i = 0; i < 4; i++) info->shape[i] = e->shape[i];
    info->offset = e->offset;
    info->numel = e->numel;
    info->decayed = e->decayed;
}

CLIPT_API clipt_status clipt_model_tensor_info(const clipt_model *m, int index,
                                               clipt_tensor_info *info)
{
    if (m == NULL || info == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_model_tensor_info: NULL argument");
    }
    if (index < 0 || index >= m->ntensors) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "tensor index %d is out of range [0, %d)",
                               index, m->ntensors);
    }
    fill_info(&m->tensors[index], info);
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_model_find_tensor(const clipt_model *m,
                                               const char *name,
                                               clipt_tensor_info *info)
{
    if (m == NULL || name == NULL || info == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_model_find_tensor: NULL argument");
    }
    for (int i = 0; i < m->ntensors; i++) {
        if (strcmp(m->tensors[i].name, name) == 0) {
            fill_info(&m->tensors[i], info);
            return CLIPT_OK;
        }
    }
    return clipt_set_error(CLIPT_ERR_NOT_FOUND,
                           "the model has no tensor named \"%s\"", name);
}

static clipt_status check_range(const clipt_model *m, size_t offset,
                                size_t count, const char *fn)
{
    if (offset > m->nparams || count > m->nparams - offset) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "%s: range [%zu, %zu + %zu) leaves the "
                               "parameter buffer of %zu floats",
                               fn, offset, offset, count, m->nparams);
    }
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_model_get_params(const clipt_model *m,
                                              size_t offset, size_t count,
                                              float *dst)
{
    if (m == NULL || (dst == NULL && count > 0)) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_model_get_params: NULL argument");
    }
    CLIPT_TRY(check_range(m, offset, count, "clipt_model_get_params"));
    if (count == 0) return CLIPT_OK;
    clipt_context *ctx = m->ctx;
    CLIPT_TRY(ctx->backend->download(ctx, dst, m->params + offset,
                                     count * sizeof(float)));
    return ctx->backend->synchronize(ctx);
}

CLIPT_API clipt_status clipt_model_set_params(clipt_model *m, size_t offset,
                                              size_t count, const float *src)
{
    if (m == NULL || (src == NULL && count > 0)) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_model_set_params: NULL argument");
    }
    CLIPT_TRY(check_range(m, offset, count, "clipt_model_set_params"));
    if (count == 0) return CLIPT_OK;

    /* The range must lie inside tensors: walk the table in offset order. */
    size_t pos = offset, end = offset + count;
    for (int i = 0; i < m->ntensors && pos < end; i++) {
        const clipt_tensor_entry *e = &m->tensors[i];
        if (pos < e->offset) break; /* pos is in padding before tensor i */
        if (pos < e->offset + e->numel) pos = e->offset + e->numel;
    }
    if (pos < end) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_model_set_params: range [%zu, %zu) "
                               "covers alignment padding at float %zu; write "
                               "tensor by tensor using clipt_model_tensor_info",
                               offset, end, pos);
    }
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(src[i])) {
            return clipt_set_error(CLIPT_ERR_NONFINITE,
                                   "clipt_model_set_params: value %zu of the "
                                   "source (parameter %zu) is %g",
                                   i, offset + i, (double)src[i]);
        }
    }
    clipt_context *ctx = m->ctx;
    CLIPT_TRY(ctx->backend->upload(ctx, m->params + offset, src,
                                   count * sizeof(float)));
    return ctx->backend->synchronize(ctx);
}
