/* Internal helpers shared by every file in lib/ and kernels/: error
 * reporting, logging, host allocation and the context structure. Nothing
 * here is part of the public API. */
#ifndef CLIPT_INTERNAL_H
#define CLIPT_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "clipt.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CLIPT_PRINTF(fmt_index, first_arg) \
    __attribute__((format(printf, fmt_index, first_arg)))
#else
#define CLIPT_PRINTF(fmt_index, first_arg)
#endif

/* Records a detail message for the calling thread and returns status, so a
 * failing function can write `return clipt_set_error(CLIPT_ERR_SHAPE, ...)`. */
clipt_status clipt_set_error(clipt_status status, const char *fmt, ...)
    CLIPT_PRINTF(2, 3);

/* Puts "prefix: " in front of the current detail message, so an outer
 * function can add the file or tensor it was working on. Returns status. */
clipt_status clipt_error_prefix(clipt_status status, const char *fmt, ...)
    CLIPT_PRINTF(2, 3);

/* Propagates a failing status to the caller. */
#define CLIPT_TRY(expr)                                                       \
    do {                                                                      \
        clipt_status clipt_try_status_ = (expr);                              \
        if (clipt_try_status_ != CLIPT_OK) return clipt_try_status_;          \
    } while (0)

/* Stores a failing status in `status` and jumps to the function's `fail:`
 * label, where resources are released. */
#define CLIPT_TRY_GOTO(expr)                                                  \
    do {                                                                      \
        status = (expr);                                                      \
        if (status != CLIPT_OK) goto fail;                                    \
    } while (0)

/* Host allocation that records "out of host memory allocating N bytes for
 * what" on failure. The pointer is 64-byte aligned; release with free(). */
clipt_status clipt_host_alloc(size_t bytes, const char *what, void **out);

/* Like clipt_host_alloc, but the memory is zeroed. */
clipt_status clipt_host_calloc(size_t bytes, const char *what, void **out);

/* Multiplies a * b into *out and returns 0 when the product overflows. */
int clipt_mul_overflows(size_t a, size_t b, size_t *out);

/* ------------------------------------------------------------------------ */
/* Context                                                                  */
/* ------------------------------------------------------------------------ */

struct clipt_backend;

struct clipt_context {
    const struct clipt_backend *backend;
    int num_threads;   /* CPU threads, >= 1 */
    int device_index;  /* CUDA device, -1 for the CPU backend */
    int allow_tf32;
    clipt_log_fn log_fn;
    void *log_user_data;
    clipt_log_level log_level;
    void *cuda;        /* backend state of a CUDA context, else NULL */
    char description[256];
};

/* Sends a formatted message to the context's log callback when level is at
 * or below the configured level. ctx may be NULL (then nothing happens). */
void clipt_log(const clipt_context *ctx, clipt_log_level level,
               const char *fmt, ...) CLIPT_PRINTF(3, 4);

#ifdef __cplusplus
}
#endif

#endif /* CLIPT_INTERNAL_H */
