#include "cuda_harness.h"

#include "backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* What the probing child sends back through the pipe. */
typedef struct probe_result {
    int status;
    char message[1024];
} probe_result;

/* 1 when CLIPT_TEST_GPU_STANDIN=cpu: the suites then run against a second
 * CPU context instead of a GPU, which checks the suites' own code on a
 * machine without one (it says nothing about the CUDA backend). */
static int cpu_standin(void)
{
    const char *v = getenv("CLIPT_TEST_GPU_STANDIN");
    return v != NULL && strcmp(v, "cpu") == 0;
}

int clipt_test_cuda_available(char *why, size_t size)
{
    if (size > 0) why[0] = '\0';
    if (cpu_standin()) {
        snprintf(why, size, "CLIPT_TEST_GPU_STANDIN=cpu: a CPU context stands in for the GPU");
        return 1;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(why, size, "pipe for the CUDA probe failed: %s", strerror(errno));
        return 1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, size, "fork for the CUDA probe failed: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return 1;
    }
    if (pid == 0) {
        probe_result r;
        memset(&r, 0, sizeof r);
        clipt_context_options opts;
        clipt_context_options_init(&opts);
        opts.device = "cuda";
        clipt_context *ctx = NULL;
        r.status = clipt_context_create(&opts, &ctx);
        snprintf(r.message, sizeof r.message, "%s", r.status == CLIPT_OK ? "" : clipt_last_error());
        clipt_context_free(ctx);
        ssize_t written = write(fds[1], &r, sizeof r);
        _exit(written == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    probe_result r;
    memset(&r, 0, sizeof r);
    ssize_t got = read(fds[0], &r, sizeof r);
    close(fds[0]);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    if (got != (ssize_t)sizeof r) {
        snprintf(why, size, "the CUDA probe process ended without a result (wait status %d)",
                 wstatus);
        return 1;
    }
    if (r.status == CLIPT_ERR_NO_CUDA || r.status == CLIPT_ERR_NO_DEVICE) {
        snprintf(why, size, "%s", r.message);
        return 0;
    }
    if (r.status != CLIPT_OK) {
        snprintf(why, size, "%s: %s", clipt_status_name((clipt_status)r.status), r.message);
    }
    return 1;
}

int clipt_test_run_cuda_suite(Suite *(*make_suite)(void), const char *name)
{
    char why[1024];
    if (!clipt_test_cuda_available(why, sizeof why)) {
        clipt_test_skip(name, "no CUDA device");
        printf("  reason: %s\n", why);
        return clipt_test_run(suite_create(name), name);
    }
    if (why[0] != '\0') printf("CUDA probe: %s\n", why);
    return clipt_test_run(make_suite(), name);
}

int clipt_test_small_shapes(void)
{
    const char *v = getenv("CLIPT_TEST_SMALL_SHAPES");
    return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

clipt_context *clipt_test_cuda_context(int allow_tf32)
{
    clipt_context_options opts;
    clipt_context_options_init(&opts);
    opts.device = cpu_standin() ? "cpu" : "cuda";
    opts.num_threads = 2;
    opts.allow_tf32 = allow_tf32;
    clipt_context *ctx = NULL;
    clipt_status st = clipt_context_create(&opts, &ctx);
    ck_assert_msg(st == CLIPT_OK, "creating a CUDA context failed: %s: %s",
                  clipt_status_name(st), clipt_last_error());
    return ctx;
}

void *clipt_test_to_device(clipt_context *ctx, const void *host, size_t bytes)
{
    void *device = NULL;
    clipt_status st = ctx->backend->alloc(ctx, bytes, "test buffer", &device);
    ck_assert_msg(st == CLIPT_OK, "allocating %zu bytes failed: %s", bytes,
                  clipt_last_error());
    if (host != NULL) {
        st = ctx->backend->upload(ctx, device, host, bytes);
        ck_assert_msg(st == CLIPT_OK, "upload of %zu bytes failed: %s", bytes,
                      clipt_last_error());
    }
    return device;
}

void clipt_test_to_host(clipt_context *ctx, void *host, const void *device, size_t bytes)
{
    clipt_status st = ctx->backend->download(ctx, host, device, bytes);
    if (st == CLIPT_OK) st = ctx->backend->synchronize(ctx);
    ck_assert_msg(st == CLIPT_OK, "download of %zu bytes failed: %s", bytes,
                  clipt_last_error());
}

void clipt_test_device_free(clipt_context *ctx, void *device)
{
    ctx->backend->free(ctx, device);
}

void clipt_test_check_rel(const char *what, const float *got, const float *want,
                          size_t n, double rel)
{
    double *w = clipt_to_double(want, n);
    double scale = clipt_max_abs(w, n);
    CLIPT_CHECK_CLOSE(what, got, w, n, rel * scale, rel);
    free(w);
}

void clipt_test_fill_ids(int32_t *ids, size_t n, uint64_t seed, int V)
{
    float *u = clipt_test_calloc(n, sizeof(float));
    clipt_fill_uniform(u, n, seed, 0.0f, 1.0f);
    for (size_t i = 0; i < n; i++) {
        int id = (int)(u[i] * (float)V);
        ids[i] = id < V ? id : V - 1;
    }
    free(u);
}
