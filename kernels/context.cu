/* CUDA context: device selection, the stream, device properties, cuBLAS
 * (opened with dlopen, so libclipt has no link-time dependency on any CUDA
 * shared library), its workspace, and the error and scratch helpers the
 * other CUDA files share.
 *
 * The CUDA runtime is linked statically and loads the driver only when this
 * code first runs, so a program that never requests a CUDA context needs no
 * driver, GPU or cuBLAS. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_common.h"

/* cuBLAS libraries tried in order: the CUDA 13 soname, then the
 * unversioned development link, which may point at another major
 * version. */
static const char *const cublas_names[] = {"libcublas.so.13", "libcublas.so"};

/* Workspace given to cuBLAS: 32 MiB on compute capability 9.0 and newer,
 * 4 MiB before. NOTE: these are the sizes NVIDIA's cuBLAS guide recommends
 * for cublasSetWorkspace as recalled, not re-read against cuBLAS 13. */
#define CUBLAS_WORKSPACE_HOPPER (32u << 20)
#define CUBLAS_WORKSPACE_OTHER (4u << 20)

/* ------------------------------------------------------------------------ */
/* Errors, launches, scratch                                                */
/* ------------------------------------------------------------------------ */

clipt_status clipt_cuda_error(cudaError_t err, const char *what)
{
    /* Clear the runtime's last error so the next check does not see it
     * again; sticky errors (a kernel fault) stay on the device anyway. */
    (void)cudaGetLastError();
    clipt_status status = err == cudaErrorMemoryAllocation ? CLIPT_ERR_DEVICE_OUT_OF_MEMORY
                                                           : CLIPT_ERR_CUDA;
    return clipt_set_error(status, "%s: %s (%s)", what, cudaGetErrorString(err),
                           cudaGetErrorName(err));
}

clipt_status clipt_cublas_error(const clipt_cuda_state *st,
                                cublasStatus_t status, const char *what)
{
    return clipt_set_error(CLIPT_ERR_CUBLAS, "%s: %s (%s)", what,
                           st->cublas.status_string(status),
                           st->cublas.status_name(status));
}

clipt_status clipt_cuda_begin(clipt_context *ctx, const char *op,
                              clipt_cuda_state **out)
{
    clipt_cuda_state *st = ctx != NULL ? (clipt_cuda_state *)ctx->cuda : NULL;
    if (st == NULL) {
        return clipt_set_error(CLIPT_ERR_MISUSE,
                               "%s: CUDA op called with a context that has no "
                               "CUDA device",
                               op);
    }
    /* Contexts on different devices may share a host thread. */
    cudaError_t err = cudaSetDevice(st->device);
    if (err != cudaSuccess) return clipt_cuda_error(err, op);
    *out = st;
    return CLIPT_OK;
}

clipt_status clipt_cuda_check_launch(const char *op, const char *kernel)
{
    cudaError_t err = cudaGetLastError();
    if (err == cudaSuccess) return CLIPT_OK;
    clipt_status status = err == cudaErrorMemoryAllocation ? CLIPT_ERR_DEVICE_OUT_OF_MEMORY
                                                           : CLIPT_ERR_CUDA;
    return clipt_set_error(status, "%s: launch of kernel %s failed: %s (%s)", op,
                           kernel, cudaGetErrorString(err), cudaGetErrorName(err));
}

clipt_status clipt_cuda_scratch(clipt_cuda_state *st, size_t bytes,
                                const char *op, void **out)
{
    if (bytes <= st->scratch_bytes && st->scratch != NULL) {
        *out = st->scratch;
        return CLIPT_OK;
    }
    /* Earlier ops on the stream may still read the old buffer. */
    if (st->scratch != NULL) {
        cudaError_t err = cudaStreamSynchronize(st->stream);
        if (err == cudaSuccess) err = cudaFree(st->scratch);
        st->scratch = NULL;
        st->scratch_bytes = 0;
        if (err != cudaSuccess) return clipt_cuda_error(err, op);
    }
    /* Grow by at least half again, so a slowly growing batch size does not
     * reallocate on every step. */
    size_t want = bytes + bytes / 2;
    void *p = NULL;
    cudaError_t err = cudaMalloc(&p, want);
    if (err != cudaSuccess) {
        (void)cudaGetLastError();
        return clipt_set_error(CLIPT_ERR_DEVICE_OUT_OF_MEMORY,
                               "%s: out of device memory allocating %zu bytes "
                               "of scratch on cuda:%d: %s",
                               op, want, st->device, cudaGetErrorString(err));
    }
    st->scratch = p;
    st->scratch_bytes = want;
    *out = p;
    return CLIPT_OK;
}

unsigned int clipt_cuda_grid_stride_blocks(const clipt_cuda_state *st,
                                           size_t n, unsigned int threads)
{
    size_t needed = (n + threads - 1) / threads;
    size_t cap = (size_t)st->sm_count * 32;
    if (needed > cap) needed = cap;
    return needed > 0 ? (unsigned int)needed : 1u;
}

/* ------------------------------------------------------------------------ */
/* cuBLAS loading                                                           */
/* ------------------------------------------------------------------------ */

/* Looks up one symbol; on failure records which and returns NULL. */
static void *cublas_symbol(void *library, const char *name, const char *path)
{
    void *sym = dlsym(library, name);
    if (sym == NULL) {
        clipt_set_error(CLIPT_ERR_CUBLAS,
                        "%s has no symbol %s; libclipt needs cuBLAS 12 or "
                        "newer",
                        path, name);
    }
    return sym;
}

static clipt_status load_cublas(clipt_cublas_api *api)
{
    const char *path = NULL;
    const char *first_error = NULL;
    char first_error_copy[512] = "";
    for (size_t i = 0; i < sizeof cublas_names / sizeof cublas_names[0]; i++) {
        api->library = dlopen(cublas_names[i], RTLD_NOW | RTLD_LOCAL);
        if (api->library != NULL) {
            path = cublas_names[i];
            break;
        }
        if (first_error == NULL) {
            first_error = dlerror();
            if (first_error != NULL) {
                snprintf(first_error_copy, sizeof first_error_copy, "%s", first_error);
            }
        }
    }
    if (api->library == NULL) {
        return clipt_set_error(CLIPT_ERR_CUBLAS,
                               "cannot load cuBLAS (tried libcublas.so.13 and "
                               "libcublas.so): %s; install the CUDA 13 cuBLAS "
                               "library or add its folder to LD_LIBRARY_PATH",
                               first_error_copy);
    }

    /* Each assignment converts the looked-up address to the declared type. */
#define CLIPT_CUBLAS_LOOKUP(field, name)                                      \
    do {                                                                      \
        void *sym_ = cublas_symbol(api->library, (name), path);               \
        if (sym_ == NULL) return CLIPT_ERR_CUBLAS;                            \
        memcpy(&api->field, &sym_, sizeof sym_);                              \
    } while (0)
    CLIPT_CUBLAS_LOOKUP(create, "cublasCreate_v2");
    CLIPT_CUBLAS_LOOKUP(destroy, "cublasDestroy_v2");
    CLIPT_CUBLAS_LOOKUP(set_stream, "cublasSetStream_v2");
    CLIPT_CUBLAS_LOOKUP(set_workspace, "cublasSetWorkspace_v2");
    CLIPT_CUBLAS_LOOKUP(set_math_mode, "cublasSetMathMode");
    CLIPT_CUBLAS_LOOKUP(gemm_ex, "cublasGemmEx");
    CLIPT_CUBLAS_LOOKUP(status_name, "cublasGetStatusName");
    CLIPT_CUBLAS_LOOKUP(status_string, "cublasGetStatusString");
#undef CLIPT_CUBLAS_LOOKUP

    cublasStatus_t (*get_property)(libraryPropertyType, int *) = NULL;
    void *sym = dlsym(api->library, "cublasGetProperty");
    memcpy(&get_property, &sym, sizeof sym);
    int major = 0, minor = 0, patch = 0;
    if (get_property != NULL) {
        get_property(MAJOR_VERSION, &major);
        get_property(MINOR_VERSION, &minor);
        get_property(PATCH_LEVEL, &patch);
    }
    api->version = major * 10000 + minor * 100 + patch;
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Context setup and release                                                */
/* ------------------------------------------------------------------------ */

/* Creates the cuBLAS handle bound to the context's stream, with its
 * workspace and the math mode that ctx->allow_tf32 selects. */
static clipt_status setup_cublas(clipt_context *ctx, clipt_cuda_state *st)
{
    CLIPT_TRY(load_cublas(&st->cublas));
    cublasStatus_t cs = st->cublas.create(&st->cublas_handle);
    if (cs != CUBLAS_STATUS_SUCCESS) {
        st->cublas_handle = NULL;
        return clipt_cublas_error(st, cs, "creating the cuBLAS handle");
    }
    cs = st->cublas.set_stream(st->cublas_handle, st->stream);
    if (cs != CUBLAS_STATUS_SUCCESS) {
        return clipt_cublas_error(st, cs, "binding cuBLAS to the context's stream");
    }
    st->cublas_workspace_bytes = st->cc_major >= 9 ? CUBLAS_WORKSPACE_HOPPER
                                                   : CUBLAS_WORKSPACE_OTHER;
    cudaError_t err = cudaMalloc(&st->cublas_workspace, st->cublas_workspace_bytes);
    if (err != cudaSuccess) {
        st->cublas_workspace = NULL;
        return clipt_cuda_error(err, "allocating the cuBLAS workspace");
    }
    cs = st->cublas.set_workspace(st->cublas_handle, st->cublas_workspace,
                                  st->cublas_workspace_bytes);
    if (cs != CUBLAS_STATUS_SUCCESS) {
        return clipt_cublas_error(st, cs, "setting the cuBLAS workspace");
    }
    /* The compute type of each cublasGemmEx call selects TF32 too; the math
     * mode keeps any other cuBLAS call consistent with it. */
    cs = st->cublas.set_math_mode(st->cublas_handle, ctx->allow_tf32
                                                         ? CUBLAS_TF32_TENSOR_OP_MATH
                                                         : CUBLAS_DEFAULT_MATH);
    if (cs != CUBLAS_STATUS_SUCCESS) {
        return clipt_cublas_error(st, cs, "setting the cuBLAS math mode");
    }
    return CLIPT_OK;
}

/* Releases whatever part of the state exists. */
static void release_state(clipt_cuda_state *st)
{
    if (st == NULL) return;
    (void)cudaSetDevice(st->device);
    if (st->stream != NULL) (void)cudaStreamSynchronize(st->stream);
    if (st->cublas_handle != NULL) st->cublas.destroy(st->cublas_handle);
    if (st->cublas.library != NULL) dlclose(st->cublas.library);
    if (st->cublas_workspace != NULL) (void)cudaFree(st->cublas_workspace);
    if (st->scratch != NULL) (void)cudaFree(st->scratch);
    if (st->stream != NULL) (void)cudaStreamDestroy(st->stream);
    (void)cudaGetLastError();
    free(st);
}

extern "C" clipt_status clipt_cuda_context_init(clipt_context *ctx, int device)
{
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        (void)cudaGetLastError();
        return clipt_set_error(CLIPT_ERR_NO_DEVICE,
                               "device \"cuda:%d\" requested, but the CUDA "
                               "runtime found no usable device: %s (%s); a GPU "
                               "with an NVIDIA driver for CUDA %d.%d or newer "
                               "is needed, or use device \"cpu\"",
                               device, cudaGetErrorString(err), cudaGetErrorName(err),
                               CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10);
    }
    if (count == 0 || device >= count) {
        return clipt_set_error(CLIPT_ERR_NO_DEVICE,
                               "device \"cuda:%d\" requested, but %d CUDA "
                               "device%s visible",
                               device, count, count == 1 ? " is" : "s are");
    }

    clipt_cuda_state *st = (clipt_cuda_state *)calloc(1, sizeof *st);
    if (st == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory allocating CUDA context state");
    }
    st->device = device;
    clipt_status status = CLIPT_OK;
    cudaDeviceProp prop;
    err = cudaSetDevice(device);
    if (err == cudaSuccess) err = cudaGetDeviceProperties(&prop, device);
    if (err != cudaSuccess) {
        status = clipt_cuda_error(err, "reading the CUDA device properties");
        goto fail;
    }
    /* The library carries machine code for sm_80 and sm_90 and PTX for
     * compute_90; older devices can run none of it. */
    if (prop.major < 8) {
        status = clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                                 "cuda:%d (%s) has compute capability %d.%d; "
                                 "libclipt's kernels need 8.0 or newer",
                                 device, prop.name, prop.major, prop.minor);
        goto fail;
    }
    st->sm_count = prop.multiProcessorCount;
    st->cc_major = prop.major;
    st->cc_minor = prop.minor;
    st->shared_per_block = prop.sharedMemPerBlock;
    st->total_memory = prop.totalGlobalMem;

    err = cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking);
    if (err != cudaSuccess) {
        st->stream = NULL;
        status = clipt_cuda_error(err, "creating the context's CUDA stream");
        goto fail;
    }
    status = setup_cublas(ctx, st);
    if (status != CLIPT_OK) goto fail;

    /* The device name is at most 255 characters; keep 160 of them so the
     * rest of the line always fits. */
    snprintf(ctx->description, sizeof ctx->description, "cuda:%d: %.160s, %.0f GiB",
             device, prop.name, (double)prop.totalGlobalMem / (1u << 30));
    clipt_log(ctx, CLIPT_LOG_DEBUG,
              "cuda:%d: compute capability %d.%d, %d multiprocessors, cuBLAS "
              "%d.%d.%d, TF32 %s",
              device, prop.major, prop.minor, prop.multiProcessorCount,
              st->cublas.version / 10000, st->cublas.version / 100 % 100,
              st->cublas.version % 100, ctx->allow_tf32 ? "on" : "off");
    ctx->cuda = st;
    ctx->device_index = device;
    ctx->backend = &clipt_cuda_backend;
    return CLIPT_OK;

fail:
    release_state(st);
    return status;
}

extern "C" void clipt_cuda_context_release(clipt_context *ctx)
{
    release_state((clipt_cuda_state *)ctx->cuda);
    ctx->cuda = NULL;
}
