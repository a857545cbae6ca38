/* Throughput of each CUDA op at CLIP ViT-B/32 text-tower sizes, through
 * the backend table. It prints one line per op and shape: the time per
 * call, GB/s or TFLOP/s from the bytes or FLOPs the op must move or
 * compute (formula beside each op), and GB/s as a percentage of a
 * device-to-device copy measured at the start, the practical ceiling.
 *
 * Shapes: a training batch of 4096 texts of 8 to 12 tokens, packed without
 * padding as the library runs it (N = 40954 tokens, rows up to 12), and
 * 4096 rows padded to 77 tokens (N = 315392), the shape a framework that
 * pads to the context length computes.
 *
 *   bench_cuda_ops [--reps COUNT]
 *
 * Timing: 3 untimed calls, then COUNT calls back to back between two stream
 * synchronisations, timed on the host clock. A 512 MiB buffer is zeroed
 * before each timed run, which evicts the L2 cache (60 MB on an H200) for
 * the first call; the later calls may find part of their inputs in L2.
 * Prints "skipped: bench_cuda_ops: no CUDA device" and exits 0 when no
 * CUDA device is usable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"

#define WARMUP 3
#define FLUSH_BYTES ((size_t)512 << 20)

/* ViT-B/32 text tower sizes; P equals C there. */
enum { C = 512, NH = 8, F = 2048, V = 49408, P = 512 };

/* A batch of B rows whose lengths run from min_len to max_len. */
typedef struct bench_shape {
    const char *name;
    int B, min_len, max_len;
} bench_shape;

static const bench_shape shapes[] = {
    {"4096x8-12 packed", 4096, 8, 12},
    {"4096x77 padded", 4096, 77, 77},
};

typedef struct bench {
    clipt_context *ctx;
    const clipt_backend *be;
    /* the current shape: B rows, N tokens, the longest row, and the
     * (query, key) pairs that causal attention scores in each head */
    int B, N, max_len;
    double attention_pairs;
    int U; /* texts for the loss: the largest batch */
    /* device buffers, sized for the largest shape */
    int32_t *ids, *pos, *offsets, *pair_a, *pair_b;
    float *wte, *dwte, *wpe, *x, *y, *dx, *dy, *mean, *rstd, *w, *bias, *dw, *db;
    float *qkv, *dqkv, *att, *lse, *h, *dh, *E, *E0, *dE, *target, *losses;
    float *params, *grads, *m, *v, *norm;
    clipt_param_segment *segs;
    size_t nparams;
    void *flush;
} bench;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die_on(clipt_status st, const char *what)
{
    if (st == CLIPT_OK) return;
    fprintf(stderr, "bench_cuda_ops: %s: %s: %s\n", what, clipt_status_name(st),
            clipt_last_error());
    exit(1);
}

static void *dev_alloc(bench *b, size_t bytes, const char *what)
{
    void *p = NULL;
    die_on(b->be->alloc(b->ctx, bytes, what, &p), what);
    die_on(b->be->zero(b->ctx, p, bytes), what);
    return p;
}

/* Uploads n small random values; the ops' speed does not depend on them. */
static float *dev_random(bench *b, size_t n, float lo, float hi, const char *what)
{
    float *host = malloc(n * sizeof(float));
    if (host == NULL) die_on(CLIPT_ERR_OUT_OF_MEMORY, what);
    uint64_t s = 0x9e3779b97f4a7c15ULL ^ n;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        host[i] = lo + (hi - lo) * (float)((double)(s >> 11) * 0x1.0p-53);
    }
    float *d = dev_alloc(b, n * sizeof(float), what);
    die_on(b->be->upload(b->ctx, d, host, n * sizeof(float)), what);
    die_on(b->be->synchronize(b->ctx), what);
    free(host);
    return d;
}

static int32_t *dev_ints(bench *b, size_t n, int modulo, const char *what)
{
    int32_t *host = malloc(n * sizeof(int32_t));
    if (host == NULL) die_on(CLIPT_ERR_OUT_OF_MEMORY, what);
    for (size_t i = 0; i < n; i++) host[i] = (int32_t)((i * 2654435761u) % (unsigned)modulo);
    int32_t *d = dev_alloc(b, n * sizeof(int32_t), what);
    die_on(b->be->upload(b->ctx, d, host, n * sizeof(int32_t)), what);
    die_on(b->be->synchronize(b->ctx), what);
    free(host);
    return d;
}

/* Length of row r of a shape: min_len to max_len, mixed. */
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

/* Makes shape current: uploads each token's position and the row offsets
 * into the buffers that setup() sized for the largest shape. */
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
    die_on(b->be->synchronize(b->ctx), "shape");
    free(pos);
    free(offsets);
    b->B = shape->B;
    b->N = (int)N;
}

static void setup(bench *b, size_t maxN, int maxB)
{
    size_t N = maxN;
    b->U = maxB;
    b->ids = dev_ints(b, N, V, "ids");
    b->pos = dev_alloc(b, N * sizeof(int32_t), "positions");
    b->offsets = dev_alloc(b, ((size_t)maxB + 1) * sizeof(int32_t), "row offsets");
    b->pair_a = dev_ints(b, 2 * (size_t)maxB, maxB, "pair_a");
    b->pair_b = dev_ints(b, 2 * (size_t)maxB, maxB - 1, "pair_b");
    b->wte = dev_random(b, (size_t)V * C, -0.02f, 0.02f, "wte");
    b->dwte = dev_alloc(b, (size_t)V * C * sizeof(float), "dwte");
    b->wpe = dev_random(b, (size_t)77 * C, -0.01f, 0.01f, "wpe");
    b->x = dev_random(b, N * C, -1.0f, 1.0f, "x");
    b->y = dev_alloc(b, N * C * sizeof(float), "y");
    b->dx = dev_alloc(b, N * C * sizeof(float), "dx");
    b->dy = dev_random(b, N * C, -1.0f, 1.0f, "dy");
    b->mean = dev_alloc(b, N * sizeof(float), "mean");
    b->rstd = dev_alloc(b, N * sizeof(float), "rstd");
    b->w = dev_random(b, (size_t)F * C, -0.05f, 0.05f, "weight");
    b->bias = dev_random(b, (size_t)F, -0.1f, 0.1f, "bias");
    b->dw = dev_alloc(b, (size_t)F * C * sizeof(float), "dweight");
    b->db = dev_alloc(b, (size_t)F * sizeof(float), "dbias");
    b->qkv = dev_random(b, N * 3 * C, -1.0f, 1.0f, "qkv");
    b->dqkv = dev_alloc(b, N * 3 * C * sizeof(float), "dqkv");
    b->att = dev_alloc(b, N * C * sizeof(float), "attention output");
    b->lse = dev_alloc(b, N * NH * sizeof(float), "lse");
    b->h = dev_random(b, N * F, -3.0f, 3.0f, "mlp hidden");
    b->dh = dev_alloc(b, N * F * sizeof(float), "mlp hidden gradient");
    b->E = dev_random(b, (size_t)maxB * P, -1.0f, 1.0f, "E");
    b->E0 = dev_random(b, (size_t)maxB * P, -1.0f, 1.0f, "E0");
    b->dE = dev_alloc(b, (size_t)maxB * P * sizeof(float), "dE");
    b->target = dev_random(b, 2 * (size_t)maxB, 0.0f, 1.0f, "target");
    b->losses = dev_alloc(b, 4 * sizeof(float), "losses");
    /* the text tower's parameter count, 63.2 M, in one segment */
    b->nparams = 63200000;
    b->params = dev_random(b, b->nparams, -0.05f, 0.05f, "params");
    b->grads = dev_random(b, b->nparams, -0.01f, 0.01f, "grads");
    b->m = dev_alloc(b, b->nparams * sizeof(float), "m");
    b->v = dev_alloc(b, b->nparams * sizeof(float), "v");
    b->norm = dev_alloc(b, sizeof(float), "norm");
    clipt_param_segment seg = {0, b->nparams, 1};
    b->segs = dev_alloc(b, sizeof seg, "segments");
    die_on(b->be->upload(b->ctx, b->segs, &seg, sizeof seg), "segments");
    b->flush = dev_alloc(b, FLUSH_BYTES, "L2 flush buffer");
}

enum op {
    OP_EMBEDDING_FORWARD, OP_EMBEDDING_BACKWARD, OP_LAYERNORM_FORWARD,
    OP_LAYERNORM_BACKWARD, OP_MATMUL_FORWARD, OP_MATMUL_BACKWARD, OP_ATTENTION_FORWARD,
    OP_ATTENTION_BACKWARD, OP_ACTIVATION_FORWARD, OP_ACTIVATION_BACKWARD, OP_ADD,
    OP_COSINE_LOSS, OP_GRAD_NORM, OP_ADAMW, OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
    "embedding_forward", "embedding_backward", "layernorm_forward", "layernorm_backward",
    "matmul_forward fc1", "matmul_backward fc1", "attention_forward", "attention_backward",
    "activation_forward", "activation_backward", "add", "cosine_loss", "grad_norm",
    "adamw_update"};

/* The loss, the gradient norm and AdamW do not depend on the batch shape;
 * they run with the first shape only. */
static int depends_on_shape(enum op op)
{
    return op != OP_COSINE_LOSS && op != OP_GRAD_NORM && op != OP_ADAMW;
}

/* Runs one op once on the current shape. */
static clipt_status run_op(bench *b, enum op op)
{
    const clipt_backend *be = b->be;
    clipt_context *ctx = b->ctx;
    int B = b->B, N = b->N;
    clipt_adamw_hparams hp = {1e-4, 0.9, 0.98, 1e-6, 0.2, 10, 1.0};
    switch (op) {
    case OP_EMBEDDING_FORWARD:
        return be->embedding_forward(ctx, b->x, b->ids, b->pos, b->wte, b->wpe, N, C);
    case OP_EMBEDDING_BACKWARD:
        return be->embedding_backward(ctx, b->dwte, b->dx, b->dy, b->ids, b->pos, N, C, V);
    case OP_LAYERNORM_FORWARD:
        return be->layernorm_forward(ctx, b->y, b->mean, b->rstd, b->x, b->w, b->bias, N, C,
                                     1e-5f);
    case OP_LAYERNORM_BACKWARD:
        return be->layernorm_backward(ctx, b->dx, b->dw, b->db, b->dy, b->x, b->w, b->mean,
                                      b->rstd, N, C);
    case OP_MATMUL_FORWARD:
        return be->matmul_forward(ctx, b->h, b->x, b->w, b->bias, N, C, F);
    case OP_MATMUL_BACKWARD:
        return be->matmul_backward(ctx, b->dx, b->dw, b->db, b->h, b->x, b->w, N, C, F);
    case OP_ATTENTION_FORWARD:
        return be->attention_forward(ctx, b->att, b->lse, b->qkv, b->offsets, B, N, C, NH,
                                     b->max_len);
    case OP_ATTENTION_BACKWARD:
        return be->attention_backward(ctx, b->dqkv, b->dy, b->qkv, b->att, b->lse, b->offsets,
                                      B, N, C, NH, b->max_len);
    case OP_ACTIVATION_FORWARD:
        return be->activation_forward(ctx, b->dh, b->h, (size_t)N * F,
                                      CLIPT_ACTIVATION_QUICK_GELU);
    case OP_ACTIVATION_BACKWARD:
        return be->activation_backward(ctx, b->dh, b->h, b->h, (size_t)N * F,
                                       CLIPT_ACTIVATION_QUICK_GELU);
    case OP_ADD:
        return be->add(ctx, b->y, b->x, b->dy, (size_t)N * C);
    case OP_COSINE_LOSS:
        return be->cosine_loss(ctx, b->losses, NULL, b->dE, b->E, b->E0, b->pair_a, b->pair_b,
                               b->target, 2 * b->U, b->U, P, 0.5f);
    case OP_GRAD_NORM:
        return be->grad_norm(ctx, b->norm, b->grads, b->segs, 1);
    case OP_ADAMW:
        return be->adamw_update(ctx, b->params, b->grads, b->m, b->v, b->segs, 1, b->norm, &hp);
    default:
        return CLIPT_ERR_INTERNAL;
    }
}

/* Bytes each op must move at least (reads + writes), or 0 when FLOPs are
 * the measure; *flops receives the FLOPs of the products. */
static double op_bytes(const bench *b, enum op op, double *flops)
{
    double N = (double)b->N, f = sizeof(float);
    double attn_pairs = b->attention_pairs; /* causal (t, j) pairs of all heads */
    *flops = 0.0;
    switch (op) {
    case OP_EMBEDDING_FORWARD: return 3 * N * C * f;             /* wte row, wpe row, out */
    case OP_EMBEDDING_BACKWARD: return 4 * N * C * f;            /* dout twice, dwte, dwpe */
    case OP_LAYERNORM_FORWARD: return 2 * N * C * f;             /* x, y */
    case OP_LAYERNORM_BACKWARD: return 5 * N * C * f;            /* x, dy twice, dx r+w */
    case OP_MATMUL_FORWARD: *flops = 2 * N * C * F; return 0;    /* x W^T */
    case OP_MATMUL_BACKWARD: *flops = 4 * N * C * F; return 0;   /* dinp and dweight */
    case OP_ATTENTION_FORWARD: *flops = 4 * attn_pairs * (C / NH); return 4 * N * C * f;
    case OP_ATTENTION_BACKWARD: *flops = 10 * attn_pairs * (C / NH); return 10 * N * C * f;
    case OP_ACTIVATION_FORWARD: return 2 * N * F * f;            /* x, y */
    case OP_ACTIVATION_BACKWARD: return 4 * N * F * f;           /* x, dy, dx r+w */
    case OP_ADD: return 3 * N * C * f;
    case OP_COSINE_LOSS: return 4.0 * b->U * P * f;              /* E, E0, dE r+w */
    case OP_GRAD_NORM: return (double)b->nparams * f;
    case OP_ADAMW: return 7.0 * (double)b->nparams * f;          /* p, m, v r+w; g */
    default: return 0.0;
    }
}

/* Seconds per call of op, averaged over reps back-to-back calls. */
static double time_op(bench *b, enum op op, int reps)
{
    for (int i = 0; i < WARMUP; i++) die_on(run_op(b, op), op_names[op]);
    die_on(b->be->zero(b->ctx, b->flush, FLUSH_BYTES), "L2 flush");
    die_on(b->be->synchronize(b->ctx), op_names[op]);
    double t0 = now_seconds();
    for (int i = 0; i < reps; i++) die_on(run_op(b, op), op_names[op]);
    die_on(b->be->synchronize(b->ctx), op_names[op]);
    return (now_seconds() - t0) / reps;
}

int main(int argc, char **argv)
{
    int reps = 20;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_cuda_ops [--reps COUNT]\n");
            return 2;
        }
    }
    if (reps < 1) reps = 1;

    bench b;
    memset(&b, 0, sizeof b);
    clipt_context_options opts;
    clipt_context_options_init(&opts);
    opts.device = "cuda";
    clipt_status st = clipt_context_create(&opts, &b.ctx);
    if (st == CLIPT_ERR_NO_DEVICE || st == CLIPT_ERR_NO_CUDA) {
        printf("skipped: bench_cuda_ops: no CUDA device (%s)\n", clipt_last_error());
        return 0;
    }
    die_on(st, "creating the CUDA context");
    b.be = b.ctx->backend;
    char desc[256];
    clipt_context_describe(b.ctx, desc, sizeof desc);

    size_t maxN = 0;
    int maxB = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        if (shape_tokens(&shapes[s]) > maxN) maxN = shape_tokens(&shapes[s]);
        if (shapes[s].B > maxB) maxB = shapes[s].B;
    }
    setup(&b, maxN, maxB);

    /* the bandwidth ceiling: a device-to-device copy of 256 MiB each way */
    size_t half = FLUSH_BYTES / 2;
    die_on(b.be->copy(b.ctx, (char *)b.flush + half, b.flush, half), "copy");
    die_on(b.be->synchronize(b.ctx), "copy");
    double t0 = now_seconds();
    for (int i = 0; i < 5; i++) {
        die_on(b.be->copy(b.ctx, (char *)b.flush + half, b.flush, half), "copy");
    }
    die_on(b.be->synchronize(b.ctx), "copy");
    double peak_gbs = 2.0 * half * 5 / (now_seconds() - t0) / 1e9;
    printf("device %s; copy bandwidth %.0f GB/s (read + write); %d reps per op\n", desc,
           peak_gbs, reps);
    printf("%-22s %-17s %7s %10s %9s %7s %9s\n", "op", "batch", "N", "us/call", "GB/s",
           "%copy", "TFLOP/s");

    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        use_shape(&b, &shapes[s]);
        for (int op = 0; op < OP_COUNT; op++) {
            if (s > 0 && !depends_on_shape((enum op)op)) continue;
            double flops = 0.0;
            double bytes = op_bytes(&b, (enum op)op, &flops);
            double sec = time_op(&b, (enum op)op, reps);
            printf("%-22s %-17s %7d %10.1f", op_names[op], shapes[s].name, b.N, sec * 1e6);
            if (bytes > 0) {
                double gbs = bytes / sec / 1e9;
                printf(" %9.0f %6.0f%%", gbs, 100.0 * gbs / peak_gbs);
            } else {
                printf(" %9s %7s", "-", "-");
            }
            if (flops > 0) printf(" %9.2f", flops / sec / 1e12);
            printf("\n");
        }
    }
    clipt_context_free(b.ctx); /* device memory goes with the process */
    return 0;
}
