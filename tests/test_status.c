/* Status codes, their names and sentences, the per-thread error message
 * and the version. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "internal.h"

START_TEST(every_status_has_name_and_text)
{
    static const struct {
        clipt_status status;
        const char *name;
    } all[] = {
#define ENTRY(name, value, text) {name, #name},
        CLIPT_STATUS_LIST(ENTRY)
#undef ENTRY
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        ck_assert_str_eq(clipt_status_name(all[i].status), all[i].name);
        const char *text = clipt_status_string(all[i].status);
        ck_assert_msg(text != NULL && strlen(text) > 3, "%s has no sentence", all[i].name);
        ck_assert_str_ne(text, "unknown status");
        /* the kind is the hundreds digit: 0 success, 1..5 failures */
        ck_assert_int_le((int)all[i].status / 100, 5);
    }
    ck_assert_int_eq(CLIPT_OK, 0);
    ck_assert_int_eq(CLIPT_ERR_INVALID_ARGUMENT, 100);
    ck_assert_int_eq(CLIPT_ERR_UNSUPPORTED, 200);
    ck_assert_int_eq(CLIPT_ERR_OUT_OF_MEMORY, 300);
    ck_assert_int_eq(CLIPT_ERR_CUDA, 400);
    ck_assert_int_eq(CLIPT_ERR_INTERNAL, 500);
}
END_TEST

START_TEST(unknown_status_values)
{
    ck_assert_str_eq(clipt_status_name((clipt_status)12345), "CLIPT_UNKNOWN_STATUS");
    ck_assert_str_eq(clipt_status_string((clipt_status)-1), "unknown status");
}
END_TEST

static void *set_error_in_thread(void *arg)
{
    (void)arg;
    clipt_set_error(CLIPT_ERR_IO, "message from the second thread");
    static char copy[128];
    snprintf(copy, sizeof copy, "%s", clipt_last_error());
    return copy;
}

START_TEST(error_message_is_per_thread)
{
    clipt_clear_error();
    ck_assert_str_eq(clipt_last_error(), "");
    ck_assert_int_eq(clipt_set_error(CLIPT_ERR_SHAPE, "shape %d of %s", 3, "x"), CLIPT_ERR_SHAPE);
    ck_assert_str_eq(clipt_last_error(), "shape 3 of x");
    pthread_t th;
    void *other = NULL;
    ck_assert_int_eq(pthread_create(&th, NULL, set_error_in_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(th, &other), 0);
    ck_assert_str_eq((const char *)other, "message from the second thread");
    ck_assert_str_eq(clipt_last_error(), "shape 3 of x");
    ck_assert_int_eq(clipt_error_prefix(CLIPT_ERR_SHAPE, "loading %s", "model.safetensors"),
                     CLIPT_ERR_SHAPE);
    ck_assert_str_eq(clipt_last_error(), "loading model.safetensors: shape 3 of x");
    clipt_clear_error();
    ck_assert_str_eq(clipt_last_error(), "");
}
END_TEST

START_TEST(long_messages_are_truncated_safely)
{
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    clipt_set_error(CLIPT_ERR_IO, "%s", big);
    ck_assert_uint_lt(strlen(clipt_last_error()), 1024);
    clipt_error_prefix(CLIPT_ERR_IO, "%s", big);
    ck_assert_uint_lt(strlen(clipt_last_error()), 1024);
}
END_TEST

START_TEST(version_matches_header)
{
    ck_assert_int_eq(clipt_version(), CLIPT_VERSION_NUMBER);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", CLIPT_VERSION_MAJOR, CLIPT_VERSION_MINOR,
             CLIPT_VERSION_PATCH);
    ck_assert_str_eq(clipt_version_string(), want);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, every_status_has_name_and_text);
    tcase_add_test(tc, unknown_status_values);
    tcase_add_test(tc, error_message_is_per_thread);
    tcase_add_test(tc, long_messages_are_truncated_safely);
    tcase_add_test(tc, version_matches_header);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "status");
}
