/* bench/kernels: the speed of every backend op, forward and backward, at the
 * sizes of CLIP ViT-B/32's text tower, on the CPU or on a CUDA device,
 * through the backend table of lib/backend.h.
 *
 *   kernels [--device cpu|cuda|cuda:N|auto] [--reps N]
 *           [--shape realistic|padded|all] [--threads N] [--tf32]
 *           [--quick] [--csv FILE]
 *
 * Shapes, texts x tokens per text:
 *   CPU   realistic 512 x 8-12 packed    padded 64 x 77 (packing off)
 *   CUDA  realistic 4096 x 8-12 packed   padded 4096 x 77
 * Packed rows store the tokens of all texts back to back, as the library
 * runs WordNet batches. Padded rows all have the 77-token context length,
 * which is the work of a framework that pads to 77. --quick shrinks every
 * size for smoke tests, so its numbers describe nothing.
 *
 * Ceilings, measured first and printed before the ops:
 *   bandwidth  CPU: a STREAM-like copy, dst[i] = src[i] with the context's
 *              threads, over buffers twice the size of the last-level
 *              cache; CUDA: a device-to-device copy of 512 MiB.
 *              GB/s count the bytes read plus the bytes written.
 *   FLOP/s     matmul_forward on square matrices: 2048 (CPU, OpenBLAS
 *              sgemm) or 8192 (CUDA, cuBLAS fp32, and TF32 with --tf32).
 *
 * Timing: each op is first called in growing groups (the warm-up) until a
 * group lasts a quarter of MIN_GROUP_SECONDS; that sets K, the calls per
 * group, so that a group lasts MIN_GROUP_SECONDS. Then R groups (--reps) of
 * K back-to-back calls run between two backend synchronisations, timed on
 * the host's monotonic clock. Before each group a buffer as large as one
 * copy side is written, which evicts the caches for the group's first call;
 * the later calls may find part of their inputs in cache, so ops on small
 * tensors can exceed 100% of the copy. Each line gives the median, min and
 * max time per call over the R groups, GB/s from the bytes the op must move
 * at least (formulas in op_cost), FLOP/s where the work is arithmetic, and
 * both as a percentage of the ceilings. Backward ops accumulate into their
 * gradients on every call; the values grow but the work does not change.
 *
 * With --device cuda and no usable device it prints "skipped: kernels: no
 * CUDA device (reason)" and exits 0; --device auto falls back to the CPU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"

#define MIN_GROUP_SECONDS 2e-3
#define MAX_CALLS_PER_GROUP 100000
#define MAX_BUFFERS 64

/* CLIP ViT-B/32 text tower: width, heads, MLP width, vocabulary, context
 * length, layers and projection width (clipt_model_config_preset). */
enum { C = 512, NH = 8, F = 2048, V = 49408, T = 77, L = 12, P = 512 };

/* B texts whose lengths run from min_len to max_len tokens. */
typedef struct bench_shape {
    const char *name;
    int B, min_len, max_len;
} bench_shape;

/* Per device and size: the realistic shape, then the padded one. */
static const bench_shape cpu_shapes[2] = {{"512x8-12 packed", 512, 8, 12},
                                          {"64x77 padded", 64, 77, 77}};
static const bench_shape cuda_shapes[2] = {{"4096x8-12 packed", 4096, 8, 12},
                                           {"4096x77 padded", 4096, 77, 77}};
static const bench_shape cpu_quick_shapes[2] = {{"32x8-12 packed", 32, 8, 12},
                                                {"4x77 padded", 4, 77, 77}};
static const bench_shape cuda_quick_shapes[2] = {{"256x8-12 packed", 256, 8, 12},
                                                 {"64x77 padded", 64, 77, 77}};

typedef enum op_kind {
    EMBEDDING_FORWARD, EMBEDDING_BACKWARD, LAYERNORM_FORWARD, LAYERNORM_BACKWARD,
    MATMUL_FORWARD, MATMUL_BACKWARD, ATTENTION_FORWARD, ATTENTION_BACKWARD,
    ACTIVATION_FORWARD, ACTIVATION_BACKWARD, ADD, GATHER_ROWS, GATHER_ROWS_BACKWARD,
    COSINE_LOSS, GRAD_NORM, ADAMW_UPDATE,
    /* the ceilings */
    COPY, SGEMM
} op_kind;

/* One line of the table. Matmuls carry their input and output widths;
 * ops whose size does not depend on the batch shape run once. */
typedef struct op_spec {
    const char *name;
    op_kind kind;
    int in, out;
    int per_shape;
} op_spec;

static const op_spec ops[] = {
    {"embedding_forward", EMBEDDING_FORWARD, 0, 0, 1},
    {"embedding_backward", EMBEDDING_BACKWARD, 0, 0, 1},
    {"layernorm_forward", LAYERNORM_FORWARD, 0, 0, 1},
    {"layernorm_backward", LAYERNORM_BACKWARD, 0, 0, 1},
    {"matmul_forward qkv", MATMUL_FORWARD, C, 3 * C, 1},
    {"matmul_backward qkv", MATMUL_BACKWARD, C, 3 * C, 1},
    {"matmul_forward out_proj", MATMUL_FORWARD, C, C, 1},
    {"matmul_backward out_proj", MATMUL_BACKWARD, C, C, 1},
    {"matmul_forward fc1", MATMUL_FORWARD, C, F, 1},
    {"matmul_backward fc1", MATMUL_BACKWARD, C, F, 1},
    {"matmul_forward fc2", MATMUL_FORWARD, F, C, 1},
    {"matmul_backward fc2", MATMUL_BACKWARD, F, C, 1},
    {"attention_forward", ATTENTION_FORWARD, 0, 0, 1},
    {"attention_backward", ATTENTION_BACKWARD, 0, 0, 1},
    {"activation_forward", ACTIVATION_FORWARD, 0, 0, 1},
    {"activation_backward", ACTIVATION_BACKWARD, 0, 0, 1},
    {"add", ADD, 0, 0, 1},
    {"gather_rows", GATHER_ROWS, 0, 0, 1},
    {"gather_rows_backward", GATHER_ROWS_BACKWARD, 0, 0, 1},
    {"cosine_loss", COSINE_LOSS, 0, 0, 0},
    {"grad_norm", GRAD_NORM, 0, 0, 0},
    {"adamw_update", ADAMW_UPDATE, 0, 0, 0},
};
#define OP_COUNT ((int)(sizeof ops / sizeof ops[0]))

typedef struct bench {
    clipt_context *ctx;
    const clipt_backend *be;
    int cuda;
    /* the current shape: B texts, N tokens, the longest row, and the causal
     * (query, key) pairs that attention scores over all heads */
    int B, N, max_len;
    double attention_pairs;
    int pairs;  /* loss pairs over B texts */
    size_t nparams;
    int sgemm_n;
    /* backend buffers, sized for the largest shape; the "wide" ones are
     * (N,F), large enough for (N,3C) too */
    int32_t *ids, *pos, *offsets, *eot_rows, *pair_a, *pair_b;
    float *wte, *dwte, *wpe, *dwpe, *x, *dx, *y, *dy, *wide_in, *dwide_in, *wide_out,
        *dwide_out;
    float *mean, *rstd, *ln_w, *ln_b, *dln_w, *dln_b, *w, *bias, *dw, *db, *lse;
    float *rows, *drows, *E, *E0, *dE, *target, *losses;
    float *params, *grads, *m, *v, *norm;
    clipt_param_segment *segments;
    float *sgemm_a, *sgemm_b, *sgemm_c;
    /* the copy's two sides; the first side is also the cache flush buffer */
    char *copy_src, *copy_dst;
    size_t copy_bytes;
    void *allocs[MAX_BUFFERS];
    int nallocs;
} bench;

/* Median, min and max seconds per call over the timed groups. */
typedef struct timing {
    int calls_per_group, groups;
    double median, min, max;
} timing;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die_on(clipt_status st, const char *what)
{
    if (st == CLIPT_OK) return;
    fprintf(stderr, "kernels: %s: %s: %s\n", what, clipt_status_name(st), clipt_last_error());
    exit(1);
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                  */
/* ------------------------------------------------------------------------ */

static void *dev_alloc(bench *b, size_t bytes, const char *what)
{
    void *p = NULL;
    if (b->nallocs == MAX_BUFFERS) die_on(CLIPT_ERR_INTERNAL, "too many buffers");
    die_on(b->be->alloc(b->ctx, bytes, what, &p), what);
    die_on(b->be->zero(b->ctx, p, bytes), what);
    b->allocs[b->nallocs++] = p;
    return p;
}

/* Fills n floats with values in [lo, hi). A xorshift generator makes at
 * most 1 Mi values, which copies repeat, because the ops' speed does not
 * depend on the values. */
static float *dev_random(bench *b, size_t n, float lo, float hi, const char *what)
{
    size_t block = n < ((size_t)1 << 20) ? n : ((size_t)1 << 20);
    float *host = malloc(block * sizeof(float));
    if (host == NULL) die_on(CLIPT_ERR_OUT_OF_MEMORY, what);
    uint64_t s = 0x9e3779b97f4a7c15ULL ^ n;
    for (size_t i = 0; i < block; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        host[i] = lo + (hi - lo) * (float)((double)(s >> 11) * 0x1.0p-53);
    }
    float *d = dev_alloc(b, n * sizeof(float), what);
    die_on(b->be->upload(b->ctx, d, host, block * sizeof(float)), what);
    for (size_t filled = block; filled < n;) {
        size_t count = filled < n - filled ? filled : n - filled;
        die_on(b->be->copy(b->ctx, d + filled, d, count * sizeof(float)), what);
        filled += count;
    }
    die_on(b->be->synchronize(b->ctx), what);
    free(host);
    return d;
}

/* Uploads n integers spread over [0, modulo). */
static int32_t *dev_ints(bench *b, size_t n, int modulo, unsigned salt, const char *what)
{
    int32_t *host = malloc(n * sizeof(int32_t));
    if (host == NULL) die_on(CLIPT_ERR_OUT_OF_MEMORY, what);
    for (size_t i = 0; i < n; i++) {
        host[i] = (int32_t)(((i + salt) * 2654435761u >> 7) % (unsigned)modulo);
    }
    int32_t *d = dev_alloc(b, n * sizeof(int32_t), what);
    die_on(b->be->upload(b->ctx, d, host, n * sizeof(int32_t)), what);
    die_on(b->be->synchronize(b->ctx), what);
    free(host);
    return d;
}

/* Length of text r of a shape: min_len to max_len, mixed. */
static int row_length(const bench_shape *shape, int r)
{
    int spread = shape->max_len - shape->min_len + 1;
    return shape->min_len + (int)(((unsigned)r * 2654435761u >> 16) % (unsigned)spread);
}

static size_t shape_tokens(const bench_shape *shape)
{
    size_t n = 0;
    for (int r = 0; r < shape->B; r++) n += (size_t)row_length(shape, r);
    return n;
}

/* The parameter count of the text tower: embeddings, L blocks of two
 * LayerNorms, qkv, out_proj, fc1 and fc2 with biases, the final LayerNorm
 * and the projection (63.4 M for ViT-B/32). */
static size_t text_tower_params(void)
{
    size_t block = 2 * 2 * C + (3 * C * C + 3 * C) + (C * C + C) + (C * F + F) + (F * C + C);
    return (size_t)V * C + (size_t)T * C + L * block + 2 * C + (size_t)C * P;
}

/* Allocates every buffer for at most maxN tokens and maxB texts; the loss
 * pairs index loss_texts texts. */
static void setup(bench *b, size_t maxN, int maxB, int loss_texts, int quick)
{
    size_t N = maxN;
    b->ids = dev_ints(b, N, V, 0, "ids");
    b->pos = dev_alloc(b, N * sizeof(int32_t), "positions");
    b->offsets = dev_alloc(b, ((size_t)maxB + 1) * sizeof(int32_t), "row offsets");
    b->eot_rows = dev_alloc(b, (size_t)maxB * sizeof(int32_t), "end-of-text rows");
    b->pair_a = dev_ints(b, (size_t)maxB, loss_texts, 1, "pair_a");
    b->pair_b = dev_ints(b, (size_t)maxB, loss_texts, 7, "pair_b");
    b->wte = dev_random(b, (size_t)V * C, -0.02f, 0.02f, "wte");
    b->dwte = dev_alloc(b, (size_t)V * C * sizeof(float), "dwte");
    b->wpe = dev_random(b, (size_t)T * C, -0.01f, 0.01f, "wpe");
    b->dwpe = dev_alloc(b, (size_t)T * C * sizeof(float), "dwpe");
    b->x = dev_random(b, N * C, -1.0f, 1.0f, "x");
    b->dx = dev_alloc(b, N * C * sizeof(float), "dx");
    b->y = dev_alloc(b, N * C * sizeof(float), "y");
    b->dy = dev_random(b, N * C, -1.0f, 1.0f, "dy");
    b->wide_in = dev_random(b, N * F, -1.0f, 1.0f, "wide input");
    b->dwide_in = dev_alloc(b, N * F * sizeof(float), "wide input gradient");
    b->wide_out = dev_alloc(b, N * F * sizeof(float), "wide output");
    b->dwide_out = dev_random(b, N * F, -1.0f, 1.0f, "wide output gradient");
    b->mean = dev_alloc(b, N * sizeof(float), "mean");
    b->rstd = dev_alloc(b, N * sizeof(float), "rstd");
    b->lse = dev_alloc(b, N * NH * sizeof(float), "lse");
    b->ln_w = dev_random(b, C, 0.9f, 1.1f, "layernorm weight");
    b->ln_b = dev_random(b, C, -0.1f, 0.1f, "layernorm bias");
    b->dln_w = dev_alloc(b, C * sizeof(float), "layernorm weight gradient");
    b->dln_b = dev_alloc(b, C * sizeof(float), "layernorm bias gradient");
    b->w = dev_random(b, (size_t)F * C, -0.05f, 0.05f, "weight");
    b->bias = dev_random(b, F, -0.1f, 0.1f, "bias");
    b->dw = dev_alloc(b, (size_t)F * C * sizeof(float), "weight gradient");
    b->db = dev_alloc(b, F * sizeof(float), "bias gradient");
    b->rows = dev_alloc(b, (size_t)maxB * C * sizeof(float), "end-of-text rows");
    b->drows = dev_random(b, (size_t)maxB * C, -1.0f, 1.0f, "end-of-text gradient");
    b->E = dev_random(b, (size_t)maxB * P, -1.0f, 1.0f, "E");
    b->E0 = dev_random(b, (size_t)maxB * P, -1.0f, 1.0f, "E0");
    b->dE = dev_alloc(b, (size_t)maxB * P * sizeof(float), "dE");
    b->target = dev_random(b, (size_t)maxB, 0.0f, 1.0f, "target");
    b->losses = dev_alloc(b, 4 * sizeof(float), "losses");

    b->nparams = quick ? ((size_t)1 << 20) : text_tower_params();
    b->params = dev_random(b, b->nparams, -0.05f, 0.05f, "params");
    b->grads = dev_random(b, b->nparams, -0.01f, 0.01f, "grads");
    b->m = dev_alloc(b, b->nparams * sizeof(float), "m");
    b->v = dev_alloc(b, b->nparams * sizeof(float), "v");
    b->norm = dev_alloc(b, sizeof(float), "norm");
    clipt_param_segment seg = {0, b->nparams, 1};
    b->segments = dev_alloc(b, sizeof seg, "segments");
    die_on(b->be->upload(b->ctx, b->segments, &seg, sizeof seg), "segments");

    size_t n2 = (size_t)b->sgemm_n * b->sgemm_n;
    b->sgemm_a = dev_random(b, n2, -1.0f, 1.0f, "sgemm A");
    b->sgemm_b = dev_random(b, n2, -1.0f, 1.0f, "sgemm B");
    b->sgemm_c = dev_alloc(b, n2 * sizeof(float), "sgemm C");
    b->copy_src = dev_alloc(b, b->copy_bytes, "copy source");
    b->copy_dst = dev_alloc(b, b->copy_bytes, "copy destination");
    die_on(b->be->synchronize(b->ctx), "setup");
}

static void teardown(bench *b)
{
    for (int i = b->nallocs - 1; i >= 0; i--) b->be->free(b->ctx, b->allocs[i]);
    b->nallocs = 0;
}

/* Makes shape current: uploads each token's position, the row offsets and
 * the end-of-text rows into the buffers that setup() sized. */
static void use_shape(bench *b, const bench_shape *shape)
{
    size_t N = shape_tokens(shape);
    int32_t *pos = malloc(N * sizeof(int32_t));
    int32_t *offsets = malloc(((size_t)shape->B + 1) * sizeof(int32_t));
    if (pos == NULL || offsets == NULL) die_on(CLIPT_ERR_OUT_OF_MEMORY, "shape");
    size_t n = 0;
    b->attention_pairs = 0.0;
    b->max_len = 0;
    for (int r = 0; r < shape->B; r++) {
        int len = row_length(shape, r);
        offsets[r] = (int32_t)n;
        for (int t = 0; t < len; t++) pos[n++] = t;
        b->attention_pairs += (double)NH * len * (len + 1) / 2.0;
        if (len > b->max_len) b->max_len = len;
    }
    offsets[shape->B] = (int32_t)n;
    die_on(b->be->upload(b->ctx, b->pos, pos, N * sizeof(int32_t)), "positions");
    die_on(b->be->upload(b->ctx, b->offsets, offsets, ((size_t)shape->B + 1) * sizeof(int32_t)),
           "row offsets");
    /* the end-of-text token is the last of each row */
    for (int r = 0; r < shape->B; r++) offsets[r] = offsets[r + 1] - 1;
    die_on(b->be->upload(b->ctx, b->eot_rows, offsets, (size_t)shape->B * sizeof(int32_t)),
           "end-of-text rows");
    die_on(b->be->synchronize(b->ctx), "shape");
    free(pos);
    free(offsets);
    b->B = shape->B;
    b->N = (int)N;
    /* WordNet batches have about 1.8 texts per pair */
    b->pairs = shape->B * 5 / 9 > 0 ? shape->B * 5 / 9 : 1;
}

/* ------------------------------------------------------------------------ */
/* Running and timing one op                                                */
/* ------------------------------------------------------------------------ */

/* The CPU copy ceiling: every thread copies its contiguous share. */
static void stream_copy(bench *b)
{
    size_t n = b->copy_bytes / sizeof(float);
    float *dst = (float *)b->copy_dst;
    const float *src = (const float *)b->copy_src;
#pragma omp parallel for num_threads(b->ctx->num_threads) schedule(static)
    for (size_t i = 0; i < n; i++) dst[i] = src[i];
}

/* Writes the first copy side, which evicts the caches (the CPU's last level
 * is at most half of it, a GPU's L2 a small fraction). */
static void flush_caches(bench *b)
{
    if (b->cuda) {
        die_on(b->be->zero(b->ctx, b->copy_src, b->copy_bytes), "cache flush");
        return;
    }
    size_t n = b->copy_bytes / sizeof(float);
    float *p = (float *)b->copy_src;
#pragma omp parallel for num_threads(b->ctx->num_threads) schedule(static)
    for (size_t i = 0; i < n; i++) p[i] = (float)(i & 7);
}

/* Runs one op once on the current shape. */
static clipt_status run_op(bench *b, const op_spec *op)
{
    const clipt_backend *be = b->be;
    clipt_context *ctx = b->ctx;
    int B = b->B, N = b->N;
    clipt_adamw_hparams hp = {1e-4, 0.9, 0.98, 1e-6, 0.2, 10, 1.0};
    /* matmul operands: width C lives in the (N,C) buffers, wider ones in
     * the (N,F) buffers */
    float *inp = op->in == C ? b->x : b->wide_in, *dinp = op->in == C ? b->dx : b->dwide_in;
    float *out = op->out == C ? b->y : b->wide_out, *dout = op->out == C ? b->dy : b->dwide_out;
    switch (op->kind) {
    case EMBEDDING_FORWARD:
        return be->embedding_forward(ctx, b->x, b->ids, b->pos, b->wte, b->wpe, N, C);
    case EMBEDDING_BACKWARD:
        return be->embedding_backward(ctx, b->dwte, b->dwpe, b->dy, b->ids, b->pos, N, C, V);
    case LAYERNORM_FORWARD:
        return be->layernorm_forward(ctx, b->y, b->mean, b->rstd, b->x, b->ln_w, b->ln_b, N, C,
                                     1e-5f);
    case LAYERNORM_BACKWARD:
        return be->layernorm_backward(ctx, b->dx, b->dln_w, b->dln_b, b->dy, b->x, b->ln_w,
                                      b->mean, b->rstd, N, C);
    case MATMUL_FORWARD:
        return be->matmul_forward(ctx, out, inp, b->w, b->bias, N, op->in, op->out);
    case MATMUL_BACKWARD:
        return be->matmul_backward(ctx, dinp, b->dw, b->db, dout, inp, b->w, N, op->in,
                                   op->out);
    case ATTENTION_FORWARD:
        return be->attention_forward(ctx, b->y, b->lse, b->wide_in, b->offsets, B, N, C, NH,
                                     b->max_len);
    case ATTENTION_BACKWARD:
        return be->attention_backward(ctx, b->dwide_in, b->dy, b->wide_in, b->y, b->lse,
                                      b->offsets, B, N, C, NH, b->max_len);
    case ACTIVATION_FORWARD:
        return be->activation_forward(ctx, b->wide_out, b->wide_in, (size_t)N * F,
                                      CLIPT_ACTIVATION_QUICK_GELU);
    case ACTIVATION_BACKWARD:
        return be->activation_backward(ctx, b->dwide_in, b->dwide_out, b->wide_in,
                                       (size_t)N * F, CLIPT_ACTIVATION_QUICK_GELU);
    case ADD:
        return be->add(ctx, b->y, b->x, b->dy, (size_t)N * C);
    case GATHER_ROWS:
        return be->gather_rows(ctx, b->rows, b->x, b->eot_rows, B, C);
    case GATHER_ROWS_BACKWARD:
        return be->gather_rows_backward(ctx, b->dx, b->drows, b->eot_rows, B, C);
    case COSINE_LOSS:
        return be->cosine_loss(ctx, b->losses, NULL, b->dE, b->E, b->E0, b->pair_a, b->pair_b,
                               b->target, b->pairs, B, P, 0.5f);
    case GRAD_NORM:
        return be->grad_norm(ctx, b->norm, b->grads, b->segments, 1);
    case ADAMW_UPDATE:
        return be->adamw_update(ctx, b->params, b->grads, b->m, b->v, b->segments, 1, b->norm,
                                &hp);
    case COPY:
        if (b->cuda) return be->copy(ctx, b->copy_dst, b->copy_src, b->copy_bytes);
        stream_copy(b);
        return CLIPT_OK;
    case SGEMM:
        return be->matmul_forward(ctx, b->sgemm_c, b->sgemm_a, b->sgemm_b, NULL, b->sgemm_n,
                                  b->sgemm_n, b->sgemm_n);
    }
    return CLIPT_ERR_INTERNAL;
}

/* Bytes each op must move at least, reads plus writes (fp32 and int32 are
 * 4 bytes), and into *flops the arithmetic of the ops whose work is
 * arithmetic (0 for the others). */
static double op_cost(const bench *b, const op_spec *op, double *flops)
{
    double N = b->N, B = b->B, f = 4.0, in = op->in, out = op->out;
    double HS = C / NH, pairs = b->attention_pairs; /* causal (query, key) pairs, all heads */
    *flops = 0.0;
    switch (op->kind) {
    case EMBEDDING_FORWARD: /* ids, pos; a wte and a wpe row in, a row out per token */
        return (2 * N + 3 * N * C) * f;
    case EMBEDDING_BACKWARD: /* ids, pos, dout; dwte rows and all of dwpe read + written */
        return (2 * N + 3 * N * C + 2.0 * T * C) * f;
    case LAYERNORM_FORWARD: /* inp, weight, bias in; out, mean, rstd out */
        return (2 * N * C + 2 * N + 2 * C) * f;
    case LAYERNORM_BACKWARD: /* dout, inp, mean, rstd, weight; dinp, dweight, dbias r + w */
        return (4 * N * C + 2 * N + 5 * C) * f;
    case MATMUL_FORWARD: /* inp, weight, bias in, out written once; 2 N in out FLOPs */
        *flops = 2 * N * in * out;
        return (N * in + in * out + out + N * out) * f;
    case MATMUL_BACKWARD: /* dout, inp, weight; dinp, dweight, dbias r + w; two products */
        *flops = 4 * N * in * out;
        return (N * out + 3 * N * in + 3 * in * out + 2 * out) * f;
    case ATTENTION_FORWARD: /* qkv in, out and lse out; q.k and p.v per causal pair */
        *flops = 4 * HS * pairs;
        return (4 * N * C + N * NH + B) * f;
    case ATTENTION_BACKWARD: /* dout, qkv, out, lse in, dqkv r + w; scores recomputed, dv,
                              * dp, dq, dk per causal pair */
        *flops = 10 * HS * pairs;
        return (11 * N * C + N * NH + B) * f;
    case ACTIVATION_FORWARD: /* inp in, out out, N F elements */
        return 2 * N * F * f;
    case ACTIVATION_BACKWARD: /* dout, inp in, dinp r + w */
        return 4 * N * F * f;
    case ADD: /* a, b in, out out */
        return 3 * N * C * f;
    case GATHER_ROWS: /* row indices, B rows in, B rows out */
        return (B + 2 * B * C) * f;
    case GATHER_ROWS_BACKWARD: /* row indices, dout in, B rows of dinp r + w */
        return (B + 3 * B * C) * f;
    case COSINE_LOSS: /* E, E0 in, dE r + w; pair_a, pair_b, target per pair */
        return (4 * B * P + 3.0 * b->pairs) * f;
    case GRAD_NORM: /* grads in */
        return (double)b->nparams * f;
    case ADAMW_UPDATE: /* grads in; params, m, v r + w */
        return 7.0 * (double)b->nparams * f;
    case COPY: /* source in, destination out */
        return 2.0 * (double)b->copy_bytes;
    case SGEMM: /* A, B in, C out; 2 n^3 FLOPs */
        *flops = 2.0 * b->sgemm_n * (double)b->sgemm_n * b->sgemm_n;
        return 3.0 * b->sgemm_n * (double)b->sgemm_n * f;
    }
    return 0.0;
}

/* Seconds for k back-to-back calls between two synchronisations. */
static double run_group(bench *b, const op_spec *op, int k)
{
    die_on(b->be->synchronize(b->ctx), op->name);
    double t0 = now_seconds();
    for (int i = 0; i < k; i++) die_on(run_op(b, op), op->name);
    die_on(b->be->synchronize(b->ctx), op->name);
    return now_seconds() - t0;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Warm-up and the group size, then groups timed after a cache flush. */
static timing time_op(bench *b, const op_spec *op, int groups)
{
    int k = 1;
    double t = run_group(b, op, k);
    while (t < MIN_GROUP_SECONDS / 4 && k < MAX_CALLS_PER_GROUP) {
        k = k * 4 < MAX_CALLS_PER_GROUP ? k * 4 : MAX_CALLS_PER_GROUP;
        t = run_group(b, op, k);
    }
    double want = ceil(k * MIN_GROUP_SECONDS / t);
    if (want > MAX_CALLS_PER_GROUP) want = MAX_CALLS_PER_GROUP;
    timing tm = {want > 1 ? (int)want : 1, groups, 0.0, 0.0, 0.0};

    double *per_call = malloc((size_t)groups * sizeof(double));
    if (per_call == NULL) die_on(CLIPT_ERR_OUT_OF_MEMORY, "timings");
    for (int g = 0; g < groups; g++) {
        flush_caches(b);
        per_call[g] = run_group(b, op, tm.calls_per_group) / tm.calls_per_group;
    }
    qsort(per_call, (size_t)groups, sizeof(double), compare_doubles);
    tm.min = per_call[0];
    tm.max = per_call[groups - 1];
    tm.median = groups % 2 ? per_call[groups / 2]
                           : 0.5 * (per_call[groups / 2 - 1] + per_call[groups / 2]);
    free(per_call);
    return tm;
}

/* ------------------------------------------------------------------------ */
/* Report                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct report {
    FILE *csv;
    double copy_gbs;   /* the bandwidth ceiling, GB/s */
    double gemm_flops; /* the FLOP ceiling for fp32 products, FLOP/s */
    double tf32_flops; /* the same with TF32, 0 when TF32 is off */
    double flop_unit;  /* 1e9 on the CPU, 1e12 on CUDA */
    const char *unit;  /* "GFLOP/s" or "TFLOP/s" */
} report;

static void print_header(const report *r)
{
    printf("%-24s %-18s %8s %6s %11s %11s %11s %8s %6s %8s %6s\n", "op", "shape", "N", "K",
           "median_us", "min_us", "max_us", "GB/s", "%copy", r->unit, "%gemm");
}

/* Appends one CSV row; flop_ceiling is the FLOP/s the op's products can
 * reach. */
static void write_csv(const report *r, const char *op, const char *shape, double n,
                      const timing *tm, double bytes, double flops, double flop_ceiling)
{
    if (r->csv == NULL) return;
    double gbs = bytes / tm->median / 1e9, fps = flops / tm->median;
    fprintf(r->csv, "%s,%s,%.0f,%d,%d,%.3f,%.3f,%.3f,%.0f,%.0f,%.3f,%.2f,%.3f,%.2f\n", op, shape,
            n, tm->calls_per_group, tm->groups, tm->median * 1e6, tm->min * 1e6, tm->max * 1e6,
            bytes, flops, gbs, 100.0 * gbs / r->copy_gbs, fps / 1e9,
            flops > 0 ? 100.0 * fps / flop_ceiling : 0.0);
}

/* Prints one op's line and its CSV row. */
static void print_line(const report *r, const char *op, const char *shape, double n,
                       const timing *tm, double bytes, double flops, double flop_ceiling)
{
    double gbs = bytes / tm->median / 1e9, fps = flops / tm->median;
    printf("%-24s %-18s %8.0f %6d %11.1f %11.1f %11.1f %8.1f %5.0f%%", op, shape, n,
           tm->calls_per_group, tm->median * 1e6, tm->min * 1e6, tm->max * 1e6, gbs,
           100.0 * gbs / r->copy_gbs);
    if (flops > 0) {
        printf(" %8.2f %5.0f%%\n", fps / r->flop_unit, 100.0 * fps / flop_ceiling);
    } else {
        printf(" %8s %6s\n", "-", "-");
    }
    write_csv(r, op, shape, n, tm, bytes, flops, flop_ceiling);
}

/* Times the sgemm ceiling on ctx and prints its line. */
static double measure_sgemm(bench *b, const report *r, clipt_context *ctx, int groups,
                            const char *precision)
{
    const op_spec sgemm = {"sgemm", SGEMM, 0, 0, 0};
    clipt_context *main_ctx = b->ctx;
    b->ctx = ctx;
    double flops = 0.0, bytes = op_cost(b, &sgemm, &flops);
    timing tm = time_op(b, &sgemm, groups);
    b->ctx = main_ctx;
    double rate = flops / tm.median;
    printf("ceiling sgemm %s: %.2f %s (min %.2f, max %.2f): matmul_forward %dx%dx%d, %s\n",
           precision, rate / r->flop_unit, r->unit, flops / tm.max / r->flop_unit,
           flops / tm.min / r->flop_unit, b->sgemm_n, b->sgemm_n, b->sgemm_n,
           b->cuda ? "cuBLAS" : "OpenBLAS sgemm");
    char name[32];
    snprintf(name, sizeof name, "ceiling sgemm %s", precision);
    write_csv(r, name, "", b->sgemm_n, &tm, bytes, flops, rate);
    return rate;
}

/* Measures and prints the bandwidth ceiling and the FLOP ceilings. With
 * TF32 on, the fp32 ceiling comes from a second context without it. */
static void measure_ceilings(bench *b, report *r, int groups, const char *device)
{
    const op_spec copy = {"copy", COPY, 0, 0, 0};
    double flops = 0.0, bytes = op_cost(b, &copy, &flops);
    timing tm = time_op(b, &copy, groups);
    r->copy_gbs = bytes / tm.median / 1e9;
    printf("ceiling copy: %.1f GB/s read + write (min %.1f, max %.1f): ", r->copy_gbs,
           bytes / tm.max / 1e9, bytes / tm.min / 1e9);
    if (b->cuda) {
        printf("device-to-device copy of %zu MiB\n", b->copy_bytes >> 20);
    } else {
        printf("dst[i] = src[i] over %zu MiB, %d threads\n", b->copy_bytes >> 20,
               b->ctx->num_threads);
    }
    write_csv(r, "ceiling copy", "", (double)b->copy_bytes, &tm, bytes, 0.0, 0.0);

    if (!b->ctx->allow_tf32) {
        r->gemm_flops = measure_sgemm(b, r, b->ctx, groups, "fp32");
        return;
    }
    clipt_context *fp32_ctx = NULL;
    clipt_context_options opts;
    clipt_context_options_init(&opts);
    opts.device = device;
    die_on(clipt_context_create(&opts, &fp32_ctx), "creating a context without TF32");
    r->gemm_flops = measure_sgemm(b, r, fp32_ctx, groups, "fp32");
    clipt_context_free(fp32_ctx);
    r->tf32_flops = measure_sgemm(b, r, b->ctx, groups, "tf32");
    printf("matmuls below run with TF32 and are held to the tf32 ceiling\n");
}

/* ------------------------------------------------------------------------ */
/* Main                                                                     */
/* ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: kernels [options]\n"
            "  --device DEV      cpu, cuda, cuda:N or auto (default cpu)\n"
            "  --reps N          timed groups per op (default 10)\n"
            "  --shape S         realistic, padded or all (default all)\n"
            "  --threads N       CPU threads, 0 = one per processor (default 0)\n"
            "  --tf32            allow TF32 in CUDA matrix products\n"
            "  --quick           small sizes, for smoke tests\n"
            "  --csv FILE        also write every line to FILE as CSV\n");
}

/* The CPU model from /proc/cpuinfo, or "" where there is none. */
static void cpu_model(char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL) return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
            snprintf(buf, size, "%s", colon + 2);
            buf[strcspn(buf, "\n")] = '\0';
            break;
        }
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *device = "cpu", *shape_arg = "all", *csv_path = NULL;
    int reps = 10, threads = 0, tf32 = 0, quick = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--device") && more) device = argv[++i];
        else if (!strcmp(a, "--reps") && more) reps = atoi(argv[++i]);
        else if (!strcmp(a, "--shape") && more) shape_arg = argv[++i];
        else if (!strcmp(a, "--threads") && more) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--csv") && more) csv_path = argv[++i];
        else if (!strcmp(a, "--tf32")) tf32 = 1;
        else if (!strcmp(a, "--quick")) quick = 1;
        else {
            fprintf(stderr, "kernels: unknown or incomplete option \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
    }
    int first_shape = 0, last_shape = 1;
    if (!strcmp(shape_arg, "realistic")) last_shape = 0;
    else if (!strcmp(shape_arg, "padded")) first_shape = 1;
    else if (strcmp(shape_arg, "all") != 0) {
        fprintf(stderr, "kernels: --shape is \"%s\"; use realistic, padded or all\n", shape_arg);
        return 2;
    }
    if (reps < 1 || threads < 0) {
        fprintf(stderr, "kernels: --reps must be >= 1 and --threads >= 0\n");
        return 2;
    }

    bench b;
    memset(&b, 0, sizeof b);
    clipt_context_options opts;
    clipt_context_options_init(&opts);
    opts.device = device;
    opts.num_threads = threads;
    opts.allow_tf32 = tf32;
    clipt_status st = clipt_context_create(&opts, &b.ctx);
    if (st == CLIPT_ERR_NO_DEVICE || st == CLIPT_ERR_NO_CUDA) {
        printf("skipped: kernels: no CUDA device (%s)\n", clipt_last_error());
        return 0;
    }
    die_on(st, "creating the context");
    b.be = b.ctx->backend;
    b.cuda = strcmp(clipt_context_backend(b.ctx), "cuda") == 0;

    const bench_shape *shapes = b.cuda ? (quick ? cuda_quick_shapes : cuda_shapes)
                                       : (quick ? cpu_quick_shapes : cpu_shapes);
    size_t maxN = 0;
    int maxB = 0;
    for (int s = first_shape; s <= last_shape; s++) {
        if (shape_tokens(&shapes[s]) > maxN) maxN = shape_tokens(&shapes[s]);
        if (shapes[s].B > maxB) maxB = shapes[s].B;
    }
    if (b.cuda) {
        b.copy_bytes = (size_t)(quick ? 64 : 512) << 20;
        b.sgemm_n = quick ? 1024 : 8192;
    } else {
        long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
        if (llc <= 0) llc = sysconf(_SC_LEVEL2_CACHE_SIZE);
        size_t side = llc > 0 ? 2 * (size_t)llc : 0;
        if (side < ((size_t)256 << 20)) side = (size_t)256 << 20;
        b.copy_bytes = quick ? (size_t)16 << 20 : side;
        b.sgemm_n = quick ? 256 : 2048;
    }

    report r = {NULL, 0, 0, 0, b.cuda ? 1e12 : 1e9, b.cuda ? "TFLOP/s" : "GFLOP/s"};
    if (csv_path != NULL && (r.csv = fopen(csv_path, "w")) == NULL) {
        fprintf(stderr, "kernels: cannot write %s; check that its folder exists\n", csv_path);
        clipt_context_free(b.ctx);
        return 1;
    }
    if (r.csv != NULL) {
        fprintf(r.csv, "op,shape,n,calls_per_group,groups,median_us,min_us,max_us,bytes,flops,"
                       "gb_per_s,percent_copy,gflop_per_s,percent_gemm\n");
    }
    char desc[256], model[256];
    clipt_context_describe(b.ctx, desc, sizeof desc);
    cpu_model(model, sizeof model);
    if (b.cuda || model[0] == '\0') {
        printf("kernels: %s\n", desc);
    } else {
        printf("kernels: %s, %s\n", desc, model);
    }
    printf("timing: %d groups per op of K back-to-back calls, K sized for groups of >= %.0f ms, "
           "caches flushed (%zu MiB written) before each group; times per call%s\n",
           reps, MIN_GROUP_SECONDS * 1e3, b.copy_bytes >> 20,
           quick ? "; --quick sizes, not a measurement" : "");
    setup(&b, maxN, maxB, shapes[first_shape].B, quick);
    measure_ceilings(&b, &r, reps, device);
    print_header(&r);

    for (int s = first_shape; s <= last_shape; s++) {
        use_shape(&b, &shapes[s]);
        for (int o = 0; o < OP_COUNT; o++) {
            const op_spec *op = &ops[o];
            if (!op->per_shape && s != first_shape) continue;
            double flops = 0.0, bytes = op_cost(&b, op, &flops);
            timing tm = time_op(&b, op, reps);
            char label[64];
            double n = b.N;
            if (op->kind == COSINE_LOSS) {
                snprintf(label, sizeof label, "%d texts %d pairs", b.B, b.pairs);
                n = b.B;
            } else if (!op->per_shape) {
                snprintf(label, sizeof label, "%.1fM params", b.nparams / 1e6);
                n = (double)b.nparams;
            } else {
                snprintf(label, sizeof label, "%s", shapes[s].name);
            }
            int tf32_product = op->kind == MATMUL_FORWARD || op->kind == MATMUL_BACKWARD;
            double ceiling = tf32_product && r.tf32_flops > 0 ? r.tf32_flops : r.gemm_flops;
            print_line(&r, op->name, label, n, &tm, bytes, flops, ceiling);
            fflush(stdout);
        }
    }
    if (r.csv != NULL && fclose(r.csv) != 0) {
        fprintf(stderr, "kernels: writing %s failed\n", csv_path);
        return 1;
    }
    teardown(&b);
    clipt_context_free(b.ctx);
    return 0;
}
