/* Checkpoints against transformers (tests/oracle/checkpoint_oracle.py):
 * embeddings and parameter gradients of models saved by save_pretrained
 * and of an OpenAI-layout copy, end-of-text positions, configuration
 * defaults, load -> save -> load round trips, and a full CLIPModel save
 * that keeps the vision tower. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "files.h"
#include "forward.h"
#include "harness.h"
#include "safetensors.h"

#define FIXTURES "tests/fixtures/checkpoint/"
#define ORACLE_FORMAT "clipt-checkpoint-oracle 1"

/* Embeddings: our fp32 forward against transformers in float64 through two
 * blocks; rounding leaves a few 1e-7 of the largest |E|. Bound: 1e-5 of
 * the batch's largest |E| (max-norm relative error). */
#define EMBED_RTOL 1e-5
/* Gradients of sum(E * W): fp32 backward against float64 autograd. Per
 * tensor, max |g - g_ref| <= 1e-4 * max |g_ref| (max-norm relative).
 * The key bias is the exception: softmax ignores a constant added to a
 * whole score row, so its exact gradient is 0 and the fp32 result is
 * rounding noise. The scale of every tensor is therefore at least 1e-3 of
 * the largest gradient in the model. */
#define GRAD_RTOL 1e-4
#define GRAD_FLOOR 1e-3

/* ------------------------------------------------------------------------ */
/* Oracle files                                                             */
/* ------------------------------------------------------------------------ */

typedef struct oracle {
    char *dir;
    clipt_st_file *file;
} oracle;

static oracle oracle_open(const char *tmp, const char *fixture)
{
    oracle o;
    char src[256];
    snprintf(src, sizeof src, FIXTURES "%s", fixture);
    o.dir = clipt_test_join(tmp, fixture);
    clipt_test_unpack_fixture(src, o.dir);
    char *path = clipt_test_join(o.dir, "oracle.safetensors");
    ck_assert_msg(clipt_st_open(path, &o.file) == CLIPT_OK, "%s", clipt_last_error());
    const char *format = clipt_st_metadata(o.file, "fixture");
    ck_assert_msg(format != NULL && strcmp(format, ORACLE_FORMAT) == 0,
                  "%s is not a \"%s\" fixture", path, ORACLE_FORMAT);
    free(path);
    return o;
}

static void oracle_close(oracle *o)
{
    clipt_st_close(o->file);
    free(o->dir);
}

/* Returns the tensor or NULL. */
static const clipt_st_tensor *oracle_find(const oracle *o, const char *name)
{
    return clipt_st_find(o->file, name);
}

static float *oracle_f32(const oracle *o, const char *name, size_t *n)
{
    const clipt_st_tensor *t = oracle_find(o, name);
    ck_assert_msg(t != NULL, "oracle has no tensor %s", name);
    float *x = clipt_test_calloc((size_t)t->numel, sizeof(float));
    ck_assert_int_eq(clipt_st_read_f32(o->file, t, x), CLIPT_OK);
    if (n != NULL) *n = (size_t)t->numel;
    return x;
}

static int32_t *oracle_i32(const oracle *o, const char *name, int *rows, int *cols)
{
    const clipt_st_tensor *t = oracle_find(o, name);
    ck_assert_msg(t != NULL && t->dtype == CLIPT_ST_I32, "oracle has no I32 %s", name);
    int32_t *x = clipt_test_calloc((size_t)t->numel, sizeof(int32_t));
    memcpy(x, t->data, (size_t)t->numel * sizeof(int32_t));
    if (rows != NULL) *rows = (int)t->shape[0];
    if (cols != NULL) *cols = t->ndim > 1 ? (int)t->shape[1] : 1;
    return x;
}

/* Checks max |got - want| <= rtol * max(max |want|, floor). */
static void check_scaled(const char *what, const float *got, const float *want,
                         size_t n, double rtol, double floor)
{
    double *w = clipt_to_double(want, n);
    double atol = rtol * fmax(clipt_max_abs(w, n), floor);
    CLIPT_CHECK_CLOSE(what, got, w, n, atol, 0.0);
    free(w);
}

/* ------------------------------------------------------------------------ */
/* Embeddings and gradients against transformers                            */
/* ------------------------------------------------------------------------ */

static const struct {
    const char *checkpoint; /* fixture loaded by libclipt */
    const char *oracle;     /* fixture whose oracle.safetensors applies */
} oracle_cases[] = {
    {"vocab49408", "vocab49408"},
    {"legacy_gelu", "legacy_gelu"},
    {"legacy_gelu_openai", "legacy_gelu"},
};

/* Backpropagates dE through a training forward pass; returns host grads. */
static float *model_gradients(clipt_model *m, const int32_t *ids,
                              const int32_t *eot, int B, int T, const float *dE)
{
    clipt_context *ctx = m->ctx;
    ck_assert_int_eq(clipt_model_enable_grads(m), CLIPT_OK);
    ck_assert_int_eq(clipt_model_zero_grads(m), CLIPT_OK);
    ck_assert_msg(clipt_forward(m, ids, eot, B, T, 1, NULL) == CLIPT_OK, "%s",
                  clipt_last_error());
    size_t bytes = (size_t)B * m->cfg.projection_dim * sizeof(float);
    ck_assert_int_eq(ctx->backend->upload(ctx, m->acts.doutput, dE, bytes), CLIPT_OK);
    ck_assert_msg(clipt_backward(m) == CLIPT_OK, "%s", clipt_last_error());
    float *g = clipt_test_calloc(m->nparams, sizeof(float));
    ck_assert_int_eq(ctx->backend->download(ctx, g, m->grads, m->nparams * sizeof(float)),
                     CLIPT_OK);
    ck_assert_int_eq(ctx->backend->synchronize(ctx), CLIPT_OK);
    return g;
}

START_TEST(matches_transformers)
{
    char *tmp = clipt_test_tempdir();
    oracle o = oracle_open(tmp, oracle_cases[_i].oracle);
    char src[256];
    snprintf(src, sizeof src, FIXTURES "%s", oracle_cases[_i].checkpoint);
    char *dir = clipt_test_join(tmp, "model");
    clipt_test_unpack_fixture(src, dir);
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model *m = NULL;
    ck_assert_msg(clipt_model_load(ctx, dir, &m) == CLIPT_OK, "%s", clipt_last_error());
    printf("%s against transformers\n", oracle_cases[_i].checkpoint);

    int batches = 0;
    for (int b = 0;; b++, batches++) {
        char name[192];
        snprintf(name, sizeof name, "batch%d.ids", b);
        if (oracle_find(&o, name) == NULL) break;
        int B = 0, T = 0;
        int32_t *ids = oracle_i32(&o, name, &B, &T);
        snprintf(name, sizeof name, "batch%d.eot", b);
        int32_t *want_eot = oracle_i32(&o, name, NULL, NULL);

        /* end-of-text positions by transformers' rule for this config */
        int32_t *eot = clipt_test_calloc((size_t)B, sizeof(int32_t));
        ck_assert_msg(clipt_eot_positions(&m->cfg, ids, B, T, eot) == CLIPT_OK, "%s",
                      clipt_last_error());
        for (int r = 0; r < B; r++) {
            ck_assert_msg(eot[r] == want_eot[r], "batch %d row %d: eot %d, "
                          "transformers %d", b, r, eot[r], want_eot[r]);
        }

        float *E = clipt_test_calloc((size_t)B * m->cfg.projection_dim, sizeof(float));
        ck_assert_msg(clipt_model_encode(m, ids, eot, B, T, E) == CLIPT_OK, "%s",
                      clipt_last_error());
        snprintf(name, sizeof name, "batch%d.embeddings", b);
        size_t n = 0;
        float *want_E = oracle_f32(&o, name, &n);
        ck_assert_uint_eq(n, (size_t)B * m->cfg.projection_dim);
        snprintf(name, sizeof name, "batch %d (B %d, T %d) embeddings", b, B, T);
        check_scaled(name, E, want_E, n, EMBED_RTOL, 0.0);

        snprintf(name, sizeof name, "batch%d.dE", b);
        float *dE = oracle_f32(&o, name, NULL);
        float *g = model_gradients(m, ids, eot, B, T, dE);
        float **want_g = clipt_test_calloc((size_t)m->ntensors, sizeof(float *));
        double largest = 0.0;
        for (int i = 0; i < m->ntensors; i++) {
            const clipt_tensor_entry *e = &m->tensors[i];
            snprintf(name, sizeof name, "batch%d.grad.%s", b, e->name);
            size_t count = 0;
            want_g[i] = oracle_f32(&o, name, &count);
            ck_assert_uint_eq(count, e->numel);
            for (size_t k = 0; k < count; k++) largest = fmax(largest, fabs(want_g[i][k]));
        }
        printf("  gradients: largest |g_ref| %.3g\n", largest);
        for (int i = 0; i < m->ntensors; i++) {
            const clipt_tensor_entry *e = &m->tensors[i];
            check_scaled(e->name, g + e->offset, want_g[i], e->numel, GRAD_RTOL,
                         GRAD_FLOOR * largest);
            free(want_g[i]);
        }
        free(want_g);
        free(g);
        free(dE);
        free(want_E);
        free(E);
        free(eot);
        free(want_eot);
        free(ids);
    }
    ck_assert_int_eq(batches, 2);
    clipt_model_free(m);
    clipt_context_free(ctx);
    oracle_close(&o);
    clipt_test_remove_tree(tmp);
    free(dir);
    free(tmp);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Configurations                                                           */
/* ------------------------------------------------------------------------ */

static clipt_checkpoint_config parse_ok(const char *json)
{
    clipt_checkpoint_config cc;
    ck_assert_msg(clipt_config_parse(json, strlen(json), "config.json", &cc) == CLIPT_OK,
                  "%s: %s", json, clipt_last_error());
    return cc;
}

START_TEST(config_defaults_follow_transformers)
{
    /* CLIPTextConfig defaults (transformers 5.25 configuration_clip.py) */
    clipt_model_config c = parse_ok("{}").model;
    ck_assert_int_eq(c.vocab_size, 49408);
    ck_assert_int_eq(c.width, 512);
    ck_assert_int_eq(c.mlp_width, 2048);
    ck_assert_int_eq(c.projection_dim, 512);
    ck_assert_int_eq(c.layers, 12);
    ck_assert_int_eq(c.heads, 8);
    ck_assert_int_eq(c.context_length, 77);
    ck_assert_int_eq(c.activation, CLIPT_ACTIVATION_QUICK_GELU);
    ck_assert_float_eq(c.layer_norm_eps, 1e-5f);
    ck_assert_int_eq(c.pad_token_id, 1);
    ck_assert_int_eq(c.bos_token_id, 49406);
    ck_assert_int_eq(c.eos_token_id, 49407);

    /* a CLIPModel: text_config values, the top-level projection_dim */
    clipt_checkpoint_config cc = parse_ok(
        "{\"model_type\": \"clip\", \"projection_dim\": 768, \"text_config\": "
        "{\"hidden_size\": 768, \"num_attention_heads\": 12, \"projection_dim\": "
        "512, \"eos_token_id\": 2, \"hidden_act\": \"gelu\"}}");
    ck_assert_int_eq(cc.clip_model, 1);
    ck_assert_int_eq(cc.model.width, 768);
    ck_assert_int_eq(cc.model.heads, 12);
    ck_assert_int_eq(cc.model.projection_dim, 768);
    ck_assert_int_eq(cc.model.eos_token_id, 2);
    ck_assert_int_eq(cc.model.activation, CLIPT_ACTIVATION_GELU);
    ck_assert_int_eq(cc.model.layers, 12);

    /* a CLIPModel without projection_dim gets 512; text_config_dict wins */
    cc = parse_ok("{\"text_config\": {\"hidden_size\": 64}, \"text_config_dict\": "
                  "{\"num_hidden_layers\": 3}}");
    ck_assert_int_eq(cc.model.projection_dim, 512);
    ck_assert_int_eq(cc.model.layers, 3);
    ck_assert_int_eq(cc.model.width, 512);

    /* null token ids mean "not set"; eps may be written as an integer */
    c = parse_ok("{\"eos_token_id\": null, \"layer_norm_eps\": 1, "
                 "\"architectures\": [\"CLIPTextModel\"]}").model;
    ck_assert_int_eq(c.eos_token_id, -1);
    ck_assert_float_eq(c.layer_norm_eps, 1.0f);
    ck_assert_int_eq(parse_ok("{\"architectures\": [\"CLIPTextModel\"]}").text_model_only, 1);
}
END_TEST

static const struct {
    const char *json;
    clipt_status status;
    const char *message;
} bad_configs[] = {
    {"{\"hidden_act\": \"relu\"}", CLIPT_ERR_UNSUPPORTED, "relu"},
    {"{\"model_type\": \"siglip\"}", CLIPT_ERR_UNSUPPORTED, "siglip"},
    {"{\"hidden_size\": \"512\"}", CLIPT_ERR_PARSE, "hidden_size"},
    {"{\"hidden_size\": 5000000000}", CLIPT_ERR_PARSE, "hidden_size"},
    {"{\"eos_token_id\": [49407]}", CLIPT_ERR_PARSE, "eos_token_id"},
    {"{\"layer_norm_eps\": null}", CLIPT_ERR_PARSE, "layer_norm_eps"},
    {"{\"text_config\": 3}", CLIPT_ERR_PARSE, "text_config"},
    {"[1, 2]", CLIPT_ERR_PARSE, "object"},
    {"{\"a\": 1, \"a\": 2}", CLIPT_ERR_PARSE, "duplicate"},
    {"{\"hidden_size\": 512", CLIPT_ERR_PARSE, "not valid JSON"},
};

START_TEST(config_errors_name_the_key)
{
    clipt_checkpoint_config cc;
    const char *json = bad_configs[_i].json;
    clipt_status st = clipt_config_parse(json, strlen(json), "config.json", &cc);
    ck_assert_msg(st == bad_configs[_i].status, "%s: status %s (%s)", json,
                  clipt_status_name(st), clipt_last_error());
    ck_assert_msg(strstr(clipt_last_error(), bad_configs[_i].message) != NULL,
                  "%s: message \"%s\" does not mention \"%s\"", json,
                  clipt_last_error(), bad_configs[_i].message);
}
END_TEST

START_TEST(open_clip_config)
{
    const char *json = "{\"model_cfg\": {\"embed_dim\": 768, \"quick_gelu\": true, "
                       "\"text_cfg\": {\"width\": 768, \"heads\": 12, \"layers\": 12}}}";
    clipt_checkpoint_config cc;
    ck_assert_int_eq(clipt_open_clip_config_parse(json, strlen(json), "x", &cc), CLIPT_OK);
    ck_assert_int_eq(cc.model.projection_dim, 768);
    ck_assert_int_eq(cc.model.heads, 12);
    ck_assert_int_eq(cc.model.mlp_width, 3072);
    ck_assert_int_eq(cc.model.activation, CLIPT_ACTIVATION_QUICK_GELU);
    ck_assert_int_eq(cc.model.eos_token_id, 49407);
    ck_assert_int_eq(cc.model.pad_token_id, 0);
    /* open_clip's own default is exact GELU */
    json = "{\"model_cfg\": {\"embed_dim\": 512}}";
    ck_assert_int_eq(clipt_open_clip_config_parse(json, strlen(json), "x", &cc), CLIPT_OK);
    ck_assert_int_eq(cc.model.activation, CLIPT_ACTIVATION_GELU);
    json = "{\"model_cfg\": {\"text_cfg\": {}}}";
    ck_assert_int_eq(clipt_open_clip_config_parse(json, strlen(json), "x", &cc),
                     CLIPT_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "embed_dim"));
    json = "{\"model_cfg\": {\"embed_dim\": 512, \"text_cfg\": "
           "{\"hf_model_name\": \"roberta-base\"}}}";
    ck_assert_int_eq(clipt_open_clip_config_parse(json, strlen(json), "x", &cc),
                     CLIPT_ERR_UNSUPPORTED);
    json = "{\"model_cfg\": {\"embed_dim\": 512, \"text_cfg\": {\"pool_type\": \"last\"}}}";
    ck_assert_int_eq(clipt_open_clip_config_parse(json, strlen(json), "x", &cc),
                     CLIPT_ERR_UNSUPPORTED);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* End-of-text positions                                                    */
/* ------------------------------------------------------------------------ */

START_TEST(eot_rules)
{
    clipt_model_config c;
    ck_assert_int_eq(clipt_model_config_preset("small", &c), CLIPT_OK);
    int32_t eot[3];
    /* first end-of-text, whatever follows (pads equal to it, or 0) */
    const int32_t rows[3 * 5] = {49406, 320, 49407, 49407, 49407,
                                 49406, 49407, 0, 0, 0,
                                 49406, 1, 2, 3, 49407};
    ck_assert_int_eq(clipt_eot_positions(&c, rows, 3, 5, eot), CLIPT_OK);
    ck_assert_int_eq(eot[0], 2);
    ck_assert_int_eq(eot[1], 1);
    ck_assert_int_eq(eot[2], 4);

    /* a row without end-of-text is rejected, naming the row */
    const int32_t missing[2 * 3] = {49406, 49407, 0, 49406, 5, 0};
    ck_assert_int_eq(clipt_eot_positions(&c, missing, 2, 3, eot),
                     CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "row 1"));

    /* eos_token_id 2: pooling at the first largest id, which must be the
     * last id of the vocabulary; a real id 2 is ordinary content */
    c.eos_token_id = 2;
    const int32_t legacy[2 * 4] = {49406, 2, 49407, 49407, 2, 49407, 7, 0};
    ck_assert_int_eq(clipt_eot_positions(&c, legacy, 2, 4, eot), CLIPT_OK);
    ck_assert_int_eq(eot[0], 2);
    ck_assert_int_eq(eot[1], 1);
    const int32_t legacy_missing[4] = {49406, 2, 5, 0};
    ck_assert_int_eq(clipt_eot_positions(&c, legacy_missing, 1, 4, eot),
                     CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "49406"));

    c.eos_token_id = -1;
    ck_assert_int_eq(clipt_eot_positions(&c, rows, 1, 5, eot), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_eot_positions(NULL, rows, 1, 5, eot), CLIPT_ERR_INVALID_ARGUMENT);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Round trips and saving                                                   */
/* ------------------------------------------------------------------------ */

static float *all_params(const clipt_model *m)
{
    float *p = clipt_test_calloc(clipt_model_param_count(m), sizeof(float));
    ck_assert_int_eq(clipt_model_get_params(m, 0, clipt_model_param_count(m), p), CLIPT_OK);
    return p;
}

static clipt_model *load_ok(clipt_context *ctx, const char *path)
{
    clipt_model *m = NULL;
    ck_assert_msg(clipt_model_load(ctx, path, &m) == CLIPT_OK, "%s: %s", path,
                  clipt_last_error());
    return m;
}

static void save_ok(const clipt_model *m, const char *dir, clipt_dtype dtype,
                    clipt_save_format format)
{
    clipt_save_options o;
    clipt_save_options_init(&o);
    o.dtype = dtype;
    o.format = format;
    ck_assert_msg(clipt_model_save(m, dir, &o) == CLIPT_OK, "%s: %s", dir,
                  clipt_last_error());
}

static void assert_same_file(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    char *x = clipt_test_read_file(a, &na), *y = clipt_test_read_file(b, &nb);
    ck_assert_msg(na == nb && memcmp(x, y, na) == 0, "%s and %s differ", a, b);
    free(x);
    free(y);
}

static const char *const round_trip_cases[] = {"vocab49408", "legacy_gelu_openai"};

START_TEST(round_trip_keeps_parameters)
{
    char *tmp = clipt_test_tempdir();
    char src[256];
    snprintf(src, sizeof src, FIXTURES "%s", round_trip_cases[_i]);
    char *dir = clipt_test_join(tmp, "source");
    clipt_test_unpack_fixture(src, dir);
    char *vocab = clipt_test_join(dir, "vocab.json");
    char *merges = clipt_test_join(dir, "merges.txt");
    clipt_test_write_file(vocab, "{\"!\": 0}", 8);
    clipt_test_write_file(merges, "#version: 0.2\n", 14);

    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model *a = load_ok(ctx, dir);
    float *pa = all_params(a);
    size_t n = clipt_model_param_count(a);

    /* f32: the same bytes, the same configuration, tokenizer files copied */
    char *out = clipt_test_join(tmp, "saved");
    save_ok(a, out, CLIPT_DTYPE_F32, CLIPT_SAVE_TEXT_WITH_PROJECTION);
    clipt_model *b = load_ok(ctx, out);
    float *pb = all_params(b);
    ck_assert_uint_eq(clipt_model_param_count(b), n);
    ck_assert_msg(memcmp(pa, pb, n * sizeof(float)) == 0, "parameters changed");
    clipt_model_config ca, cb;
    clipt_model_get_config(a, &ca);
    clipt_model_get_config(b, &cb);
    ck_assert_msg(memcmp(&ca, &cb, sizeof ca) == 0, "configuration changed");
    char *saved_vocab = clipt_test_join(out, "vocab.json");
    char *saved_merges = clipt_test_join(out, "merges.txt");
    assert_same_file(vocab, saved_vocab);
    assert_same_file(merges, saved_merges);
    ck_assert_int_eq(clipt_model_has_vision_source(b), 0);

    /* saving over the same directory again gives the same file */
    char *weights = clipt_test_join(out, "model.safetensors");
    size_t first_size = 0;
    char *first = clipt_test_read_file(weights, &first_size);
    save_ok(b, out, CLIPT_DTYPE_F32, CLIPT_SAVE_TEXT_WITH_PROJECTION);
    size_t second_size = 0;
    char *second = clipt_test_read_file(weights, &second_size);
    ck_assert(first_size == second_size && memcmp(first, second, first_size) == 0);

    /* f16 and bf16: each value is the rounding of the original */
    const clipt_dtype halves[2] = {CLIPT_DTYPE_F16, CLIPT_DTYPE_BF16};
    for (int h = 0; h < 2; h++) {
        char *half_dir = clipt_test_join(tmp, h == 0 ? "f16" : "bf16");
        save_ok(a, half_dir, halves[h], CLIPT_SAVE_TEXT_WITH_PROJECTION);
        clipt_model *c = load_ok(ctx, half_dir);
        float *pc = all_params(c);
        for (size_t i = 0; i < n; i++) {
            float want = h == 0 ? clipt_f16_to_f32(clipt_f32_to_f16(pa[i]))
                                : clipt_bf16_to_f32(clipt_f32_to_bf16(pa[i]));
            ck_assert_msg(pc[i] == want, "%s: value %zu is %g, want %g",
                          half_dir, i, (double)pc[i], (double)want);
        }
        free(pc);
        clipt_model_free(c);
        free(half_dir);
    }

    free(first);
    free(second);
    free(weights);
    free(saved_vocab);
    free(saved_merges);
    free(pa);
    free(pb);
    clipt_model_free(a);
    clipt_model_free(b);
    clipt_context_free(ctx);
    clipt_test_remove_tree(tmp);
    free(vocab);
    free(merges);
    free(out);
    free(dir);
    free(tmp);
}
END_TEST

/* Checks that every tensor of src that is not part of the text encoder is
 * in dst with the same dtype, shape and bytes. Returns how many. */
static int assert_vision_copied(const char *src, const char *dst, const clipt_model *m)
{
    clipt_st_file *a = NULL, *b = NULL;
    ck_assert_int_eq(clipt_st_open(src, &a), CLIPT_OK);
    ck_assert_int_eq(clipt_st_open(dst, &b), CLIPT_OK);
    int copied = 0;
    clipt_tensor_info info;
    for (int i = 0; i < a->ntensors; i++) {
        const clipt_st_tensor *x = &a->tensors[i];
        const clipt_st_tensor *y = clipt_st_find(b, x->name);
        ck_assert_msg(y != NULL, "%s is missing from the saved CLIPModel", x->name);
        if (clipt_model_find_tensor(m, x->name, &info) == CLIPT_OK) continue;
        ck_assert_int_eq(x->dtype, y->dtype);
        ck_assert_int_eq(x->ndim, y->ndim);
        for (int d = 0; d < x->ndim; d++) ck_assert(x->shape[d] == y->shape[d]);
        ck_assert(x->end - x->begin == y->end - y->begin);
        ck_assert_msg(memcmp(x->data, y->data, (size_t)(x->end - x->begin)) == 0,
                      "%s changed", x->name);
        copied++;
    }
    ck_assert_int_eq(a->ntensors, b->ntensors);
    clipt_st_close(a);
    clipt_st_close(b);
    return copied;
}

START_TEST(clip_model_saved_in_full)
{
    char *tmp = clipt_test_tempdir();
    oracle o = oracle_open(tmp, "clip_model");
    char *preprocessor = clipt_test_join(o.dir, "preprocessor_config.json");
    clipt_test_write_file(preprocessor, "{\"crop_size\": 8}", 16);
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model *m = load_ok(ctx, o.dir);
    ck_assert_int_eq(clipt_model_has_vision_source(m), 1);

    /* the text tower alone matches CLIPModel.get_text_features */
    int B = 0, T = 0;
    int32_t *ids = oracle_i32(&o, "batch0.ids", &B, &T);
    int32_t *eot = clipt_test_calloc((size_t)B, sizeof(int32_t));
    ck_assert_int_eq(clipt_eot_positions(&m->cfg, ids, B, T, eot), CLIPT_OK);
    float *E = clipt_test_calloc((size_t)B * m->cfg.projection_dim, sizeof(float));
    ck_assert_int_eq(clipt_model_encode(m, ids, eot, B, T, E), CLIPT_OK);
    size_t n = 0;
    float *want = oracle_f32(&o, "batch0.embeddings", &n);
    check_scaled("CLIPModel text features", E, want, n, EMBED_RTOL, 0.0);

    /* the full save copies the vision tower, logit scale and config */
    char *out = clipt_test_join(tmp, "full");
    save_ok(m, out, CLIPT_DTYPE_F32, CLIPT_SAVE_CLIP_MODEL);
    char *src_weights = clipt_test_join(o.dir, "model.safetensors");
    char *dst_weights = clipt_test_join(out, "model.safetensors");
    int copied = assert_vision_copied(src_weights, dst_weights, m);
    printf("CLIPModel save: %d vision tensors and logit_scale copied\n", copied);
    ck_assert_int_ge(copied, 10);
    char *src_config = clipt_test_join(o.dir, "config.json");
    char *dst_config = clipt_test_join(out, "config.json");
    assert_same_file(src_config, dst_config);
    char *dst_pre = clipt_test_join(out, "preprocessor_config.json");
    assert_same_file(preprocessor, dst_pre);
    clipt_model *again = load_ok(ctx, out);
    float *p1 = all_params(m), *p2 = all_params(again);
    ck_assert(memcmp(p1, p2, clipt_model_param_count(m) * sizeof(float)) == 0);

    /* CLIPModel saves need a CLIPModel source */
    clipt_save_options opts;
    clipt_save_options_init(&opts);
    opts.format = CLIPT_SAVE_CLIP_MODEL;
    clipt_model_config cfg = m->cfg;
    clipt_model *fresh = NULL;
    ck_assert_int_eq(clipt_model_create(ctx, &cfg, 1, &fresh), CLIPT_OK);
    char *nowhere = clipt_test_join(tmp, "nowhere");
    ck_assert_int_eq(clipt_model_save(fresh, nowhere, &opts), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "CLIPModel"));
    ck_assert_int_eq(clipt_model_has_vision_source(fresh), 0);

    free(p1);
    free(p2);
    free(nowhere);
    clipt_model_free(fresh);
    clipt_model_free(again);
    free(dst_pre);
    free(src_config);
    free(dst_config);
    free(src_weights);
    free(dst_weights);
    free(out);
    free(want);
    free(E);
    free(eot);
    free(ids);
    free(preprocessor);
    clipt_model_free(m);
    clipt_context_free(ctx);
    oracle_close(&o);
    clipt_test_remove_tree(tmp);
    free(tmp);
}
END_TEST

/* Splits dir/model.safetensors into two shards with an index, as
 * save_pretrained does for large models. */
static void shard_checkpoint(const char *dir)
{
    char *single = clipt_test_join(dir, "model.safetensors");
    clipt_st_file *f = NULL;
    ck_assert_int_eq(clipt_st_open(single, &f), CLIPT_OK);
    static const char *const shard_names[2] = {"model-00001-of-00002.safetensors",
                                               "model-00002-of-00002.safetensors"};
    static const char *const meta[] = {"format", "pt"};
    clipt_st_entry *entries = clipt_test_calloc((size_t)f->ntensors, sizeof *entries);
    char *index = clipt_test_calloc(64 * 1024, 1);
    strcat(index, "{\"metadata\": {}, \"weight_map\": {");
    const char *separator = "";
    for (int part = 0; part < 2; part++) {
        int count = 0;
        for (int i = part; i < f->ntensors; i += 2) {
            const clipt_st_tensor *t = &f->tensors[i];
            entries[count++] = (clipt_st_entry){t->name, t->dtype, t->ndim, t->shape, t->data};
            char line[256];
            snprintf(line, sizeof line, "%s\"%s\": \"%s\"", separator, t->name,
                     shard_names[part]);
            strcat(index, line);
            separator = ", ";
        }
        char *path = clipt_test_join(dir, shard_names[part]);
        ck_assert_int_eq(clipt_st_write(path, entries, count, meta, 1), CLIPT_OK);
        free(path);
    }
    strcat(index, "}}");
    char *index_path = clipt_test_join(dir, "model.safetensors.index.json");
    clipt_test_write_file(index_path, index, strlen(index));
    clipt_st_close(f);
    ck_assert_int_eq(remove(single), 0);
    free(index_path);
    free(index);
    free(entries);
    free(single);
}

START_TEST(sharded_checkpoint_loads)
{
    char *tmp = clipt_test_tempdir();
    char *whole = clipt_test_join(tmp, "whole"), *sharded = clipt_test_join(tmp, "sharded");
    clipt_test_unpack_fixture(FIXTURES "clip_model", whole);
    clipt_test_unpack_fixture(FIXTURES "clip_model", sharded);
    shard_checkpoint(sharded);
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model *a = load_ok(ctx, whole), *b = load_ok(ctx, sharded);
    float *pa = all_params(a), *pb = all_params(b);
    ck_assert(memcmp(pa, pb, clipt_model_param_count(a) * sizeof(float)) == 0);

    /* a full save gathers the vision tower from both shards */
    char *out = clipt_test_join(tmp, "out");
    save_ok(b, out, CLIPT_DTYPE_F32, CLIPT_SAVE_CLIP_MODEL);
    char *src = clipt_test_join(whole, "model.safetensors");
    char *dst = clipt_test_join(out, "model.safetensors");
    ck_assert_int_ge(assert_vision_copied(src, dst, b), 10);

    free(src);
    free(dst);
    free(out);
    free(pa);
    free(pb);
    clipt_model_free(a);
    clipt_model_free(b);
    clipt_context_free(ctx);
    clipt_test_remove_tree(tmp);
    free(whole);
    free(sharded);
    free(tmp);
}
END_TEST

START_TEST(openai_layout_cannot_save_clip_model)
{
    char *tmp = clipt_test_tempdir();
    char *dir = clipt_test_join(tmp, "openai");
    clipt_test_unpack_fixture(FIXTURES "legacy_gelu_openai", dir);
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model *m = load_ok(ctx, dir);
    clipt_save_options opts;
    clipt_save_options_init(&opts);
    opts.format = CLIPT_SAVE_CLIP_MODEL;
    char *out = clipt_test_join(tmp, "out");
    ck_assert_int_eq(clipt_model_save(m, out, &opts), CLIPT_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "OpenAI"));
    clipt_model_config c;
    char *file = clipt_test_join(dir, "open_clip_model.safetensors");
    ck_assert_int_eq(clipt_checkpoint_read_config(file, &c), CLIPT_OK);
    ck_assert_int_eq(c.heads, 3);
    ck_assert_int_eq(c.activation, CLIPT_ACTIVATION_GELU);
    ck_assert_float_eq(c.layer_norm_eps, 1e-6f);
    free(file);
    free(out);
    clipt_model_free(m);
    clipt_context_free(ctx);
    clipt_test_remove_tree(tmp);
    free(dir);
    free(tmp);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, matches_transformers, 0,
                        sizeof oracle_cases / sizeof oracle_cases[0]);
    tcase_add_test(tc, config_defaults_follow_transformers);
    tcase_add_loop_test(tc, config_errors_name_the_key, 0,
                        sizeof bad_configs / sizeof bad_configs[0]);
    tcase_add_test(tc, open_clip_config);
    tcase_add_test(tc, eot_rules);
    tcase_add_loop_test(tc, round_trip_keeps_parameters, 0,
                        sizeof round_trip_cases / sizeof round_trip_cases[0]);
    tcase_add_test(tc, clip_model_saved_in_full);
    tcase_add_test(tc, sharded_checkpoint_loads);
    tcase_add_test(tc, openai_layout_cannot_save_clip_model);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "checkpoint");
}
