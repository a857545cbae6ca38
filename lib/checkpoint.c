/* Loading checkpoints: finding the weights and configuration of a
 * directory or file, choosing between the Hugging Face and OpenAI/open_clip
 * parameter layouts, checking every tensor's shape and filling the model.
 *
 * Hugging Face layout (CLIPTextModelWithProjection, CLIPModel): the names
 * of the model's own tensor table, Linear weights (out, in), projection
 * (P, C). CLIPTextModel files of transformers 5 drop the "text_model."
 * prefix. OpenAI/open_clip layout: q, k and v packed as rows [0, C),
 * [C, 2C) and [2C, 3C) of attn.in_proj_weight (3C, C), and a projection
 * stored (C, P) and applied as x @ P, so the HF weight is its transpose. */
#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

/* ------------------------------------------------------------------------ */
/* Finding the files                                                        */
/* ------------------------------------------------------------------------ */

void clipt_model_origin_free(clipt_model_origin *o)
{
    if (o == NULL) return;
    for (int i = 0; i < o->nweight_files; i++) free(o->weight_files[i]);
    free(o->weight_files);
    free(o->dir);
    free(o->config_path);
    free(o);
}

void clipt_weight_set_close(clipt_weight_set *ws)
{
    for (int i = 0; i < ws->nfiles; i++) clipt_st_close(ws->files[i]);
    free(ws->files);
    ws->files = NULL;
    ws->nfiles = 0;
}

static clipt_status add_weight_file(clipt_weight_set *ws, const char *path)
{
    clipt_st_file **files = realloc(ws->files, (size_t)(ws->nfiles + 1) * sizeof *files);
    if (files == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory opening %s", path);
    }
    ws->files = files;
    CLIPT_TRY(clipt_st_open(path, &ws->files[ws->nfiles]));
    ws->nfiles++;
    /* a name may live in one shard only */
    clipt_st_file *added = ws->files[ws->nfiles - 1];
    for (int i = 0; i + 1 < ws->nfiles; i++) {
        for (int k = 0; k < added->ntensors; k++) {
            if (clipt_st_find(ws->files[i], added->tensors[k].name) != NULL) {
                return clipt_set_error(CLIPT_ERR_PARSE,
                                       "tensor \"%s\" appears in both %s and "
                                       "%s",
                                       added->tensors[k].name,
                                       ws->files[i]->path, path);
            }
        }
    }
    return CLIPT_OK;
}

const clipt_st_tensor *clipt_weight_set_find(const clipt_weight_set *ws,
                                             const char *name,
                                             const clipt_st_file **file)
{
    for (int i = 0; i < ws->nfiles; i++) {
        const clipt_st_tensor *t = clipt_st_find(ws->files[i], name);
        if (t != NULL) {
            if (file != NULL) *file = ws->files[i];
            return t;
        }
    }
    return NULL;
}

/* Opens the shards listed in a transformers index file. */
static clipt_status open_index(clipt_weight_set *ws, const char *dir,
                               const char *index_path)
{
    char *text = NULL;
    size_t length = 0;
    CLIPT_TRY(clipt_read_file(index_path, CLIPT_CONFIG_MAX_BYTES * 4, &text, &length));
    json_error_t err;
    json_t *root = json_loadb(text, length, JSON_REJECT_DUPLICATES, &err);
    free(text);
    if (root == NULL) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: not valid JSON: %s (line %d, column %d)",
                               index_path, err.text, err.line, err.column);
    }
    clipt_status status = CLIPT_OK;
    json_t *map = json_object_get(root, "weight_map");
    if (!json_is_object(map)) {
        status = clipt_set_error(CLIPT_ERR_PARSE,
                                 "%s: \"weight_map\" must be an object",
                                 index_path);
    }
    const char *key;
    json_t *v;
    json_object_foreach(map, key, v) {
        if (status != CLIPT_OK) break;
        const char *shard = json_string_value(v);
        if (shard == NULL || shard[0] == '\0' || strchr(shard, '/') != NULL ||
            strcmp(shard, "..") == 0) {
            status = clipt_set_error(CLIPT_ERR_PARSE,
                                     "%s: weight_map entry \"%s\" must be a "
                                     "file name in the same directory",
                                     index_path, key);
            break;
        }
        char *path = NULL;
        status = clipt_path_join(dir, shard, &path);
        int seen = 0;
        for (int i = 0; status == CLIPT_OK && i < ws->nfiles; i++) {
            seen |= strcmp(ws->files[i]->path, path) == 0;
        }
        if (status == CLIPT_OK && !seen) status = add_weight_file(ws, path);
        free(path);
    }
    json_decref(root);
    return status;
}

/* Finds the only *.safetensors file of a directory, for checkpoints that
 * name their weights otherwise (open_clip_model.safetensors). */
static clipt_status find_single_safetensors(const char *dir, char **out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (d == NULL) {
        return clipt_set_error(CLIPT_ERR_IO, "cannot list directory %s", dir);
    }
    char *found = NULL;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 12 && strcmp(e->d_name + n - 12, ".safetensors") == 0) {
            if (count++ == 0) found = strdup(e->d_name);
        }
    }
    closedir(d);
    if (count == 0) {
        return clipt_set_error(CLIPT_ERR_FILE_NOT_FOUND,
                               "%s: no model.safetensors, "
                               "model.safetensors.index.json or other "
                               ".safetensors file in this directory",
                               dir);
    }
    if (count > 1) {
        free(found);
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "%s: %d .safetensors files and no "
                               "model.safetensors; pass the path of the one "
                               "to load",
                               dir, count);
    }
    clipt_status status = found == NULL
                              ? clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                                                "out of host memory listing %s", dir)
                              : clipt_path_join(dir, found, out);
    free(found);
    return status;
}

/* Returns the weights file of a directory: model.safetensors, else the
 * only .safetensors file. *index receives the path of a sharded
 * checkpoint's index instead when the directory has one. */
static clipt_status weights_of_directory(const char *dir, char **single,
                                         char **index)
{
    CLIPT_TRY(clipt_path_join(dir, "model.safetensors", single));
    if (clipt_is_regular_file(*single)) return CLIPT_OK;
    free(*single);
    *single = NULL;
    CLIPT_TRY(clipt_path_join(dir, "model.safetensors.index.json", index));
    if (clipt_is_regular_file(*index)) return CLIPT_OK;
    free(*index);
    *index = NULL;
    return find_single_safetensors(dir, single);
}

/* Opens the weights named by path (a directory or a .safetensors file) and
 * records the directory that contains the configuration. */
static clipt_status open_weights(const char *path, clipt_checkpoint *ck)
{
    char *single = NULL, *index = NULL;
    clipt_status status = CLIPT_OK;
    if (clipt_is_directory(path)) {
        ck->dir = strdup(path);
        if (ck->dir != NULL) status = weights_of_directory(path, &single, &index);
    } else {
        single = strdup(path);
        const char *slash = strrchr(path, '/');
        ck->dir = slash == NULL ? strdup(".")
                                : strndup(path, (size_t)(slash - path) + 1);
    }
    if (ck->dir == NULL || (status == CLIPT_OK && single == NULL && index == NULL)) {
        status = clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                                 "out of host memory opening %s", path);
    }
    if (status == CLIPT_OK) {
        status = index != NULL ? open_index(&ck->weights, ck->dir, index)
                               : add_weight_file(&ck->weights, single);
    }
    free(single);
    free(index);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/* ------------------------------------------------------------------------ */

/* Reads and parses a configuration file beside the weights when present.
 * *found is set to 1 when the file exists. */
static clipt_status read_config_file(const char *dir, const char *name,
                                     int open_clip, clipt_checkpoint_config *cc,
                                     char **path_out, int *found)
{
    char *path = NULL, *text = NULL;
    size_t length = 0;
    *found = 0;
    CLIPT_TRY(clipt_path_join(dir, name, &path));
    if (!clipt_is_regular_file(path)) {
        free(path);
        return CLIPT_OK;
    }
    clipt_status status = clipt_read_file(path, CLIPT_CONFIG_MAX_BYTES, &text, &length);
    if (status == CLIPT_OK) {
        status = open_clip ? clipt_open_clip_config_parse(text, length, path, cc)
                           : clipt_config_parse(text, length, path, cc);
    }
    free(text);
    if (status == CLIPT_OK) {
        *found = 1;
        *path_out = path;
    } else {
        free(path);
    }
    return status;
}

/* Reads a 2-D shape of a tensor that sizing depends on. */
static clipt_status shape_of(const clipt_checkpoint *ck, const char *name,
                             int ndim, uint64_t shape[2])
{
    const clipt_st_tensor *t = clipt_weight_set_find(&ck->weights, name, NULL);
    if (t == NULL) {
        return clipt_set_error(CLIPT_ERR_NOT_FOUND,
                               "tensor \"%s\" is missing, and the model sizes "
                               "cannot be read without it",
                               name);
    }
    if (t->ndim != ndim) {
        return clipt_set_error(CLIPT_ERR_SHAPE,
                               "tensor \"%s\" has %d dimensions, expected %d",
                               name, t->ndim, ndim);
    }
    for (int d = 0; d < ndim; d++) {
        if (t->shape[d] > INT_MAX) {
            return clipt_set_error(CLIPT_ERR_SHAPE,
                                   "tensor \"%s\": dimension %d is %llu, too "
                                   "large",
                                   name, d, (unsigned long long)t->shape[d]);
        }
        shape[d] = t->shape[d];
    }
    return CLIPT_OK;
}

/* Derives the sizes from tensor shapes when no configuration file exists,
 * as OpenAI's build_model does: heads = width / 64. */
static clipt_status infer_config(clipt_checkpoint *ck)
{
    clipt_model_config *c = &ck->config.model;
    char name[160];
    uint64_t s[2];
    int hf = ck->layout == CLIPT_LAYOUT_HF;
    const char *p = ck->prefix;

    snprintf(name, sizeof name, hf ? "%sembeddings.token_embedding.weight"
                                   : "%stoken_embedding.weight", p);
    CLIPT_TRY(shape_of(ck, name, 2, s));
    c->vocab_size = (int)s[0];
    c->width = (int)s[1];
    snprintf(name, sizeof name, hf ? "%sembeddings.position_embedding.weight"
                                   : "%spositional_embedding", p);
    CLIPT_TRY(shape_of(ck, name, 2, s));
    c->context_length = (int)s[0];
    c->layers = 0;
    for (;;) {
        snprintf(name, sizeof name, hf ? "%sencoder.layers.%d.layer_norm1.weight"
                                       : "%stransformer.resblocks.%d.ln_1.weight",
                 p, c->layers);
        if (clipt_weight_set_find(&ck->weights, name, NULL) == NULL) break;
        c->layers++;
    }
    snprintf(name, sizeof name, hf ? "%sencoder.layers.0.mlp.fc1.weight"
                                   : "%stransformer.resblocks.0.mlp.c_fc.weight", p);
    CLIPT_TRY(shape_of(ck, name, 2, s));
    c->mlp_width = (int)s[0];
    CLIPT_TRY(shape_of(ck, hf ? "text_projection.weight" : "text_projection", 2, s));
    c->projection_dim = (int)(hf ? s[0] : s[1]);

    if (c->width % 64 != 0) {
        return clipt_set_error(CLIPT_ERR_NOT_FOUND,
                               "%s: no config.json or open_clip_config.json, "
                               "and the head count cannot be inferred: width "
                               "%d is not a multiple of CLIP's head size 64; "
                               "add a config.json beside the weights",
                               ck->dir, c->width);
    }
    c->heads = c->width / 64;
    c->activation = CLIPT_ACTIVATION_QUICK_GELU;
    c->layer_norm_eps = 1e-5f;
    if (hf) {
        c->bos_token_id = 49406;
        c->eos_token_id = 49407;
        c->pad_token_id = 1;
    } else {
        c->bos_token_id = c->vocab_size - 2;
        c->eos_token_id = c->vocab_size - 1;
        c->pad_token_id = 0;
    }
    return CLIPT_OK;
}

/* Chooses the layout from the names present. */
static clipt_status detect_layout(clipt_checkpoint *ck)
{
    const clipt_weight_set *ws = &ck->weights;
    if (clipt_weight_set_find(ws, "text_model.embeddings.token_embedding.weight", NULL)) {
        ck->layout = CLIPT_LAYOUT_HF;
        ck->prefix = "text_model.";
    } else if (clipt_weight_set_find(ws, "embeddings.token_embedding.weight", NULL)) {
        ck->layout = CLIPT_LAYOUT_HF;
        ck->prefix = "";
    } else if (clipt_weight_set_find(ws, "token_embedding.weight", NULL)) {
        ck->layout = CLIPT_LAYOUT_OPENAI;
        ck->prefix = "";
    } else {
        return clipt_set_error(CLIPT_ERR_NOT_FOUND,
                               "%s: no CLIP text encoder found: neither "
                               "text_model.embeddings.token_embedding.weight "
                               "(Hugging Face) nor token_embedding.weight "
                               "(OpenAI/open_clip) is present",
                               ws->files[0]->path);
    }
    return CLIPT_OK;
}

clipt_status clipt_checkpoint_open(const char *path, clipt_checkpoint *ck)
{
    memset(ck, 0, sizeof *ck);
    if (path == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "checkpoint path is NULL");
    }
    if (!clipt_is_directory(path) && !clipt_is_regular_file(path)) {
        return clipt_set_error(CLIPT_ERR_FILE_NOT_FOUND,
                               "checkpoint %s: no such file or directory", path);
    }
    clipt_status status = CLIPT_OK;
    int found = 0;
    CLIPT_TRY_GOTO(open_weights(path, ck));
    CLIPT_TRY_GOTO(detect_layout(ck));
    CLIPT_TRY_GOTO(read_config_file(ck->dir, "config.json", 0, &ck->config,
                                    &ck->config_path, &found));
    if (!found) {
        CLIPT_TRY_GOTO(read_config_file(ck->dir, "open_clip_config.json", 1,
                                        &ck->config, &ck->config_path, &found));
    }
    if (!found) CLIPT_TRY_GOTO(infer_config(ck));
    if (clipt_model_config_validate(&ck->config.model) != CLIPT_OK) {
        status = clipt_error_prefix(CLIPT_ERR_PARSE, "%s",
                                    ck->config_path ? ck->config_path : ck->dir);
        goto fail;
    }
    return CLIPT_OK;

fail:
    clipt_checkpoint_close(ck);
    return status;
}

void clipt_checkpoint_close(clipt_checkpoint *ck)
{
    clipt_weight_set_close(&ck->weights);
    free(ck->dir);
    free(ck->config_path);
    memset(ck, 0, sizeof *ck);
}

CLIPT_API clipt_status clipt_checkpoint_read_config(const char *path,
                                                    clipt_model_config *cfg)
{
    if (cfg == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_checkpoint_read_config: cfg is NULL");
    }
    clipt_checkpoint ck;
    CLIPT_TRY(clipt_checkpoint_open(path, &ck));
    *cfg = ck.config.model;
    clipt_checkpoint_close(&ck);
    return CLIPT_OK;
}
