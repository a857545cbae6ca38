/* The training loss in one fused kernel. It computes each pair's cosine
 * similarity and squared distance to the target, the MSE regulariser
 * against the cached original embeddings, and the gradient of both with
 * respect to E, then reduces the batch loss in a fixed order. CPU twin:
 * lib/cpu/loss.c, whose header gives the formulas.
 *
 * Shapes: E, E0, dE (U,P); pair_a, pair_b, target, cos (N); losses (3):
 *         total, distance, regulariser.
 * Mapping: cosine_loss_block_per_text: one block of 256 threads per text
 *   u, grid U. The block walks the pairs in order and handles those that
 *   name u: threads stride over the P channels, the three dot products are
 *   block sums in double, and each thread adds the pair's gradient into
 *   its own channels of dE[u], first as pair_a then as pair_b, the CPU's
 *   order. A pair's squared distance and cos value belong to the block of
 *   pair_a. The block then adds the regulariser's gradient and writes its
 *   distance and regulariser sums to scratch. The last block to finish
 *   (an integer ticket, incremented atomically) adds the U partial sums in
 *   a fixed order and writes losses.
 * Shared memory: 32 doubles for block sums and one flag.
 * Numerics: double, like the CPU reference, rounded to fp32 when stored.
 *   No float is ever added atomically, so the result is the same on every
 *   run. Each block rescans the N pair indices, O(U N) reads in total,
 *   small next to the encoder for the batch sizes this loss serves.
 * Limits: N, U, P >= 1. A pair index outside [0, U) makes the distance
 *   and that pair's cos NaN (the caller's finiteness check reports it)
 *   instead of reading outside E.
 */
#include <math.h>

#include "cuda_common.h"
#include "ops/loss.h"

#define LOSS_THREADS 256
#define COSINE_EPS 1e-8

/* ------------------------------------------------------------------------ */
/* Kernel                                                                   */
/* ------------------------------------------------------------------------ */

__global__ void __launch_bounds__(LOSS_THREADS)
cosine_loss_block_per_text(float *losses, float *cos, float *dE, const float *E,
                           const float *E0, const int32_t *pair_a, const int32_t *pair_b,
                           const float *target, int N, int U, int P, float lambda,
                           double *partial, unsigned int *ticket)
{
    __shared__ double red_s[32];
    __shared__ int is_last_s;
    int u = blockIdx.x;
    const float *Eu = E + (size_t)u * P;
    float *dEu = dE != NULL ? dE + (size_t)u * P : NULL;
    double distance_part = 0.0; /* pairs whose first text is u */

    /* Every branch below depends only on n and u, so the whole block takes
     * it together and the block sums inside stay collective. */
    for (int n = 0; n < N; n++) {
        int a = pair_a[n], b = pair_b[n];
        if (a < 0 || a >= U || b < 0 || b >= U) {
            if (u == 0) {
                distance_part = NAN;
                if (cos != NULL && threadIdx.x == 0) cos[n] = NAN;
            }
            continue;
        }
        if (a != u && b != u) continue;
        const float *ea = E + (size_t)a * P;
        const float *eb = E + (size_t)b * P;

        /* <E_a, E_b>, |E_a|^2 and |E_b|^2 */
        double dot = 0.0, saa = 0.0, sbb = 0.0;
        for (int k = threadIdx.x; k < P; k += blockDim.x) {
            double x = ea[k], y = eb[k];
            dot += x * y;
            saa += x * x;
            sbb += y * y;
        }
        dot = clipt_block_sum(dot, red_s);
        saa = clipt_block_sum(saa, red_s);
        sbb = clipt_block_sum(sbb, red_s);
        double norm_a = sqrt(saa), norm_b = sqrt(sbb);
        double na = norm_a > COSINE_EPS ? norm_a : COSINE_EPS;
        double nb = norm_b > COSINE_EPS ? norm_b : COSINE_EPS;
        double c = dot / (na * nb);
        double diff = (double)target[n] - c;
        if (a == u) {
            distance_part += diff * diff;
            if (cos != NULL && threadIdx.x == 0) cos[n] = (float)c;
        }
        if (dEu == NULL) continue;

        /* dL/dc = -2 (target - c) / N; dc/dE_a = E_b / (na nb) - c E_a / na^2,
         * the second term only while |E_a| > eps (the clamp is constant) */
        double dc = -2.0 * diff / N;
        if (a == u) {
            double ga = norm_a > COSINE_EPS ? c / (na * na) : 0.0;
            for (int k = threadIdx.x; k < P; k += blockDim.x) {
                dEu[k] += (float)(dc * ((double)eb[k] / (na * nb) - ga * (double)ea[k]));
            }
        }
        if (b == u) {
            double gb = norm_b > COSINE_EPS ? c / (nb * nb) : 0.0;
            for (int k = threadIdx.x; k < P; k += blockDim.x) {
                dEu[k] += (float)(dc * ((double)ea[k] / (na * nb) - gb * (double)eb[k]));
            }
        }
    }

    /* regulariser (E_u - E0_u)^2 and its gradient 2 lambda (E - E0) / (U P) */
    double reg_part = 0.0;
    if (E0 != NULL) {
        const float *E0u = E0 + (size_t)u * P;
        for (int k = threadIdx.x; k < P; k += blockDim.x) {
            double d = (double)Eu[k] - E0u[k];
            reg_part += d * d;
        }
        reg_part = clipt_block_sum(reg_part, red_s);
        if (dEu != NULL && lambda != 0.0f) {
            double g = 2.0 * lambda / ((double)U * P);
            for (int k = threadIdx.x; k < P; k += blockDim.x) {
                dEu[k] += (float)(g * ((double)Eu[k] - E0u[k]));
            }
        }
    }

    /* publish this block's sums; the last block to arrive reduces them */
    if (threadIdx.x == 0) {
        partial[u] = distance_part;
        partial[U + u] = reg_part;
        __threadfence();
        unsigned int arrived = atomicAdd(ticket, 1u);
        is_last_s = arrived == (unsigned int)(U - 1);
    }
    __syncthreads();
    if (!is_last_s) return;
    __threadfence();

    double distance = 0.0, reg = 0.0;
    for (int i = threadIdx.x; i < U; i += blockDim.x) {
        distance += __ldcg(partial + i);
        reg += __ldcg(partial + U + i);
    }
    distance = clipt_block_sum(distance, red_s) / N;
    reg = clipt_block_sum(reg, red_s);
    if (threadIdx.x == 0) {
        double regulariser = E0 != NULL ? reg / ((double)U * P) : 0.0;
        losses[0] = (float)(distance + lambda * regulariser);
        losses[1] = (float)distance;
        losses[2] = (float)regulariser;
    }
}

/* ------------------------------------------------------------------------ */
/* Launcher                                                                 */
/* ------------------------------------------------------------------------ */

extern "C" clipt_status clipt_cuda_cosine_loss(clipt_context *ctx, float *losses,
                                               float *cos, float *dE, const float *E,
                                               const float *E0, const int32_t *pair_a,
                                               const int32_t *pair_b, const float *target,
                                               int N, int U, int P, float lambda)
{
    const char *op = "cosine_loss";
    if (N < 1 || U < 1 || P < 1) {
        return clipt_set_error(CLIPT_ERR_SHAPE, "%s: N=%d pairs, U=%d texts, P=%d; each "
                               "must be at least 1", op, N, U, P);
    }
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    char *scratch = NULL;
    size_t ticket_bytes = clipt_align256(sizeof(unsigned int));
    CLIPT_TRY(clipt_cuda_scratch(st, ticket_bytes + 2 * (size_t)U * sizeof(double), op,
                                 (void **)&scratch));
    unsigned int *ticket = (unsigned int *)scratch;
    double *partial = (double *)(scratch + ticket_bytes);
    CLIPT_TRY_CUDA(cudaMemsetAsync(ticket, 0, sizeof *ticket, st->stream),
                   "cosine_loss: clearing the block counter");
    cosine_loss_block_per_text<<<(unsigned)U, LOSS_THREADS, 0, st->stream>>>(
        losses, cos, dE, E, E0, pair_a, pair_b, target, N, U, P, lambda, partial, ticket);
    return clipt_cuda_check_launch(op, "cosine_loss_block_per_text");
}
