/* Malformed checkpoints: each case of the table builds one broken file or
 * directory and loads it with clipt_model_load. Every case must return its
 * status with a message naming the problem, never crash (the suite also
 * runs under ASan and UBSan), and never return a model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "files.h"
#include "harness.h"
#include "safetensors.h"

/* A valid tiny checkpoint that the model-level cases edit. */
static clipt_model_config tiny_config(void)
{
    clipt_model_config c;
    ck_assert_int_eq(clipt_model_config_preset("small", &c), CLIPT_OK);
    c.vocab_size = 16;
    c.context_length = 4;
    c.width = 8;
    c.heads = 2;
    c.layers = 1;
    c.mlp_width = 12;
    c.projection_dim = 6;
    c.bos_token_id = 14;
    c.eos_token_id = 15;
    return c;
}

/* Saves a freshly initialised tiny model into tmp/valid. */
static char *valid_checkpoint(const char *tmp)
{
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model_config c = tiny_config();
    clipt_model *m = NULL;
    ck_assert_int_eq(clipt_model_create(ctx, &c, 3, &m), CLIPT_OK);
    char *dir = clipt_test_join(tmp, "valid");
    ck_assert_msg(clipt_model_save(m, dir, NULL) == CLIPT_OK, "%s", clipt_last_error());
    clipt_model_free(m);
    clipt_context_free(ctx);
    return dir;
}

/* Writes a safetensors file from a header and a data buffer; length is the
 * header length field, or UINT64_MAX for the header's true length. */
static char *raw_file(const char *tmp, const char *header, size_t data_bytes,
                      uint64_t length)
{
    size_t h = strlen(header);
    if (length == UINT64_MAX) length = h;
    uint8_t *bytes = clipt_test_calloc(8 + h + data_bytes, 1);
    for (int i = 0; i < 8; i++) bytes[i] = (uint8_t)(length >> (8 * i));
    memcpy(bytes + 8, header, h);
    char *path = clipt_test_join(tmp, "bad.safetensors");
    clipt_test_write_file(path, bytes, 8 + h + data_bytes);
    free(bytes);
    return path;
}

/* Copies tmp/valid to tmp/edited, leaving out tensor drop and adding add. */
static char *edited_checkpoint(const char *tmp, const char *drop,
                               const clipt_st_entry *add)
{
    char *valid = valid_checkpoint(tmp);
    char *dir = clipt_test_join(tmp, "edited");
    mkdir(dir, 0777);
    char *src = clipt_test_join(valid, "config.json");
    char *dst = clipt_test_join(dir, "config.json");
    size_t n = 0;
    char *text = clipt_test_read_file(src, &n);
    clipt_test_write_file(dst, text, n);
    free(text);
    free(src);
    free(dst);

    src = clipt_test_join(valid, "model.safetensors");
    clipt_st_file *f = NULL;
    ck_assert_int_eq(clipt_st_open(src, &f), CLIPT_OK);
    clipt_st_entry *entries = clipt_test_calloc((size_t)f->ntensors + 1, sizeof *entries);
    int count = 0;
    for (int i = 0; i < f->ntensors; i++) {
        const clipt_st_tensor *t = &f->tensors[i];
        if (drop != NULL && strcmp(t->name, drop) == 0) continue;
        entries[count++] = (clipt_st_entry){t->name, t->dtype, t->ndim, t->shape, t->data};
    }
    if (add != NULL) entries[count++] = *add;
    dst = clipt_test_join(dir, "model.safetensors");
    static const char *const meta[] = {"format", "pt"};
    ck_assert_int_eq(clipt_st_write(dst, entries, count, meta, 1), CLIPT_OK);
    clipt_st_close(f);
    free(entries);
    free(src);
    free(dst);
    free(valid);
    return dir;
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                    */
/* ------------------------------------------------------------------------ */

#define F32_1 "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"

static char *empty_file(const char *t)
{
    char *p = clipt_test_join(t, "bad.safetensors");
    clipt_test_write_file(p, "", 0);
    return p;
}
static char *short_file(const char *t)
{
    char *p = clipt_test_join(t, "bad.safetensors");
    clipt_test_write_file(p, "\x02\0\0", 3);
    return p;
}
static char *truncated_header(const char *t) { return raw_file(t, "{\"a\":", 0, 40); }
static char *length_past_end(const char *t) { return raw_file(t, "{}", 0, 1000); }
static char *length_2_pow_63(const char *t) { return raw_file(t, "{}", 0, 1ull << 63); }
static char *length_over_limit(const char *t) { return raw_file(t, "{}", 0, 100000001); }
static char *invalid_json(const char *t) { return raw_file(t, "{\"a\": [1, 2}", 0, UINT64_MAX); }
static char *invalid_utf8(const char *t) { return raw_file(t, "{\"\xff\xfe\":" F32_1 "}", 4, UINT64_MAX); }
static char *top_level_array(const char *t) { return raw_file(t, "[]", 0, UINT64_MAX); }
static char *unknown_dtype(const char *t)
{
    return raw_file(t, "{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                    UINT64_MAX);
}
static char *negative_shape(const char *t)
{
    return raw_file(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                    UINT64_MAX);
}
static char *overflowing_shape(const char *t)
{
    return raw_file(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
                       "\"data_offsets\":[0,4]}}", 4, UINT64_MAX);
}
static char *overflowing_bytes(const char *t)
{
    return raw_file(t, "{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],"
                       "\"data_offsets\":[0,4]}}", 4, UINT64_MAX);
}
static char *wrong_byte_count(const char *t)
{
    return raw_file(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
                    UINT64_MAX);
}
static char *offsets_out_of_range(const char *t)
{
    return raw_file(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
                    UINT64_MAX);
}
static char *overlapping(const char *t)
{
    return raw_file(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                    UINT64_MAX);
}
static char *gap(const char *t)
{
    return raw_file(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12,
                    UINT64_MAX);
}
static char *trailing_bytes(const char *t) { return raw_file(t, "{\"a\":" F32_1 "}", 9, UINT64_MAX); }
static char *end_before_begin(const char *t)
{
    return raw_file(t, "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4,
                    UINT64_MAX);
}
static char *three_offsets(const char *t)
{
    return raw_file(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,4]}}", 4,
                    UINT64_MAX);
}
static char *partial_byte(const char *t)
{
    return raw_file(t, "{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2,
                    UINT64_MAX);
}
static char *non_string_metadata(const char *t)
{
    return raw_file(t, "{\"__metadata__\":{\"format\":1},\"a\":" F32_1 "}", 4, UINT64_MAX);
}
static char *metadata_not_object(const char *t)
{
    return raw_file(t, "{\"__metadata__\":[\"pt\"],\"a\":" F32_1 "}", 4, UINT64_MAX);
}
static char *duplicate_name(const char *t)
{
    return raw_file(t, "{\"a\":" F32_1 ",\"a\":" F32_1 "}", 4, UINT64_MAX);
}
static char *entry_not_object(const char *t) { return raw_file(t, "{\"a\":null}", 0, UINT64_MAX); }
static char *no_text_encoder(const char *t) { return raw_file(t, "{\"a\":" F32_1 "}", 4, UINT64_MAX); }

static char *missing_tensor(const char *t)
{
    return edited_checkpoint(t, "text_model.final_layer_norm.bias", NULL);
}
static char *misshaped_tensor(const char *t)
{
    static const uint64_t shape[2] = {8, 7};
    static float zeros[56];
    clipt_st_entry e = {"text_model.encoder.layers.0.mlp.fc2.weight", CLIPT_ST_F32, 2, shape, zeros};
    return edited_checkpoint(t, e.name, &e);
}
static char *unexpected_tensor(const char *t)
{
    static const uint64_t shape[1] = {12};
    static float zeros[12];
    clipt_st_entry e = {"text_model.encoder.layers.1.mlp.fc1.bias", CLIPT_ST_F32, 1, shape, zeros};
    return edited_checkpoint(t, NULL, &e);
}
static char *integer_parameter(const char *t)
{
    static const uint64_t shape[1] = {8};
    static int32_t ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    clipt_st_entry e = {"text_model.final_layer_norm.weight", CLIPT_ST_I32, 1, shape, ones};
    return edited_checkpoint(t, e.name, &e);
}
static char *nan_parameter(const char *t)
{
    static const uint64_t shape[1] = {8};
    static float values[8];
    values[5] = NAN;
    clipt_st_entry e = {"text_model.final_layer_norm.bias", CLIPT_ST_F32, 1, shape, values};
    return edited_checkpoint(t, e.name, &e);
}
static char *no_projection(const char *t)
{
    char *dir = edited_checkpoint(t, "text_projection.weight", NULL);
    char *config = clipt_test_join(dir, "config.json");
    const char *json = "{\"architectures\": [\"CLIPTextModel\"], \"hidden_size\": 8, "
                       "\"num_attention_heads\": 2, \"num_hidden_layers\": 1, "
                       "\"intermediate_size\": 12, \"vocab_size\": 16, "
                       "\"max_position_embeddings\": 4, \"projection_dim\": 6}";
    clipt_test_write_file(config, json, strlen(json));
    free(config);
    return dir;
}
static char *config_mismatch(const char *t)
{
    char *dir = valid_checkpoint(t);
    char *config = clipt_test_join(dir, "config.json");
    const char *json = "{\"hidden_size\": 16, \"num_attention_heads\": 2, "
                       "\"num_hidden_layers\": 1, \"intermediate_size\": 12, "
                       "\"vocab_size\": 16, \"max_position_embeddings\": 4, "
                       "\"projection_dim\": 6}";
    clipt_test_write_file(config, json, strlen(json));
    free(config);
    return dir;
}
static char *invalid_config(const char *t)
{
    char *dir = valid_checkpoint(t);
    char *config = clipt_test_join(dir, "config.json");
    clipt_test_write_file(config, "{\"hidden_size\": }", 17);
    free(config);
    return dir;
}
static char *unsupported_activation(const char *t)
{
    char *dir = valid_checkpoint(t);
    char *config = clipt_test_join(dir, "config.json");
    const char *json = "{\"hidden_act\": \"gelu_new\"}";
    clipt_test_write_file(config, json, strlen(json));
    free(config);
    return dir;
}
static char *no_safetensors(const char *t)
{
    char *dir = clipt_test_join(t, "empty");
    mkdir(dir, 0777);
    char *config = clipt_test_join(dir, "config.json");
    clipt_test_write_file(config, "{}", 2);
    free(config);
    return dir;
}
static char *no_such_path(const char *t) { return clipt_test_join(t, "does-not-exist"); }
static char *two_weight_files(const char *t)
{
    char *dir = valid_checkpoint(t);
    char *a = clipt_test_join(dir, "model.safetensors");
    char *b = clipt_test_join(dir, "one.safetensors");
    char *c = clipt_test_join(dir, "two.safetensors");
    ck_assert_int_eq(rename(a, b), 0);
    size_t n = 0;
    char *data = clipt_test_read_file(b, &n);
    clipt_test_write_file(c, data, n);
    free(data);
    free(a);
    free(b);
    free(c);
    return dir;
}
static char *bad_shard_name(const char *t)
{
    char *dir = valid_checkpoint(t);
    char *weights = clipt_test_join(dir, "model.safetensors");
    char *index = clipt_test_join(dir, "model.safetensors.index.json");
    remove(weights);
    const char *json = "{\"weight_map\": {\"x\": \"../model.safetensors\"}}";
    clipt_test_write_file(index, json, strlen(json));
    free(weights);
    free(index);
    return dir;
}
static char *openai_without_config(const char *t)
{
    char *dir = clipt_test_join(t, "openai");
    clipt_test_unpack_fixture("tests/fixtures/checkpoint/legacy_gelu_openai", dir);
    char *config = clipt_test_join(dir, "open_clip_config.json");
    remove(config);
    free(config);
    return dir;
}

static const struct {
    const char *name;
    char *(*make)(const char *tmp);
    clipt_status status;
    const char *message;
} cases[] = {
    {"empty file", empty_file, CLIPT_ERR_CORRUPT, "empty file"},
    {"shorter than the length field", short_file, CLIPT_ERR_CORRUPT, "8-byte"},
    {"truncated header", truncated_header, CLIPT_ERR_CORRUPT, "truncated"},
    {"header length past the end", length_past_end, CLIPT_ERR_CORRUPT, "header length 1000"},
    {"header length 2^63", length_2_pow_63, CLIPT_ERR_PARSE, "9223372036854775808"},
    {"header length over the limit", length_over_limit, CLIPT_ERR_PARSE, "exceeds the limit"},
    {"invalid JSON", invalid_json, CLIPT_ERR_PARSE, "not valid JSON"},
    {"invalid UTF-8", invalid_utf8, CLIPT_ERR_PARSE, "not valid JSON"},
    {"header not an object", top_level_array, CLIPT_ERR_PARSE, "JSON object"},
    {"unknown dtype", unknown_dtype, CLIPT_ERR_PARSE, "unknown dtype \"F33\""},
    {"negative shape", negative_shape, CLIPT_ERR_PARSE, "shape[0]"},
    {"element count overflow", overflowing_shape, CLIPT_ERR_PARSE, "overflows"},
    {"byte size overflow", overflowing_bytes, CLIPT_ERR_PARSE, "overflows"},
    {"wrong byte count", wrong_byte_count, CLIPT_ERR_PARSE, "needs 8"},
    {"offsets out of range", offsets_out_of_range, CLIPT_ERR_CORRUPT, "truncated"},
    {"overlapping tensors", overlapping, CLIPT_ERR_PARSE, "overlap"},
    {"gap between tensors", gap, CLIPT_ERR_PARSE, "gap"},
    {"bytes after the last tensor", trailing_bytes, CLIPT_ERR_PARSE, "covered exactly"},
    {"end before begin", end_before_begin, CLIPT_ERR_PARSE, "end before begin"},
    {"three data offsets", three_offsets, CLIPT_ERR_PARSE, "data_offsets"},
    {"partial byte of F4", partial_byte, CLIPT_ERR_PARSE, "whole number of bytes"},
    {"non-string metadata", non_string_metadata, CLIPT_ERR_PARSE, "\"format\" is not a string"},
    {"metadata not an object", metadata_not_object, CLIPT_ERR_PARSE, "__metadata__"},
    {"duplicate tensor name", duplicate_name, CLIPT_ERR_PARSE, "duplicate"},
    {"entry not an object", entry_not_object, CLIPT_ERR_PARSE, "tensor \"a\""},
    {"no text encoder tensors", no_text_encoder, CLIPT_ERR_NOT_FOUND, "token_embedding"},
    {"missing tensor", missing_tensor, CLIPT_ERR_NOT_FOUND,
     "\"text_model.final_layer_norm.bias\" (8) is missing"},
    {"mis-shaped tensor", misshaped_tensor, CLIPT_ERR_SHAPE,
     "\"text_model.encoder.layers.0.mlp.fc2.weight\" has shape (8, 7), expected (8, 12)"},
    {"unexpected tensor", unexpected_tensor, CLIPT_ERR_PARSE,
     "unexpected tensor \"text_model.encoder.layers.1.mlp.fc1.bias\""},
    {"integer parameter", integer_parameter, CLIPT_ERR_UNSUPPORTED, "dtype I32"},
    {"NaN parameter", nan_parameter, CLIPT_ERR_NONFINITE, "element 5"},
    {"CLIPTextModel without projection", no_projection, CLIPT_ERR_NOT_FOUND,
     "CLIPTextModel checkpoint has no text projection"},
    {"config sizes differ from the weights", config_mismatch, CLIPT_ERR_SHAPE, "expected (16, 16)"},
    {"invalid config.json", invalid_config, CLIPT_ERR_PARSE, "config.json: not valid JSON"},
    {"unsupported activation", unsupported_activation, CLIPT_ERR_UNSUPPORTED, "gelu_new"},
    {"directory without safetensors", no_safetensors, CLIPT_ERR_FILE_NOT_FOUND, "no model.safetensors"},
    {"no such path", no_such_path, CLIPT_ERR_FILE_NOT_FOUND, "does-not-exist"},
    {"two weight files", two_weight_files, CLIPT_ERR_INVALID_ARGUMENT, "2 .safetensors files"},
    {"shard outside the directory", bad_shard_name, CLIPT_ERR_PARSE, "same directory"},
    {"OpenAI layout without a head count", openai_without_config, CLIPT_ERR_NOT_FOUND,
     "width 36 is not a multiple"},
};

START_TEST(malformed_is_rejected)
{
    char *tmp = clipt_test_tempdir();
    char *path = cases[_i].make(tmp);
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model *m = (clipt_model *)&ctx; /* must be reset to NULL */
    clipt_clear_error();
    clipt_status st = clipt_model_load(ctx, path, &m);
    printf("%-40s %-26s %s\n", cases[_i].name, clipt_status_name(st), clipt_last_error());
    ck_assert_msg(st == cases[_i].status, "%s: status %s, expected %s (%s)",
                  cases[_i].name, clipt_status_name(st),
                  clipt_status_name(cases[_i].status), clipt_last_error());
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(clipt_last_error(), cases[_i].message) != NULL,
                  "%s: message \"%s\" does not contain \"%s\"", cases[_i].name,
                  clipt_last_error(), cases[_i].message);
    clipt_context_free(ctx);
    clipt_test_remove_tree(tmp);
    free(path);
    free(tmp);
}
END_TEST

START_TEST(valid_tiny_checkpoint_loads)
{
    /* the base of the model-level cases is itself valid */
    char *tmp = clipt_test_tempdir();
    char *dir = edited_checkpoint(tmp, NULL, NULL);
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model *m = NULL;
    ck_assert_msg(clipt_model_load(ctx, dir, &m) == CLIPT_OK, "%s", clipt_last_error());
    clipt_model_free(m);
    clipt_context_free(ctx);
    clipt_test_remove_tree(tmp);
    free(dir);
    free(tmp);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("malformed");
    TCase *tc = tcase_create("malformed");
    tcase_add_test(tc, valid_tiny_checkpoint_loads);
    tcase_add_loop_test(tc, malformed_is_rejected, 0, sizeof cases / sizeof cases[0]);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "malformed");
}
