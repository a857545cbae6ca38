/* CUDA contexts, on any machine: without a usable device, "cuda" fails with
 * CLIPT_ERR_NO_DEVICE and a message that names what is missing and what to
 * do, and "auto" falls back to the CPU and logs why; with a device,
 * "cuda" works, describes the device, reports out-of-memory as a status
 * and stays usable after it. A build without CUDA answers
 * CLIPT_ERR_NO_CUDA. Nothing here is skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cuda_harness.h"

typedef struct log_record {
    int calls;
    char all[2048];
} log_record;

static void record_log(void *user, clipt_log_level level, const char *message)
{
    (void)level;
    log_record *r = user;
    r->calls++;
    size_t used = strlen(r->all);
    snprintf(r->all + used, sizeof r->all - used, "%s\n", message);
}

static clipt_status create(const char *device, log_record *rec, clipt_context **ctx)
{
    clipt_context_options opts;
    clipt_context_options_init(&opts);
    opts.device = device;
    opts.num_threads = 1;
    if (rec != NULL) {
        opts.log_fn = record_log;
        opts.log_user_data = rec;
        opts.log_level = CLIPT_LOG_DEBUG;
    }
    return clipt_context_create(&opts, ctx);
}

/* Checks a device's context: backend, description, a round trip through
 * device memory, and an allocation larger than any GPU. */
static void check_working_device(clipt_context *ctx)
{
    ck_assert_str_eq(clipt_context_backend(ctx), "cuda");
    char desc[256];
    ck_assert_int_eq(clipt_context_describe(ctx, desc, sizeof desc), CLIPT_OK);
    printf("  %s\n", desc);
    ck_assert_msg(strncmp(desc, "cuda:0: ", 8) == 0 && strstr(desc, " GiB") != NULL,
                  "description \"%s\"", desc);

    float host[5] = {1, 2, 3, 4, 5}, back[5] = {0};
    float *dev = clipt_test_to_device(ctx, host, sizeof host);
    clipt_test_to_host(ctx, back, dev, sizeof back);
    ck_assert_int_eq(memcmp(host, back, sizeof host), 0);

    void *huge = NULL;
    clipt_status st = ctx->backend->alloc(ctx, (size_t)1 << 50, "a test buffer of 1 PiB", &huge);
    ck_assert_int_eq(st, CLIPT_ERR_DEVICE_OUT_OF_MEMORY);
    ck_assert_ptr_null(huge);
    ck_assert_msg(strstr(clipt_last_error(), "a test buffer of 1 PiB") != NULL,
                  "message \"%s\" does not name the buffer", clipt_last_error());

    /* the context still works after the failed allocation */
    ck_assert_int_eq(ctx->backend->zero(ctx, dev, sizeof host), CLIPT_OK);
    clipt_test_to_host(ctx, back, dev, sizeof back);
    for (int i = 0; i < 5; i++) ck_assert_float_eq(back[i], 0.0f);
    clipt_test_device_free(ctx, dev);
}

START_TEST(cuda_context_or_clear_failure)
{
    clipt_context *ctx = NULL;
    log_record rec;
    memset(&rec, 0, sizeof rec);
    clipt_status st = create("cuda", NULL, &ctx);

    if (!clipt_has_cuda()) {
        ck_assert_int_eq(st, CLIPT_ERR_NO_CUDA);
        ck_assert_ptr_null(ctx);
        return;
    }
    if (st == CLIPT_OK) {
        printf("CUDA device present\n");
        check_working_device(ctx);
        clipt_context_free(ctx);

        ck_assert_int_eq(create("cuda:1000", NULL, &ctx), CLIPT_ERR_NO_DEVICE);
        ck_assert_ptr_nonnull(strstr(clipt_last_error(), "cuda:1000"));
        ck_assert_int_eq(create("auto", &rec, &ctx), CLIPT_OK);
        ck_assert_str_eq(clipt_context_backend(ctx), "cuda");
        ck_assert_msg(strstr(rec.all, "cuBLAS") != NULL, "log:\n%s", rec.all);
        clipt_context_free(ctx);
        return;
    }

    /* built with CUDA, no usable device: the message names the requested
     * device, what is missing and the alternative */
    printf("no CUDA device: %s\n", clipt_last_error());
    ck_assert_msg(st == CLIPT_ERR_NO_DEVICE, "status %s: %s", clipt_status_name(st),
                  clipt_last_error());
    ck_assert_ptr_null(ctx);
    const char *msg = clipt_last_error();
    ck_assert_msg(strstr(msg, "\"cuda:0\"") != NULL, "message \"%s\" does not name cuda:0", msg);
    ck_assert_msg(strstr(msg, "driver") != NULL, "message \"%s\" does not mention the driver",
                  msg);
    ck_assert_msg(strstr(msg, "\"cpu\"") != NULL, "message \"%s\" does not offer \"cpu\"", msg);

    /* "auto" falls back to the CPU, logs why, and leaves no error behind */
    ck_assert_int_eq(create("auto", &rec, &ctx), CLIPT_OK);
    ck_assert_str_eq(clipt_context_backend(ctx), "cpu");
    ck_assert_msg(strstr(rec.all, "using the CPU") != NULL && strstr(rec.all, "cuda:0") != NULL,
                  "log does not explain the fallback:\n%s", rec.all);
    ck_assert_str_eq(clipt_last_error(), "");
    clipt_context_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cuda_context");
    TCase *tc = tcase_create("context");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, cuda_context_or_clear_failure);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "cuda_context");
}
