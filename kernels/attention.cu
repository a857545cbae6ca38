/* Causal multi-head self-attention over packed rows, forward and backward,
 * fused: scores, causal mask, softmax and the weighted sum happen in one
 * kernel, so the score matrices never reach global memory. The backward
 * pass rebuilds the probabilities from the saved log-sum-exp. CPU twin:
 * lib/cpu/attention.c.
 *
 * Shapes: qkv, dqkv (N,3C) for N packed tokens, with q in channels [0,C),
 *         k in [C,2C), v in [2C,3C), head h using [h*HS, (h+1)*HS) of each,
 *         HS = C/NH; out, dout (N,C) heads merged; lse (N,NH) the
 *         log-sum-exp of each row of scaled scores, scale = HS^-0.5;
 *         offsets (B+1): row b owns tokens [offsets[b], offsets[b+1]), and
 *         max_len is the longest row. Below, t and j are positions inside a
 *         row: query t attends to keys j <= t of its own row only.
 * Backward: with p_tj = exp(q_t.k_j scale - lse_t) for j <= t and
 *   delta_t = dout_t . out_t (= sum_j p_tj dout_t.v_j),
 *   ds_tj = p_tj (dout_t.v_j - delta_t) scale,
 *   dq_t += sum_j ds_tj k_j,  dk_j += sum_t ds_tj q_t,  dv_j += sum_t p_tj dout_t.
 *   Each gradient row has one owner (a warp walking its sum in order), so
 *   there are no atomics and the result is the same on every run.
 *
 * Fast path, max_len <= 77 and HS == 64 (CLIP's text shapes):
 *   attention_forward_block_per_head_smem_kv: one block of 4 warps per
 *     (row b, head), grid B*NH; the block reads offsets[b] and
 *     offsets[b+1]. The row's keys and values for the head sit in shared
 *     memory (rows padded to 65 floats, so lane j reading key j hits bank
 *     j+i). Warp w takes queries t = w, w+4, ...: lane j scores keys j,
 *     j+32, j+64, the warp reduces max and sum, then lane k sums channels k
 *     and k+32 of p v. Shared: keys, values 2 x 77 x 65 floats, per warp
 *     the query (64) and the probabilities (96): 42600 bytes.
 *   attention_backward_block_per_head_smem: one block of 4 warps per
 *     (row b, head). Phase 1 holds keys and values in shared memory; a warp
 *     per query t computes delta_t and dq_t. Phase 2 reloads the tiles with
 *     queries and output gradients; a warp per key j recomputes p and ds
 *     down its column and sums dk_j and dv_j. Shared: two 77 x 65 tiles,
 *     per warp two 64-vectors and two 96-slot rows, lse and delta (77
 *     each): 45776 bytes.
 * General path, any row length and HS:
 *   attention_forward_warp_per_query_online_softmax: one warp per (token n,
 *     head), warp index n*NH + head, 4 warps per block (fewer when HS is
 *     large). The warp finds the row of n by binary search in offsets. Keys
 *     are taken 32 at a time, one per lane, with a running max and sum
 *     (online softmax); lanes own channels i = lane, lane+32, ... of the
 *     output. Dynamic shared memory per warp: the query and the
 *     accumulator (HS each) and 32 probabilities.
 *   attention_backward_query_rows_warp_per_query: one warp per (token n,
 *     head) as a query: delta into scratch (N,NH) and dq. Per warp: q,
 *     dout, dq (HS each) and 32 ds values.
 *   attention_backward_key_rows_warp_per_key: one warp per (token n, head)
 *     as a key, walking the later queries of its row 32 at a time: dk and
 *     dv. Per warp: k, v, dk, dv (HS each) and 32 p and ds values.
 * Numerics: fp32 with expf and logf (the CPU reference sums in double).
 * Limits: the general path needs its per-warp shared memory for one warp
 *   to fit the device's 48 KiB per block, so HS <= 3056; the launcher
 *   returns CLIPT_ERR_UNSUPPORTED beyond that. The fast path trusts
 *   max_len: a block whose row is longer than 77 tokens writes NaN into
 *   its outputs instead of overrunning shared memory.
 */
#include <math.h>

#include "cuda_common.h"
#include "ops/attention.h"

#define ATT_FAST_MAX_LEN 77
#define ATT_FAST_HS 64
#define ATT_FAST_WARPS 4
#define ATT_FAST_STRIDE 65                /* padded tile row */
#define ATT_FAST_KEYS_PER_LANE 3          /* ceil(77 / 32) */
#define ATT_FAST_ROW_SLOTS (32 * ATT_FAST_KEYS_PER_LANE)
#define ATT_GENERAL_WARPS 4

static_assert(ATT_FAST_ROW_SLOTS >= ATT_FAST_MAX_LEN, "a lane slot for every key");
static_assert(ATT_FAST_HS == 64, "lanes own channels lane and lane + 32");
static_assert((2 * ATT_FAST_MAX_LEN * ATT_FAST_STRIDE + ATT_FAST_WARPS * ATT_FAST_HS +
               ATT_FAST_WARPS * ATT_FAST_ROW_SLOTS) * 4 <= 48 * 1024,
              "forward fast path fits 48 KiB of static shared memory");
static_assert((2 * ATT_FAST_MAX_LEN * ATT_FAST_STRIDE + ATT_FAST_WARPS * 2 * ATT_FAST_HS +
               ATT_FAST_WARPS * 2 * ATT_FAST_ROW_SLOTS + 2 * ATT_FAST_MAX_LEN) * 4 <=
                  48 * 1024,
              "backward fast path fits 48 KiB of static shared memory");

/* ------------------------------------------------------------------------ */
/* Fast path kernels: max_len <= 77, HS == 64                               */
/* ------------------------------------------------------------------------ */

/* Fills count rows of width floats, row_stride apart, with NaN: the output
 * of a fast-path block whose row does not fit its tiles. */
static __device__ void attention_fill_nan(float *p, int count, size_t row_stride, int width)
{
    for (int idx = threadIdx.x; idx < count * width; idx += blockDim.x) {
        p[(size_t)(idx / width) * row_stride + idx % width] = nanf("");
    }
}

__global__ void __launch_bounds__(ATT_FAST_WARPS * 32)
attention_forward_block_per_head_smem_kv(float *out, float *lse, const float *qkv,
                                         const int32_t *offsets, int C, int NH, float scale)
{
    __shared__ float k_s[ATT_FAST_MAX_LEN * ATT_FAST_STRIDE];
    __shared__ float v_s[ATT_FAST_MAX_LEN * ATT_FAST_STRIDE];
    __shared__ float q_s[ATT_FAST_WARPS][ATT_FAST_HS];
    __shared__ float p_s[ATT_FAST_WARPS][ATT_FAST_ROW_SLOTS];
    int head = blockIdx.x % NH;
    int b = blockIdx.x / NH;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int start = offsets[b];
    int len = offsets[b + 1] - start;
    size_t C3 = 3 * (size_t)C;
    const float *base = qkv + (size_t)start * C3 + head * ATT_FAST_HS;
    float *out_base = out + (size_t)start * C + head * ATT_FAST_HS;
    float *lse_base = lse + (size_t)start * NH + head;
    if (len > ATT_FAST_MAX_LEN) { /* max_len was wrong; the whole block leaves */
        attention_fill_nan(out_base, len, C, ATT_FAST_HS);
        attention_fill_nan(lse_base, len, NH, 1);
        return;
    }

    /* this head's keys and values of the row into shared memory */
    for (int idx = threadIdx.x; idx < len * ATT_FAST_HS; idx += blockDim.x) {
        int t = idx / ATT_FAST_HS, i = idx % ATT_FAST_HS;
        k_s[t * ATT_FAST_STRIDE + i] = base[t * C3 + C + i];
        v_s[t * ATT_FAST_STRIDE + i] = base[t * C3 + 2 * C + i];
    }
    __syncthreads();

    for (int t = warp; t < len; t += ATT_FAST_WARPS) {
        const float *q = base + t * C3;
        q_s[warp][lane] = q[lane];
        q_s[warp][lane + 32] = q[lane + 32];
        __syncwarp();

        /* scaled scores of keys lane, lane+32, lane+64 up to t, and the max */
        float s[ATT_FAST_KEYS_PER_LANE];
        float row_max = -INFINITY;
        for (int r = 0; r < ATT_FAST_KEYS_PER_LANE; r++) {
            int j = lane + 32 * r;
            s[r] = -INFINITY;
            if (j <= t) {
                const float *k = k_s + j * ATT_FAST_STRIDE;
                float dot = 0.0f;
                for (int i = 0; i < ATT_FAST_HS; i++) dot += q_s[warp][i] * k[i];
                s[r] = dot * scale;
                row_max = fmaxf(row_max, s[r]);
            }
        }
        row_max = clipt_warp_max(row_max); /* key 0 is always present */

        /* unnormalised probabilities and their sum */
        float row_sum = 0.0f;
        for (int r = 0; r < ATT_FAST_KEYS_PER_LANE; r++) {
            int j = lane + 32 * r;
            float p = j <= t ? expf(s[r] - row_max) : 0.0f;
            p_s[warp][j] = p;
            row_sum += p;
        }
        row_sum = clipt_warp_sum(row_sum);
        __syncwarp();

        /* weighted sum of values, channels lane and lane + 32 */
        float o0 = 0.0f, o1 = 0.0f;
        for (int j = 0; j <= t; j++) {
            float p = p_s[warp][j];
            o0 += p * v_s[j * ATT_FAST_STRIDE + lane];
            o1 += p * v_s[j * ATT_FAST_STRIDE + lane + 32];
        }
        float *o = out_base + (size_t)t * C;
        o[lane] = o0 / row_sum;
        o[lane + 32] = o1 / row_sum;
        if (lane == 0) lse_base[(size_t)t * NH] = row_max + logf(row_sum);
        __syncwarp(); /* q_s and p_s are rewritten for the next query */
    }
}

__global__ void __launch_bounds__(ATT_FAST_WARPS * 32)
attention_backward_block_per_head_smem(float *dqkv, const float *dout, const float *qkv,
                                       const float *out, const float *lse,
                                       const int32_t *offsets, int C, int NH, float scale)
{
    __shared__ float tile_a[ATT_FAST_MAX_LEN * ATT_FAST_STRIDE]; /* keys, then queries */
    __shared__ float tile_b[ATT_FAST_MAX_LEN * ATT_FAST_STRIDE]; /* values, then dout */
    __shared__ float vec_s[ATT_FAST_WARPS][2][ATT_FAST_HS];
    __shared__ float w_s[ATT_FAST_WARPS][2][ATT_FAST_ROW_SLOTS];
    __shared__ float lse_s[ATT_FAST_MAX_LEN];
    __shared__ float delta_s[ATT_FAST_MAX_LEN];
    int head = blockIdx.x % NH;
    int b = blockIdx.x / NH;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int start = offsets[b];
    int len = offsets[b + 1] - start;
    size_t C3 = 3 * (size_t)C;
    const float *base = qkv + (size_t)start * C3 + head * ATT_FAST_HS;
    float *dbase = dqkv + (size_t)start * C3 + head * ATT_FAST_HS;
    const float *dout_base = dout + (size_t)start * C + head * ATT_FAST_HS;
    const float *out_base = out + (size_t)start * C + head * ATT_FAST_HS;
    const float *lse_base = lse + (size_t)start * NH + head;
    if (len > ATT_FAST_MAX_LEN) { /* max_len was wrong; the whole block leaves */
        attention_fill_nan(dbase, len, C3, ATT_FAST_HS);
        attention_fill_nan(dbase + C, len, C3, ATT_FAST_HS);
        attention_fill_nan(dbase + 2 * C, len, C3, ATT_FAST_HS);
        return;
    }

    /* phase 1 tiles: keys and values; and the queries' log-sum-exp */
    for (int idx = threadIdx.x; idx < len * ATT_FAST_HS; idx += blockDim.x) {
        int t = idx / ATT_FAST_HS, i = idx % ATT_FAST_HS;
        tile_a[t * ATT_FAST_STRIDE + i] = base[t * C3 + C + i];
        tile_b[t * ATT_FAST_STRIDE + i] = base[t * C3 + 2 * C + i];
    }
    for (int t = threadIdx.x; t < len; t += blockDim.x) lse_s[t] = lse_base[(size_t)t * NH];
    __syncthreads();

    /* phase 1: a warp per query t computes delta_t and dq_t */
    for (int t = warp; t < len; t += ATT_FAST_WARPS) {
        const float *q = base + t * C3;
        const float *dy = dout_base + (size_t)t * C;
        const float *o = out_base + (size_t)t * C;
        vec_s[warp][0][lane] = q[lane];
        vec_s[warp][0][lane + 32] = q[lane + 32];
        vec_s[warp][1][lane] = dy[lane];
        vec_s[warp][1][lane + 32] = dy[lane + 32];
        float delta = clipt_warp_sum(dy[lane] * o[lane] + dy[lane + 32] * o[lane + 32]);
        __syncwarp();

        /* ds_tj for keys lane, lane+32, lane+64 up to t */
        for (int r = 0; r < ATT_FAST_KEYS_PER_LANE; r++) {
            int j = lane + 32 * r;
            float ds = 0.0f;
            if (j <= t) {
                const float *k = tile_a + j * ATT_FAST_STRIDE;
                const float *v = tile_b + j * ATT_FAST_STRIDE;
                float qk = 0.0f, dyv = 0.0f;
                for (int i = 0; i < ATT_FAST_HS; i++) {
                    qk += vec_s[warp][0][i] * k[i];
                    dyv += vec_s[warp][1][i] * v[i];
                }
                float p = expf(qk * scale - lse_s[t]);
                ds = p * (dyv - delta) * scale;
            }
            w_s[warp][0][j] = ds;
        }
        __syncwarp();

        /* dq_t += sum_j ds_tj k_j, channels lane and lane + 32 */
        float dq0 = 0.0f, dq1 = 0.0f;
        for (int j = 0; j <= t; j++) {
            float ds = w_s[warp][0][j];
            dq0 += ds * tile_a[j * ATT_FAST_STRIDE + lane];
            dq1 += ds * tile_a[j * ATT_FAST_STRIDE + lane + 32];
        }
        float *dq = dbase + t * C3;
        dq[lane] += dq0;
        dq[lane + 32] += dq1;
        if (lane == 0) delta_s[t] = delta;
        __syncwarp();
    }
    __syncthreads(); /* phase 2 overwrites the tiles and reads delta_s */

    /* phase 2 tiles: queries and output gradients */
    for (int idx = threadIdx.x; idx < len * ATT_FAST_HS; idx += blockDim.x) {
        int t = idx / ATT_FAST_HS, i = idx % ATT_FAST_HS;
        tile_a[t * ATT_FAST_STRIDE + i] = base[t * C3 + i];
        tile_b[t * ATT_FAST_STRIDE + i] = dout_base[(size_t)t * C + i];
    }
    __syncthreads();

    /* phase 2: a warp per key j computes dk_j and dv_j */
    for (int j = warp; j < len; j += ATT_FAST_WARPS) {
        const float *k = base + j * C3 + C;
        const float *v = base + j * C3 + 2 * C;
        vec_s[warp][0][lane] = k[lane];
        vec_s[warp][0][lane + 32] = k[lane + 32];
        vec_s[warp][1][lane] = v[lane];
        vec_s[warp][1][lane + 32] = v[lane + 32];
        __syncwarp();

        /* p_tj and ds_tj for queries lane, lane+32, lane+64 from j on */
        for (int r = 0; r < ATT_FAST_KEYS_PER_LANE; r++) {
            int t = lane + 32 * r;
            float p = 0.0f, ds = 0.0f;
            if (t >= j && t < len) {
                const float *q = tile_a + t * ATT_FAST_STRIDE;
                const float *dy = tile_b + t * ATT_FAST_STRIDE;
                float qk = 0.0f, dyv = 0.0f;
                for (int i = 0; i < ATT_FAST_HS; i++) {
                    qk += q[i] * vec_s[warp][0][i];
                    dyv += dy[i] * vec_s[warp][1][i];
                }
                p = expf(qk * scale - lse_s[t]);
                ds = p * (dyv - delta_s[t]) * scale;
            }
            w_s[warp][0][t] = p;
            w_s[warp][1][t] = ds;
        }
        __syncwarp();

        /* dk_j += sum_t ds_tj q_t; dv_j += sum_t p_tj dout_t */
        float dk0 = 0.0f, dk1 = 0.0f, dv0 = 0.0f, dv1 = 0.0f;
        for (int t = j; t < len; t++) {
            float p = w_s[warp][0][t], ds = w_s[warp][1][t];
            dk0 += ds * tile_a[t * ATT_FAST_STRIDE + lane];
            dk1 += ds * tile_a[t * ATT_FAST_STRIDE + lane + 32];
            dv0 += p * tile_b[t * ATT_FAST_STRIDE + lane];
            dv1 += p * tile_b[t * ATT_FAST_STRIDE + lane + 32];
        }
        float *dk = dbase + j * C3 + C;
        float *dv = dbase + j * C3 + 2 * C;
        dk[lane] += dk0;
        dk[lane + 32] += dk1;
        dv[lane] += dv0;
        dv[lane + 32] += dv1;
        __syncwarp();
    }
}

/* ------------------------------------------------------------------------ */
/* General path kernels: any row length and HS                              */
/* ------------------------------------------------------------------------ */

/* Floats of dynamic shared memory each warp of the general kernels uses. */
static __host__ __device__ int forward_warp_floats(int HS) { return 2 * HS + 32; }
static __host__ __device__ int query_rows_warp_floats(int HS) { return 3 * HS + 32; }
static __host__ __device__ int key_rows_warp_floats(int HS) { return 4 * HS + 64; }

/* The row that holds token n: the last b with offsets[b] <= n, found by
 * binary search (an empty row shares its offset with the next row, so the
 * search passes over it). Needs offsets[0] <= n < offsets[B]. */
static __device__ __forceinline__ int attention_row_of_token(const int32_t *offsets, int B,
                                                             int n)
{
    int lo = 0, hi = B - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (offsets[mid] <= n) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    return lo;
}

__global__ void attention_forward_warp_per_query_online_softmax(
    float *out, float *lse, const float *qkv, const int32_t *offsets, int B, int N, int C,
    int NH, float scale)
{
    extern __shared__ float smem[];
    int HS = C / NH;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    size_t row = (size_t)blockIdx.x * (blockDim.x >> 5) + warp; /* n * NH + head */
    if (row >= (size_t)N * NH) return; /* whole warps; no block barrier */
    int n = (int)(row / NH);
    int head = (int)(row % NH);
    int start = offsets[attention_row_of_token(offsets, B, n)];
    int t = n - start;
    size_t C3 = 3 * (size_t)C;
    const float *base = qkv + (size_t)start * C3 + (size_t)head * HS;
    float *q_s = smem + warp * forward_warp_floats(HS);
    float *acc_s = q_s + HS;
    float *p_s = acc_s + HS;

    for (int i = lane; i < HS; i += 32) {
        q_s[i] = base[t * C3 + i];
        acc_s[i] = 0.0f;
    }
    __syncwarp();

    /* keys 0..t of the row, 32 at a time, with a running max m and sum l */
    float m = -INFINITY, l = 0.0f;
    for (int j0 = 0; j0 <= t; j0 += 32) {
        int j = j0 + lane;
        float s = -INFINITY;
        if (j <= t) {
            const float *k = base + j * C3 + C;
            float dot = 0.0f;
            for (int i = 0; i < HS; i++) dot += q_s[i] * k[i];
            s = dot * scale;
        }
        float m_new = fmaxf(m, clipt_warp_max(s)); /* key j0 is present */
        float p = j <= t ? expf(s - m_new) : 0.0f;
        float alpha = expf(m - m_new); /* 0 on the first chunk */
        l = l * alpha + clipt_warp_sum(p);
        p_s[lane] = p;
        __syncwarp();

        /* rescale the accumulator, add this chunk's p v; lane owns channel i */
        int nj = min(32, t - j0 + 1);
        for (int i = lane; i < HS; i += 32) {
            float a = acc_s[i] * alpha;
            for (int jj = 0; jj < nj; jj++) a += p_s[jj] * base[(j0 + jj) * C3 + 2 * C + i];
            acc_s[i] = a;
        }
        __syncwarp(); /* p_s is rewritten by the next chunk */
        m = m_new;
    }

    float *o = out + (size_t)n * C + (size_t)head * HS;
    for (int i = lane; i < HS; i += 32) o[i] = acc_s[i] / l;
    if (lane == 0) lse[row] = m + logf(l); /* lse (N,NH) */
}

__global__ void attention_backward_query_rows_warp_per_query(
    float *dqkv, float *delta, const float *dout, const float *qkv, const float *out,
    const float *lse, const int32_t *offsets, int B, int N, int C, int NH, float scale)
{
    extern __shared__ float smem[];
    int HS = C / NH;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    size_t row = (size_t)blockIdx.x * (blockDim.x >> 5) + warp; /* n * NH + head */
    if (row >= (size_t)N * NH) return;
    int n = (int)(row / NH);
    int head = (int)(row % NH);
    int start = offsets[attention_row_of_token(offsets, B, n)];
    int t = n - start;
    size_t C3 = 3 * (size_t)C;
    const float *base = qkv + (size_t)start * C3 + (size_t)head * HS;
    const float *dy = dout + (size_t)n * C + (size_t)head * HS;
    const float *o = out + (size_t)n * C + (size_t)head * HS;
    float *q_s = smem + warp * query_rows_warp_floats(HS);
    float *dy_s = q_s + HS;
    float *dq_s = dy_s + HS;
    float *ds_s = dq_s + HS;

    /* delta_t = dout_t . out_t */
    float partial = 0.0f;
    for (int i = lane; i < HS; i += 32) {
        q_s[i] = base[t * C3 + i];
        dy_s[i] = dy[i];
        dq_s[i] = 0.0f;
        partial += dy[i] * o[i];
    }
    float row_delta = clipt_warp_sum(partial);
    float row_lse = lse[row];
    __syncwarp();

    for (int j0 = 0; j0 <= t; j0 += 32) {
        /* ds_tj for key j = j0 + lane */
        int j = j0 + lane;
        float ds = 0.0f;
        if (j <= t) {
            const float *k = base + j * C3 + C;
            const float *v = base + j * C3 + 2 * C;
            float qk = 0.0f, dyv = 0.0f;
            for (int i = 0; i < HS; i++) {
                qk += q_s[i] * k[i];
                dyv += dy_s[i] * v[i];
            }
            float p = expf(qk * scale - row_lse);
            ds = p * (dyv - row_delta) * scale;
        }
        ds_s[lane] = ds;
        __syncwarp();

        /* dq_t += sum over this chunk of ds_tj k_j */
        int nj = min(32, t - j0 + 1);
        for (int i = lane; i < HS; i += 32) {
            float a = dq_s[i];
            for (int jj = 0; jj < nj; jj++) a += ds_s[jj] * base[(j0 + jj) * C3 + C + i];
            dq_s[i] = a;
        }
        __syncwarp();
    }

    float *dq = dqkv + (size_t)n * C3 + (size_t)head * HS;
    for (int i = lane; i < HS; i += 32) dq[i] += dq_s[i];
    if (lane == 0) delta[row] = row_delta; /* delta (N,NH) like lse */
}

__global__ void attention_backward_key_rows_warp_per_key(
    float *dqkv, const float *delta, const float *dout, const float *qkv, const float *lse,
    const int32_t *offsets, int B, int N, int C, int NH, float scale)
{
    extern __shared__ float smem[];
    int HS = C / NH;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    size_t row = (size_t)blockIdx.x * (blockDim.x >> 5) + warp; /* n * NH + head */
    if (row >= (size_t)N * NH) return;
    int n = (int)(row / NH);
    int head = (int)(row % NH);
    int b = attention_row_of_token(offsets, B, n);
    int start = offsets[b];
    int len = offsets[b + 1] - start;
    int j = n - start;
    size_t C3 = 3 * (size_t)C;
    const float *base = qkv + (size_t)start * C3 + (size_t)head * HS;
    const float *dout_base = dout + (size_t)start * C + (size_t)head * HS;
    const float *lse_base = lse + (size_t)start * NH + head;
    const float *delta_base = delta + (size_t)start * NH + head;
    float *k_s = smem + warp * key_rows_warp_floats(HS);
    float *v_s = k_s + HS;
    float *dk_s = v_s + HS;
    float *dv_s = dk_s + HS;
    float *p_s = dv_s + HS;
    float *ds_s = p_s + 32;

    for (int i = lane; i < HS; i += 32) {
        k_s[i] = base[j * C3 + C + i];
        v_s[i] = base[j * C3 + 2 * C + i];
        dk_s[i] = 0.0f;
        dv_s[i] = 0.0f;
    }
    __syncwarp();

    for (int t0 = j; t0 < len; t0 += 32) {
        /* p_tj and ds_tj for query t = t0 + lane */
        int t = t0 + lane;
        float p = 0.0f, ds = 0.0f;
        if (t < len) {
            const float *q = base + t * C3;
            const float *dy = dout_base + (size_t)t * C;
            float qk = 0.0f, dyv = 0.0f;
            for (int i = 0; i < HS; i++) {
                qk += q[i] * k_s[i];
                dyv += dy[i] * v_s[i];
            }
            p = expf(qk * scale - lse_base[(size_t)t * NH]);
            ds = p * (dyv - delta_base[(size_t)t * NH]) * scale;
        }
        p_s[lane] = p;
        ds_s[lane] = ds;
        __syncwarp();

        /* dk_j += sum_t ds_tj q_t; dv_j += sum_t p_tj dout_t */
        int nt = min(32, len - t0);
        for (int i = lane; i < HS; i += 32) {
            float dk = dk_s[i], dv = dv_s[i];
            for (int tt = 0; tt < nt; tt++) {
                dk += ds_s[tt] * base[(t0 + tt) * C3 + i];
                dv += p_s[tt] * dout_base[(size_t)(t0 + tt) * C + i];
            }
            dk_s[i] = dk;
            dv_s[i] = dv;
        }
        __syncwarp();
    }

    float *dk = dqkv + (size_t)n * C3 + C + (size_t)head * HS;
    float *dv = dk + C;
    for (int i = lane; i < HS; i += 32) {
        dk[i] += dk_s[i];
        dv[i] += dv_s[i];
    }
}

/* ------------------------------------------------------------------------ */
/* Launchers                                                                */
/* ------------------------------------------------------------------------ */

static clipt_status check_shape(const char *op, int B, int N, int C, int NH, int max_len)
{
    if (B < 0 || N < 0 || max_len < 0 || C < 1 || NH < 1 || C % NH != 0) {
        return clipt_set_error(CLIPT_ERR_SHAPE,
                               "%s: B=%d, N=%d, C=%d, NH=%d, max_len=%d; need B, N, "
                               "max_len >= 0 and C a positive multiple of NH",
                               op, B, N, C, NH, max_len);
    }
    /* the fast path launches a block per (row, head), the general path a
     * warp per (token, head) */
    if ((size_t)B * NH > 0x7fffffffu || (size_t)N * NH > 0x7fffffffu) {
        return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                               "%s: B=%d rows and N=%d tokens of %d heads exceed the "
                               "2^31 - 1 blocks or warps one launch can index; split "
                               "the batch",
                               op, B, N, NH);
    }
    return CLIPT_OK;
}

static int use_fast_path(int max_len, int HS)
{
    return max_len <= ATT_FAST_MAX_LEN && HS == ATT_FAST_HS;
}

/* Warps per block for a general kernel whose warps each take
 * warp_floats floats of shared memory: ATT_GENERAL_WARPS, or fewer when
 * that does not fit; 0 when not even one warp fits. */
static int general_warps(const clipt_cuda_state *st, int warp_floats)
{
    size_t per_warp = (size_t)warp_floats * sizeof(float);
    for (int warps = ATT_GENERAL_WARPS; warps >= 1; warps /= 2) {
        if (per_warp * warps <= st->shared_per_block) return warps;
    }
    return 0;
}

static clipt_status no_general_fit(const char *op, const clipt_cuda_state *st, int HS,
                                   int warp_floats)
{
    return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                           "%s: head size %d needs %zu bytes of shared memory per "
                           "warp, more than the %zu a block may use on cuda:%d",
                           op, HS, (size_t)warp_floats * sizeof(float),
                           st->shared_per_block, st->device);
}

extern "C" clipt_status clipt_cuda_attention_forward(clipt_context *ctx, float *out,
                                                     float *lse, const float *qkv,
                                                     const int32_t *offsets, int B, int N,
                                                     int C, int NH, int max_len)
{
    const char *op = "attention_forward";
    CLIPT_TRY(check_shape(op, B, N, C, NH, max_len));
    if (B == 0 || N == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    int HS = C / NH;
    float scale = (float)(1.0 / sqrt((double)HS));

    if (use_fast_path(max_len, HS)) {
        attention_forward_block_per_head_smem_kv<<<(unsigned)(B * NH), ATT_FAST_WARPS * 32, 0,
                                                   st->stream>>>(out, lse, qkv, offsets, C, NH,
                                                                 scale);
        return clipt_cuda_check_launch(op, "attention_forward_block_per_head_smem_kv");
    }
    int warp_floats = forward_warp_floats(HS);
    int warps = general_warps(st, warp_floats);
    if (warps == 0) return no_general_fit(op, st, HS, warp_floats);
    size_t rows = (size_t)N * NH;
    unsigned grid = (unsigned)((rows + warps - 1) / warps);
    size_t shared = (size_t)warps * warp_floats * sizeof(float);
    attention_forward_warp_per_query_online_softmax<<<grid, warps * 32, shared, st->stream>>>(
        out, lse, qkv, offsets, B, N, C, NH, scale);
    return clipt_cuda_check_launch(op, "attention_forward_warp_per_query_online_softmax");
}

extern "C" clipt_status clipt_cuda_attention_backward(clipt_context *ctx, float *dqkv,
                                                      const float *dout, const float *qkv,
                                                      const float *out, const float *lse,
                                                      const int32_t *offsets, int B, int N,
                                                      int C, int NH, int max_len)
{
    const char *op = "attention_backward";
    CLIPT_TRY(check_shape(op, B, N, C, NH, max_len));
    if (B == 0 || N == 0) return CLIPT_OK;
    clipt_cuda_state *st = NULL;
    CLIPT_TRY(clipt_cuda_begin(ctx, op, &st));
    int HS = C / NH;
    float scale = (float)(1.0 / sqrt((double)HS));

    if (use_fast_path(max_len, HS)) {
        attention_backward_block_per_head_smem<<<(unsigned)(B * NH), ATT_FAST_WARPS * 32, 0,
                                                 st->stream>>>(dqkv, dout, qkv, out, lse,
                                                               offsets, C, NH, scale);
        return clipt_cuda_check_launch(op, "attention_backward_block_per_head_smem");
    }

    int query_floats = query_rows_warp_floats(HS);
    int key_floats = key_rows_warp_floats(HS);
    int query_warps = general_warps(st, query_floats);
    int key_warps = general_warps(st, key_floats);
    if (query_warps == 0) return no_general_fit(op, st, HS, query_floats);
    if (key_warps == 0) return no_general_fit(op, st, HS, key_floats);
    size_t rows = (size_t)N * NH;
    float *delta = NULL;
    CLIPT_TRY(clipt_cuda_scratch(st, rows * sizeof(float), op, (void **)&delta));

    unsigned grid = (unsigned)((rows + query_warps - 1) / query_warps);
    size_t shared = (size_t)query_warps * query_floats * sizeof(float);
    attention_backward_query_rows_warp_per_query<<<grid, query_warps * 32, shared,
                                                   st->stream>>>(
        dqkv, delta, dout, qkv, out, lse, offsets, B, N, C, NH, scale);
    CLIPT_TRY(clipt_cuda_check_launch(op, "attention_backward_query_rows_warp_per_query"));

    grid = (unsigned)((rows + key_warps - 1) / key_warps);
    shared = (size_t)key_warps * key_floats * sizeof(float);
    attention_backward_key_rows_warp_per_key<<<grid, key_warps * 32, shared, st->stream>>>(
        dqkv, delta, dout, qkv, lse, offsets, B, N, C, NH, scale);
    return clipt_cuda_check_launch(op, "attention_backward_key_rows_warp_per_key");
}
