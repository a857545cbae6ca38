/*
 * libclipt: fine-tune the text encoder of CLIP so that cosine similarity
 * between word embeddings follows the WordNet hierarchy.
 *
 * Conventions of this API
 * -----------------------
 * - Every function that can fail returns a clipt_status. CLIPT_OK is 0.
 *   On failure, clipt_last_error() returns a message for the calling thread
 *   that names the file, tensor, line or value involved.
 * - Objects are opaque handles. Each clipt_X_create() or clipt_X_load() has a
 *   clipt_X_free() that accepts NULL. A handle is used by one thread at a time;
 *   different handles may be used from different threads.
 * - Outputs are returned through pointer arguments placed after the inputs
 *   that select what to compute. On failure, output handles are set to NULL.
 * - The library never prints, never calls exit() or abort(), and keeps no
 *   global mutable state except the per-thread error message. Log messages
 *   go to the callback set in clipt_context_options.
 *
 * Shapes are written row-major, last axis contiguous, with this legend:
 *   B batch rows (texts), T tokens per row, C width, NH attention heads,
 *   HS head size (C / NH), V vocabulary, L layers, F MLP width,
 *   U unique texts in a batch, P projection width, N pairs in a batch.
 */
#ifndef CLIPT_H
#define CLIPT_H

#include <stddef.h>
#include <stdint.h>

/* The library is built with -fvisibility=hidden; CLIPT_API marks the public
 * symbols. Programs that include this header need not define anything. */
#if defined(__GNUC__) && defined(CLIPT_BUILDING_LIBRARY)
#define CLIPT_API __attribute__((visibility("default")))
#else
#define CLIPT_API
#endif

#if defined(__GNUC__)
#define CLIPT_DEPRECATED(hint) __attribute__((deprecated(hint)))
#else
#define CLIPT_DEPRECATED(hint)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                  */
/* ------------------------------------------------------------------------ */

#define CLIPT_VERSION_MAJOR 0
#define CLIPT_VERSION_MINOR 1
#define CLIPT_VERSION_PATCH 0
/* One integer, MAJOR * 10000 + MINOR * 100 + PATCH, for compile-time tests. */
#define CLIPT_VERSION_NUMBER                                                  \
    (CLIPT_VERSION_MAJOR * 10000 + CLIPT_VERSION_MINOR * 100 +                \
     CLIPT_VERSION_PATCH)

/* Returns CLIPT_VERSION_NUMBER of the library that is linked, so a program
 * can compare it with the header it was compiled against. */
CLIPT_API int clipt_version(void);

/* Returns the version as static text, for example "0.1.0". */
CLIPT_API const char *clipt_version_string(void);

/* ------------------------------------------------------------------------ */
/* Status codes and errors                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Status values are stable: a value is never renumbered or reused. They are
 * grouped by hundreds, so (status / 100) gives the kind of failure:
 *   1xx the caller passed something invalid (argument, shape, file content),
 *   2xx the request is valid but not supported by this build or machine,
 *   3xx a resource ran out or an operating-system call failed,
 *   4xx the CUDA runtime or a CUDA library failed,
 *   5xx a libclipt bug or a call made in the wrong order.
 *
 * X(name, value, sentence) lists every code once; the enum and the tables
 * behind clipt_status_name() and clipt_status_string() are made from it.
 */
#define CLIPT_STATUS_LIST(X)                                                  \
    X(CLIPT_OK, 0, "success")                                                 \
    X(CLIPT_ERR_INVALID_ARGUMENT, 100, "invalid argument")                    \
    X(CLIPT_ERR_SHAPE, 101, "invalid or mismatched shape")                    \
    X(CLIPT_ERR_PARSE, 102, "malformed input file or text")                   \
    X(CLIPT_ERR_CORRUPT, 103, "file is truncated or fails its checksum")      \
    X(CLIPT_ERR_NOT_FOUND, 104, "name not found")                             \
    X(CLIPT_ERR_INVALID_UTF8, 105, "invalid UTF-8 in input text")             \
    X(CLIPT_ERR_NONFINITE, 106, "NaN or infinity in a value")                 \
    X(CLIPT_ERR_UNSUPPORTED, 200, "not supported")                            \
    X(CLIPT_ERR_NO_CUDA, 201, "library built without CUDA")                   \
    X(CLIPT_ERR_NO_DEVICE, 202, "no usable CUDA device")                      \
    X(CLIPT_ERR_OUT_OF_MEMORY, 300, "out of host memory")                     \
    X(CLIPT_ERR_IO, 301, "input/output error")                                \
    X(CLIPT_ERR_FILE_NOT_FOUND, 302, "file or directory not found")           \
    X(CLIPT_ERR_DEVICE_OUT_OF_MEMORY, 303, "out of device memory")            \
    X(CLIPT_ERR_INTERRUPTED, 304, "interrupted")                              \
    X(CLIPT_ERR_CUDA, 400, "CUDA runtime error")                              \
    X(CLIPT_ERR_CUBLAS, 401, "cuBLAS error")                                  \
    X(CLIPT_ERR_CUDNN, 402, "cuDNN error")                                    \
    X(CLIPT_ERR_INTERNAL, 500, "internal error in libclipt")                  \
    X(CLIPT_ERR_MISUSE, 501, "function called in the wrong order or state")

typedef enum clipt_status {
#define CLIPT_STATUS_ENUM_ENTRY(name, value, text) name = value,
    CLIPT_STATUS_LIST(CLIPT_STATUS_ENUM_ENTRY)
#undef CLIPT_STATUS_ENUM_ENTRY
} clipt_status;

/* Returns the enum name of a status as static text ("CLIPT_ERR_SHAPE"), or
 * "CLIPT_UNKNOWN_STATUS" for a value the library does not define. */
CLIPT_API const char *clipt_status_name(clipt_status status);

/* Returns a short static sentence for a status ("invalid or mismatched
 * shape"), or "unknown status" for a value the library does not define. */
CLIPT_API const char *clipt_status_string(clipt_status status);

/* Returns the detail message of the most recent failure on the calling
 * thread, or "" when none was recorded since clipt_clear_error(). Successful
 * calls leave the message as it is, so read it right after a call returns an
 * error. The text is owned by the library and stays valid until the next
 * libclipt call on the same thread. */
CLIPT_API const char *clipt_last_error(void);

/* Clears the calling thread's detail message. */
CLIPT_API void clipt_clear_error(void);

/* ------------------------------------------------------------------------ */
/* Logging                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum clipt_log_level {
    CLIPT_LOG_ERROR = 0,
    CLIPT_LOG_WARNING = 1,
    CLIPT_LOG_INFO = 2,
    CLIPT_LOG_DEBUG = 3
} clipt_log_level;

/* A log callback receives one message without a trailing newline. It may be
 * called from any thread that uses the context, never concurrently for one
 * context. */
typedef void (*clipt_log_fn)(void *user_data, clipt_log_level level,
                             const char *message);

/* ------------------------------------------------------------------------ */
/* Context: backend selection and device resources                          */
/* ------------------------------------------------------------------------ */

typedef struct clipt_context clipt_context;

/* The largest thread count a context accepts. */
#define CLIPT_MAX_THREADS 1024

typedef struct clipt_context_options {
    /* "cpu", "cuda" (device 0), "cuda:N", or "auto" (CUDA device 0 when one
     * is usable, else the CPU). NULL means "auto". */
    const char *device;
    /* Threads for the CPU backend's own loops and for OpenBLAS; 0 means one
     * per online processor. At most CLIPT_MAX_THREADS. Ignored by the CUDA
     * backend. */
    int num_threads;
    /* Allow TF32 tensor-core math in CUDA matrix products (faster, about
     * 10 bits of mantissa in the products). 0 keeps full fp32. */
    int allow_tf32;
    /* Log callback and the most verbose level passed to it. NULL is silent. */
    clipt_log_fn log_fn;
    void *log_user_data;
    clipt_log_level log_level;
} clipt_context_options;

/* Fills options with the defaults: device "auto", num_threads 0, TF32 off,
 * no logging. New fields are appended in later versions and get their default
 * here, so call this before setting fields. */
CLIPT_API void clipt_context_options_init(clipt_context_options *options);

/* Creates a context on the requested device. options may be NULL for the
 * defaults. CUDA resources (stream, cuBLAS handle, workspace) are created
 * here and only for a CUDA context; a CPU context never touches CUDA.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for an unknown device string or a
 * thread count outside [0, CLIPT_MAX_THREADS]; CLIPT_ERR_NO_CUDA when
 * "cuda" is requested from a library built without CUDA;
 * CLIPT_ERR_NO_DEVICE when no usable device or
 * driver is present or N is out of range; CLIPT_ERR_CUDA, CLIPT_ERR_CUBLAS
 * when device setup fails. The caller owns *out and frees it with
 * clipt_context_free() after every object created from it. */
CLIPT_API clipt_status clipt_context_create(
    const clipt_context_options *options, clipt_context **out);

/* Releases a context and its device resources. NULL is accepted. */
CLIPT_API void clipt_context_free(clipt_context *ctx);

/* Returns the backend in use: "cpu" or "cuda". Never NULL for a valid ctx. */
CLIPT_API const char *clipt_context_backend(const clipt_context *ctx);

/* Writes a one-line description of the device into buf (at most size bytes,
 * always NUL-terminated when size > 0), for example
 * "cpu: 2 threads, OpenBLAS 0.3.21" or "cuda:0: NVIDIA H200, 139 GiB". */
CLIPT_API clipt_status clipt_context_describe(const clipt_context *ctx,
                                              char *buf, size_t size);

/* Returns 1 when the library was built with the CUDA backend, else 0. */
CLIPT_API int clipt_has_cuda(void);

/* ------------------------------------------------------------------------ */
/* Model configuration                                                      */
/* ------------------------------------------------------------------------ */

typedef enum clipt_activation {
    CLIPT_ACTIVATION_QUICK_GELU = 0, /* x * sigmoid(1.702 x), CLIP's own */
    CLIPT_ACTIVATION_GELU = 1        /* exact erf form, as torch's gelu */
} clipt_activation;

typedef struct clipt_model_config {
    int vocab_size;      /* V, rows of the token embedding */
    int context_length;  /* maximum T, rows of the position embedding */
    int width;           /* C */
    int heads;           /* NH; width must be a multiple of heads */
    int layers;          /* L */
    int mlp_width;       /* F */
    int projection_dim;  /* P */
    float layer_norm_eps;
    clipt_activation activation;
    /* Token ids from the checkpoint's configuration. They matter only for
     * finding end-of-text positions in raw id rows; the forward contract
     * takes the positions explicitly. */
    int bos_token_id;
    int eos_token_id;
    int pad_token_id;
} clipt_model_config;

/* Fills cfg with a named preset: "vit-b-32" (CLIP ViT-B/32's text tower:
 * V 49408, T 77, C 512, NH 8, L 12, F 2048, P 512) or "small" (the same
 * vocabulary and context with C 256, NH 4, L 4, F 1024, P 256). NULL selects
 * "vit-b-32". Errors: CLIPT_ERR_NOT_FOUND for an unknown name. */
CLIPT_API clipt_status clipt_model_config_preset(const char *name,
                                                 clipt_model_config *cfg);

/* Checks that every size is positive, width % heads == 0 and eps > 0.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT naming the first bad field. */
CLIPT_API clipt_status clipt_model_config_validate(
    const clipt_model_config *cfg);

/* ------------------------------------------------------------------------ */
/* Model: parameters and inference                                          */
/* ------------------------------------------------------------------------ */

typedef struct clipt_model clipt_model;

/* Creates a model with CLIP's initialisation, drawn from a generator seeded
 * with seed: token embedding N(0, 0.02), positions N(0, 0.01), q/k/v
 * N(0, C^-0.5), attention output and fc2 N(0, C^-0.5 (2L)^-0.5), fc1
 * N(0, (2C)^-0.5), projection N(0, C^-0.5), biases 0, LayerNorm weight 1 and
 * bias 0. The same seed gives the same parameters on every backend. The
 * parameters live on the context's device in one flat fp32 buffer. The model
 * keeps a pointer to ctx, which must outlive it.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for a NULL argument or an invalid
 * config; CLIPT_ERR_OUT_OF_MEMORY, CLIPT_ERR_DEVICE_OUT_OF_MEMORY. */
CLIPT_API clipt_status clipt_model_create(clipt_context *ctx,
                                          const clipt_model_config *cfg,
                                          uint64_t seed, clipt_model **out);

/* Releases a model and its buffers. NULL is accepted. */
CLIPT_API void clipt_model_free(clipt_model *model);

/* Copies the model's configuration into *cfg. */
CLIPT_API clipt_status clipt_model_get_config(const clipt_model *model,
                                              clipt_model_config *cfg);

/* Returns the length in floats of the flat parameter buffer, including the
 * alignment padding between tensors (padding floats are always zero). */
CLIPT_API size_t clipt_model_param_count(const clipt_model *model);

/* One named tensor inside the flat parameter buffer. Names and shapes follow
 * Hugging Face's CLIPTextModelWithProjection, with Linear weights stored as
 * (out_features, in_features), for example
 * "text_model.encoder.layers.0.self_attn.q_proj.weight" (C, C) and
 * "text_projection.weight" (P, C). */
typedef struct clipt_tensor_info {
    const char *name;  /* owned by the model, valid while it lives */
    int ndim;          /* 1 or 2 */
    int64_t shape[4];  /* unused trailing entries are 0 */
    size_t offset;     /* first element, in floats from the buffer start */
    size_t numel;      /* number of elements */
    int decayed;       /* 1 when AdamW applies weight decay to it */
} clipt_tensor_info;

/* Returns the number of named tensors. */
CLIPT_API int clipt_model_tensor_count(const clipt_model *model);

/* Describes tensor number index (0 <= index < clipt_model_tensor_count()),
 * in buffer order. Errors: CLIPT_ERR_INVALID_ARGUMENT for an index out of
 * range. */
CLIPT_API clipt_status clipt_model_tensor_info(const clipt_model *model,
                                               int index,
                                               clipt_tensor_info *info);

/* Looks a tensor up by its Hugging Face name.
 * Errors: CLIPT_ERR_NOT_FOUND naming the tensor. */
CLIPT_API clipt_status clipt_model_find_tensor(const clipt_model *model,
                                               const char *name,
                                               clipt_tensor_info *info);

/* Copies count floats starting at offset out of the flat parameter buffer
 * into host memory dst (a download when the model is on a GPU).
 * Errors: CLIPT_ERR_INVALID_ARGUMENT when the range leaves the buffer. */
CLIPT_API clipt_status clipt_model_get_params(const clipt_model *model,
                                              size_t offset, size_t count,
                                              float *dst);

/* Copies count floats from host memory src into the flat parameter buffer
 * at offset. Writing into the padding between tensors is rejected.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT when the range leaves the buffer or
 * covers padding; CLIPT_ERR_NONFINITE when src contains NaN or infinity. */
CLIPT_API clipt_status clipt_model_set_params(clipt_model *model,
                                              size_t offset, size_t count,
                                              const float *src);

/*
 * Encodes B token rows into embeddings.
 *   ids        (B, T) int32 token ids, row-major.
 *   eot        (B) int32, the end-of-text position of each row, 0 <= eot < T.
 *   embeddings (B, P) output, host memory: the final-LayerNorm hidden state at
 *              the end-of-text token times the text projection, not
 *              normalised (what CLIP compares with image embeddings).
 * Ids after a row's end-of-text position are ignored and may hold any value;
 * the pass runs on max(eot) + 1 columns. T may not exceed the context length.
 * Large batches are processed in chunks, so memory stays bounded.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for NULL pointers or B < 1;
 * CLIPT_ERR_SHAPE for T out of range or an eot outside [0, T); and
 * CLIPT_ERR_INVALID_ARGUMENT naming row and column for an id outside
 * [0, V) at or before the end-of-text position. */
CLIPT_API clipt_status clipt_model_encode(clipt_model *model,
                                          const int32_t *ids,
                                          const int32_t *eot, int B, int T,
                                          float *embeddings);

/* ------------------------------------------------------------------------ */
/* WordNet noun hierarchy and Wu-Palmer similarity                          */
/* ------------------------------------------------------------------------ */

/*
 * The noun synsets of a WordNet 3.0 database in memory: offsets, lemmas in
 * sense order, hypernym and instance-hypernym edges and depths, read from
 * data.noun and index.noun of a "dict" directory in the format of
 * wndb(5WN). A synset is named by its id, 0 <= id < synset count, in
 * data.noun order (ascending offset). Depths count edges: a root has depth
 * 0, and instance hypernyms count like hypernyms, as in NLTK.
 *
 * A loaded clipt_wordnet is never modified, so several threads may read one
 * at the same time.
 */
typedef struct clipt_wordnet clipt_wordnet;

/* Directory read when neither an argument nor WNSEARCHDIR names one: where
 * Debian's wordnet-base package installs WordNet 3.0. */
#define CLIPT_WORDNET_DEFAULT_DIR "/usr/share/wordnet"

/* Loads the noun database of a dict directory. dir NULL means the directory
 * in the WNSEARCHDIR environment variable (as WordNet's own tools use it)
 * when that is set and not empty, else CLIPT_WORDNET_DEFAULT_DIR. The
 * caller owns *out and releases it with clipt_wordnet_free().
 * Errors: CLIPT_ERR_FILE_NOT_FOUND or CLIPT_ERR_IO naming the file;
 * CLIPT_ERR_PARSE naming file and line for a malformed line, a pointer to
 * an offset that is not in data.noun, a hypernym cycle or an index entry
 * that lists an unknown synset; CLIPT_ERR_OUT_OF_MEMORY. */
CLIPT_API clipt_status clipt_wordnet_load(const char *dir,
                                          clipt_wordnet **out);

/* Releases a loaded database. NULL is accepted. */
CLIPT_API void clipt_wordnet_free(clipt_wordnet *wn);

/* Returns the directory the database was read from (owned by wn). */
CLIPT_API const char *clipt_wordnet_dir(const clipt_wordnet *wn);

/* Returns the number of noun synsets (82115 for WordNet 3.0). */
CLIPT_API int32_t clipt_wordnet_synset_count(const clipt_wordnet *wn);

/* Facts about one synset. Strings are owned by wn. */
typedef struct clipt_synset_info {
    uint32_t offset;     /* byte offset in data.noun; wnid "n%08u" */
    const char *name;    /* NLTK's name: first lemma lowercased, ".n.",
                          * sense number of two or more digits,
                          * "dog.n.01" */
    int lemma_count;     /* lemmas, see clipt_wordnet_lemma() */
    int hypernym_count;  /* @ pointers: parents listed first */
    int instance_hypernym_count; /* @i pointers: parents listed after */
    int hyponym_count;   /* synsets that list this one as a parent */
    int min_depth;       /* edges on the shortest path up to a root */
    int max_depth;       /* edges on the longest path up to a root */
} clipt_synset_info;

/* Fills *info for synset id.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for an id out of range. */
CLIPT_API clipt_status clipt_wordnet_synset_info(const clipt_wordnet *wn,
                                                 int32_t id,
                                                 clipt_synset_info *info);

/* Sets *lemma to lemma number index of synset id, in data.noun order and
 * spelling, such as "Canis_familiaris". Underscores join words, and a
 * syntactic marker such as "(p)" is removed. The string is owned by wn.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for an id or index out of range. */
CLIPT_API clipt_status clipt_wordnet_lemma(const clipt_wordnet *wn,
                                           int32_t id, int index,
                                           const char **lemma);

/* Sets *parents to the ids of the hypernyms of id followed by its instance
 * hypernyms, and *count to their number (0 for a root). The array is owned
 * by wn. Errors: CLIPT_ERR_INVALID_ARGUMENT for an id out of range. */
CLIPT_API clipt_status clipt_wordnet_parents(const clipt_wordnet *wn,
                                             int32_t id,
                                             const int32_t **parents,
                                             int *count);

/* Sets *children to the ids of the synsets that have id as a hypernym or
 * instance hypernym, in ascending id order, and *count to their number.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for an id out of range. */
CLIPT_API clipt_status clipt_wordnet_children(const clipt_wordnet *wn,
                                              int32_t id,
                                              const int32_t **children,
                                              int *count);

/* Finds the synset at a data.noun byte offset.
 * Errors: CLIPT_ERR_NOT_FOUND naming the offset. */
CLIPT_API clipt_status clipt_wordnet_find_offset(const clipt_wordnet *wn,
                                                 uint32_t offset,
                                                 int32_t *id);

/* Finds a synset by ImageNet wnid: "n" and its 8-digit offset,
 * "n02084071" for dog.n.01.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for text of another form;
 * CLIPT_ERR_NOT_FOUND when no noun synset has that offset. */
CLIPT_API clipt_status clipt_wordnet_find_wnid(const clipt_wordnet *wn,
                                               const char *wnid,
                                               int32_t *id);

/* Finds a synset by NLTK-style name "lemma.n.NN": sense NN (from 1) of the
 * lemma in index.noun order. As in NLTK, the lemma is matched without case
 * and may be any lemma of the synset, so "domestic_dog.n.01" finds
 * dog.n.01; spaces may stand for underscores.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for text that is not of that form;
 * CLIPT_ERR_UNSUPPORTED for a part of speech other than n (only nouns are
 * loaded); CLIPT_ERR_NOT_FOUND for an unknown lemma or a sense number
 * beyond its senses. */
CLIPT_API clipt_status clipt_wordnet_find_name(const clipt_wordnet *wn,
                                               const char *name,
                                               int32_t *id);

/* Sets *ids to every noun sense of a lemma in sense order (index.noun
 * order, most frequent first) and *count to their number. The lemma is
 * matched without case and spaces may stand for underscores; no
 * morphological reduction is done ("dogs" is not found). The array is
 * owned by wn. Errors: CLIPT_ERR_NOT_FOUND for a lemma that is not a noun
 * in index.noun. */
CLIPT_API clipt_status clipt_wordnet_find_lemma(const clipt_wordnet *wn,
                                                const char *lemma,
                                                const int32_t **ids,
                                                int *count);

/* How Wu-Palmer similarity is computed; see clipt_wordnet_wup(). */
typedef enum clipt_wup_convention {
    /* NLTK's Synset.wup_similarity, value for value (the default). */
    CLIPT_WUP_NLTK = 0,
    /* 2 (D(lcs) + 1) / (D(a) + 1 + D(b) + 1), D the max depth and lcs the
     * common hypernym of greatest max depth: symmetric, 1 for a synset with
     * itself. */
    CLIPT_WUP_TEXTBOOK = 1
} clipt_wup_convention;

/*
 * Computes the Wu-Palmer similarity of synsets a and b into *similarity.
 * CLIPT_WUP_NLTK reproduces NLTK 3.x's wup_similarity(a, b) exactly, with
 * its properties. The common hypernym is chosen by minimum depth but
 * scored by maximum depth, so a synset compared with itself can score
 * below 1 (dog.n.01 with itself gives 0.9285714285714286). Swapping a and
 * b can change the value (einstein.n.01 and physicist.n.01 give
 * 0.631578947368421, the other order 0.9473684210526315).
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for an id out of range or an unknown
 * convention; CLIPT_ERR_NOT_FOUND when a and b share no hypernym (only in
 * databases with several roots; NLTK returns None there).
 */
CLIPT_API clipt_status clipt_wordnet_wup(const clipt_wordnet *wn, int32_t a,
                                         int32_t b,
                                         clipt_wup_convention convention,
                                         double *similarity);

/* Computes similarity[i] = Wu-Palmer(a[i], b[i]) for i < n. A pair with
 * no common hypernym gives 0.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT naming the first id out of range. */
CLIPT_API clipt_status clipt_wordnet_wup_batch(
    const clipt_wordnet *wn, clipt_wup_convention convention,
    const int32_t *a, const int32_t *b, size_t n, double *similarity);

/* Computes the word-level similarity of two lemmas: the maximum of
 * Wu-Palmer(sa, sb) over the noun senses sa of word_a and sb of word_b,
 * in that argument order, as NLTK users compute it. The senses come from
 * clipt_wordnet_find_lemma(). sense_a and sense_b may be NULL; otherwise
 * they receive the first pair of senses (in sense order) that reaches the
 * maximum. Errors: CLIPT_ERR_NOT_FOUND for a word with no noun senses or
 * when no pair of senses shares a hypernym. */
CLIPT_API clipt_status clipt_wordnet_wup_words(
    const clipt_wordnet *wn, const char *word_a, const char *word_b,
    clipt_wup_convention convention, double *similarity, int32_t *sense_a,
    int32_t *sense_b);

/* ------------------------------------------------------------------------ */
/* WordNet pair sampler                                                     */
/* ------------------------------------------------------------------------ */

/*
 * Draws pairs of noun texts with their Wu-Palmer similarity as the training
 * target. The pool of synsets comes from seeds (all nouns, the subtree
 * under one synset, or a file of wnids). Each pool synset is assigned to
 * the training or the held-out side by a hash of its offset and the split
 * seed, so the split does not depend on the pool or on the order of calls.
 *
 * Texts are the synsets' lemmas with underscores turned into spaces, put
 * into a template such as "a photo of a {}.". Two lemmas are one text when
 * they are equal ignoring ASCII case, as CLIP's tokenizer lowercases. A
 * text used by synsets on both sides stays on the training side only, and
 * the held-out synsets lose it ("dog" names dog.n.01 and also the frump
 * dog.n.02). A synset left without texts drops out of its side. So no text
 * of a held-out pair ever appears in a training pair, and a held-out pair
 * never names a training synset.
 *
 * Both synsets of a pair lie on one side. Relations:
 */
typedef enum clipt_relation {
    CLIPT_RELATION_SYNONYM = 0,   /* two different texts of one synset */
    CLIPT_RELATION_HYPERNYM = 1,  /* b is k parent edges above a */
    CLIPT_RELATION_HYPONYM = 2,   /* b is k child edges below a */
    CLIPT_RELATION_COHYPONYM = 3, /* a and b share a parent, a != b */
    CLIPT_RELATION_RANDOM = 4     /* b drawn independently of a, a != b */
} clipt_relation;

#define CLIPT_RELATION_COUNT 5

typedef enum clipt_split {
    CLIPT_SPLIT_TRAIN = 0,
    CLIPT_SPLIT_HELD_OUT = 1
} clipt_split;

typedef struct clipt_sampler clipt_sampler;

typedef struct clipt_sampler_options {
    /* Seeds. wnid_file, when set, names a file with one wnid per line. The
     * first word of each line is read, so ImageNet's LOC_synset_mapping.txt
     * works, and blank lines and lines starting with '#' are skipped.
     * Otherwise subtree, when set, names a synset ("animal.n.01" or
     * "n00015388") and seeds it and every synset below it. Otherwise every
     * noun is a seed. */
    const char *wnid_file;
    const char *subtree;
    /* 1: the hypernyms of every seed, up to the root, join the pool (useful
     * for a list of leaves such as ImageNet's classes). Default 0. */
    int add_hypernyms;
    /* Share of pool synsets held out, in [0, 1). Default 0.1. */
    double held_out_fraction;
    uint64_t split_seed;  /* default 0 */
    /* Relative weights of the relations, indexed by clipt_relation; each
     * >= 0. Default 1 each. On each side, the weights of the relations it
     * can produce are normalised to sum 1 (clipt_sampler_split_info()). */
    double weights[CLIPT_RELATION_COUNT];
    /* Edges k between the synsets of a hypernym or hyponym pair, drawn
     * uniformly from [min_distance, max_distance] among the distances the
     * side offers. Defaults 1 and 3; max_distance <= 32. */
    int min_distance, max_distance;
    /* Text template with exactly one "{}" where the lemma goes. NULL means
     * "{}". The sampler keeps a copy. */
    const char *text_template;
    clipt_wup_convention convention;  /* of the targets; default NLTK */
    uint64_t seed;  /* seed of the training draws; default 0 */
} clipt_sampler_options;

/* Fills options with the defaults above. Call it before setting fields:
 * fields added in later versions get their defaults here. */
CLIPT_API void clipt_sampler_options_init(clipt_sampler_options *options);

/* One pair of texts. Strings are owned by the sampler. */
typedef struct clipt_pair {
    const char *text_a, *text_b;
    int32_t text_id_a, text_id_b;  /* see clipt_sampler_text() */
    int32_t synset_a, synset_b;    /* synset ids in the clipt_wordnet */
    uint32_t offset_a, offset_b;   /* data.noun offsets of the synsets */
    clipt_relation relation;
    int distance;   /* k for hypernym and hyponym pairs, else 0 */
    double target;  /* Wu-Palmer(synset_a, synset_b), in this order */
} clipt_pair;

/* Creates a sampler over wn, which must outlive it and is only read.
 * options NULL means the defaults. The caller owns *out.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for an invalid option: a weight below
 * 0 or not finite, all weights 0, distances out of range, a template
 * without exactly one "{}" or a fraction outside [0, 1). The same status
 * comes when the training side can produce no pair. CLIPT_ERR_NOT_FOUND
 * for an unknown subtree synset or a wnid that is not a noun synset
 * (naming the file and line). CLIPT_ERR_PARSE for a malformed wnid line.
 * CLIPT_ERR_FILE_NOT_FOUND or CLIPT_ERR_IO for the wnid file, and
 * CLIPT_ERR_OUT_OF_MEMORY. */
CLIPT_API clipt_status clipt_sampler_create(
    const clipt_wordnet *wn, const clipt_sampler_options *options,
    clipt_sampler **out);

/* Releases a sampler. NULL is accepted. Strings of pairs it returned
 * become invalid. */
CLIPT_API void clipt_sampler_free(clipt_sampler *sampler);

/* Draws n training pairs into pairs[0 .. n-1] and advances the sampler's
 * generator. Pairs are reproducible: the same options and state give the
 * same pairs. Each pair first draws its relation from the training
 * side's weights, then synsets and texts uniformly among those that fit. */
CLIPT_API clipt_status clipt_sampler_draw(clipt_sampler *sampler,
                                          clipt_pair *pairs, size_t n);

/* Builds the evaluation set: n distinct held-out pairs (no ordered pair of
 * texts repeats) drawn as clipt_sampler_draw() draws, from a generator
 * seeded with seed. It depends only on the options that shape the pool,
 * the split and the texts, on n and on seed, never on the training draws,
 * so a trainer and an evaluation program get the same set.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT when the held-out side produces
 * fewer than n distinct pairs in 50 n + 1000 draws (for example with
 * held_out_fraction 0). */
CLIPT_API clipt_status clipt_sampler_eval_pairs(const clipt_sampler *sampler,
                                                uint64_t seed,
                                                clipt_pair *pairs, size_t n);

/* Position of the training draws, for saving with a checkpoint. */
typedef struct clipt_sampler_state {
    uint64_t rng[4];       /* generator state */
    uint64_t pairs_drawn;  /* training pairs drawn so far */
} clipt_sampler_state;

/* Copies the sampler's position into *state. */
CLIPT_API clipt_status clipt_sampler_get_state(const clipt_sampler *sampler,
                                               clipt_sampler_state *state);

/* Restores a position saved by clipt_sampler_get_state() on a sampler made
 * with the same wn and options; the draws then continue where they were.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for an all-zero generator state. */
CLIPT_API clipt_status clipt_sampler_set_state(
    clipt_sampler *sampler, const clipt_sampler_state *state);

/* Sizes of one side of the split. */
typedef struct clipt_split_info {
    int32_t synsets;  /* synsets with at least one text on this side */
    int32_t texts;    /* texts on this side */
    /* The relation mix this side draws: the requested weights of the
     * relations it can produce, normalised to sum 1 (all 0 when it can
     * produce none). */
    double weights[CLIPT_RELATION_COUNT];
    int max_distance;  /* largest hypernym distance drawn on this side */
} clipt_split_info;

/* Fills *info with the sizes and relation mix of one side of the split.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for an unknown split. */
CLIPT_API clipt_status clipt_sampler_split_info(const clipt_sampler *sampler,
                                                clipt_split split,
                                                clipt_split_info *info);

/* Returns the number of texts in the pool, both sides together. Text ids
 * are 0 .. count-1 and stay fixed for the sampler's life, so a trainer can
 * cache one embedding per text id. */
CLIPT_API int32_t clipt_sampler_text_count(const clipt_sampler *sampler);

/* Sets *text (template applied, owned by the sampler) and *split of text
 * text_id. split may be NULL.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for an id out of range. */
CLIPT_API clipt_status clipt_sampler_text(const clipt_sampler *sampler,
                                          int32_t text_id, const char **text,
                                          clipt_split *split);
/* Tokenizer: CLIP's byte-level BPE                                         */
/* ------------------------------------------------------------------------ */

/*
 * Turns UTF-8 text into the token ids CLIP's text encoder reads, the same
 * ids as open_clip's tokenizer: the text is cleaned (ftfy's fixes, HTML
 * references decoded, whitespace collapsed, Unicode lower-casing), split by
 * CLIP's pre-tokenizer expression and encoded with byte-level BPE. One row
 * is the start-of-text id, the text's ids, then the end-of-text id. With the
 * released vocabulary those are 49406 and 49407.
 *
 * Two of ftfy's repairs are not reproduced. Mojibake (UTF-8 text that was
 * decoded as Latin-1 or windows-1252, such as "caf" followed by U+00C3
 * U+00A9 for "cafe" with an acute e) keeps its wrong characters. UTF-16
 * surrogate pairs cannot occur in valid UTF-8, so text with them is
 * rejected rather than joined. Characters assigned after Unicode 14 may be
 * split differently from open_clip, whose regular expressions know newer
 * Unicode versions.
 *
 * Encoding updates a cache of the words seen so far and scratch buffers in
 * the handle. A tokenizer must therefore not be used by two threads at
 * once; load one per thread to tokenize in parallel.
 * clipt_tokenizer_decode() and the id getters only read the handle.
 */
typedef struct clipt_tokenizer clipt_tokenizer;

/* Loads a tokenizer from path: either OpenAI's bpe_simple_vocab_16e6.txt.gz
 * (the file scripts/setup places in data/) or a directory that contains a
 * Hugging Face checkpoint's vocab.json and merges.txt. The caller frees *out
 * with clipt_tokenizer_free().
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for NULL arguments;
 * CLIPT_ERR_FILE_NOT_FOUND, CLIPT_ERR_IO; CLIPT_ERR_CORRUPT for a damaged
 * gzip stream; CLIPT_ERR_PARSE naming the file and line of a malformed
 * merge or vocabulary entry; CLIPT_ERR_OUT_OF_MEMORY. */
CLIPT_API clipt_status clipt_tokenizer_load(const char *path,
                                            clipt_tokenizer **out);

/* Loads a tokenizer from a Hugging Face vocab.json and merges.txt given by
 * their paths. Errors as clipt_tokenizer_load(). */
CLIPT_API clipt_status clipt_tokenizer_load_hf(const char *vocab_json_path,
                                               const char *merges_txt_path,
                                               clipt_tokenizer **out);

/* Releases a tokenizer. NULL is accepted. */
CLIPT_API void clipt_tokenizer_free(clipt_tokenizer *tok);

/* Returns the vocabulary size (49408 for CLIP's released vocabulary). */
CLIPT_API int32_t clipt_tokenizer_vocab_size(const clipt_tokenizer *tok);

/* Returns the start-of-text id (49406 for CLIP's released vocabulary). */
CLIPT_API int32_t clipt_tokenizer_start_id(const clipt_tokenizer *tok);

/* Returns the end-of-text id (49407 for CLIP's released vocabulary). */
CLIPT_API int32_t clipt_tokenizer_end_id(const clipt_tokenizer *tok);

/*
 * Encodes one NUL-terminated UTF-8 text into ids[0 .. *n): the start id,
 * the text's ids, the end id. When that is longer than capacity, the first
 * capacity ids are kept and the last of them becomes the end id, as
 * open_clip truncates, so *n == capacity and the row still ends with the
 * end-of-text token. The texts "<start_of_text>" and "<end_of_text>" in the
 * input (for a vocabulary loaded from vocab.json: "<|startoftext|>" and
 * "<|endoftext|>") become the special ids, as in the reference tokenizers.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for NULL pointers or capacity < 2;
 * CLIPT_ERR_INVALID_UTF8 with the byte offset of the first invalid
 * sequence; CLIPT_ERR_OUT_OF_MEMORY.
 */
CLIPT_API clipt_status clipt_tokenizer_encode(clipt_tokenizer *tok,
                                              const char *text, int32_t *ids,
                                              int capacity, int *n);

/* Stores in *n the number of ids text encodes to without truncation, start
 * and end ids included. Errors as clipt_tokenizer_encode(). */
CLIPT_API clipt_status clipt_tokenizer_count(clipt_tokenizer *tok,
                                             const char *text, int *n);

/*
 * Encodes B texts into the encoder's input:
 *   ids (B, T) int32, row-major: each row as clipt_tokenizer_encode() with
 *       capacity T, padded with 0 after its end-of-text id (open_clip's pad);
 *   eot (B) int32: the position of each row's end-of-text id.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for NULL pointers, a NULL text,
 * B < 1 or T < 2; text errors as clipt_tokenizer_encode(), with the message
 * naming the text's index. On error the contents of ids and eot are
 * unspecified.
 */
CLIPT_API clipt_status clipt_tokenizer_encode_batch(clipt_tokenizer *tok,
                                                    const char *const *texts,
                                                    int B, int T, int32_t *ids,
                                                    int32_t *eot);

/*
 * Decodes n ids into UTF-8 text as open_clip's decode does: the bytes of
 * every token, special tokens as their spelling, with each end-of-word mark
 * "</w>" turned into a space. Byte sequences that are not UTF-8 become
 * U+FFFD. Writes at most size bytes including the terminating NUL into text
 * (cut at a character boundary when it does not fit) and stores the full
 * length in bytes, NUL excluded, in *length; call with size 0 to learn it.
 * text may be NULL when size is 0.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for NULL pointers, n < 0, or an id
 * outside the vocabulary (the message gives its index and value).
 */
CLIPT_API clipt_status clipt_tokenizer_decode(const clipt_tokenizer *tok,
                                              const int32_t *ids, int n,
                                              char *text, size_t size,
                                              size_t *length);

/* ------------------------------------------------------------------------ */
/* Trainer: the fine-tuning loop                                            */
/* ------------------------------------------------------------------------ */

/*
 * For a batch of N pairs over U unique texts, the trainer minimises
 *   mean_n (target_n - cos(M(a_n), M(b_n)))^2 + lambda MSE(M(w), M0(w)).
 * M is the model being tuned and M0 the model as it was when the trainer
 * was created. M0's embeddings are computed once per text and
 * cached. Each step tokenizes the batch's unique texts, encodes each text
 * once, and applies one AdamW update (decay on weight matrices only,
 * gradient clipping by global norm).
 */
typedef struct clipt_trainer clipt_trainer;

typedef enum clipt_lr_schedule {
    /* linear warm-up, then half a cosine from the peak down to 0 at
     * total_steps (and 0 after it) */
    CLIPT_SCHEDULE_COSINE = 0,
    /* linear warm-up, then the peak learning rate */
    CLIPT_SCHEDULE_CONSTANT = 1
} clipt_lr_schedule;

typedef struct clipt_trainer_options {
    double learning_rate;    /* peak learning rate; default 1e-5 */
    int64_t warmup_steps;    /* steps of linear warm-up; default 100 */
    int64_t total_steps;     /* schedule length; default 1000 */
    clipt_lr_schedule schedule;  /* default CLIPT_SCHEDULE_COSINE */
    double weight_decay;     /* AdamW decoupled decay; default 0.01 */
    double beta1, beta2;     /* default 0.9 and 0.999 */
    double eps;              /* default 1e-8 */
    double max_grad_norm;    /* clip the global norm; 0 disables; default 1 */
    double lambda;           /* regulariser weight; default 1 */
    /* -1 trains every tensor; K >= 0 trains the top K blocks, the final
     * LayerNorm and the projection, and freezes the rest. Default -1. */
    int train_top_blocks;
} clipt_trainer_options;

/* Fills options with the defaults above, which suit tuning a pretrained
 * CLIP (a small learning rate and the regulariser on). Training from a
 * random initialisation wants a larger rate and lambda 0. */
CLIPT_API void clipt_trainer_options_init(clipt_trainer_options *options);

/* Creates a trainer that tunes model in place, with tokenizer for its
 * texts. Both must outlive the trainer, and nothing else should change the
 * model's parameters while it lives. The trainer keeps a frozen copy of the
 * parameters as they are now (M0), for the regulariser and for drift in
 * evaluation. options NULL means the defaults.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for a NULL model or tokenizer or an
 * invalid option (named in the message), CLIPT_ERR_OUT_OF_MEMORY,
 * CLIPT_ERR_DEVICE_OUT_OF_MEMORY. */
CLIPT_API clipt_status clipt_trainer_create(
    clipt_model *model, clipt_tokenizer *tokenizer,
    const clipt_trainer_options *options, clipt_trainer **out);

/* Releases a trainer; the model keeps its tuned parameters. NULL is
 * accepted. */
CLIPT_API void clipt_trainer_free(clipt_trainer *trainer);

/* Measurements of one training step. */
typedef struct clipt_step_stats {
    int64_t step;          /* steps completed, this one included */
    double loss;           /* distance + lambda * regulariser */
    double distance;       /* mean (target - cos)^2 */
    double regulariser;    /* MSE(M(w), M0(w)); 0 when lambda is 0 */
    double grad_norm;      /* global gradient norm before clipping */
    double learning_rate;  /* used for this step */
    int pairs;             /* pairs in the batch */
    int texts;             /* unique texts encoded */
    int64_t tokens;        /* tokens computed, start and end included */
    double seconds;        /* wall time of the step */
} clipt_step_stats;

/* Runs one training step on n pairs (the texts and targets of each pair
 * are read; clipt_sampler_draw() produces them). stats may be NULL.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for n == 0, a NULL text or a target
 * that is not finite; CLIPT_ERR_INVALID_UTF8 for a text that is not UTF-8;
 * CLIPT_ERR_NONFINITE when the loss or the gradient is NaN or infinite, in
 * which case the parameters are left as they were before the step. */
CLIPT_API clipt_status clipt_trainer_step(clipt_trainer *trainer,
                                          const clipt_pair *pairs, size_t n,
                                          clipt_step_stats *stats);

/* Returns the learning rate the schedule gives the step after `steps`
 * completed steps. */
CLIPT_API double clipt_trainer_learning_rate(const clipt_trainer *trainer,
                                             int64_t steps);

/* Returns the number of completed steps. */
CLIPT_API int64_t clipt_trainer_steps(const clipt_trainer *trainer);

/* Changes the schedule's length, for runs whose step count is known only
 * after timing the first steps. Errors: CLIPT_ERR_INVALID_ARGUMENT when
 * total_steps < 1. */
CLIPT_API clipt_status clipt_trainer_set_total_steps(clipt_trainer *trainer,
                                                     int64_t total_steps);

/* Evaluation of a model on a fixed set of pairs. */
typedef struct clipt_eval_stats {
    size_t pairs;
    double spearman;   /* rank correlation of cos with the targets */
    double pearson;
    double distance;   /* mean (target - cos)^2 */
    /* mean cos(M(w), M0(w)) over the unique texts: 1 means unchanged; NaN
     * when no reference model was given */
    double drift;
    /* The no-learning baseline: Spearman correlation of the targets with
     * the Jaccard overlap of the two texts' BPE token sets. */
    double overlap_spearman;
    /* the same per relation kind, indexed by clipt_relation; NaN where a
     * kind has fewer than 2 pairs */
    size_t kind_pairs[CLIPT_RELATION_COUNT];
    double kind_spearman[CLIPT_RELATION_COUNT];
    double kind_pearson[CLIPT_RELATION_COUNT];
    double kind_distance[CLIPT_RELATION_COUNT];
} clipt_eval_stats;

/* Evaluates model on n pairs: encodes their unique texts, compares each
 * pair's cosine similarity with its target, and measures drift against
 * reference (the original model; NULL skips drift). The models are not
 * changed. Errors: as clipt_trainer_step(), plus CLIPT_ERR_SHAPE when the
 * two models' projection widths differ. */
CLIPT_API clipt_status clipt_evaluate(clipt_model *model,
                                      clipt_model *reference,
                                      clipt_tokenizer *tokenizer,
                                      const clipt_pair *pairs, size_t n,
                                      clipt_eval_stats *stats);

/* Evaluates the trainer's model on n pairs, with drift measured against
 * its frozen original M0. */
CLIPT_API clipt_status clipt_trainer_evaluate(clipt_trainer *trainer,
                                              const clipt_pair *pairs,
                                              size_t n,
                                              clipt_eval_stats *stats);

/* Writes a resumable training state to path, atomically: the parameters,
 * the AdamW moments, the step count and options, and `extra` (extra_bytes
 * bytes the caller defines, such as a sampler state; may be NULL when 0).
 * Errors: CLIPT_ERR_IO naming the file, CLIPT_ERR_OUT_OF_MEMORY. */
CLIPT_API clipt_status clipt_trainer_save_state(const clipt_trainer *trainer,
                                                const char *path,
                                                const void *extra,
                                                size_t extra_bytes);

/* Restores a state written by clipt_trainer_save_state() into a trainer
 * created on a model of the same configuration. extra, when not NULL,
 * receives up to extra_capacity bytes of the caller's data and
 * *extra_bytes (when not NULL) its full size.
 * Errors: CLIPT_ERR_FILE_NOT_FOUND, CLIPT_ERR_CORRUPT for a damaged file,
 * CLIPT_ERR_SHAPE when the file is for another model configuration (the
 * message names the mismatch); on failure the trainer is unchanged. */
CLIPT_API clipt_status clipt_trainer_load_state(clipt_trainer *trainer,
                                                const char *path,
                                                void *extra,
                                                size_t extra_capacity,
                                                size_t *extra_bytes);

/* Writes the cache of M0 embeddings (texts and their vectors) to path,
 * atomically, so a resumed run does not recompute them.
 * Errors: CLIPT_ERR_IO, CLIPT_ERR_OUT_OF_MEMORY. */
CLIPT_API clipt_status clipt_trainer_save_cache(const clipt_trainer *trainer,
                                                const char *path);

/* Adds the embeddings of a cache file written by
 * clipt_trainer_save_cache() for a model of the same projection width.
 * Errors: CLIPT_ERR_FILE_NOT_FOUND, CLIPT_ERR_CORRUPT, CLIPT_ERR_SHAPE. */
CLIPT_API clipt_status clipt_trainer_load_cache(clipt_trainer *trainer,
                                                const char *path);

/* Returns the number of texts whose M0 embedding is cached. */
CLIPT_API size_t clipt_trainer_cache_size(const clipt_trainer *trainer);

/* ------------------------------------------------------------------------ */
/* Checkpoints                                                              */
/* ------------------------------------------------------------------------ */

/*
 * Loads a CLIP text encoder from a checkpoint on disk. path is a directory
 * or a .safetensors file. A directory's weights are model.safetensors, else
 * the shards of model.safetensors.index.json, else its only .safetensors
 * file. The configuration is the directory's config.json (a transformers
 * CLIPModel, CLIPTextModel or CLIPTextModelWithProjection, absent keys
 * taking transformers' defaults), else open_clip_config.json, else the
 * sizes are read from the tensor shapes with heads = width / 64.
 * Both parameter layouts load: Hugging Face names, and OpenAI/open_clip
 * names with packed q/k/v and a (C, P) text projection. F32, F16 and BF16
 * tensors are converted to fp32. The vision tower, logit scale and stored
 * position ids are skipped; positions are always 0..T-1.
 * Every file is validated before any tensor is read. The model remembers
 * where it came from, for clipt_model_save().
 * Errors: CLIPT_ERR_FILE_NOT_FOUND (no such path, no weights file);
 * CLIPT_ERR_NOT_FOUND (a missing tensor, naming it and its expected
 * shape); CLIPT_ERR_SHAPE (a tensor of the wrong shape, naming both
 * shapes); CLIPT_ERR_PARSE (malformed file or configuration, or a tensor
 * the encoder does not have); CLIPT_ERR_CORRUPT (a truncated file);
 * CLIPT_ERR_UNSUPPORTED (another architecture, activation or dtype);
 * CLIPT_ERR_NONFINITE (NaN or infinity in a tensor); CLIPT_ERR_IO and the
 * errors of clipt_model_create(). The caller owns *out.
 */
CLIPT_API clipt_status clipt_model_load(clipt_context *ctx, const char *path,
                                        clipt_model **out);

/* Reads the configuration clipt_model_load() would use for path, and
 * validates the weight files, without loading parameters. Errors as for
 * clipt_model_load(). */
CLIPT_API clipt_status clipt_checkpoint_read_config(const char *path,
                                                    clipt_model_config *cfg);

typedef enum clipt_dtype {
    CLIPT_DTYPE_F32 = 0,
    CLIPT_DTYPE_F16 = 1, /* IEEE half, rounded to nearest even */
    CLIPT_DTYPE_BF16 = 2 /* bfloat16, rounded to nearest even */
} clipt_dtype;

typedef enum clipt_save_format {
    /* A transformers CLIPTextModelWithProjection directory. */
    CLIPT_SAVE_TEXT_WITH_PROJECTION = 0,
    /* A full transformers CLIPModel: the tuned text tower with the vision
     * tower, visual projection and logit scale of the checkpoint the model
     * was loaded from, copied unchanged. Needs a model loaded from a
     * CLIPModel checkpoint in the Hugging Face layout. */
    CLIPT_SAVE_CLIP_MODEL = 1
} clipt_save_format;

typedef struct clipt_save_options {
    clipt_dtype dtype;         /* of the text encoder's tensors */
    clipt_save_format format;
    /* Copy vocab.json, merges.txt and the other tokenizer files (and, for
     * a CLIPModel, preprocessor_config.json) from the directory the model
     * was loaded from, when they exist there. */
    int copy_tokenizer;
} clipt_save_options;

/* Fills options with the defaults: fp32, CLIPTextModelWithProjection,
 * tokenizer files copied. Call before setting fields. */
CLIPT_API void clipt_save_options_init(clipt_save_options *options);

/*
 * Saves the model into directory dir (created if missing; its parent must
 * exist) so that transformers' from_pretrained() loads it: config.json,
 * model.safetensors (metadata {"format": "pt"}) and the tokenizer files
 * when known. Each file is written under a temporary name, flushed and
 * renamed, so a crash never leaves a partial file. Files already in dir
 * are replaced one by one. options may be NULL for the defaults.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for NULL arguments or
 * CLIPT_SAVE_CLIP_MODEL on a model that was not loaded from a CLIPModel;
 * CLIPT_ERR_UNSUPPORTED for CLIPT_SAVE_CLIP_MODEL from the OpenAI layout;
 * CLIPT_ERR_NONFINITE when a value overflows fp16 (naming the tensor);
 * CLIPT_ERR_IO; and the load errors when the source checkpoint of a
 * CLIPModel save can no longer be read.
 */
CLIPT_API clipt_status clipt_model_save(const clipt_model *model,
                                        const char *dir,
                                        const clipt_save_options *options);

/* Returns 1 when the model was loaded from a CLIPModel checkpoint in the
 * Hugging Face layout, so CLIPT_SAVE_CLIP_MODEL is available; else 0. */
CLIPT_API int clipt_model_has_vision_source(const clipt_model *model);

/*
 * Finds each row's end-of-text position in raw token ids (B, T), as
 * transformers pools CLIP's text encoder: the first position holding
 * cfg->eos_token_id; or, when eos_token_id is 2 (configurations written
 * before transformers corrected CLIP's ids), the first position of the
 * row's largest id, which must then be vocab_size - 1 (49407 in CLIP).
 * eot (B) receives the positions, ready for clipt_model_encode().
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for NULL pointers, B or T < 1, a
 * configuration without eos_token_id, or a row without end-of-text (the
 * message names the row); such a row is never pooled silently.
 */
CLIPT_API clipt_status clipt_eot_positions(const clipt_model_config *cfg,
                                           const int32_t *ids, int B, int T,
                                           int32_t *eot);

/* ------------------------------------------------------------------------ */
/* Training state files                                                     */
/* ------------------------------------------------------------------------ */

/*
 * A training state file contains named sections: fp32 arrays (parameters,
 * AdamW moments) and opaque byte blobs whose meaning the caller defines
 * (step, random-generator and sampler state). The file carries a magic
 * number, a format version and CRC-32 checksums of its table and of every
 * section, and is written under a temporary name, flushed and renamed, so
 * a reader sees the old file or the complete new one. Loading verifies the
 * whole file before it returns, so a truncated or corrupted file is
 * rejected and never partly loaded. Section names are 1 to 63 bytes.
 */
typedef enum clipt_section_kind {
    CLIPT_SECTION_BYTES = 0,  /* opaque bytes */
    CLIPT_SECTION_FLOAT32 = 1 /* fp32 values, little-endian */
} clipt_section_kind;

typedef struct clipt_state_writer clipt_state_writer;

/* Creates an empty writer. The caller frees it with
 * clipt_state_writer_free(). Errors: CLIPT_ERR_OUT_OF_MEMORY. */
CLIPT_API clipt_status clipt_state_writer_create(clipt_state_writer **out);

/* Adds a section. The data is not copied: it must stay valid and
 * unchanged until clipt_state_writer_commit() returns.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for an empty, too long or repeated
 * name, an unknown kind, NULL data with a non-zero size, or a FLOAT32
 * size that is not a multiple of 4 bytes. */
CLIPT_API clipt_status clipt_state_writer_add(clipt_state_writer *writer,
                                              const char *name,
                                              clipt_section_kind kind,
                                              const void *data, size_t bytes);

/* Writes every added section to path atomically. The writer can be
 * committed again (to another path, say) or freed.
 * Errors: CLIPT_ERR_IO, CLIPT_ERR_FILE_NOT_FOUND (missing directory). */
CLIPT_API clipt_status clipt_state_writer_commit(clipt_state_writer *writer,
                                                 const char *path);

/* Releases a writer. NULL is accepted. */
CLIPT_API void clipt_state_writer_free(clipt_state_writer *writer);

typedef struct clipt_state clipt_state;

/* Reads and verifies a whole state file into memory.
 * Errors: CLIPT_ERR_FILE_NOT_FOUND; CLIPT_ERR_PARSE (not a libclipt state
 * file); CLIPT_ERR_UNSUPPORTED (a newer format version); CLIPT_ERR_CORRUPT
 * (truncated, a checksum mismatch or an inconsistent table, naming the
 * section); CLIPT_ERR_IO; CLIPT_ERR_OUT_OF_MEMORY. The caller frees *out
 * with clipt_state_free(). */
CLIPT_API clipt_status clipt_state_load(const char *path, clipt_state **out);

/* Releases a loaded state. NULL is accepted. */
CLIPT_API void clipt_state_free(clipt_state *state);

/* Returns the number of sections, in file order. */
CLIPT_API int clipt_state_section_count(const clipt_state *state);

typedef struct clipt_section_info {
    const char *name;        /* owned by the state */
    clipt_section_kind kind;
    size_t bytes;
} clipt_section_info;

/* Describes section number index. Errors: CLIPT_ERR_INVALID_ARGUMENT for
 * an index out of range. */
CLIPT_API clipt_status clipt_state_section_info(const clipt_state *state,
                                                int index,
                                                clipt_section_info *info);

/* Points *data at the bytes of section name (valid while the state lives)
 * and stores their count in *bytes.
 * Errors: CLIPT_ERR_NOT_FOUND for a missing section; CLIPT_ERR_PARSE when
 * the section is of another kind. */
CLIPT_API clipt_status clipt_state_get(const clipt_state *state,
                                       const char *name,
                                       clipt_section_kind kind,
                                       const void **data, size_t *bytes);

/* Copies section name into dst, which holds exactly bytes bytes.
 * Errors: as clipt_state_get(), plus CLIPT_ERR_SHAPE naming both sizes when
 * the section has another size. */
CLIPT_API clipt_status clipt_state_read(const clipt_state *state,
                                        const char *name,
                                        clipt_section_kind kind, void *dst,
                                        size_t bytes);

#ifdef __cplusplus
}
#endif

#endif /* CLIPT_H */
