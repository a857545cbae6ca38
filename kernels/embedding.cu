/* Token + position embedding and the end-of-text row gather, forward and
 * backward. CPU twin: lib/cpu/embedding.c.
 *
 * Shapes: ids (B,T) int32 in [0, V); wte (V,C); wpe (>= T, C); out, dout
 *         (B,T,C); rows (B) int32; gathered rows (B,C).
 * Mapping:
 *   embedding_forward_per_element<VEC>: one thread per VEC channels of one
 *     (b, t) row, grid-stride over B*T*C/VEC.
 *   embedding_backward_wte_by_sorted_ids<VEC>: the B*T positions are first
 *     sorted by token id with CUB's radix sort (stable, so equal ids keep
 *     position order). Block x = i walks the run of equal ids that starts
 *     at sorted index i (other blocks return at once); its threads own VEC
 *     channels each (grid y covers C) and add dout rows in position order.
 *     One thread owns each dwte element, so no atomics are needed.
 *   embedding_backward_wpe_sum_over_batch<VEC>: one thread per VEC
 *     channels of one position t, adding dout[b, t] for b = 0, 1, ...
 *   gather_rows_per_element<VEC> / gather_rows_backward_per_element<VEC>:
 *     one thread per VEC channels of one gathered row, grid-stride.
 * Shared memory: none (CUB's sort uses its own).
 * Numerics: the backward adds dout rows into dwte and dwpe one by one in
 *   position order, the order of the CPU loops, so both backends give the
 *   same bits. tests/test_cuda_ops.c checks that.
 * Limits: VEC 4 needs C % 4 == 0 and 16-byte aligned pointers; the general
 *   path (VEC 1) takes any C. Ids are not range-checked here (the caller
 *   checks them on the host); a gathered row index outside [0, T) yields a
 *   NaN row forward and is skipped backward rather than read out of bounds.
 */
#include <cub/device/device_radix_sort.cuh>

#include <math.h>

#include "cuda_common.h"
#include "ops/embedding.h"

#define EMBEDDING_THREADS 256
#define WTE_BACKWARD_THREADS 128

/* ------------------------------------------------------------------------ */
/* Kernels                                                                  */
/* ------------------------------------------------------------------------ */

template <int VEC>
__global__ void embedding_forward_per_element(float *out, const int32_t *ids,
                                              const float *wte, const float *wpe,
                                              size_t rows, int T, int C)
{
    int groups = C / VEC;
    size_t total = rows * (size_t)groups;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        size_t bt = i / groups;
        int c = (int)(i % groups) * VEC;
        int t = (int)(bt % T);
        clipt_floats<VEC> tok = clipt_load<VEC>(wte + (size_t)ids[bt] * C + c);
        clipt_floats<VEC> pos = clipt_load<VEC>(wpe + (size_t)t * C + c);
        for (int k = 0; k < VEC; k++) tok.v[k] += pos.v[k];
        clipt_store<VEC>(out + bt * C + c, tok);
    }
}

/* Writes 0, 1, ..., n-1: the positions that the radix sort carries along. */
__global__ void embedding_fill_positions(int32_t *positions, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) positions[i] = i;
}

template <int VEC>
__global__ void embedding_backward_wte_by_sorted_ids(float *dwte, const float *dout,
                                                     const uint32_t *sorted_ids,
                                                     const int32_t *sorted_pos,
                                                     int n, int C)
{
    int head = blockIdx.x; /* a sorted index; only the first of a run works */
    if (head > 0 && sorted_ids[head] == sorted_ids[head - 1]) return;
    int c = (blockIdx.y * blockDim.x + threadIdx.x) * VEC;
    if (c >= C) return;
    uint32_t id = sorted_ids[head];
    float *dst = dwte + (size_t)id * C + c;

    /* dwte[id] += dout[pos] for every position of this id, in order */
    clipt_floats<VEC> acc = clipt_load<VEC>(dst);
    for (int j = head; j < n && sorted_ids[j] == id; j++) {
        clipt_floats<VEC> d = clipt_load<VEC>(dout + (size_t)sorted_pos[j] * C + c);
        for (int k = 0; k < VEC; k++) acc.v[k] += d.v[k];
    }
    clipt_store<VEC>(dst, acc);
}

template <int VEC>
__global__ void embedding_backward_wpe_sum_over_batch(float *dwpe, const float *dout,
                                                      int B, int T, int C)
{
    int groups = C / VEC;
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= T * groups) return;
    int t = i / groups;
    int c = (i % groups) * VEC;
    float *dst = dwpe + (size_t)t * C + c;

    /* dwpe[t] += dout[b, t] for b = 0 .. B-1 */
    clipt_floats<VEC> acc = clipt_load<VEC>(dst);
    for (int b = 0; b < B; b++) {
        clipt_floats<VEC> d = clipt_load<VEC>(dout + ((size_t)b * T + t) * C + c);
        for (int k = 0; k < VEC; k++) acc.v[k] += d.v[k];
    }
    clipt_store<VEC>(dst, acc);
}

template <int VEC>
__global__ void gather_rows_per_element(float *out, const float *inp,
                                        const int32_t *rows, int B, int T, int C)
{
    int groups = C / VEC;
    size_t total = (size_t)B * groups;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        int b = (int)(i / groups);
        int c = (int)(i % groups) * VEC;
        int r = rows[b];
        clipt_floats<VEC> v;
        if (r >= 0 && r < T) {
            v = clipt_load<VEC>(inp + ((size_t)b * T + r) * C + c);
        } else {
            for (int k = 0; k < VEC; k++) v.v[k] = nanf("");
        }
        clipt_store<VEC>(out + (size_t)b * C + c, v);
    }
}

template <int VEC>
__global__ void gather_rows_backward_per_element(float *dinp, const float *dout,
                                                 const int32_t *rows, int B, int T,
                                                 int C)
{
    int groups = C / VEC;
    size_t total = (size_t)B * groups;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        int b = (int)(i / groups);
        int c = (int)(i % groups) * VEC;
        int r = rows[b];
        if (r < 0 || r >= T) continue;
        /* each b owns its own row of dinp, so no two threads meet */
        float *dst = dinp + ((size_t)b * T + r) * C + c;
        clipt_floats<VEC> acc = clipt_load<VEC>(dst);
        clipt_floats<VEC> d = clipt_load<VEC>(dout + (size_t)b * C + c);
        for (int k = 0; k < VEC; k++) acc.v[k] += d.v[k];
        clipt_store<VEC>(dst, acc);
    }
}

/* ------------------------------------------------------------------------ */
/* Launchers                                                                */
/* ------------------------------------------------------------------------ */

static clipt_status check_sizes(const char *op, int B, int T, int C)
{
    if (B < 0 || T < 0 || C < 0) {
        return clipt_set_error(CLIPT_ERR_SHAPE, "%s: negative size B=%d T=%d C=%d",
                               op, B, T, C);
    }
    return CLIPT_OK;
}

extern "C" clipt_status clipt_cuda_embedding_forward(clipt_context *ctx, float *out,
                                                     const int32_t *ids,
                                                     const float *wte,
                                                     const float *wpe, int B, int T,
                                                     int C)
{
    const char *op = "embedding_forward";
    CLIPT_TRY(check_sizes(op, B, T, C));
    if ((size_t)B * T * C == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    size_t rows = (size_t)B * T;
    int vec4 = C % 4 == 0 && clipt_aligned16(out) && clipt_aligned16(wte) &&
               clipt_aligned16(wpe);
    if (vec4) {
        unsigned grid = clipt_cuda_grid_stride_blocks(st, rows * C / 4, EMBEDDING_THREADS);
        embedding_forward_per_element<4><<<grid, EMBEDDING_THREADS, 0, st->stream>>>(
            out, ids, wte, wpe, rows, T, C);
        return clipt_cuda_check_launch(op, "embedding_forward_per_element<4>");
    }
    unsigned grid = clipt_cuda_grid_stride_blocks(st, rows * C, EMBEDDING_THREADS);
    embedding_forward_per_element<1><<<grid, EMBEDDING_THREADS, 0, st->stream>>>(
        out, ids, wte, wpe, rows, T, C);
    return clipt_cuda_check_launch(op, "embedding_forward_per_element<1>");
}

/* Number of low bits that hold every id below V. */
static int id_bits(int V)
{
    int bits = 1;
    while (bits < 31 && (1 << bits) < V) bits++;
    return bits;
}

/* dwte += dout scattered by id, through a stable sort of the positions. */
static clipt_status wte_backward(clipt_cuda_state *st, float *dwte, const float *dout,
                                 const int32_t *ids, int n, int C, int V, int vec4)
{
    const char *op = "embedding_backward";
    /* CUB reports its temporary storage size without launching anything. */
    size_t sort_bytes = 0;
    const uint32_t *keys_in = reinterpret_cast<const uint32_t *>(ids);
    CLIPT_TRY_CUDA(cub::DeviceRadixSort::SortPairs(NULL, sort_bytes, keys_in,
                                                   (uint32_t *)NULL, (const int32_t *)NULL,
                                                   (int32_t *)NULL, n, 0, id_bits(V),
                                                   st->stream),
                   "embedding_backward: sizing the radix sort");
    size_t ints = clipt_align256((size_t)n * sizeof(int32_t));
    char *scratch = NULL;
    CLIPT_TRY(clipt_cuda_scratch(st, clipt_align256(sort_bytes) + 3 * ints, op,
                                 (void **)&scratch));
    void *sort_tmp = scratch;
    int32_t *positions = (int32_t *)(scratch + clipt_align256(sort_bytes));
    uint32_t *sorted_ids = (uint32_t *)((char *)positions + ints);
    int32_t *sorted_pos = (int32_t *)((char *)sorted_ids + ints);

    embedding_fill_positions<<<(n + 255) / 256, 256, 0, st->stream>>>(positions, n);
    CLIPT_TRY(clipt_cuda_check_launch(op, "embedding_fill_positions"));
    CLIPT_TRY_CUDA(cub::DeviceRadixSort::SortPairs(sort_tmp, sort_bytes, keys_in,
                                                   sorted_ids, positions, sorted_pos,
                                                   n, 0, id_bits(V), st->stream),
                   "embedding_backward: sorting positions by token id");

    int vec = vec4 ? 4 : 1;
    int groups = C / vec;
    dim3 grid((unsigned)n, (unsigned)((groups + WTE_BACKWARD_THREADS - 1) / WTE_BACKWARD_THREADS));
    if (vec4) {
        embedding_backward_wte_by_sorted_ids<4><<<grid, WTE_BACKWARD_THREADS, 0, st->stream>>>(
            dwte, dout, sorted_ids, sorted_pos, n, C);
        return clipt_cuda_check_launch(op, "embedding_backward_wte_by_sorted_ids<4>");
    }
    embedding_backward_wte_by_sorted_ids<1><<<grid, WTE_BACKWARD_THREADS, 0, st->stream>>>(
        dwte, dout, sorted_ids, sorted_pos, n, C);
    return clipt_cuda_check_launch(op, "embedding_backward_wte_by_sorted_ids<1>");
}

extern "C" clipt_status clipt_cuda_embedding_backward(clipt_context *ctx, float *dwte,
                                                      float *dwpe, const float *dout,
                                                      const int32_t *ids, int B, int T,
                                                      int C, int V)
{
    const char *op = "embedding_backward";
    CLIPT_TRY(check_sizes(op, B, T, C));
    if ((size_t)B * T * C == 0) return CLIPT_OK;
    if ((size_t)B * T > (size_t)INT32_MAX) {
        return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                               "%s: %zu positions exceed the 2^31 - 1 the sort "
                               "handles",
                               op, (size_t)B * T);
    }
    if (V < 1) {
        return clipt_set_error(CLIPT_ERR_SHAPE, "%s: vocabulary size V=%d", op, V);
    }
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    int vec4 = C % 4 == 0 && clipt_aligned16(dout) &&
               (dwte == NULL || clipt_aligned16(dwte)) &&
               (dwpe == NULL || clipt_aligned16(dwpe));
    if (dwte != NULL) CLIPT_TRY(wte_backward(st, dwte, dout, ids, B * T, C, V, vec4));
    if (dwpe != NULL) {
        int vec = vec4 ? 4 : 1;
        size_t items = (size_t)T * (C / vec);
        unsigned blocks = (unsigned)((items + EMBEDDING_THREADS - 1) / EMBEDDING_THREADS);
        if (vec4) {
            embedding_backward_wpe_sum_over_batch<4><<<blocks, EMBEDDING_THREADS, 0,
                                                       st->stream>>>(dwpe, dout, B, T, C);
            return clipt_cuda_check_launch(op, "embedding_backward_wpe_sum_over_batch<4>");
        }
        embedding_backward_wpe_sum_over_batch<1><<<blocks, EMBEDDING_THREADS, 0,
                                                   st->stream>>>(dwpe, dout, B, T, C);
        return clipt_cuda_check_launch(op, "embedding_backward_wpe_sum_over_batch<1>");
    }
    return CLIPT_OK;
}

extern "C" clipt_status clipt_cuda_gather_rows(clipt_context *ctx, float *out,
                                               const float *inp, const int32_t *rows,
                                               int B, int T, int C)
{
    const char *op = "gather_rows";
    CLIPT_TRY(check_sizes(op, B, T, C));
    if ((size_t)B * C == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    if (C % 4 == 0 && clipt_aligned16(out) && clipt_aligned16(inp)) {
        unsigned grid = clipt_cuda_grid_stride_blocks(st, (size_t)B * C / 4, EMBEDDING_THREADS);
        gather_rows_per_element<4><<<grid, EMBEDDING_THREADS, 0, st->stream>>>(
            out, inp, rows, B, T, C);
        return clipt_cuda_check_launch(op, "gather_rows_per_element<4>");
    }
    unsigned grid = clipt_cuda_grid_stride_blocks(st, (size_t)B * C, EMBEDDING_THREADS);
    gather_rows_per_element<1><<<grid, EMBEDDING_THREADS, 0, st->stream>>>(out, inp, rows,
                                                                           B, T, C);
    return clipt_cuda_check_launch(op, "gather_rows_per_element<1>");
}

extern "C" clipt_status clipt_cuda_gather_rows_backward(clipt_context *ctx, float *dinp,
                                                        const float *dout,
                                                        const int32_t *rows, int B,
                                                        int T, int C)
{
    const char *op = "gather_rows_backward";
    CLIPT_TRY(check_sizes(op, B, T, C));
    if ((size_t)B * C == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    if (C % 4 == 0 && clipt_aligned16(dinp) && clipt_aligned16(dout)) {
        unsigned grid = clipt_cuda_grid_stride_blocks(st, (size_t)B * C / 4, EMBEDDING_THREADS);
        gather_rows_backward_per_element<4><<<grid, EMBEDDING_THREADS, 0, st->stream>>>(
            dinp, dout, rows, B, T, C);
        return clipt_cuda_check_launch(op, "gather_rows_backward_per_element<4>");
    }
    unsigned grid = clipt_cuda_grid_stride_blocks(st, (size_t)B * C, EMBEDDING_THREADS);
    gather_rows_backward_per_element<1><<<grid, EMBEDDING_THREADS, 0, st->stream>>>(
        dinp, dout, rows, B, T, C);
    return clipt_cuda_check_launch(op, "gather_rows_backward_per_element<1>");
}
