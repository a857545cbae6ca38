/* CUDA context bring-up: device selection, the stream and the device
 * description. The CUDA runtime is linked statically; it loads the driver
 * only when this code first runs, so a CPU-only program never needs it. */
#include <cuda_runtime.h>

#include <stdio.h>
#include <stdlib.h>

#include "backend.h"

typedef struct clipt_cuda_state {
    int device;
    cudaStream_t stream;
} clipt_cuda_state;

extern "C" clipt_status clipt_cuda_context_init(clipt_context *ctx, int device)
{
    (void)ctx;
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        clipt_status st = clipt_set_error(CLIPT_ERR_NO_DEVICE,
                                          "no usable CUDA device: %s (%s)",
                                          cudaGetErrorString(err),
                                          cudaGetErrorName(err));
        (void)cudaGetLastError();
        return st;
    }
    if (count == 0 || device >= count) {
        return clipt_set_error(CLIPT_ERR_NO_DEVICE,
                               "CUDA device %d requested, but %d device%s "
                               "visible",
                               device, count, count == 1 ? " is" : "s are");
    }
    /* NOTE: the CUDA ops of the backend table are not built yet, so a CUDA
     * context cannot run a model. */
    return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                           "CUDA device %d found, but the CUDA backend's ops "
                           "are not built into this libclipt; use device "
                           "\"cpu\"",
                           device);
}

extern "C" void clipt_cuda_context_release(clipt_context *ctx)
{
    clipt_cuda_state *st = (clipt_cuda_state *)ctx->cuda;
    if (st == NULL) return;
    if (st->stream != NULL) cudaStreamDestroy(st->stream);
    free(st);
    ctx->cuda = NULL;
}
