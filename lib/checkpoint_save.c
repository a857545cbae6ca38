/* Saving a model as a transformers checkpoint directory: model.safetensors
 * with the text encoder in fp32, fp16 or bf16, config.json, and the
 * tokenizer files of the source directory. A full CLIPModel save also
 * copies every other tensor of the source byte for byte. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "model.h"

CLIPT_API void clipt_save_options_init(clipt_save_options *o)
{
    if (o == NULL) return;
    memset(o, 0, sizeof *o);
    o->dtype = CLIPT_DTYPE_F32;
    o->format = CLIPT_SAVE_TEXT_WITH_PROJECTION;
    o->copy_tokenizer = 1;
}

CLIPT_API int clipt_model_has_vision_source(const clipt_model *m)
{
    return m != NULL && m->origin != NULL && m->origin->clip_model;
}

/* ------------------------------------------------------------------------ */
/* config.json                                                              */
/* ------------------------------------------------------------------------ */

/* Writes the shortest decimal form that reads back as the same float. */
static void format_float(char *buf, size_t size, float value)
{
    for (int precision = 1; precision <= 9; precision++) {
        snprintf(buf, size, "%.*g", precision, (double)value);
        if ((float)strtod(buf, NULL) == value) break;
    }
    /* JSON readers take "1e-05"; Python also writes integers as "2.0" */
    if (strpbrk(buf, ".en") == NULL && strlen(buf) + 3 < size) strcat(buf, ".0");
}

static void format_token_id(char *buf, size_t size, int id)
{
    if (id < 0) snprintf(buf, size, "null");
    else snprintf(buf, size, "%d", id);
}

static const char *dtype_torch_name(clipt_dtype dtype)
{
    return dtype == CLIPT_DTYPE_F16 ? "float16"
           : dtype == CLIPT_DTYPE_BF16 ? "bfloat16"
                                       : "float32";
}

/* The config.json of a CLIPTextModelWithProjection, keys sorted as
 * transformers writes them. */
static clipt_status write_text_config(const clipt_model_config *c,
                                      clipt_dtype dtype, const char *path)
{
    char eps[32], bos[16], eos[16], pad[16], text[2048];
    format_float(eps, sizeof eps, c->layer_norm_eps);
    format_token_id(bos, sizeof bos, c->bos_token_id);
    format_token_id(eos, sizeof eos, c->eos_token_id);
    format_token_id(pad, sizeof pad, c->pad_token_id);
    int n = snprintf(
        text, sizeof text,
        "{\n"
        "  \"architectures\": [\n"
        "    \"CLIPTextModelWithProjection\"\n"
        "  ],\n"
        "  \"attention_dropout\": 0.0,\n"
        "  \"bos_token_id\": %s,\n"
        "  \"dtype\": \"%s\",\n"
        "  \"eos_token_id\": %s,\n"
        "  \"hidden_act\": \"%s\",\n"
        "  \"hidden_size\": %d,\n"
        "  \"initializer_factor\": 1.0,\n"
        "  \"initializer_range\": 0.02,\n"
        "  \"intermediate_size\": %d,\n"
        "  \"layer_norm_eps\": %s,\n"
        "  \"max_position_embeddings\": %d,\n"
        "  \"model_type\": \"clip_text_model\",\n"
        "  \"num_attention_heads\": %d,\n"
        "  \"num_hidden_layers\": %d,\n"
        "  \"pad_token_id\": %s,\n"
        "  \"projection_dim\": %d,\n"
        "  \"vocab_size\": %d\n"
        "}\n",
        bos, dtype_torch_name(dtype), eos,
        c->activation == CLIPT_ACTIVATION_GELU ? "gelu" : "quick_gelu",
        c->width, c->mlp_width, eps, c->context_length, c->heads, c->layers,
        pad, c->projection_dim, c->vocab_size);
    if (n < 0 || (size_t)n >= sizeof text) {
        return clipt_set_error(CLIPT_ERR_INTERNAL, "config.json text too long");
    }
    return clipt_write_file_atomic(path, text, (size_t)n);
}

/* ------------------------------------------------------------------------ */
/* Copying files of the source directory                                    */
/* ------------------------------------------------------------------------ */

/* Copies the file src to dst unless both name the same file. */
static clipt_status copy_file(const char *src, const char *dst)
{
    char *data = NULL, *src_real = realpath(src, NULL), *dst_real = realpath(dst, NULL);
    size_t length = 0;
    clipt_status status = CLIPT_OK;
    int same = src_real != NULL && dst_real != NULL && strcmp(src_real, dst_real) == 0;
    if (!same) {
        /* tokenizer.json of a large vocabulary is a few MiB */
        status = clipt_read_file(src, (size_t)1 << 30, &data, &length);
        if (status == CLIPT_OK) status = clipt_write_file_atomic(dst, data, length);
    }
    free(data);
    free(src_real);
    free(dst_real);
    return status;
}

/* Copies src_dir/name to dst_dir/name when the source exists. */
static clipt_status copy_if_present(const char *src_dir, const char *dst_dir,
                                    const char *name)
{
    char *src = NULL, *dst = NULL;
    clipt_status status = clipt_path_join(src_dir, name, &src);
    if (status == CLIPT_OK) status = clipt_path_join(dst_dir, name, &dst);
    if (status == CLIPT_OK && clipt_is_regular_file(src)) status = copy_file(src, dst);
    free(src);
    free(dst);
    return status;
}

static clipt_status copy_tokenizer_files(const char *src_dir, const char *dir,
                                         int clip_model)
{
    static const char *const names[] = {
        "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        CLIPT_TRY(copy_if_present(src_dir, dir, names[i]));
    }
    /* the image processor settings belong to a full CLIPModel */
    if (clip_model) CLIPT_TRY(copy_if_present(src_dir, dir, "preprocessor_config.json"));
    return CLIPT_OK;
}

static clipt_status make_directory(const char *dir)
{
    if (mkdir(dir, 0777) == 0 || (errno == EEXIST && clipt_is_directory(dir))) {
        return CLIPT_OK;
    }
    int err = errno;
    return clipt_set_error(err == ENOENT ? CLIPT_ERR_FILE_NOT_FOUND : CLIPT_ERR_IO,
                           "cannot create the checkpoint directory %s: %s", dir,
                           strerror(err));
}

/* ------------------------------------------------------------------------ */
/* model.safetensors                                                        */
/* ------------------------------------------------------------------------ */

/* Everything one save needs to keep alive until the file is written. */
typedef struct save_plan {
    clipt_st_entry *entries;
    uint64_t *shapes;        /* two per text tensor */
    int count;
    float *params;           /* host copy of the parameters */
    uint16_t *half;          /* fp16 or bf16 copy, when requested */
    clipt_weight_set source; /* the CLIPModel files, for a full save */
} save_plan;

static void save_plan_free(save_plan *p)
{
    free(p->entries);
    free(p->shapes);
    free(p->params);
    free(p->half);
    clipt_weight_set_close(&p->source);
}

/* Converts the parameters to 16 bits; fp16 overflow is an error. */
static clipt_status convert_half(const clipt_model *m, clipt_dtype dtype,
                                 save_plan *p)
{
    CLIPT_TRY(clipt_host_alloc(m->nparams * sizeof(uint16_t),
                               "16-bit parameter copy", (void **)&p->half));
    for (int i = 0; i < m->ntensors; i++) {
        const clipt_tensor_entry *e = &m->tensors[i];
        for (size_t k = 0; k < e->numel; k++) {
            float v = p->params[e->offset + k];
            uint16_t h = dtype == CLIPT_DTYPE_F16 ? clipt_f32_to_f16(v)
                                                  : clipt_f32_to_bf16(v);
            if ((h & 0x7fff) == (dtype == CLIPT_DTYPE_F16 ? 0x7c00 : 0x7f80)) {
                return clipt_set_error(CLIPT_ERR_NONFINITE,
                                       "tensor \"%s\": value %g at element "
                                       "%zu overflows %s; save as f32 or bf16",
                                       e->name, (double)v, k,
                                       dtype_torch_name(dtype));
            }
            p->half[e->offset + k] = h;
        }
    }
    return CLIPT_OK;
}

/* Adds the text encoder's tensors to the plan. */
static clipt_status plan_text(const clipt_model *m, clipt_dtype dtype,
                              save_plan *p)
{
    clipt_context *ctx = m->ctx;
    CLIPT_TRY(clipt_host_alloc(m->nparams * sizeof(float), "parameter copy",
                               (void **)&p->params));
    CLIPT_TRY(ctx->backend->download(ctx, p->params, m->params,
                                     m->nparams * sizeof(float)));
    CLIPT_TRY(ctx->backend->synchronize(ctx));
    if (dtype != CLIPT_DTYPE_F32) CLIPT_TRY(convert_half(m, dtype, p));

    CLIPT_TRY(clipt_host_calloc((size_t)m->ntensors * 2 * sizeof(uint64_t),
                                "tensor shapes", (void **)&p->shapes));
    for (int i = 0; i < m->ntensors; i++) {
        const clipt_tensor_entry *e = &m->tensors[i];
        clipt_st_entry *s = &p->entries[p->count++];
        uint64_t *shape = p->shapes + 2 * i;
        for (int d = 0; d < e->ndim; d++) shape[d] = (uint64_t)e->shape[d];
        s->name = e->name;
        s->ndim = e->ndim;
        s->shape = shape;
        if (dtype == CLIPT_DTYPE_F32) {
            s->dtype = CLIPT_ST_F32;
            s->data = p->params + e->offset;
        } else {
            s->dtype = dtype == CLIPT_DTYPE_F16 ? CLIPT_ST_F16 : CLIPT_ST_BF16;
            s->data = p->half + e->offset;
        }
    }
    return CLIPT_OK;
}

static int is_model_tensor(const clipt_model *m, const char *name)
{
    for (int i = 0; i < m->ntensors; i++) {
        if (strcmp(m->tensors[i].name, name) == 0) return 1;
    }
    return 0;
}

/* Reopens the source CLIPModel and adds its other tensors unchanged. */
static clipt_status plan_vision(const clipt_model *m, save_plan *p)
{
    const clipt_model_origin *o = m->origin;
    for (int i = 0; i < o->nweight_files; i++) {
        clipt_st_file **files = realloc(p->source.files,
                                        (size_t)(i + 1) * sizeof *files);
        if (files == NULL) {
            return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                                   "out of host memory reopening %s",
                                   o->weight_files[i]);
        }
        p->source.files = files;
        CLIPT_TRY(clipt_st_open(o->weight_files[i], &p->source.files[i]));
        p->source.nfiles++;
        const clipt_st_file *f = p->source.files[i];
        for (int k = 0; k < f->ntensors; k++) {
            const clipt_st_tensor *t = &f->tensors[k];
            if (is_model_tensor(m, t->name)) continue;
            clipt_st_entry *s = &p->entries[p->count++];
            s->name = t->name;
            s->dtype = t->dtype;
            s->ndim = t->ndim;
            s->shape = t->shape;
            s->data = t->data;
        }
    }
    return CLIPT_OK;
}

/* Counts the tensors of the source files (an upper bound for the plan). */
static clipt_status count_source_tensors(const clipt_model_origin *o, int *count)
{
    *count = 0;
    for (int i = 0; i < o->nweight_files; i++) {
        clipt_st_file *f = NULL;
        CLIPT_TRY(clipt_st_open(o->weight_files[i], &f));
        *count += f->ntensors;
        clipt_st_close(f);
    }
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Save                                                                     */
/* ------------------------------------------------------------------------ */

static clipt_status check_save_request(const clipt_model *m, const char *dir,
                                       const clipt_save_options *o)
{
    if (m == NULL || dir == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_model_save: model and dir must not be "
                               "NULL");
    }
    if (o->dtype != CLIPT_DTYPE_F32 && o->dtype != CLIPT_DTYPE_F16 &&
        o->dtype != CLIPT_DTYPE_BF16) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_model_save: unknown dtype %d", (int)o->dtype);
    }
    if (o->format == CLIPT_SAVE_TEXT_WITH_PROJECTION) return CLIPT_OK;
    if (o->format != CLIPT_SAVE_CLIP_MODEL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_model_save: unknown format %d",
                               (int)o->format);
    }
    if (m->origin != NULL && m->origin->layout == CLIPT_LAYOUT_OPENAI) {
        return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                               "clipt_model_save: the model was loaded from "
                               "the OpenAI layout, whose vision tower is not "
                               "converted; save as CLIPTextModelWithProjection");
    }
    if (!clipt_model_has_vision_source(m) || !m->origin->clip_config) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_model_save: a full CLIPModel save needs "
                               "a model loaded from a CLIPModel checkpoint "
                               "with its config.json");
    }
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_model_save(const clipt_model *m, const char *dir,
                                        const clipt_save_options *options)
{
    clipt_save_options o;
    clipt_save_options_init(&o);
    if (options != NULL) o = *options;
    CLIPT_TRY(check_save_request(m, dir, &o));
    int full = o.format == CLIPT_SAVE_CLIP_MODEL;

    clipt_status status = CLIPT_OK;
    save_plan plan;
    memset(&plan, 0, sizeof plan);
    char *weights = NULL, *config = NULL;
    int capacity = m->ntensors, source_count = 0;
    if (full) CLIPT_TRY(count_source_tensors(m->origin, &source_count));
    capacity += source_count;
    CLIPT_TRY_GOTO(make_directory(dir));
    CLIPT_TRY_GOTO(clipt_host_calloc((size_t)capacity * sizeof(clipt_st_entry),
                                     "save plan", (void **)&plan.entries));
    CLIPT_TRY_GOTO(plan_text(m, o.dtype, &plan));
    if (full) CLIPT_TRY_GOTO(plan_vision(m, &plan));

    static const char *const metadata[] = {"format", "pt"};
    CLIPT_TRY_GOTO(clipt_path_join(dir, "model.safetensors", &weights));
    CLIPT_TRY_GOTO(clipt_st_write(weights, plan.entries, plan.count, metadata, 1));
    CLIPT_TRY_GOTO(clipt_path_join(dir, "config.json", &config));
    if (full) {
        /* the configuration is unchanged: the sizes are the source's */
        CLIPT_TRY_GOTO(copy_file(m->origin->config_path, config));
    } else {
        CLIPT_TRY_GOTO(write_text_config(&m->cfg, o.dtype, config));
    }
    if (o.copy_tokenizer && m->origin != NULL) {
        CLIPT_TRY_GOTO(copy_tokenizer_files(m->origin->dir, dir, full));
    }
    clipt_log(m->ctx, CLIPT_LOG_INFO, "saved %s (%s, %s, %d tensors)", dir,
              full ? "CLIPModel" : "CLIPTextModelWithProjection",
              dtype_torch_name(o.dtype), plan.count);

fail:
    save_plan_free(&plan);
    free(weights);
    free(config);
    return status;
}
