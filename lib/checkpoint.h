/* Checkpoint IO internals: the configuration readers (config.json of
 * transformers, open_clip_config.json of open_clip) and the record of where
 * a loaded model came from, which saving uses. */
#ifndef CLIPT_CHECKPOINT_H
#define CLIPT_CHECKPOINT_H

#include "internal.h"
#include "safetensors.h"

/* Parameter layouts of a weights file. */
typedef enum clipt_layout {
    CLIPT_LAYOUT_HF = 0,     /* text_model.* and text_projection.weight */
    CLIPT_LAYOUT_OPENAI = 1  /* transformer.resblocks.*, packed q/k/v */
} clipt_layout;

/* The text encoder's configuration as read from a configuration file. */
typedef struct clipt_checkpoint_config {
    clipt_model_config model;
    /* 1 for the configuration of a full CLIPModel (text and vision). */
    int clip_model;
    /* 1 when the file names its architecture CLIPTextModel, which has no
     * projection. */
    int text_model_only;
} clipt_checkpoint_config;

/* Largest configuration file the readers accept, in bytes. */
#define CLIPT_CONFIG_MAX_BYTES (16u << 20)

/* Parses the text of a transformers config.json: a CLIPModel's text part
 * (text_config_dict when present, else text_config, as transformers
 * chooses) with the top-level projection_dim, or a CLIPTextModel /
 * CLIPTextModelWithProjection config. Absent keys get the defaults of
 * transformers' CLIPTextConfig. what names the file in messages.
 * Errors: CLIPT_ERR_PARSE for invalid JSON or a value of the wrong type or
 * range; CLIPT_ERR_UNSUPPORTED for another model type or an activation
 * other than quick_gelu and gelu. The sizes are not cross-checked; call
 * clipt_model_config_validate() on the result. */
clipt_status clipt_config_parse(const char *text, size_t length,
                                const char *what, clipt_checkpoint_config *out);

/* Parses open_clip's open_clip_config.json ("model_cfg" with "embed_dim",
 * "quick_gelu" and "text_cfg"); absent keys get open_clip's defaults. Text
 * towers that differ from CLIP's (a Hugging Face text model, layer scale,
 * other pooling, no causal mask, a class token, a projection bias) are
 * rejected with CLIPT_ERR_UNSUPPORTED. */
clipt_status clipt_open_clip_config_parse(const char *text, size_t length,
                                          const char *what,
                                          clipt_checkpoint_config *out);

/* Where a model was loaded from. Saving uses it to copy tokenizer files and,
 * for a full CLIPModel, the vision tower. */
typedef struct clipt_model_origin {
    char *dir;            /* directory of the configuration and tokenizer */
    char **weight_files;  /* absolute paths of the safetensors files */
    int nweight_files;
    clipt_layout layout;
    int clip_model;       /* the weights hold a vision tower (HF layout) */
    char *config_path;    /* configuration file that was read, or NULL */
    int clip_config;      /* it is the config.json of a CLIPModel */
} clipt_model_origin;

void clipt_model_origin_free(clipt_model_origin *origin);

/* ------------------------------------------------------------------------ */
/* An opened checkpoint                                                     */
/* ------------------------------------------------------------------------ */

/* The safetensors files of one checkpoint (several when sharded). */
typedef struct clipt_weight_set {
    clipt_st_file **files;
    int nfiles;
} clipt_weight_set;

/* Finds a tensor in any file of the set. *file (optional) receives the
 * file that contains it. Returns NULL when absent. */
const clipt_st_tensor *clipt_weight_set_find(const clipt_weight_set *ws,
                                             const char *name,
                                             const clipt_st_file **file);
void clipt_weight_set_close(clipt_weight_set *ws);

typedef struct clipt_checkpoint {
    clipt_weight_set weights;
    char *dir;                 /* contains the configuration and tokenizer */
    char *config_path;         /* the configuration file read, or NULL */
    clipt_checkpoint_config config;
    clipt_layout layout;
    const char *prefix;        /* "text_model." or "" before HF names */
} clipt_checkpoint;

/* Opens the weights at path (a directory or a .safetensors file), detects
 * the layout and reads the configuration: config.json, else
 * open_clip_config.json, else sizes inferred from the tensor shapes with
 * heads = width / 64. The configuration is validated. */
clipt_status clipt_checkpoint_open(const char *path, clipt_checkpoint *ck);
void clipt_checkpoint_close(clipt_checkpoint *ck);

/* Reports whether a tensor name of the checkpoint is one the text encoder
 * never uses (vision tower, logit scale, position ids, OpenAI's stored
 * sizes), so loading skips it and a full-model save copies it. */
int clipt_checkpoint_skips(const clipt_checkpoint *ck, const char *name);

#endif /* CLIPT_CHECKPOINT_H */
