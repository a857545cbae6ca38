/* Model configuration, the tensor table, CLIP's initialisation, parameter
 * access, and the forward contract of clipt_model_encode: trimming, ids
 * after the end of text, chunking and input checks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model.h"

static clipt_model_config tiny_config(void)
{
    clipt_model_config c;
    ck_assert_int_eq(clipt_model_config_preset("small", &c), CLIPT_OK);
    c.vocab_size = 50;
    c.width = 20;
    c.heads = 4;
    c.layers = 2;
    c.mlp_width = 36;
    c.projection_dim = 10;
    return c;
}

START_TEST(presets_have_clip_sizes)
{
    clipt_model_config c;
    ck_assert_int_eq(clipt_model_config_preset(NULL, &c), CLIPT_OK);
    ck_assert_int_eq(c.width, 512);
    ck_assert_int_eq(c.layers, 12);
    ck_assert_int_eq(c.heads, 8);
    ck_assert_int_eq(c.mlp_width, 2048);
    ck_assert_int_eq(c.projection_dim, 512);
    ck_assert_int_eq(c.vocab_size, 49408);
    ck_assert_int_eq(c.context_length, 77);
    ck_assert_int_eq(c.activation, CLIPT_ACTIVATION_QUICK_GELU);
    ck_assert_float_eq(c.layer_norm_eps, 1e-5f);
    ck_assert_int_eq(clipt_model_config_preset("small", &c), CLIPT_OK);
    ck_assert_int_eq(c.width, 256);
    ck_assert_int_eq(c.layers, 4);
    ck_assert_int_eq(c.heads, 4);
    ck_assert_int_eq(c.mlp_width, 1024);
    ck_assert_int_eq(c.projection_dim, 256);
    ck_assert_int_eq(clipt_model_config_preset("vit-l-14", &c), CLIPT_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "vit-l-14"));
}
END_TEST

START_TEST(config_validation_names_the_field)
{
    clipt_model_config c = tiny_config();
    c.heads = 3; /* 20 is not a multiple of 3 */
    ck_assert_int_eq(clipt_model_config_validate(&c), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "heads"));
    c = tiny_config();
    c.layers = 0;
    ck_assert_int_eq(clipt_model_config_validate(&c), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "layers"));
    c = tiny_config();
    c.layer_norm_eps = 0.0f;
    ck_assert_int_eq(clipt_model_config_validate(&c), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "layer_norm_eps"));
    c = tiny_config();
    c.vocab_size = 1 << 28; /* V * C >= 2^31 */
    ck_assert_int_eq(clipt_model_config_validate(&c), CLIPT_ERR_INVALID_ARGUMENT);
    c = tiny_config();
    c.activation = (clipt_activation)9;
    ck_assert_int_eq(clipt_model_config_validate(&c), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_model_config_validate(NULL), CLIPT_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(tensor_table_layout)
{
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model_config c = tiny_config();
    c.width = 21; /* odd, so k and v start off the 16-float grid */
    c.heads = 3;
    clipt_model *m = NULL;
    ck_assert_int_eq(clipt_model_create(ctx, &c, 1, &m), CLIPT_OK);
    int n = clipt_model_tensor_count(m);
    ck_assert_int_eq(n, 2 + 16 * c.layers + 3);
    size_t end = 0;
    for (int i = 0; i < n; i++) {
        clipt_tensor_info info;
        ck_assert_int_eq(clipt_model_tensor_info(m, i, &info), CLIPT_OK);
        int packed = strstr(info.name, "k_proj") != NULL || strstr(info.name, "v_proj") != NULL;
        if (packed) {
            ck_assert_msg(info.offset == end, "%s does not follow the previous tensor", info.name);
        } else {
            ck_assert_msg(info.offset % 16 == 0 && info.offset >= end, "%s at %zu is not aligned",
                          info.name, info.offset);
        }
        size_t numel = (size_t)info.shape[0] * (size_t)(info.ndim == 2 ? info.shape[1] : 1);
        ck_assert_uint_eq(numel, info.numel);
        end = info.offset + info.numel;
        for (int j = 0; j < i; j++) {
            clipt_tensor_info other;
            clipt_model_tensor_info(m, j, &other);
            ck_assert_msg(strcmp(other.name, info.name) != 0, "duplicate name %s", info.name);
        }
    }
    ck_assert_uint_ge(clipt_model_param_count(m), end);

    clipt_tensor_info info;
    ck_assert_int_eq(clipt_model_find_tensor(m, "text_projection.weight", &info), CLIPT_OK);
    ck_assert_int_eq(info.shape[0], c.projection_dim);
    ck_assert_int_eq(info.shape[1], c.width);
    ck_assert_int_eq(clipt_model_find_tensor(m, "text_model.encoder.layers.1.mlp.fc1.weight", &info),
                     CLIPT_OK);
    ck_assert_int_eq(info.shape[0], c.mlp_width);
    ck_assert_int_eq(info.shape[1], c.width);
    ck_assert_int_eq(clipt_model_find_tensor(m, "logit_scale", &info), CLIPT_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "logit_scale"));
    ck_assert_int_eq(clipt_model_tensor_info(m, n, &info), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_model_tensor_info(m, -1, &info), CLIPT_ERR_INVALID_ARGUMENT);
    clipt_model_free(m);
    clipt_context_free(ctx);
}
END_TEST

START_TEST(initialisation_follows_clip)
{
    /* Sample standard deviations of the small preset's tensors against
     * CLIP's values. The relative standard error of a sample std over n
     * values is 1/sqrt(2n); 5 of those is the bound (n >= 256, so at most
     * 22%, and 0.4% for the token embedding). */
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model_config c;
    ck_assert_int_eq(clipt_model_config_preset("small", &c), CLIPT_OK);
    clipt_model *m = NULL;
    ck_assert_int_eq(clipt_model_create(ctx, &c, 42, &m), CLIPT_OK);
    size_t np = clipt_model_param_count(m);
    float *p = clipt_test_calloc(np, sizeof(float));
    ck_assert_int_eq(clipt_model_get_params(m, 0, np, p), CLIPT_OK);
    double C = c.width, L = c.layers;
    for (int i = 0; i < clipt_model_tensor_count(m); i++) {
        clipt_tensor_info info;
        clipt_model_tensor_info(m, i, &info);
        const char *name = info.name;
        const float *x = p + info.offset;
        if (info.ndim == 1) {
            float want = strstr(name, "layer_norm") && strstr(name, "weight") ? 1.0f : 0.0f;
            for (size_t k = 0; k < info.numel; k++) {
                ck_assert_msg(x[k] == want, "%s[%zu] = %g, expected %g", name, k, (double)x[k],
                              (double)want);
            }
            continue;
        }
        double want;
        if (strstr(name, "token_embedding")) want = 0.02;
        else if (strstr(name, "position_embedding")) want = 0.01;
        else if (strstr(name, "q_proj") || strstr(name, "k_proj") || strstr(name, "v_proj"))
            want = pow(C, -0.5);
        else if (strstr(name, "out_proj") || strstr(name, "fc2")) want = pow(C, -0.5) * pow(2 * L, -0.5);
        else if (strstr(name, "fc1")) want = pow(2 * C, -0.5);
        else want = pow(C, -0.5); /* text_projection */
        double sum = 0, sq = 0;
        for (size_t k = 0; k < info.numel; k++) {
            sum += x[k];
            sq += (double)x[k] * x[k];
        }
        double mean = sum / info.numel, std = sqrt(sq / info.numel - mean * mean);
        double bound = 5.0 / sqrt(2.0 * info.numel);
        ck_assert_msg(fabs(std / want - 1.0) < bound, "%s: std %g, expected %g", name, std, want);
        ck_assert_msg(fabs(mean) < 5.0 * want / sqrt((double)info.numel), "%s: mean %g", name, mean);
    }

    /* the same seed gives the same bits; another seed differs */
    clipt_model *same = NULL, *other = NULL;
    ck_assert_int_eq(clipt_model_create(ctx, &c, 42, &same), CLIPT_OK);
    ck_assert_int_eq(clipt_model_create(ctx, &c, 43, &other), CLIPT_OK);
    float *q = clipt_test_calloc(np, sizeof(float));
    ck_assert_int_eq(clipt_model_get_params(same, 0, np, q), CLIPT_OK);
    ck_assert_msg(memcmp(p, q, np * sizeof(float)) == 0, "seed 42 gave two different models");
    ck_assert_int_eq(clipt_model_get_params(other, 0, np, q), CLIPT_OK);
    ck_assert_msg(memcmp(p, q, np * sizeof(float)) != 0, "seeds 42 and 43 gave the same model");
    free(p);
    free(q);
    clipt_model_free(m);
    clipt_model_free(same);
    clipt_model_free(other);
    clipt_context_free(ctx);
}
END_TEST

START_TEST(params_get_and_set)
{
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model_config c = tiny_config();
    clipt_model *m = NULL;
    ck_assert_int_eq(clipt_model_create(ctx, &c, 3, &m), CLIPT_OK);
    clipt_tensor_info info;
    ck_assert_int_eq(clipt_model_find_tensor(m, "text_model.final_layer_norm.bias", &info), CLIPT_OK);
    float v[20], back[20];
    for (int i = 0; i < 20; i++) v[i] = 0.25f * i;
    ck_assert_int_eq(clipt_model_set_params(m, info.offset, info.numel, v), CLIPT_OK);
    ck_assert_int_eq(clipt_model_get_params(m, info.offset, info.numel, back), CLIPT_OK);
    ck_assert_mem_eq(v, back, sizeof v);

    size_t np = clipt_model_param_count(m);
    ck_assert_int_eq(clipt_model_get_params(m, np - 2, 5, back), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_model_set_params(m, SIZE_MAX - 1, 4, v), CLIPT_ERR_INVALID_ARGUMENT);
    /* the final layer norm bias (20 floats) is followed by padding */
    ck_assert_int_eq(clipt_model_set_params(m, info.offset, 21, v), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "padding"));
    v[3] = NAN;
    ck_assert_int_eq(clipt_model_set_params(m, info.offset, 5, v), CLIPT_ERR_NONFINITE);
    v[3] = INFINITY;
    ck_assert_int_eq(clipt_model_set_params(m, info.offset, 5, v), CLIPT_ERR_NONFINITE);
    clipt_model_free(m);
    clipt_context_free(ctx);
}
END_TEST

/* Builds B rows of width T: start token, random ids, end token at eot[b],
 * then `pad` in every later column. */
static void make_rows(int32_t *ids, const int32_t *eot, int B, int T, int V, int32_t pad,
                      uint64_t seed)
{
    float *u = clipt_test_calloc((size_t)B * T, sizeof(float));
    clipt_fill_uniform(u, (size_t)B * T, seed, 0.0f, (float)(V - 2));
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int32_t id = (int32_t)u[b * T + t];
            if (t == 0) id = V - 2;
            if (t == eot[b]) id = V - 1;
            if (t > eot[b]) id = pad;
            ids[b * T + t] = id;
        }
    free(u);
}

START_TEST(trimmed_equals_padded_to_77)
{
    /* Rows cut at their end of text and packed, against the same rows
     * computed on all 77 columns with padding after the end of text (the
     * model's packing switched off, as a framework padding to 77 would
     * compute them). The small preset with CLIP's initialisation. */
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model_config c;
    ck_assert_int_eq(clipt_model_config_preset("small", &c), CLIPT_OK);
    clipt_model *m = NULL;
    ck_assert_int_eq(clipt_model_create(ctx, &c, 5, &m), CLIPT_OK);
    enum { B = 6, T = 77 };
    int32_t eot[B] = {3, 11, 5, 8, 1, 76};
    int32_t *ids = clipt_test_calloc((size_t)B * T, sizeof(int32_t));
    make_rows(ids, eot, B, T, c.vocab_size, 0, 71);
    int P = c.projection_dim;
    float *e_trim = clipt_test_calloc((size_t)B * P, sizeof(float));
    float *e_full = clipt_test_calloc((size_t)B * P, sizeof(float));
    ck_assert_int_eq(clipt_model_encode(m, ids, eot, B, T, e_trim), CLIPT_OK);
    m->pack_rows = 0;
    ck_assert_int_eq(clipt_model_encode(m, ids, eot, B, T, e_full), CLIPT_OK);
    m->pack_rows = 1;
    double *want = clipt_to_double(e_full, (size_t)B * P);
    /* The same arithmetic per token; only sgemm's blocking can change with
     * the number of rows, so the bound is 1e-6 absolute. */
    CLIPT_CHECK_CLOSE("trimmed against padded to 77", e_trim, want, (size_t)B * P, 1e-6, 0.0);

    /* Padding with end-of-text ids instead of 0 changes nothing. */
    int32_t *ids_eot_pad = clipt_test_calloc((size_t)B * T, sizeof(int32_t));
    make_rows(ids_eot_pad, eot, B, T, c.vocab_size, c.vocab_size - 1, 71);
    float *e_pad = clipt_test_calloc((size_t)B * P, sizeof(float));
    ck_assert_int_eq(clipt_model_encode(m, ids_eot_pad, eot, B, T, e_pad), CLIPT_OK);
    ck_assert_msg(memcmp(e_pad, e_trim, (size_t)B * P * sizeof(float)) == 0,
                  "padding with end-of-text ids changed the embeddings");

    /* Ids after the end of text are ignored, even outside the vocabulary. */
    for (int b = 0; b < B; b++)
        for (int t = eot[b] + 1; t < T; t++) ids_eot_pad[b * T + t] = (t % 2) ? -7 : 1 << 30;
    ck_assert_int_eq(clipt_model_encode(m, ids_eot_pad, eot, B, T, e_pad), CLIPT_OK);
    ck_assert_msg(memcmp(e_pad, e_trim, (size_t)B * P * sizeof(float)) == 0,
                  "ids after the end of text changed the embeddings");
    free(ids); free(e_trim); free(e_full); free(want); free(ids_eot_pad); free(e_pad);
    clipt_model_free(m);
    clipt_context_free(ctx);
}
END_TEST

START_TEST(encode_in_chunks_matches_rows)
{
    /* 1500 rows run as two forward passes; each row must equal the row
     * encoded alone (same columns, so only sgemm blocking differs). */
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model_config c = tiny_config();
    clipt_model *m = NULL;
    ck_assert_int_eq(clipt_model_create(ctx, &c, 9, &m), CLIPT_OK);
    enum { B = 1500, T = 6 };
    int32_t *ids = clipt_test_calloc((size_t)B * T, sizeof(int32_t));
    int32_t *eot = clipt_test_calloc(B, sizeof(int32_t));
    for (int b = 0; b < B; b++) eot[b] = 1 + b % 5;
    make_rows(ids, eot, B, T, c.vocab_size, 0, 72);
    int P = c.projection_dim;
    float *all = clipt_test_calloc((size_t)B * P, sizeof(float));
    ck_assert_int_eq(clipt_model_encode(m, ids, eot, B, T, all), CLIPT_OK);
    float one[10];
    double want[10];
    const int rows[] = {0, 1023, 1024, 1499};
    for (int i = 0; i < 4; i++) {
        int b = rows[i];
        ck_assert_int_eq(clipt_model_encode(m, ids + (size_t)b * T, eot + b, 1, T, one), CLIPT_OK);
        for (int k = 0; k < P; k++) want[k] = one[k];
        CLIPT_CHECK_CLOSE("row of a chunked batch", all + (size_t)b * P, want, (size_t)P, 1e-6, 0.0);
    }
    free(ids); free(eot); free(all);
    clipt_model_free(m);
    clipt_context_free(ctx);
}
END_TEST

START_TEST(encode_rejects_bad_input)
{
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model_config c = tiny_config();
    clipt_model *m = NULL;
    ck_assert_int_eq(clipt_model_create(ctx, &c, 9, &m), CLIPT_OK);
    int32_t ids[2 * 4] = {48, 3, 49, 0, 48, 7, 9, 49};
    int32_t eot[2] = {2, 3};
    float out[20];
    ck_assert_int_eq(clipt_model_encode(m, ids, eot, 2, 4, out), CLIPT_OK);
    ck_assert_int_eq(clipt_model_encode(m, ids, eot, 0, 4, out), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_model_encode(m, NULL, eot, 2, 4, out), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_model_encode(m, ids, eot, 2, 4, NULL), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_model_encode(NULL, ids, eot, 2, 4, out), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_model_encode(m, ids, eot, 1, 78, out), CLIPT_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "78"));
    int32_t bad_eot[2] = {2, 4};
    ck_assert_int_eq(clipt_model_encode(m, ids, bad_eot, 2, 4, out), CLIPT_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "row 1"));
    bad_eot[1] = -1;
    ck_assert_int_eq(clipt_model_encode(m, ids, bad_eot, 2, 4, out), CLIPT_ERR_SHAPE);
    ids[5] = 50; /* row 1, column 1: outside the vocabulary of 50 */
    ck_assert_int_eq(clipt_model_encode(m, ids, eot, 2, 4, out), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "row 1, column 1"));
    ids[5] = -1;
    ck_assert_int_eq(clipt_model_encode(m, ids, eot, 2, 4, out), CLIPT_ERR_INVALID_ARGUMENT);
    clipt_model_free(m);
    clipt_context_free(ctx);
}
END_TEST

START_TEST(create_rejects_bad_arguments)
{
    clipt_context *ctx = clipt_test_cpu_context();
    clipt_model_config c = tiny_config();
    clipt_model *m = (clipt_model *)&c; /* must be reset to NULL */
    ck_assert_int_eq(clipt_model_create(NULL, &c, 0, &m), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(clipt_model_create(ctx, NULL, 0, &m), CLIPT_ERR_INVALID_ARGUMENT);
    c.width = 0;
    ck_assert_int_eq(clipt_model_create(ctx, &c, 0, &m), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(m);
    clipt_model_free(NULL);
    clipt_context_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("cpu");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, presets_have_clip_sizes);
    tcase_add_test(tc, config_validation_names_the_field);
    tcase_add_test(tc, tensor_table_layout);
    tcase_add_test(tc, initialisation_follows_clip);
    tcase_add_test(tc, params_get_and_set);
    tcase_add_test(tc, trimmed_equals_padded_to_77);
    tcase_add_test(tc, encode_in_chunks_matches_rows);
    tcase_add_test(tc, encode_rejects_bad_input);
    tcase_add_test(tc, create_rejects_bad_arguments);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "model");
}
