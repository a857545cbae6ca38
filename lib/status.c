/* Status names, the per-thread detail message, logging and host allocation. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CLIPT_ERROR_MESSAGE_SIZE 1024

/* The one piece of global state: each thread's last detail message. */
static _Thread_local char error_message[CLIPT_ERROR_MESSAGE_SIZE];

CLIPT_API int clipt_version(void) { return CLIPT_VERSION_NUMBER; }

#define CLIPT_STRINGIFY_(x) #x
#define CLIPT_STRINGIFY(x) CLIPT_STRINGIFY_(x)

CLIPT_API const char *clipt_version_string(void)
{
    return CLIPT_STRINGIFY(CLIPT_VERSION_MAJOR) "." CLIPT_STRINGIFY(
        CLIPT_VERSION_MINOR) "." CLIPT_STRINGIFY(CLIPT_VERSION_PATCH);
}

CLIPT_API const char *clipt_status_name(clipt_status status)
{
    switch (status) {
#define CLIPT_STATUS_NAME_CASE(name, value, text) \
    case name:                                    \
        return #name;
        CLIPT_STATUS_LIST(CLIPT_STATUS_NAME_CASE)
#undef CLIPT_STATUS_NAME_CASE
    }
    return "CLIPT_UNKNOWN_STATUS";
}

CLIPT_API const char *clipt_status_string(clipt_status status)
{
    switch (status) {
#define CLIPT_STATUS_TEXT_CASE(name, value, text) \
    case name:                                    \
        return text;
        CLIPT_STATUS_LIST(CLIPT_STATUS_TEXT_CASE)
#undef CLIPT_STATUS_TEXT_CASE
    }
    return "unknown status";
}

CLIPT_API const char *clipt_last_error(void) { return error_message; }

CLIPT_API void clipt_clear_error(void) { error_message[0] = '\0'; }

clipt_status clipt_set_error(clipt_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return status;
}

clipt_status clipt_error_prefix(clipt_status status, const char *fmt, ...)
{
    char prefix[CLIPT_ERROR_MESSAGE_SIZE];
    char old[CLIPT_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_message, sizeof old);
    /* Truncation of an over-long message is acceptable here. */
    size_t used = strlen(prefix);
    if (used > sizeof error_message - 3) used = sizeof error_message - 3;
    memcpy(error_message, prefix, used);
    memcpy(error_message + used, ": ", 2);
    used += 2;
    size_t rest = strlen(old);
    if (rest > sizeof error_message - 1 - used) rest = sizeof error_message - 1 - used;
    memcpy(error_message + used, old, rest);
    error_message[used + rest] = '\0';
    return status;
}

void clipt_log(const clipt_context *ctx, clipt_log_level level,
               const char *fmt, ...)
{
    if (ctx == NULL || ctx->log_fn == NULL || level > ctx->log_level) return;
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    ctx->log_fn(ctx->log_user_data, level, message);
}

int clipt_mul_overflows(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return 1;
    *out = a * b;
    return 0;
}

clipt_status clipt_host_alloc(size_t bytes, const char *what, void **out)
{
    *out = NULL;
    /* aligned_alloc needs a size that is a multiple of the alignment. */
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded < bytes) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "allocating %zu bytes for %s: size overflows",
                               bytes, what);
    }
    void *p = aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (p == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory allocating %zu bytes for %s",
                               bytes, what);
    }
    *out = p;
    return CLIPT_OK;
}

clipt_status clipt_host_calloc(size_t bytes, const char *what, void **out)
{
    CLIPT_TRY(clipt_host_alloc(bytes, what, out));
    memset(*out, 0, bytes);
    return CLIPT_OK;
}
