/* Token + position embedding of packed tokens and the end-of-text row
 * gather, forward and backward. CPU twin: lib/cpu/embedding.c.
 *
 * Shapes: ids, pos (N) int32 for the N packed tokens of a batch. ids are
 *         in [0, V), and pos[n] is the position of token n inside its row.
 *         wte (V,C); wpe (context,C); out, dout (N,C); rows (B) int32 token
 *         indices in [0, N); gathered rows (B,C).
 * Mapping:
 *   embedding_forward_per_element<VEC>: one thread per VEC channels of one
 *     token n, grid-stride over N*C/VEC; out[n] = wte[ids[n]] + wpe[pos[n]].
 *   embedding_backward_scatter_sorted_runs<VEC>: dwte and dwpe each take
 *     one pass. The token indices 0..N-1 are first sorted by key (the id,
 *     or the position) with CUB's radix sort, which is stable, so equal
 *     keys keep token order. Block x = i handles the run of equal keys that
 *     starts at sorted index i (blocks inside a run return at once) and
 *     finds the run's end by binary search; its threads own VEC channels
 *     each (grid y covers C) and add the dout rows of the run in token
 *     order. One thread owns each gradient element, so no atomics are
 *     needed.
 *   gather_rows_per_element<VEC> / gather_rows_backward_per_element<VEC>:
 *     one thread per VEC channels of one gathered row, grid-stride.
 * Shared memory: none (CUB's sort uses its own).
 * Numerics: the backward adds dout rows into dwte and dwpe one by one in
 *   token order, the order of the CPU loop, so both backends give the same
 *   bits. tests/test_cuda_ops.c checks that.
 * Limits: VEC 4 needs C % 4 == 0 and 16-byte aligned pointers; the general
 *   path (VEC 1) takes any C. Ids are not range-checked here (the caller
 *   checks them on the host). The position sort looks at the bits below N
 *   only, which holds every position because a row has at most N tokens.
 *   Neither gather op can check rows against N, which it is not given.
 */
#include <cub/device/device_radix_sort.cuh>

#include <stdio.h>

#include "cuda_common.h"
#include "ops/embedding.h"

#define EMBEDDING_THREADS 256
#define SCATTER_THREADS 128

/* ------------------------------------------------------------------------ */
/* Kernels                                                                  */
/* ------------------------------------------------------------------------ */

template <int VEC>
__global__ void embedding_forward_per_element(float *out, const int32_t *ids,
                                              const int32_t *pos, const float *wte,
                                              const float *wpe, int N, int C)
{
    int groups = C / VEC;
    size_t total = (size_t)N * groups;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        size_t n = i / groups;
        int c = (int)(i % groups) * VEC;
        clipt_floats<VEC> tok = clipt_load<VEC>(wte + (size_t)ids[n] * C + c);
        clipt_floats<VEC> at = clipt_load<VEC>(wpe + (size_t)pos[n] * C + c);
        for (int k = 0; k < VEC; k++) tok.v[k] += at.v[k];
        clipt_store<VEC>(out + n * C + c, tok);
    }
}

/* Writes 0, 1, ..., n-1: the token indices that the radix sort carries. */
__global__ void embedding_fill_token_indices(int32_t *tokens, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) tokens[i] = i;
}

template <int VEC>
__global__ void __launch_bounds__(SCATTER_THREADS)
embedding_backward_scatter_sorted_runs(float *dst, const float *dout,
                                       const uint32_t *sorted_keys,
                                       const int32_t *sorted_tokens, int n, int C)
{
    int head = blockIdx.x; /* a sorted index; only the first of a run works */
    uint32_t key = sorted_keys[head];
    if (head > 0 && sorted_keys[head - 1] == key) return;
    int c = (blockIdx.y * blockDim.x + threadIdx.x) * VEC;
    if (c >= C) return;

    /* the run ends at the first sorted key above this one */
    int lo = head + 1, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (sorted_keys[mid] == key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    int end = lo;

    /* dst[key] += dout[token] for every token of the run, in token order */
    float *row = dst + (size_t)key * C + c;
    clipt_floats<VEC> acc = clipt_load<VEC>(row);
#pragma unroll 4
    for (int j = head; j < end; j++) {
        clipt_floats<VEC> d = clipt_load<VEC>(dout + (size_t)sorted_tokens[j] * C + c);
        for (int k = 0; k < VEC; k++) acc.v[k] += d.v[k];
    }
    clipt_store<VEC>(row, acc);
}

template <int VEC>
__global__ void gather_rows_per_element(float *out, const float *inp,
                                        const int32_t *rows, int B, int C)
{
    int groups = C / VEC;
    size_t total = (size_t)B * groups;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        int b = (int)(i / groups);
        int c = (int)(i % groups) * VEC;
        clipt_floats<VEC> v = clipt_load<VEC>(inp + (size_t)rows[b] * C + c);
        clipt_store<VEC>(out + (size_t)b * C + c, v);
    }
}

template <int VEC>
__global__ void gather_rows_backward_per_element(float *dinp, const float *dout,
                                                 const int32_t *rows, int B, int C)
{
    int groups = C / VEC;
    size_t total = (size_t)B * groups;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        int b = (int)(i / groups);
        int c = (int)(i % groups) * VEC;
        /* rows are distinct, so no two threads meet on a dinp element */
        float *dst = dinp + (size_t)rows[b] * C + c;
        clipt_floats<VEC> acc = clipt_load<VEC>(dst);
        clipt_floats<VEC> d = clipt_load<VEC>(dout + (size_t)b * C + c);
        for (int k = 0; k < VEC; k++) acc.v[k] += d.v[k];
        clipt_store<VEC>(dst, acc);
    }
}

/* ------------------------------------------------------------------------ */
/* Launchers                                                                */
/* ------------------------------------------------------------------------ */

static clipt_status check_sizes(const char *op, const char *rows_name, int rows, int C)
{
    if (rows < 0 || C < 0) {
        return clipt_set_error(CLIPT_ERR_SHAPE, "%s: negative size %s=%d C=%d", op,
                               rows_name, rows, C);
    }
    return CLIPT_OK;
}

extern "C" clipt_status clipt_cuda_embedding_forward(clipt_context *ctx, float *out,
                                                     const int32_t *ids, const int32_t *pos,
                                                     const float *wte, const float *wpe,
                                                     int N, int C)
{
    const char *op = "embedding_forward";
    CLIPT_TRY(check_sizes(op, "N", N, C));
    if ((size_t)N * C == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    int vec4 = C % 4 == 0 && clipt_aligned16(out) && clipt_aligned16(wte) &&
               clipt_aligned16(wpe);
    if (vec4) {
        unsigned grid = clipt_cuda_grid_stride_blocks(st, (size_t)N * C / 4, EMBEDDING_THREADS);
        embedding_forward_per_element<4><<<grid, EMBEDDING_THREADS, 0, st->stream>>>(
            out, ids, pos, wte, wpe, N, C);
        return clipt_cuda_check_launch(op, "embedding_forward_per_element<4>");
    }
    unsigned grid = clipt_cuda_grid_stride_blocks(st, (size_t)N * C, EMBEDDING_THREADS);
    embedding_forward_per_element<1><<<grid, EMBEDDING_THREADS, 0, st->stream>>>(
        out, ids, pos, wte, wpe, N, C);
    return clipt_cuda_check_launch(op, "embedding_forward_per_element<1>");
}

/* Returns the number of low bits that cover every key below limit. */
static int key_bits(int limit)
{
    int bits = 1;
    while (bits < 31 && (1 << bits) < limit) bits++;
    return bits;
}

/* dst += dout scattered by keys (N keys, each below key_limit), through a
 * stable sort of the token indices by key. */
static clipt_status scatter_by_key(clipt_cuda_state *st, float *dst, const float *dout,
                                   const int32_t *keys, int key_limit, int N, int C,
                                   int vec4, const char *what)
{
    const char *op = "embedding_backward";
    char message[128];
    int bits = key_bits(key_limit);
    const uint32_t *keys_in = reinterpret_cast<const uint32_t *>(keys);

    /* CUB reports its temporary storage size without launching anything. */
    size_t sort_bytes = 0;
    snprintf(message, sizeof message, "%s: sizing the radix sort by %s", op, what);
    CLIPT_TRY_CUDA(cub::DeviceRadixSort::SortPairs(NULL, sort_bytes, keys_in,
                                                   (uint32_t *)NULL, (const int32_t *)NULL,
                                                   (int32_t *)NULL, N, 0, bits, st->stream),
                   message);
    size_t ints = clipt_align256((size_t)N * sizeof(int32_t));
    char *scratch = NULL;
    CLIPT_TRY(clipt_cuda_scratch(st, clipt_align256(sort_bytes) + 3 * ints, op,
                                 (void **)&scratch));
    void *sort_tmp = scratch;
    int32_t *tokens = (int32_t *)(scratch + clipt_align256(sort_bytes));
    uint32_t *sorted_keys = (uint32_t *)((char *)tokens + ints);
    int32_t *sorted_tokens = (int32_t *)((char *)sorted_keys + ints);

    embedding_fill_token_indices<<<(N + 255) / 256, 256, 0, st->stream>>>(tokens, N);
    CLIPT_TRY(clipt_cuda_check_launch(op, "embedding_fill_token_indices"));
    snprintf(message, sizeof message, "%s: sorting the tokens by %s", op, what);
    CLIPT_TRY_CUDA(cub::DeviceRadixSort::SortPairs(sort_tmp, sort_bytes, keys_in, sorted_keys,
                                                   tokens, sorted_tokens, N, 0, bits,
                                                   st->stream),
                   message);

    int groups = C / (vec4 ? 4 : 1);
    dim3 grid((unsigned)N, (unsigned)((groups + SCATTER_THREADS - 1) / SCATTER_THREADS));
    if (vec4) {
        embedding_backward_scatter_sorted_runs<4><<<grid, SCATTER_THREADS, 0, st->stream>>>(
            dst, dout, sorted_keys, sorted_tokens, N, C);
        return clipt_cuda_check_launch(op, "embedding_backward_scatter_sorted_runs<4>");
    }
    embedding_backward_scatter_sorted_runs<1><<<grid, SCATTER_THREADS, 0, st->stream>>>(
        dst, dout, sorted_keys, sorted_tokens, N, C);
    return clipt_cuda_check_launch(op, "embedding_backward_scatter_sorted_runs<1>");
}

extern "C" clipt_status clipt_cuda_embedding_backward(clipt_context *ctx, float *dwte,
                                                      float *dwpe, const float *dout,
                                                      const int32_t *ids, const int32_t *pos,
                                                      int N, int C, int V)
{
    const char *op = "embedding_backward";
    CLIPT_TRY(check_sizes(op, "N", N, C));
    if ((size_t)N * C == 0) return CLIPT_OK;
    if (V < 1) {
        return clipt_set_error(CLIPT_ERR_SHAPE, "%s: vocabulary size V=%d", op, V);
    }
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    int vec4 = C % 4 == 0 && clipt_aligned16(dout) &&
               (dwte == NULL || clipt_aligned16(dwte)) &&
               (dwpe == NULL || clipt_aligned16(dwpe));
    if (dwte != NULL) CLIPT_TRY(scatter_by_key(st, dwte, dout, ids, V, N, C, vec4, "id"));
    /* a position lies inside its row, so it is below N */
    if (dwpe != NULL) CLIPT_TRY(scatter_by_key(st, dwpe, dout, pos, N, N, C, vec4, "position"));
    return CLIPT_OK;
}

extern "C" clipt_status clipt_cuda_gather_rows(clipt_context *ctx, float *out,
                                               const float *inp, const int32_t *rows,
                                               int B, int C)
{
    const char *op = "gather_rows";
    CLIPT_TRY(check_sizes(op, "B", B, C));
    if ((size_t)B * C == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    if (C % 4 == 0 && clipt_aligned16(out) && clipt_aligned16(inp)) {
        unsigned grid = clipt_cuda_grid_stride_blocks(st, (size_t)B * C / 4, EMBEDDING_THREADS);
        gather_rows_per_element<4><<<grid, EMBEDDING_THREADS, 0, st->stream>>>(
            out, inp, rows, B, C);
        return clipt_cuda_check_launch(op, "gather_rows_per_element<4>");
    }
    unsigned grid = clipt_cuda_grid_stride_blocks(st, (size_t)B * C, EMBEDDING_THREADS);
    gather_rows_per_element<1><<<grid, EMBEDDING_THREADS, 0, st->stream>>>(out, inp, rows,
                                                                           B, C);
    return clipt_cuda_check_launch(op, "gather_rows_per_element<1>");
}

extern "C" clipt_status clipt_cuda_gather_rows_backward(clipt_context *ctx, float *dinp,
                                                        const float *dout,
                                                        const int32_t *rows, int B, int C)
{
    const char *op = "gather_rows_backward";
    CLIPT_TRY(check_sizes(op, "B", B, C));
    if ((size_t)B * C == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    if (C % 4 == 0 && clipt_aligned16(dinp) && clipt_aligned16(dout)) {
        unsigned grid = clipt_cuda_grid_stride_blocks(st, (size_t)B * C / 4, EMBEDDING_THREADS);
        gather_rows_backward_per_element<4><<<grid, EMBEDDING_THREADS, 0, st->stream>>>(
            dinp, dout, rows, B, C);
        return clipt_cuda_check_launch(op, "gather_rows_backward_per_element<4>");
    }
    unsigned grid = clipt_cuda_grid_stride_blocks(st, (size_t)B * C, EMBEDDING_THREADS);
    gather_rows_backward_per_element<1><<<grid, EMBEDDING_THREADS, 0, st->stream>>>(
        dinp, dout, rows, B, C);
    return clipt_cuda_check_launch(op, "gather_rows_backward_per_element<1>");
}
