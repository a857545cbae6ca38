/* Context creation: parse the device string, pick the backend, set up the
 * CUDA state only for a CUDA context. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "cpu/blas.h"

CLIPT_API void clipt_context_options_init(clipt_context_options *options)
{
    if (options == NULL) return;
    memset(options, 0, sizeof *options);
    options->device = "auto";
    options->num_threads = 0;
    options->allow_tf32 = 0;
    options->log_fn = NULL;
    options->log_user_data = NULL;
    options->log_level = CLIPT_LOG_INFO;
}

CLIPT_API int clipt_has_cuda(void)
{
#ifdef CLIPT_WITH_CUDA
    return 1;
#else
    return 0;
#endif
}

#ifndef CLIPT_WITH_CUDA
clipt_status clipt_cuda_context_init(clipt_context *ctx, int device)
{
    (void)ctx;
    (void)device;
    return clipt_set_error(CLIPT_ERR_NO_CUDA,
                           "device \"cuda\" requested, but this libclipt was "
                           "built without CUDA; rebuild with nvcc on the "
                           "PATH or use device \"cpu\"");
}

void clipt_cuda_context_release(clipt_context *ctx) { (void)ctx; }
#endif

enum device_request { REQUEST_CPU, REQUEST_CUDA, REQUEST_AUTO };

/* Parses "cpu", "cuda", "cuda:N" or "auto" into a request and an index. */
static clipt_status parse_device(const char *device, enum device_request *req,
                                 int *index)
{
    *index = 0;
    if (device == NULL || strcmp(device, "auto") == 0) {
        *req = REQUEST_AUTO;
        return CLIPT_OK;
    }
    if (strcmp(device, "cpu") == 0) {
        *req = REQUEST_CPU;
        return CLIPT_OK;
    }
    if (strcmp(device, "cuda") == 0) {
        *req = REQUEST_CUDA;
        return CLIPT_OK;
    }
    if (strncmp(device, "cuda:", 5) == 0 && isdigit((unsigned char)device[5])) {
        char *end = NULL;
        errno = 0;
        long n = strtol(device + 5, &end, 10);
        if (errno == 0 && *end == '\0' && n >= 0 && n < 1024) {
            *req = REQUEST_CUDA;
            *index = (int)n;
            return CLIPT_OK;
        }
    }
    return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                           "invalid device \"%s\": expected \"cpu\", "
                           "\"cuda\", \"cuda:N\" or \"auto\"",
                           device);
}

static void setup_cpu(clipt_context *ctx)
{
    ctx->backend = &clipt_cpu_backend;
    ctx->device_index = -1;
    char blas[64];
    clipt_blas_describe(blas, sizeof blas);
    snprintf(ctx->description, sizeof ctx->description,
             "cpu: %d thread%s, %s", ctx->num_threads,
             ctx->num_threads == 1 ? "" : "s", blas);
}

CLIPT_API clipt_status clipt_context_create(
    const clipt_context_options *options, clipt_context **out)
{
    if (out == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_context_create: out is NULL");
    }
    *out = NULL;
    clipt_context_options defaults;
    if (options == NULL) {
        clipt_context_options_init(&defaults);
        options = &defaults;
    }
    if (options->num_threads < 0 || options->num_threads > CLIPT_MAX_THREADS) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "num_threads is %d; use 0 for one thread per "
                               "processor or a count from 1 to %d",
                               options->num_threads, CLIPT_MAX_THREADS);
    }
    enum device_request req = REQUEST_AUTO;
    int index = 0;
    CLIPT_TRY(parse_device(options->device, &req, &index));

    clipt_context *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory allocating a context");
    }
    ctx->num_threads = options->num_threads;
    if (ctx->num_threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        if (n < 1) n = 1;
        if (n > CLIPT_MAX_THREADS) n = CLIPT_MAX_THREADS;
        ctx->num_threads = (int)n;
    }
    ctx->allow_tf32 = options->allow_tf32 != 0;
    ctx->log_fn = options->log_fn;
    ctx->log_user_data = options->log_user_data;
    ctx->log_level = options->log_level;

    if (req == REQUEST_CPU) {
        setup_cpu(ctx);
    } else {
        clipt_status st = clipt_cuda_context_init(ctx, index);
        if (st != CLIPT_OK) {
            if (req == REQUEST_CUDA) {
                free(ctx);
                return st;
            }
            clipt_log(ctx, CLIPT_LOG_INFO,
                      "device \"auto\": using the CPU (%s)",
                      clipt_last_error());
            clipt_clear_error();
            setup_cpu(ctx);
        }
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (ctx->backend == &clipt_cpu_backend && online > 0 && ctx->num_threads > online) {
        clipt_log(ctx, CLIPT_LOG_WARNING,
                  "num_threads %d is more than the %ld online processors; the "
                  "threads will share them and run slower",
                  ctx->num_threads, online);
    }
    clipt_log(ctx, CLIPT_LOG_INFO, "context: %s", ctx->description);
    *out = ctx;
    return CLIPT_OK;
}

CLIPT_API void clipt_context_free(clipt_context *ctx)
{
    if (ctx == NULL) return;
    if (ctx->cuda != NULL) clipt_cuda_context_release(ctx);
    free(ctx);
}

CLIPT_API const char *clipt_context_backend(const clipt_context *ctx)
{
    if (ctx == NULL || ctx->backend == NULL) return "none";
    return ctx->backend->name;
}

CLIPT_API clipt_status clipt_context_describe(const clipt_context *ctx,
                                              char *buf, size_t size)
{
    if (ctx == NULL || buf == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_context_describe: NULL argument");
    }
    if (size > 0) snprintf(buf, size, "%s", ctx->description);
    return CLIPT_OK;
}
