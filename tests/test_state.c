/* Training state files: a round trip of fp32 and byte sections, lookups
 * by name, kind and size, and corruption: every truncated prefix and every
 * single-bit change of a file must be rejected without returning a state. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "harness.h"

enum { NPARAMS = 37 };

/* Writes a state with parameters, two moments, a step and an empty blob. */
static void write_state(const char *path, float *params, float *m, float *v)
{
    for (int i = 0; i < NPARAMS; i++) {
        params[i] = 0.25f * (float)i - 3.0f;
        m[i] = 1e-3f * (float)i;
        v[i] = 1e-6f * (float)(i * i);
    }
    static const int64_t step = 1234;
    clipt_state_writer *w = NULL;
    ck_assert_int_eq(clipt_state_writer_create(&w), CLIPT_OK);
    ck_assert_int_eq(clipt_state_writer_add(w, "parameters", CLIPT_SECTION_FLOAT32, params,
                                            sizeof(float) * NPARAMS), CLIPT_OK);
    ck_assert_int_eq(clipt_state_writer_add(w, "adamw.m", CLIPT_SECTION_FLOAT32, m,
                                            sizeof(float) * NPARAMS), CLIPT_OK);
    ck_assert_int_eq(clipt_state_writer_add(w, "adamw.v", CLIPT_SECTION_FLOAT32, v,
                                            sizeof(float) * NPARAMS), CLIPT_OK);
    ck_assert_int_eq(clipt_state_writer_add(w, "step", CLIPT_SECTION_BYTES, &step,
                                            sizeof step), CLIPT_OK);
    ck_assert_int_eq(clipt_state_writer_add(w, "empty", CLIPT_SECTION_BYTES, NULL, 0),
                     CLIPT_OK);
    ck_assert_msg(clipt_state_writer_commit(w, path) == CLIPT_OK, "%s", clipt_last_error());
    clipt_state_writer_free(w);
}

START_TEST(state_round_trip)
{
    char *tmp = clipt_test_tempdir();
    char *path = clipt_test_join(tmp, "state.bin");
    float params[NPARAMS], m[NPARAMS], v[NPARAMS];
    clipt_test_write_file(path, "an older file", 13);
    write_state(path, params, m, v);

    clipt_state *st = NULL;
    ck_assert_msg(clipt_state_load(path, &st) == CLIPT_OK, "%s", clipt_last_error());
    ck_assert_int_eq(clipt_state_section_count(st), 5);
    clipt_section_info info;
    ck_assert_int_eq(clipt_state_section_info(st, 3, &info), CLIPT_OK);
    ck_assert_str_eq(info.name, "step");
    ck_assert_int_eq(info.kind, CLIPT_SECTION_BYTES);
    ck_assert_uint_eq(info.bytes, 8);
    ck_assert_int_eq(clipt_state_section_info(st, 5, &info), CLIPT_ERR_INVALID_ARGUMENT);

    float got[NPARAMS];
    ck_assert_int_eq(clipt_state_read(st, "parameters", CLIPT_SECTION_FLOAT32, got,
                                      sizeof got), CLIPT_OK);
    ck_assert(memcmp(got, params, sizeof got) == 0);
    ck_assert_int_eq(clipt_state_read(st, "adamw.v", CLIPT_SECTION_FLOAT32, got,
                                      sizeof got), CLIPT_OK);
    ck_assert(memcmp(got, v, sizeof got) == 0);
    const void *data = NULL;
    size_t bytes = 0;
    ck_assert_int_eq(clipt_state_get(st, "step", CLIPT_SECTION_BYTES, &data, &bytes),
                     CLIPT_OK);
    int64_t step;
    memcpy(&step, data, sizeof step);
    ck_assert_int_eq(step, 1234);
    ck_assert_int_eq(clipt_state_get(st, "empty", CLIPT_SECTION_BYTES, &data, &bytes),
                     CLIPT_OK);
    ck_assert_uint_eq(bytes, 0);

    /* lookups name what is wrong */
    ck_assert_int_eq(clipt_state_read(st, "parameters", CLIPT_SECTION_FLOAT32, got, 8),
                     CLIPT_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "148 bytes"));
    ck_assert_int_eq(clipt_state_read(st, "sampler", CLIPT_SECTION_BYTES, got, 8),
                     CLIPT_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "sampler"));
    ck_assert_int_eq(clipt_state_get(st, "step", CLIPT_SECTION_FLOAT32, &data, &bytes),
                     CLIPT_ERR_PARSE);
    clipt_state_free(st);

    /* the commit left one file and no temporary */
    DIR *d = opendir(tmp);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) entries += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(entries, 1);
    clipt_test_remove_tree(tmp);
    free(path);
    free(tmp);
}
END_TEST

START_TEST(writer_rejects_bad_sections)
{
    clipt_state_writer *w = NULL;
    ck_assert_int_eq(clipt_state_writer_create(&w), CLIPT_OK);
    float x[2] = {1, 2};
    char long_name[65];
    memset(long_name, 'n', 64);
    long_name[64] = '\0';
    ck_assert_int_eq(clipt_state_writer_add(w, "", CLIPT_SECTION_BYTES, x, 1),
                     CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_state_writer_add(w, long_name, CLIPT_SECTION_BYTES, x, 1),
                     CLIPT_ERR_INVALID_ARGUMENT);
    long_name[63] = '\0';
    ck_assert_int_eq(clipt_state_writer_add(w, long_name, CLIPT_SECTION_BYTES, x, 1),
                     CLIPT_OK);
    ck_assert_int_eq(clipt_state_writer_add(w, "x", CLIPT_SECTION_FLOAT32, x, 6),
                     CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_state_writer_add(w, "x", CLIPT_SECTION_BYTES, NULL, 6),
                     CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_state_writer_add(w, "x", (clipt_section_kind)7, x, 4),
                     CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_state_writer_add(w, "x", CLIPT_SECTION_FLOAT32, x, 8), CLIPT_OK);
    ck_assert_int_eq(clipt_state_writer_add(w, "x", CLIPT_SECTION_FLOAT32, x, 8),
                     CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "already"));
    ck_assert_int_eq(clipt_state_writer_commit(w, "/nonexistent-dir/state"),
                     CLIPT_ERR_FILE_NOT_FOUND);
    clipt_state_writer_free(w);
    clipt_state_writer_free(NULL);
    clipt_state_free(NULL);
}
END_TEST

/* Loads bytes written to path and requires a rejection. */
static void assert_rejected(const char *path, const char *bytes, size_t n,
                            const char *what)
{
    clipt_test_write_file(path, bytes, n);
    clipt_state *st = (clipt_state *)&st;
    clipt_status status = clipt_state_load(path, &st);
    ck_assert_msg(status == CLIPT_ERR_CORRUPT || status == CLIPT_ERR_PARSE ||
                      status == CLIPT_ERR_UNSUPPORTED,
                  "%s: status %s", what, clipt_status_name(status));
    ck_assert_ptr_null(st);
}

START_TEST(corruption_is_detected)
{
    char *tmp = clipt_test_tempdir();
    char *good = clipt_test_join(tmp, "good");
    char *bad = clipt_test_join(tmp, "bad");
    float params[NPARAMS], m[NPARAMS], v[NPARAMS];
    write_state(good, params, m, v);
    size_t n = 0;
    char *bytes = clipt_test_read_file(good, &n);
    char what[64];

    /* every truncation */
    for (size_t len = 0; len < n; len++) {
        snprintf(what, sizeof what, "truncated to %zu of %zu bytes", len, n);
        assert_rejected(bad, bytes, len, what);
    }
    clipt_state *st = NULL;
    clipt_test_write_file(bad, bytes, n / 2);
    ck_assert_int_eq(clipt_state_load(bad, &st), CLIPT_ERR_CORRUPT);
    printf("truncated: %s\n", clipt_last_error());

    /* every single-bit change, in every byte, and an appended byte */
    char *copy = clipt_test_calloc(n + 1, 1);
    for (size_t k = 0; k < n; k++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, bytes, n);
            copy[k] ^= (char)(1 << bit);
            snprintf(what, sizeof what, "bit %d of byte %zu flipped", bit, k);
            assert_rejected(bad, copy, n, what);
        }
    }
    memcpy(copy, bytes, n);
    assert_rejected(bad, copy, n + 1, "one byte appended");

    /* a section's data changed: the message names it */
    memcpy(copy, bytes, n);
    /* "step" starts on a 64-byte boundary and the empty last section on
     * the next one, where the file ends */
    copy[n - 64] ^= 0x40;
    clipt_test_write_file(bad, copy, n);
    ck_assert_int_eq(clipt_state_load(bad, &st), CLIPT_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "\"step\""));

    /* another file type, another version */
    ck_assert_int_eq(clipt_state_load(tmp, &st), CLIPT_ERR_IO);
    clipt_test_write_file(bad, "{\"not\": \"a state file\"}", 24);
    ck_assert_int_eq(clipt_state_load(bad, &st), CLIPT_ERR_PARSE);
    memcpy(copy, bytes, n);
    copy[8] = 2;
    clipt_test_write_file(bad, copy, n);
    ck_assert_int_eq(clipt_state_load(bad, &st), CLIPT_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "version 2"));
    char *missing = clipt_test_join(tmp, "missing");
    ck_assert_int_eq(clipt_state_load(missing, &st), CLIPT_ERR_FILE_NOT_FOUND);

    free(missing);
    free(copy);
    free(bytes);
    clipt_test_remove_tree(tmp);
    free(good);
    free(bad);
    free(tmp);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("state");
    TCase *tc = tcase_create("state");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, state_round_trip);
    tcase_add_test(tc, writer_rejects_bad_sections);
    tcase_add_test(tc, corruption_is_detected);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "state");
}
