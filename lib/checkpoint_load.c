/* Filling a model from an opened checkpoint: each tensor of the model's
 * table is found under its name in the checkpoint's layout, its shape is
 * checked, and it is converted to fp32. Tensors the text encoder does not
 * use are skipped. Any other tensor left over is an error, because then
 * the checkpoint is not the architecture its configuration describes. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "model.h"

/* Where one tensor of the model comes from in the checkpoint. */
typedef struct tensor_source {
    char name[CLIPT_TENSOR_NAME_MAX + 32];
    int ndim;
    uint64_t shape[2];   /* expected shape of the source tensor */
    uint64_t row_offset; /* first source row used (packed q, k, v) */
    int transpose;       /* source (C, P) becomes (P, C) */
} tensor_source;

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int clipt_checkpoint_skips(const clipt_checkpoint *ck, const char *name)
{
    if (ck->layout == CLIPT_LAYOUT_HF) {
        char position_ids[64];
        snprintf(position_ids, sizeof position_ids, "%sembeddings.position_ids",
                 ck->prefix);
        return starts_with(name, "vision_model.") ||
               strcmp(name, "visual_projection.weight") == 0 ||
               strcmp(name, "logit_scale") == 0 ||
               strcmp(name, position_ids) == 0;
    }
    /* OpenAI's state dicts also carry the image tower and a few sizes */
    return starts_with(name, "visual.") || strcmp(name, "logit_scale") == 0 ||
           strcmp(name, "input_resolution") == 0 ||
           strcmp(name, "context_length") == 0 ||
           strcmp(name, "vocab_size") == 0 || strcmp(name, "attn_mask") == 0;
}

/* OpenAI names of a block's tensors, by the suffix of the HF name. */
static const struct {
    const char *hf, *openai;
} block_names[] = {
    {"layer_norm1.weight", "ln_1.weight"},
    {"layer_norm1.bias", "ln_1.bias"},
    {"layer_norm2.weight", "ln_2.weight"},
    {"layer_norm2.bias", "ln_2.bias"},
    {"self_attn.out_proj.weight", "attn.out_proj.weight"},
    {"self_attn.out_proj.bias", "attn.out_proj.bias"},
    {"mlp.fc1.weight", "mlp.c_fc.weight"},
    {"mlp.fc1.bias", "mlp.c_fc.bias"},
    {"mlp.fc2.weight", "mlp.c_proj.weight"},
    {"mlp.fc2.bias", "mlp.c_proj.bias"},
};

/* Fills src for a tensor of the OpenAI layout. */
static void openai_source(const clipt_model *m, const clipt_tensor_entry *e,
                          tensor_source *src)
{
    uint64_t C = (uint64_t)m->cfg.width;
    const char *n = e->name;
    int layer = -1, used = 0;
    if (strcmp(n, "text_model.embeddings.token_embedding.weight") == 0) {
        snprintf(src->name, sizeof src->name, "token_embedding.weight");
    } else if (strcmp(n, "text_model.embeddings.position_embedding.weight") == 0) {
        snprintf(src->name, sizeof src->name, "positional_embedding");
    } else if (strcmp(n, "text_model.final_layer_norm.weight") == 0) {
        snprintf(src->name, sizeof src->name, "ln_final.weight");
    } else if (strcmp(n, "text_model.final_layer_norm.bias") == 0) {
        snprintf(src->name, sizeof src->name, "ln_final.bias");
    } else if (strcmp(n, "text_projection.weight") == 0) {
        snprintf(src->name, sizeof src->name, "text_projection");
        src->shape[0] = e->shape[1];
        src->shape[1] = e->shape[0];
        src->transpose = 1;
    } else if (sscanf(n, "text_model.encoder.layers.%d.%n", &layer, &used) == 1 &&
               used > 0) {
        const char *suffix = n + used;
        char qkv = 0;
        if (sscanf(suffix, "self_attn.%c_proj.", &qkv) == 1 &&
            (qkv == 'q' || qkv == 'k' || qkv == 'v')) {
            /* rows [0, C) are q, [C, 2C) k, [2C, 3C) v */
            int bias = strstr(suffix, ".bias") != NULL;
            snprintf(src->name, sizeof src->name,
                     "transformer.resblocks.%d.attn.in_proj_%s", layer,
                     bias ? "bias" : "weight");
            src->shape[0] = 3 * C;
            if (qkv == 'k') src->row_offset = C;
            if (qkv == 'v') src->row_offset = 2 * C;
        } else {
            for (size_t i = 0; i < sizeof block_names / sizeof block_names[0]; i++) {
                if (strcmp(suffix, block_names[i].hf) == 0) {
                    snprintf(src->name, sizeof src->name,
                             "transformer.resblocks.%d.%s", layer,
                             block_names[i].openai);
                }
            }
        }
    }
}

/* Works out the source name, shape and transformation of one tensor. */
static void source_of(const clipt_checkpoint *ck, const clipt_model *m,
                      const clipt_tensor_entry *e, tensor_source *src)
{
    memset(src, 0, sizeof *src);
    src->ndim = e->ndim;
    src->shape[0] = (uint64_t)e->shape[0];
    src->shape[1] = (uint64_t)e->shape[1];
    if (ck->layout == CLIPT_LAYOUT_OPENAI) {
        openai_source(m, e, src);
    } else if (starts_with(e->name, "text_model.")) {
        snprintf(src->name, sizeof src->name, "%s%s", ck->prefix,
                 e->name + strlen("text_model."));
    } else {
        snprintf(src->name, sizeof src->name, "%s", e->name);
    }
}

static void format_shape(char *buf, size_t size, int ndim, const uint64_t *shape)
{
    int n = snprintf(buf, size, "(");
    for (int d = 0; d < ndim && n > 0 && (size_t)n < size; d++) {
        n += snprintf(buf + n, size - (size_t)n, d ? ", %llu" : "%llu",
                      (unsigned long long)shape[d]);
    }
    if (n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, ")");
}

/* Copies one tensor into host (the model's buffer layout). scratch has
 * room for the largest packed or transposed source. */
static clipt_status load_tensor(const clipt_checkpoint *ck, const clipt_model *m,
                                const clipt_tensor_entry *e, float *host,
                                float *scratch, unsigned char **used)
{
    tensor_source src;
    source_of(ck, m, e, &src);
    char want[64], got[64];
    format_shape(want, sizeof want, src.ndim, src.shape);
    const clipt_st_file *file = NULL;
    const clipt_st_tensor *t = clipt_weight_set_find(&ck->weights, src.name, &file);
    if (t == NULL) {
        int no_projection = strcmp(e->name, "text_projection.weight") == 0 &&
                            (ck->config.text_model_only || ck->prefix[0] == '\0');
        return clipt_set_error(CLIPT_ERR_NOT_FOUND,
                               "%s: tensor \"%s\" %s is missing%s",
                               ck->weights.files[0]->path, src.name, want,
                               no_projection
                                   ? "; a CLIPTextModel checkpoint has no text "
                                     "projection, load a "
                                     "CLIPTextModelWithProjection or CLIPModel "
                                     "checkpoint"
                                   : "");
    }
    int same = t->ndim == src.ndim;
    for (int d = 0; same && d < src.ndim; d++) same = t->shape[d] == src.shape[d];
    if (!same) {
        format_shape(got, sizeof got, t->ndim, t->shape);
        return clipt_set_error(CLIPT_ERR_SHAPE,
                               "%s: tensor \"%s\" has shape %s, expected %s",
                               file->path, src.name, got, want);
    }
    for (int i = 0; i < ck->weights.nfiles; i++) {
        if (ck->weights.files[i] == file) used[i][t - file->tensors] = 1;
    }

    float *dst = host + e->offset;
    if (!src.transpose && t->numel == e->numel) {
        return clipt_st_read_f32(file, t, dst);
    }
    CLIPT_TRY(clipt_st_read_f32(file, t, scratch));
    if (src.transpose) {
        /* source (C, P) used as x @ P; destination (P, C) used as x W^T */
        size_t rows = (size_t)src.shape[0], cols = (size_t)src.shape[1];
        for (size_t r = 0; r < rows; r++) {
            for (size_t c = 0; c < cols; c++) dst[c * rows + r] = scratch[r * cols + c];
        }
    } else {
        size_t row = src.ndim == 2 ? (size_t)src.shape[1] : 1;
        memcpy(dst, scratch + (size_t)src.row_offset * row, e->numel * sizeof(float));
    }
    return CLIPT_OK;
}

/* Fails on a tensor that was neither loaded nor known to be unused. */
static clipt_status check_leftovers(const clipt_checkpoint *ck,
                                    unsigned char **used, int *skipped)
{
    *skipped = 0;
    for (int i = 0; i < ck->weights.nfiles; i++) {
        const clipt_st_file *f = ck->weights.files[i];
        for (int k = 0; k < f->ntensors; k++) {
            if (used[i][k]) continue;
            if (clipt_checkpoint_skips(ck, f->tensors[k].name)) {
                (*skipped)++;
                continue;
            }
            return clipt_set_error(CLIPT_ERR_PARSE,
                                   "%s: unexpected tensor \"%s\": the CLIP "
                                   "text encoder of this configuration "
                                   "(layers: %d) has no such tensor, so the "
                                   "checkpoint does not match it",
                                   f->path, f->tensors[k].name,
                                   ck->config.model.layers);
        }
    }
    return CLIPT_OK;
}

/* Largest source that goes through scratch: packed q/k/v or projection. */
static size_t scratch_floats(const clipt_model_config *c)
{
    size_t C = (size_t)c->width;
    size_t qkv = 3 * C * C, proj = C * (size_t)c->projection_dim;
    return qkv > proj ? qkv : proj;
}

/* Copies the checkpoint's text tensors into host (nparams floats). */
static clipt_status fill_parameters(const clipt_checkpoint *ck,
                                    const clipt_model *m, float *host,
                                    int *skipped)
{
    clipt_status status = CLIPT_OK;
    float *scratch = NULL;
    unsigned char **used = calloc((size_t)ck->weights.nfiles, sizeof *used);
    if (used == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory loading a checkpoint");
    }
    for (int i = 0; i < ck->weights.nfiles; i++) {
        size_t n = (size_t)ck->weights.files[i]->ntensors;
        CLIPT_TRY_GOTO(clipt_host_calloc(n ? n : 1, "loaded-tensor flags",
                                         (void **)&used[i]));
    }
    CLIPT_TRY_GOTO(clipt_host_alloc(scratch_floats(&m->cfg) * sizeof(float),
                                    "checkpoint conversion scratch",
                                    (void **)&scratch));
    memset(host, 0, m->nparams * sizeof(float));
    for (int i = 0; i < m->ntensors; i++) {
        CLIPT_TRY_GOTO(load_tensor(ck, m, &m->tensors[i], host, scratch, used));
    }
    CLIPT_TRY_GOTO(check_leftovers(ck, used, skipped));

fail:
    for (int i = 0; i < ck->weights.nfiles; i++) free(used[i]);
    free(used);
    free(scratch);
    return status;
}

/* Duplicates path as an absolute path, for the origin record. */
static clipt_status absolute_path(const char *path, char **out)
{
    *out = realpath(path, NULL);
    if (*out == NULL) {
        return clipt_set_error(CLIPT_ERR_IO, "cannot resolve the path %s", path);
    }
    return CLIPT_OK;
}

static clipt_status make_origin(const clipt_checkpoint *ck,
                                clipt_model_origin **out)
{
    clipt_status status = CLIPT_OK;
    clipt_model_origin *o = calloc(1, sizeof *o);
    if (o == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory loading a checkpoint");
    }
    o->layout = ck->layout;
    o->clip_config = ck->config.clip_model;
    CLIPT_TRY_GOTO(absolute_path(ck->dir, &o->dir));
    if (ck->config_path != NULL) {
        CLIPT_TRY_GOTO(absolute_path(ck->config_path, &o->config_path));
    }
    CLIPT_TRY_GOTO(clipt_host_calloc((size_t)ck->weights.nfiles * sizeof(char *),
                                     "checkpoint origin", (void **)&o->weight_files));
    for (int i = 0; i < ck->weights.nfiles; i++) {
        const clipt_st_file *f = ck->weights.files[i];
        CLIPT_TRY_GOTO(absolute_path(f->path, &o->weight_files[i]));
        o->nweight_files++;
        for (int k = 0; k < f->ntensors; k++) {
            if (ck->layout == CLIPT_LAYOUT_HF &&
                starts_with(f->tensors[k].name, "vision_model.")) {
                o->clip_model = 1;
            }
        }
    }
    *out = o;
    return CLIPT_OK;

fail:
    clipt_model_origin_free(o);
    return status;
}

CLIPT_API clipt_status clipt_model_load(clipt_context *ctx, const char *path,
                                        clipt_model **out)
{
    if (out != NULL) *out = NULL;
    if (ctx == NULL || path == NULL || out == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_model_load: ctx, path and out must not "
                               "be NULL");
    }
    clipt_checkpoint ck;
    CLIPT_TRY(clipt_checkpoint_open(path, &ck));
    clipt_status status = CLIPT_OK;
    clipt_model *m = NULL;
    float *staging = NULL;
    int skipped = 0;
    /* the CPU backend's parameters are host memory and are filled in place */
    int in_place = ctx->backend == &clipt_cpu_backend;
    CLIPT_TRY_GOTO(clipt_model_create_zeroed(ctx, &ck.config.model, &m));
    if (in_place) {
        staging = m->params;
    } else {
        CLIPT_TRY_GOTO(clipt_host_alloc(m->nparams * sizeof(float),
                                        "checkpoint staging", (void **)&staging));
    }
    CLIPT_TRY_GOTO(fill_parameters(&ck, m, staging, &skipped));
    if (!in_place) {
        CLIPT_TRY_GOTO(ctx->backend->upload(ctx, m->params, staging,
                                            m->nparams * sizeof(float)));
        CLIPT_TRY_GOTO(ctx->backend->synchronize(ctx));
    }
    CLIPT_TRY_GOTO(make_origin(&ck, &m->origin));
    clipt_log(ctx, CLIPT_LOG_INFO,
              "loaded %s (%s layout, %d file%s, %d unused tensors skipped)",
              path, ck.layout == CLIPT_LAYOUT_HF ? "Hugging Face" : "OpenAI",
              ck.weights.nfiles, ck.weights.nfiles == 1 ? "" : "s", skipped);
    if (!in_place) free(staging);
    clipt_checkpoint_close(&ck);
    *out = m;
    return CLIPT_OK;

fail:
    if (!in_place) free(staging);
    clipt_model_free(m);
    clipt_checkpoint_close(&ck);
    return status;
}
