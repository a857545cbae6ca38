/* Contexts: device strings, thread counts, CUDA availability reporting,
 * descriptions and the log callback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static clipt_status create(const char *device, int threads, clipt_context **ctx)
{
    clipt_context_options opts;
    clipt_context_options_init(&opts);
    opts.device = device;
    opts.num_threads = threads;
    return clipt_context_create(&opts, ctx);
}

START_TEST(cpu_context)
{
    clipt_context *ctx = NULL;
    ck_assert_int_eq(create("cpu", 3, &ctx), CLIPT_OK);
    ck_assert_str_eq(clipt_context_backend(ctx), "cpu");
    char desc[256];
    ck_assert_int_eq(clipt_context_describe(ctx, desc, sizeof desc), CLIPT_OK);
    ck_assert_msg(strncmp(desc, "cpu: 3 threads", 14) == 0, "description \"%s\"", desc);
    char tiny[4];
    ck_assert_int_eq(clipt_context_describe(ctx, tiny, sizeof tiny), CLIPT_OK);
    ck_assert_str_eq(tiny, "cpu");
    clipt_context_free(ctx);

    ck_assert_int_eq(create("cpu", 0, &ctx), CLIPT_OK); /* one per processor */
    ck_assert_int_eq(clipt_context_describe(ctx, desc, sizeof desc), CLIPT_OK);
    ck_assert_msg(strstr(desc, "thread") != NULL, "description \"%s\"", desc);
    clipt_context_free(ctx);

    ck_assert_int_eq(clipt_context_create(NULL, &ctx), CLIPT_OK); /* defaults: auto */
    clipt_context_free(ctx);
    clipt_context_free(NULL);
}
END_TEST

static const char *bad_devices[] = {"gpu", "", "cuda:", "cuda:x", "cuda:-1", "cuda:1x",
                                    "cuda:99999", "CPU", "cpu:0", " cuda"};

START_TEST(invalid_device_strings)
{
    clipt_context *ctx = (clipt_context *)bad_devices; /* must be reset to NULL */
    ck_assert_int_eq(create(bad_devices[_i], 1, &ctx), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ctx);
    char want[64];
    snprintf(want, sizeof want, "\"%s\"", bad_devices[_i]);
    ck_assert_msg(strstr(clipt_last_error(), want) != NULL, "message \"%s\" does not quote %s",
                  clipt_last_error(), want);
}
END_TEST

START_TEST(invalid_thread_count)
{
    clipt_context *ctx = NULL;
    ck_assert_int_eq(create("cpu", -2, &ctx), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "-2"));
    ck_assert_int_eq(create("cpu", CLIPT_MAX_THREADS + 1, &ctx), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ctx);
    ck_assert_int_eq(create("cpu", CLIPT_MAX_THREADS, &ctx), CLIPT_OK);
    clipt_context_free(ctx);
    ctx = NULL;
    ck_assert_int_eq(clipt_context_create(NULL, NULL), CLIPT_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(cuda_request_reports_availability)
{
    clipt_context *ctx = NULL;
    clipt_status st = create("cuda", 1, &ctx);
    if (!clipt_has_cuda()) {
        /* built without CUDA: always this status, with the fix in the message */
        ck_assert_int_eq(st, CLIPT_ERR_NO_CUDA);
        ck_assert_ptr_nonnull(strstr(clipt_last_error(), "without CUDA"));
    } else if (st == CLIPT_OK) {
        ck_assert_str_eq(clipt_context_backend(ctx), "cuda");
    } else {
        /* built with CUDA on a machine without a usable device or driver */
        ck_assert_int_eq(st, CLIPT_ERR_NO_DEVICE);
        ck_assert_ptr_nonnull(strstr(clipt_last_error(), "CUDA"));
    }
    int cuda_ok = st == CLIPT_OK;
    clipt_context_free(ctx);
    ctx = NULL;
    ck_assert_int_eq(create("cuda:1000", 1, &ctx), clipt_has_cuda() ? CLIPT_ERR_NO_DEVICE : CLIPT_ERR_NO_CUDA);

    /* "auto" never fails for lack of a device; it falls back to the CPU */
    ck_assert_int_eq(create("auto", 1, &ctx), CLIPT_OK);
    ck_assert_str_eq(clipt_context_backend(ctx), cuda_ok ? "cuda" : "cpu");
    clipt_context_free(ctx);
}
END_TEST

typedef struct {
    int calls;
    clipt_log_level last_level;
    char last[256];
} log_record;

static void record_log(void *user, clipt_log_level level, const char *message)
{
    log_record *r = user;
    r->calls++;
    r->last_level = level;
    snprintf(r->last, sizeof r->last, "%s", message);
}

START_TEST(log_callback_and_level)
{
    log_record rec = {0};
    clipt_context_options opts;
    clipt_context_options_init(&opts);
    opts.device = "cpu";
    opts.log_fn = record_log;
    opts.log_user_data = &rec;
    opts.log_level = CLIPT_LOG_INFO;
    clipt_context *ctx = NULL;
    ck_assert_int_eq(clipt_context_create(&opts, &ctx), CLIPT_OK);
    ck_assert_int_ge(rec.calls, 1);
    ck_assert_int_eq(rec.last_level, CLIPT_LOG_INFO);
    ck_assert_msg(strstr(rec.last, "context: cpu") != NULL, "last message \"%s\"", rec.last);
    clipt_context_free(ctx);

    memset(&rec, 0, sizeof rec);
    opts.log_level = CLIPT_LOG_ERROR; /* info messages are filtered out */
    ck_assert_int_eq(clipt_context_create(&opts, &ctx), CLIPT_OK);
    ck_assert_int_eq(rec.calls, 0);
    clipt_context_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("context");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, cpu_context);
    tcase_add_loop_test(tc, invalid_device_strings, 0, sizeof bad_devices / sizeof bad_devices[0]);
    tcase_add_test(tc, invalid_thread_count);
    tcase_add_test(tc, cuda_request_reports_availability);
    tcase_add_test(tc, log_callback_and_level);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "context");
}
