/* Configuration readers for checkpoints (config.json of transformers,
 * open_clip_config.json of open_clip) and end-of-text positions as
 * transformers finds them. */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "checkpoint.h"

/* ------------------------------------------------------------------------ */
/* JSON field readers                                                       */
/* ------------------------------------------------------------------------ */

/* Reads an optional integer field; an absent key leaves *dst as it is. */
static clipt_status read_int(const json_t *obj, const char *key,
                             const char *what, int *dst)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) return CLIPT_OK;
    if (!json_is_integer(v) || json_integer_value(v) < INT_MIN ||
        json_integer_value(v) > INT_MAX) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: \"%s\" must be an integer that fits in "
                               "32 bits",
                               what, key);
    }
    *dst = (int)json_integer_value(v);
    return CLIPT_OK;
}

/* Reads an optional token id: a non-negative integer, or null for "not
 * set" (stored as -1). */
static clipt_status read_token_id(const json_t *obj, const char *key,
                                  const char *what, int *dst)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) return CLIPT_OK;
    if (json_is_null(v)) {
        *dst = -1;
        return CLIPT_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > INT_MAX) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: \"%s\" must be a non-negative integer or "
                               "null",
                               what, key);
    }
    *dst = (int)json_integer_value(v);
    return CLIPT_OK;
}

/* Reads an optional number (integer or real) into a double. */
static clipt_status read_number(const json_t *obj, const char *key,
                                const char *what, double *dst)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) return CLIPT_OK;
    if (!json_is_number(v)) {
        return clipt_set_error(CLIPT_ERR_PARSE, "%s: \"%s\" must be a number",
                               what, key);
    }
    *dst = json_number_value(v);
    return CLIPT_OK;
}

/* Returns the object under key, NULL when the key is absent or null, or an
 * error for another type. */
static clipt_status get_object(const json_t *obj, const char *key,
                               const char *what, json_t **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v)) return CLIPT_OK;
    if (!json_is_object(v)) {
        return clipt_set_error(CLIPT_ERR_PARSE, "%s: \"%s\" must be an object",
                               what, key);
    }
    *out = v;
    return CLIPT_OK;
}

static clipt_status load_json_object(const char *text, size_t length,
                                     const char *what, json_t **out)
{
    json_error_t err;
    *out = json_loadb(text, length, JSON_REJECT_DUPLICATES, &err);
    if (*out == NULL) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: not valid JSON: %s (line %d, column %d)",
                               what, err.text, err.line, err.column);
    }
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: the top level must be a JSON object", what);
    }
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* transformers config.json                                                 */
/* ------------------------------------------------------------------------ */

/* The defaults of transformers' CLIPTextConfig. */
static void text_config_defaults(clipt_model_config *c)
{
    memset(c, 0, sizeof *c);
    c->vocab_size = 49408;
    c->context_length = 77;
    c->width = 512;
    c->heads = 8;
    c->layers = 12;
    c->mlp_width = 2048;
    c->projection_dim = 512;
    c->layer_norm_eps = 1e-5f;
    c->activation = CLIPT_ACTIVATION_QUICK_GELU;
    c->bos_token_id = 49406;
    c->eos_token_id = 49407;
    c->pad_token_id = 1;
}

static clipt_status read_text_config(const json_t *obj, const char *what,
                                     clipt_model_config *c)
{
    CLIPT_TRY(read_int(obj, "vocab_size", what, &c->vocab_size));
    CLIPT_TRY(read_int(obj, "max_position_embeddings", what, &c->context_length));
    CLIPT_TRY(read_int(obj, "hidden_size", what, &c->width));
    CLIPT_TRY(read_int(obj, "num_attention_heads", what, &c->heads));
    CLIPT_TRY(read_int(obj, "num_hidden_layers", what, &c->layers));
    CLIPT_TRY(read_int(obj, "intermediate_size", what, &c->mlp_width));
    CLIPT_TRY(read_int(obj, "projection_dim", what, &c->projection_dim));
    CLIPT_TRY(read_token_id(obj, "bos_token_id", what, &c->bos_token_id));
    CLIPT_TRY(read_token_id(obj, "eos_token_id", what, &c->eos_token_id));
    CLIPT_TRY(read_token_id(obj, "pad_token_id", what, &c->pad_token_id));
    double eps = c->layer_norm_eps;
    CLIPT_TRY(read_number(obj, "layer_norm_eps", what, &eps));
    c->layer_norm_eps = (float)eps;

    json_t *act = json_object_get(obj, "hidden_act");
    if (act != NULL) {
        if (!json_is_string(act)) {
            return clipt_set_error(CLIPT_ERR_PARSE,
                                   "%s: \"hidden_act\" must be a string", what);
        }
        const char *name = json_string_value(act);
        if (strcmp(name, "quick_gelu") == 0) {
            c->activation = CLIPT_ACTIVATION_QUICK_GELU;
        } else if (strcmp(name, "gelu") == 0) {
            c->activation = CLIPT_ACTIVATION_GELU;
        } else {
            return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                                   "%s: hidden_act \"%s\" is not supported; "
                                   "the encoder implements \"quick_gelu\" "
                                   "and \"gelu\"",
                                   what, name);
        }
    }
    return CLIPT_OK;
}

/* Returns 1 when the "architectures" list names CLIPTextModel. */
static int names_text_model_only(const json_t *root)
{
    json_t *list = json_object_get(root, "architectures");
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), "CLIPTextModel") == 0) {
            return 1;
        }
    }
    return 0;
}

static clipt_status parse_config_root(const json_t *root, const char *what,
                                      clipt_checkpoint_config *out)
{
    json_t *type = json_object_get(root, "model_type");
    if (type != NULL && !json_is_string(type)) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: \"model_type\" must be a string", what);
    }
    const char *model_type = type != NULL ? json_string_value(type) : NULL;
    int clip_model = json_object_get(root, "text_config") != NULL ||
                     json_object_get(root, "text_config_dict") != NULL ||
                     json_object_get(root, "vision_config") != NULL ||
                     (model_type != NULL && strcmp(model_type, "clip") == 0);
    if (model_type != NULL && strcmp(model_type, "clip") != 0 &&
        strcmp(model_type, "clip_text_model") != 0) {
        return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                               "%s: model_type \"%s\" is not a CLIP model; "
                               "expected \"clip\" or \"clip_text_model\"",
                               what, model_type);
    }

    text_config_defaults(&out->model);
    out->clip_model = clip_model;
    out->text_model_only = names_text_model_only(root);
    if (!clip_model) return read_text_config(root, what, &out->model);

    /* transformers builds the text config from text_config_dict alone when
     * it is present, else from text_config; the projection width of a
     * CLIPModel is its top-level projection_dim. */
    json_t *text = NULL;
    CLIPT_TRY(get_object(root, "text_config_dict", what, &text));
    if (text == NULL) CLIPT_TRY(get_object(root, "text_config", what, &text));
    if (text != NULL) CLIPT_TRY(read_text_config(text, what, &out->model));
    out->model.projection_dim = 512;
    return read_int(root, "projection_dim", what, &out->model.projection_dim);
}

clipt_status clipt_config_parse(const char *text, size_t length,
                                const char *what, clipt_checkpoint_config *out)
{
    memset(out, 0, sizeof *out);
    json_t *root = NULL;
    CLIPT_TRY(load_json_object(text, length, what, &root));
    clipt_status status = parse_config_root(root, what, out);
    json_decref(root);
    return status;
}

/* ------------------------------------------------------------------------ */
/* open_clip open_clip_config.json                                          */
/* ------------------------------------------------------------------------ */

/* Rejects text-tower options that change the architecture away from CLIP's
 * own text transformer. */
static clipt_status reject_other_towers(const json_t *text_cfg,
                                        const char *what)
{
    static const char *const when_set[] = {"hf_model_name", "ls_init_value"};
    static const char *const when_true[] = {"no_causal_mask", "embed_cls",
                                            "proj_bias"};
    for (size_t i = 0; i < sizeof when_set / sizeof when_set[0]; i++) {
        json_t *v = json_object_get(text_cfg, when_set[i]);
        if (v != NULL && !json_is_null(v)) {
            return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                                   "%s: text_cfg sets \"%s\"; only CLIP's own "
                                   "text transformer is supported",
                                   what, when_set[i]);
        }
    }
    for (size_t i = 0; i < sizeof when_true / sizeof when_true[0]; i++) {
        if (json_is_true(json_object_get(text_cfg, when_true[i]))) {
            return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                                   "%s: text_cfg sets \"%s\" to true; only "
                                   "CLIP's own text transformer is supported",
                                   what, when_true[i]);
        }
    }
    json_t *pool = json_object_get(text_cfg, "pool_type");
    if (pool != NULL && !(json_is_string(pool) &&
                          strcmp(json_string_value(pool), "argmax") == 0)) {
        return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                               "%s: text_cfg pool_type must be \"argmax\" "
                               "(pooling at the end-of-text token)",
                               what);
    }
    return CLIPT_OK;
}

static clipt_status parse_open_clip_root(const json_t *root, const char *what,
                                         clipt_checkpoint_config *out)
{
    json_t *model_cfg = NULL, *text_cfg = NULL, *norm = NULL;
    CLIPT_TRY(get_object(root, "model_cfg", what, &model_cfg));
    if (model_cfg == NULL) {
        return clipt_set_error(CLIPT_ERR_PARSE, "%s: \"model_cfg\" is missing",
                               what);
    }
    CLIPT_TRY(get_object(model_cfg, "text_cfg", what, &text_cfg));

    /* open_clip's CLIPTextCfg defaults; its tokenizer puts start-of-text
     * and end-of-text at the top of the vocabulary and pads with 0 */
    clipt_model_config *c = &out->model;
    text_config_defaults(c);
    c->pad_token_id = 0;
    c->activation = json_is_true(json_object_get(model_cfg, "quick_gelu"))
                        ? CLIPT_ACTIVATION_QUICK_GELU
                        : CLIPT_ACTIVATION_GELU;
    c->projection_dim = -1;
    CLIPT_TRY(read_int(model_cfg, "embed_dim", what, &c->projection_dim));
    if (c->projection_dim == -1) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: model_cfg has no \"embed_dim\"", what);
    }
    double mlp_ratio = 4.0, eps = 1e-5;
    if (text_cfg != NULL) {
        CLIPT_TRY(reject_other_towers(text_cfg, what));
        CLIPT_TRY(read_int(text_cfg, "context_length", what, &c->context_length));
        CLIPT_TRY(read_int(text_cfg, "vocab_size", what, &c->vocab_size));
        CLIPT_TRY(read_int(text_cfg, "width", what, &c->width));
        CLIPT_TRY(read_int(text_cfg, "heads", what, &c->heads));
        CLIPT_TRY(read_int(text_cfg, "layers", what, &c->layers));
        CLIPT_TRY(read_number(text_cfg, "mlp_ratio", what, &mlp_ratio));
        CLIPT_TRY(get_object(text_cfg, "norm_kwargs", what, &norm));
        if (norm != NULL) CLIPT_TRY(read_number(norm, "eps", what, &eps));
    }
    /* open_clip sizes the MLP as int(width * mlp_ratio) */
    double mlp = (double)c->width * mlp_ratio;
    if (!(mlp >= 1.0 && mlp < (double)INT_MAX)) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: width %d times mlp_ratio %g is not a "
                               "valid MLP width",
                               what, c->width, mlp_ratio);
    }
    c->mlp_width = (int)mlp;
    c->layer_norm_eps = (float)eps;
    c->eos_token_id = c->vocab_size - 1;
    c->bos_token_id = c->vocab_size - 2;
    return CLIPT_OK;
}

clipt_status clipt_open_clip_config_parse(const char *text, size_t length,
                                          const char *what,
                                          clipt_checkpoint_config *out)
{
    memset(out, 0, sizeof *out);
    json_t *root = NULL;
    CLIPT_TRY(load_json_object(text, length, what, &root));
    clipt_status status = parse_open_clip_root(root, what, out);
    json_decref(root);
    return status;
}

/* ------------------------------------------------------------------------ */
/* End-of-text positions                                                    */
/* ------------------------------------------------------------------------ */

/* transformers (models/clip/modeling_clip.py, 5.x) pools the text encoder
 * at one position per row, chosen by the configuration's eos_token_id:
 * - eos_token_id == 2 marks an old configuration written before the ids
 *   were corrected. The position is then the first occurrence of the row's
 *   largest id, which is end-of-text because CLIP's vocabulary keeps it in
 *   its last slot (49407).
 * - Any other eos_token_id: the first position holding that id, so pads
 *   equal to end-of-text do not matter.
 * transformers pools position 0 silently for a row without end-of-text;
 * here such a row is an error. */
CLIPT_API clipt_status clipt_eot_positions(const clipt_model_config *cfg,
                                           const int32_t *ids, int B, int T,
                                           int32_t *eot)
{
    if (cfg == NULL || ids == NULL || eot == NULL || B < 1 || T < 1) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_eot_positions: need a config, ids, an "
                               "output array and B, T >= 1 (got B %d, T %d)",
                               B, T);
    }
    int legacy = cfg->eos_token_id == 2;
    int eos = legacy ? cfg->vocab_size - 1 : cfg->eos_token_id;
    if (eos < 0) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_eot_positions: the configuration has no "
                               "eos_token_id");
    }
    for (int b = 0; b < B; b++) {
        const int32_t *row = ids + (size_t)b * T;
        int pos = -1;
        if (legacy) {
            /* first index of the row maximum, as torch.argmax returns it */
            pos = 0;
            for (int t = 1; t < T; t++) {
                if (row[t] > row[pos]) pos = t;
            }
            if (row[pos] != eos) {
                return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                       "row %d has no end-of-text id: its "
                                       "largest id is %d at column %d, but "
                                       "the configuration (eos_token_id 2, "
                                       "the old convention) pools at the "
                                       "largest id and expects %d",
                                       b, row[pos], pos, eos);
            }
        } else {
            for (int t = 0; t < T && pos < 0; t++) {
                if (row[t] == eos) pos = t;
            }
            if (pos < 0) {
                return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                       "row %d has no end-of-text id %d in "
                                       "its %d columns",
                                       b, eos, T);
            }
        }
        eot[b] = pos;
    }
    return CLIPT_OK;
}
