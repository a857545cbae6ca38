/* safetensors: the dtype table, what the reader accepts, the writer's byte
 * layout, half-precision conversions, and atomic replacement. The reader's
 * rejections are in test_malformed.c. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "harness.h"
#include "safetensors.h"

/* Bytes of the file most recently parsed by parse_ok; they must outlive
 * the parsed file, and close_ok releases both. */
static uint8_t *parsed_bytes;

/* Validates header + data held in memory. */
static clipt_st_file *parse_ok(const char *header, const void *data, size_t n)
{
    size_t h = strlen(header);
    uint8_t *bytes = clipt_test_calloc(8 + h + n, 1);
    for (int i = 0; i < 8; i++) bytes[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(bytes + 8, header, h);
    if (n > 0) memcpy(bytes + 8 + h, data, n);
    clipt_st_file *f = NULL;
    ck_assert_msg(clipt_st_parse(bytes, 8 + h + n, "test", &f) == CLIPT_OK, "%s: %s",
                  header, clipt_last_error());
    parsed_bytes = bytes;
    return f;
}

static void close_ok(clipt_st_file *f)
{
    clipt_st_close(f);
    free(parsed_bytes);
    parsed_bytes = NULL;
}

START_TEST(dtype_table_is_complete)
{
    static const struct {
        const char *name;
        int bits;
    } want[] = {{"BOOL", 8}, {"F4", 4}, {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8},
                {"I8", 8}, {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8},
                {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8}, {"I16", 16}, {"U16", 16},
                {"F16", 16}, {"BF16", 16}, {"I32", 32}, {"U32", 32}, {"F32", 32},
                {"C64", 64}, {"F64", 64}, {"I64", 64}, {"U64", 64}};
    ck_assert_int_eq(CLIPT_ST_DTYPE_COUNT, 22);
    for (int i = 0; i < CLIPT_ST_DTYPE_COUNT; i++) {
        ck_assert_str_eq(clipt_st_dtype_name((clipt_st_dtype)i), want[i].name);
        ck_assert_int_eq(clipt_st_dtype_bits((clipt_st_dtype)i), want[i].bits);
        /* every dtype is accepted by the reader: 24 bytes hold a whole
         * number of elements of every size */
        char header[160];
        int n = 24 * 8 / want[i].bits;
        snprintf(header, sizeof header,
                 "{\"t\":{\"dtype\":\"%s\",\"shape\":[%d],\"data_offsets\":[0,24]}}",
                 want[i].name, n);
        uint8_t data[24] = {0};
        clipt_st_file *f = parse_ok(header, data, 24);
        ck_assert_int_eq(f->tensors[0].dtype, i);
        close_ok(f);
    }
}
END_TEST

START_TEST(reader_accepts_what_the_format_allows)
{
    /* an empty header, whitespace around it, null metadata */
    clipt_st_file *f = parse_ok("{}", NULL, 0);
    ck_assert_int_eq(f->ntensors, 0);
    close_ok(f);
    f = parse_ok("\n\t {\"__metadata__\": null}   ", NULL, 0);
    ck_assert_int_eq(f->nmetadata, 0);
    close_ok(f);

    /* 0-d and zero-size tensors, unknown entry fields, metadata strings,
     * entries listed out of offset order */
    float data[3] = {1.5f, -2.0f, 3.25f};
    f = parse_ok("{\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12],"
                 "\"note\":[1]},"
                 "\"z\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[4,4]},"
                 "\"__metadata__\":{\"format\":\"pt\",\"k\":\"\\u00e9\"},"
                 "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
                 data, sizeof data);
    ck_assert_int_eq(f->ntensors, 3);
    const clipt_st_tensor *s = clipt_st_find(f, "s"), *v = clipt_st_find(f, "v");
    const clipt_st_tensor *z = clipt_st_find(f, "z");
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(v);
    ck_assert_ptr_nonnull(z);
    ck_assert_ptr_null(clipt_st_find(f, "w"));
    ck_assert_int_eq(s->ndim, 0);
    ck_assert(s->numel == 1);
    ck_assert(z->numel == 0);
    float got[2];
    ck_assert_int_eq(clipt_st_read_f32(f, v, got), CLIPT_OK);
    ck_assert(got[0] == -2.0f && got[1] == 3.25f);
    ck_assert_int_eq(clipt_st_read_f32(f, s, got), CLIPT_OK);
    ck_assert(got[0] == 1.5f);
    ck_assert_str_eq(clipt_st_metadata(f, "format"), "pt");
    ck_assert_str_eq(clipt_st_metadata(f, "k"), "\xc3\xa9");
    ck_assert_ptr_null(clipt_st_metadata(f, "x"));
    close_ok(f);

    /* sub-byte dtypes that end on a byte boundary */
    uint8_t packed[4] = {0};
    f = parse_ok("{\"a\":{\"dtype\":\"F4\",\"shape\":[2,1],\"data_offsets\":[0,1]},"
                 "\"b\":{\"dtype\":\"F6_E3M2\",\"shape\":[4],\"data_offsets\":[1,4]},"
                 "\"c\":{\"dtype\":\"BOOL\",\"shape\":[0],\"data_offsets\":[4,4]}}",
                 packed, 4);
    close_ok(f);
}
END_TEST

START_TEST(half_precision_parameters_convert)
{
    uint16_t h[3] = {0x3c00, 0xc000, 0x0001};       /* 1, -2, 2^-24 */
    uint16_t b[3] = {0x3f80, 0x4049, 0x8000};       /* 1, 3.140625, -0 */
    clipt_st_file *f = parse_ok(
        "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
        "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[6,12]}}",
        (uint16_t[6]){h[0], h[1], h[2], b[0], b[1], b[2]}, 12);
    float x[3];
    ck_assert_int_eq(clipt_st_read_f32(f, clipt_st_find(f, "h"), x), CLIPT_OK);
    ck_assert(x[0] == 1.0f && x[1] == -2.0f && x[2] == ldexpf(1.0f, -24));
    ck_assert_int_eq(clipt_st_read_f32(f, clipt_st_find(f, "b"), x), CLIPT_OK);
    ck_assert(x[0] == 1.0f && x[1] == 3.140625f && x[2] == 0.0f && signbit(x[2]));
    close_ok(f);

    /* an infinity stored as F16 is rejected, naming the tensor */
    f = parse_ok("{\"inf\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}",
                 (uint16_t[1]){0x7c00}, 2);
    ck_assert_int_eq(clipt_st_read_f32(f, clipt_st_find(f, "inf"), x), CLIPT_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "\"inf\""));
    close_ok(f);
}
END_TEST

START_TEST(f16_conversion_is_exact_and_rounds_to_even)
{
    /* every finite half survives half -> float -> half; NaN stays NaN */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = clipt_f16_to_f32((uint16_t)h);
        if (isnan(f)) {
            ck_assert((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0);
            ck_assert(isnan(clipt_f16_to_f32(clipt_f32_to_f16(f))));
            continue;
        }
        ck_assert_msg(clipt_f32_to_f16(f) == h, "half 0x%04x -> %g -> 0x%04x", h,
                      (double)f, clipt_f32_to_f16(f));
    }
    /* ties go to the even neighbour; overflow and underflow */
    ck_assert_uint_eq(clipt_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3c00);
    ck_assert_uint_eq(clipt_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)), 0x3c02);
    ck_assert_uint_eq(clipt_f32_to_f16(1.0f + ldexpf(1.0f, -11) + ldexpf(1.0f, -20)), 0x3c01);
    ck_assert_uint_eq(clipt_f32_to_f16(65504.0f), 0x7bff);
    ck_assert_uint_eq(clipt_f32_to_f16(65519.99f), 0x7bff);
    ck_assert_uint_eq(clipt_f32_to_f16(65520.0f), 0x7c00);
    ck_assert_uint_eq(clipt_f32_to_f16(-1e30f), 0xfc00);
    ck_assert_uint_eq(clipt_f32_to_f16(ldexpf(1.0f, -25)), 0x0000);
    ck_assert_uint_eq(clipt_f32_to_f16(ldexpf(1.0f, -25) * 1.0001f), 0x0001);
    ck_assert_uint_eq(clipt_f32_to_f16(3 * ldexpf(1.0f, -25)), 0x0002);
    ck_assert_uint_eq(clipt_f32_to_f16(ldexpf(1.0f, -14) - ldexpf(1.0f, -26)), 0x0400);
    ck_assert_uint_eq(clipt_f32_to_f16(-ldexpf(1.0f, -140)), 0x8000);
}
END_TEST

START_TEST(bf16_conversion_is_exact_and_rounds_to_even)
{
    for (uint32_t b = 0; b < 65536; b++) {
        float f = clipt_bf16_to_f32((uint16_t)b);
        if (isnan(f)) {
            ck_assert(isnan(clipt_bf16_to_f32(clipt_f32_to_bf16(f))));
            continue;
        }
        ck_assert_uint_eq(clipt_f32_to_bf16(f), b);
    }
    ck_assert_uint_eq(clipt_f32_to_bf16(1.0f + ldexpf(1.0f, -8)), 0x3f80);
    ck_assert_uint_eq(clipt_f32_to_bf16(1.0f + 3 * ldexpf(1.0f, -8)), 0x3f82);
    ck_assert_uint_eq(clipt_f32_to_bf16(3.4028235e38f), 0x7f80);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Writer                                                                   */
/* ------------------------------------------------------------------------ */

START_TEST(writer_matches_reference_layout)
{
    char *tmp = clipt_test_tempdir();
    char *path = clipt_test_join(tmp, "x.safetensors");

    /* an empty file: 8 + "{}" + six spaces, as the reference writes it */
    ck_assert_int_eq(clipt_st_write(path, NULL, 0, NULL, 0), CLIPT_OK);
    size_t n = 0;
    char *bytes = clipt_test_read_file(path, &n);
    ck_assert_uint_eq(n, 16);
    ck_assert(memcmp(bytes, "\x08\0\0\0\0\0\0\0{}      ", 16) == 0);
    free(bytes);

    /* order: larger dtype enumeration first, then name; metadata first */
    static const uint64_t s2[1] = {2}, s23[2] = {2, 3};
    float f2[2] = {1, 2}, f6[6] = {0};
    int64_t i2[2] = {7, 8};
    uint16_t h2[2] = {0x3c00, 0};
    uint8_t u2[2] = {1, 2};
    clipt_st_entry entries[] = {
        {"b", CLIPT_ST_F32, 1, s2, f2},   {"a", CLIPT_ST_F32, 2, s23, f6},
        {"h", CLIPT_ST_F16, 1, s2, h2},   {"i", CLIPT_ST_I64, 1, s2, i2},
        {"u", CLIPT_ST_U8, 1, s2, u2},    {"q\"\n\x01\xc3\xa9", CLIPT_ST_U8, 0, NULL, u2},
    };
    static const char *const meta[] = {"format", "pt"};
    ck_assert_int_eq(clipt_st_write(path, entries, 6, meta, 1), CLIPT_OK);
    bytes = clipt_test_read_file(path, &n);
    const char *want =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"i\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[16,40]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[40,48]},"
        "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[48,52]},"
        "\"q\\\"\\n\\u0001\xc3\xa9\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[52,53]},"
        "\"u\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[53,55]}}";
    size_t header = (strlen(want) + 7) / 8 * 8;
    ck_assert_uint_eq(n, 8 + header + 55);
    uint64_t length = 0;
    for (int k = 7; k >= 0; k--) length = (length << 8) | (unsigned char)bytes[k];
    ck_assert_uint_eq(length, header);
    ck_assert(memcmp(bytes + 8, want, strlen(want)) == 0);
    for (size_t k = strlen(want); k < header; k++) ck_assert_int_eq(bytes[8 + k], ' ');
    free(bytes);

    /* the reader gets the same names and bytes back */
    clipt_st_file *f = NULL;
    ck_assert_int_eq(clipt_st_open(path, &f), CLIPT_OK);
    const clipt_st_tensor *q = clipt_st_find(f, "q\"\n\x01\xc3\xa9");
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(q->data[0], 1);
    ck_assert(memcmp(clipt_st_find(f, "i")->data, i2, sizeof i2) == 0);
    clipt_st_close(f);

    clipt_test_remove_tree(tmp);
    free(path);
    free(tmp);
}
END_TEST

START_TEST(writer_rejects_bad_entries)
{
    char *tmp = clipt_test_tempdir();
    char *path = clipt_test_join(tmp, "x.safetensors");
    static const uint64_t s1[1] = {1}, s3[1] = {3};
    float one = 1.0f;
    clipt_st_entry dup[2] = {{"a", CLIPT_ST_F32, 1, s1, &one}, {"a", CLIPT_ST_F32, 1, s1, &one}};
    ck_assert_int_eq(clipt_st_write(path, dup, 2, NULL, 0), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "twice"));
    clipt_st_entry reserved = {"__metadata__", CLIPT_ST_F32, 1, s1, &one};
    ck_assert_int_eq(clipt_st_write(path, &reserved, 1, NULL, 0), CLIPT_ERR_INVALID_ARGUMENT);
    clipt_st_entry partial = {"f4", CLIPT_ST_F4, 1, s3, &one};
    ck_assert_int_eq(clipt_st_write(path, &partial, 1, NULL, 0), CLIPT_ERR_INVALID_ARGUMENT);
    /* nothing was written, not even a temporary file */
    DIR *d = opendir(tmp);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) entries += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(entries, 0);
    clipt_test_remove_tree(tmp);
    free(path);
    free(tmp);
}
END_TEST

START_TEST(atomic_write_replaces_whole_files)
{
    char *tmp = clipt_test_tempdir();
    char *path = clipt_test_join(tmp, "file");
    clipt_test_write_file(path, "old contents", 12);
    ck_assert_int_eq(clipt_write_file_atomic(path, "new", 3), CLIPT_OK);
    size_t n = 0;
    char *text = clipt_test_read_file(path, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert(memcmp(text, "new", 3) == 0);
    free(text);
    DIR *d = opendir(tmp);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) entries += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(entries, 1); /* no temporary file left behind */

    char *missing = clipt_test_join(tmp, "no-such-dir/file");
    ck_assert_int_eq(clipt_write_file_atomic(missing, "x", 1), CLIPT_ERR_FILE_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "no-such-dir"));
    clipt_test_remove_tree(tmp);
    free(missing);
    free(path);
    free(tmp);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_add_test(tc, dtype_table_is_complete);
    tcase_add_test(tc, reader_accepts_what_the_format_allows);
    tcase_add_test(tc, half_precision_parameters_convert);
    tcase_add_test(tc, f16_conversion_is_exact_and_rounds_to_even);
    tcase_add_test(tc, bf16_conversion_is_exact_and_rounds_to_even);
    tcase_add_test(tc, writer_matches_reference_layout);
    tcase_add_test(tc, writer_rejects_bad_entries);
    tcase_add_test(tc, atomic_write_replaces_whole_files);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "safetensors");
}
