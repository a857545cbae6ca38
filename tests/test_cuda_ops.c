/* Every CUDA op and its backward pass against the CPU op on the same seeded
 * inputs, through the CUDA backend table. Token batches are packed as the
 * library runs them, with rows of mixed lengths that include 1-token rows.
 * Shapes cover CLIP's (the fast paths: C % 4 == 0, rows of at most 77
 * tokens, head size 64) and odd ones (the general paths). Each shape's
 * comment names the path it takes. Gradients start from random values, so
 * the accumulation contract is checked too.
 *
 * Tolerances are relative: |got - want| <= rel (max |want| + |want|), one
 * rel per op, with the reason beside it. Without a CUDA device the suite
 * reports itself skipped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cuda_harness.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/embedding.h"
#include "ops/layernorm.h"
#include "ops/loss.h"
#include "ops/matmul.h"
#include "ops/optimizer.h"

/* Embedding, row gather and addition: single fp32 additions in the CPU's
 * order on both sides, so the bits must match. */
#define REL_EXACT 0.0
/* LayerNorm forward: fp32 statistics on the GPU against double on the
 * CPU. With C <= 512 the difference is expected near 1e-6 of the output
 * scale. */
#define REL_LAYERNORM_FORWARD 1e-5
/* LayerNorm backward: sums of up to 512 fp32 terms per row and of up to
 * 300 rows per channel, in different orders; 1e-4 of the scale is about
 * 20 times the expected rounding while a wrong term is O(1). */
#define REL_LAYERNORM_BACKWARD 1e-4
/* cuBLAS against OpenBLAS, both fp32 with K <= 384 terms per dot product
 * in different orders: about K * 2^-24 = 2e-5 of the scale at worst. */
#define REL_MATMUL 1e-4
/* TF32 rounds each input to 10 mantissa bits (2^-11 relative per product),
 * so products differ by about 1e-3 of the scale; 1e-2 still catches any
 * wrong operand or transposition. */
#define REL_MATMUL_TF32 1e-2
/* Attention forward: fp32 scores, expf and sums of at most 100 terms
 * against double. Outputs and log-sum-exp are expected to agree to a few
 * 1e-7 of their scale. */
#define REL_ATTENTION_FORWARD 1e-5
/* Attention backward: ds = p (dp - delta) cancels, and dq, dk, dv sum up
 * to 100 such terms in fp32. */
#define REL_ATTENTION_BACKWARD 1e-4
/* QuickGELU and GELU: the device's expf and erff are within 2 ulp of the
 * host's, and fma contraction changes the last bit. */
#define REL_ACTIVATION 1e-5
/* The loss: double arithmetic on both sides, rounded once to fp32. */
#define REL_LOSS 1e-6
/* Gradient norm in double on both sides; AdamW rounds after each
 * operation exactly as the CPU loop does, so only the clipping factor,
 * derived from the norm, can differ in its last bit. */
#define REL_OPTIMIZER 1e-6

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct backends {
    clipt_context *cpu;
    clipt_context *gpu;
} backends;

static backends open_backends(int allow_tf32)
{
    backends be = {clipt_test_cpu_context(), clipt_test_cuda_context(allow_tf32)};
    return be;
}

static void close_backends(backends *be)
{
    clipt_context_free(be->gpu);
    clipt_context_free(be->cpu);
}

static float *random_floats(size_t n, uint64_t seed, float lo, float hi)
{
    float *x = clipt_test_calloc(n, sizeof(float));
    clipt_fill_uniform(x, n, seed, lo, hi);
    return x;
}

static float *copy_floats(const float *x, size_t n)
{
    float *y = clipt_test_calloc(n, sizeof(float));
    memcpy(y, x, n * sizeof(float));
    return y;
}

/* Uploads n floats to the GPU. */
static float *dev_floats(backends *be, const float *x, size_t n)
{
    return clipt_test_to_device(be->gpu, x, n * sizeof(float));
}

static int32_t *dev_ints(backends *be, const int32_t *x, size_t n)
{
    return clipt_test_to_device(be->gpu, x, n * sizeof(int32_t));
}

/* Downloads n floats from the GPU and compares them with the CPU's. */
static void check_device(backends *be, const char *what, const float *device,
                         const float *want, size_t n, double rel)
{
    float *got = clipt_test_calloc(n, sizeof(float));
    clipt_test_to_host(be->gpu, got, device, n * sizeof(float));
    clipt_test_check_rel(what, got, want, n, rel);
    free(got);
}

static void expect_ok(clipt_status st, const char *what)
{
    ck_assert_msg(st == CLIPT_OK, "%s failed: %s: %s", what, clipt_status_name(st),
                  clipt_last_error());
}

/* ------------------------------------------------------------------------ */
/* Packed batches                                                           */
/* ------------------------------------------------------------------------ */

enum { MAX_ROWS = 24 };

/* Row lengths of a packed batch, 0-terminated after at most MAX_ROWS. A
 * length of -1 marks an empty row, which the terminator cannot express. */
typedef struct row_lengths {
    int len[MAX_ROWS + 1];
} row_lengths;

/* A packed batch as the ops see it: row b owns tokens [offsets[b],
 * offsets[b+1]) of N, and pos[n] is the position of token n in its row. */
typedef struct packed {
    int B, N, max_len;
    int32_t *offsets; /* (B+1) */
    int32_t *pos;     /* (N) */
} packed;

static packed pack(const row_lengths *rows)
{
    packed p = {0, 0, 0, NULL, NULL};
    while (p.B < MAX_ROWS && rows->len[p.B] != 0) {
        int len = rows->len[p.B] > 0 ? rows->len[p.B] : 0;
        p.N += len;
        if (len > p.max_len) p.max_len = len;
        p.B++;
    }
    p.offsets = clipt_test_calloc((size_t)p.B + 1, sizeof(int32_t));
    p.pos = clipt_test_calloc((size_t)(p.N > 0 ? p.N : 1), sizeof(int32_t));
    int n = 0;
    for (int b = 0; b < p.B; b++) {
        int len = rows->len[b] > 0 ? rows->len[b] : 0;
        p.offsets[b] = n;
        for (int t = 0; t < len; t++) p.pos[n++] = t;
    }
    p.offsets[p.B] = n;
    return p;
}

static void packed_free(packed *p)
{
    free(p->offsets);
    free(p->pos);
}

static void print_rows(const char *op, const packed *p)
{
    printf("%s: %d rows, N=%d, max_len=%d, lengths", op, p->B, p->N, p->max_len);
    for (int b = 0; b < p->B; b++) printf(" %d", p->offsets[b + 1] - p->offsets[b]);
    printf("\n");
}

/* ------------------------------------------------------------------------ */
/* Embedding and end-of-text rows                                           */
/* ------------------------------------------------------------------------ */

/* Position embedding rows: CLIP's context length. */
#define CONTEXT 77

static const struct {
    int C, V, small;
    row_lengths rows;
} embedding_cases[] = {
    {128, 1000, 0, {{77, 1, 12, 40, 9}}}, /* float4 path, a full and a 1-token row */
    {64, 7, 1, {{1, 5, 12, 3, 9, 1}}},    /* float4 path, each id and position repeated */
    {37, 11, 1, {{3, 1, 7}}},             /* scalar path */
    {4, 1, 1, {{1}}},                     /* one token, one id */
    {8, 50, 1, {{20, 20, 20}}},           /* rows padded to T = 20, as with packing off */
};

START_TEST(embedding_matches_cpu)
{
    backends be = open_backends(0);
    for (size_t s = 0; s < sizeof embedding_cases / sizeof embedding_cases[0]; s++) {
        int C = embedding_cases[s].C, V = embedding_cases[s].V;
        if (clipt_test_small_shapes() && !embedding_cases[s].small) continue;
        packed p = pack(&embedding_cases[s].rows);
        int N = p.N;
        printf("embedding C=%d V=%d; ", C, V);
        print_rows("rows", &p);
        size_t n = (size_t)N * C, npos = (size_t)CONTEXT * C;
        int32_t *ids = clipt_test_calloc((size_t)N, sizeof(int32_t));
        clipt_test_fill_ids(ids, (size_t)N, 10 + s, V);
        float *wte = random_floats((size_t)V * C, 20 + s, -1.0f, 1.0f);
        float *wpe = random_floats(npos, 30 + s, -1.0f, 1.0f);
        float *dout = random_floats(n, 40 + s, -1.0f, 1.0f);
        float *dwte = random_floats((size_t)V * C, 50 + s, -0.5f, 0.5f);
        float *dwpe = random_floats(npos, 60 + s, -0.5f, 0.5f);
        float *out = clipt_test_calloc(n, sizeof(float));

        int32_t *d_ids = dev_ints(&be, ids, (size_t)N);
        int32_t *d_pos = dev_ints(&be, p.pos, (size_t)N);
        float *d_wte = dev_floats(&be, wte, (size_t)V * C);
        float *d_wpe = dev_floats(&be, wpe, npos);
        float *d_dout = dev_floats(&be, dout, n);
        float *d_dwte = dev_floats(&be, dwte, (size_t)V * C);
        float *d_dwpe = dev_floats(&be, dwpe, npos);
        float *d_out = dev_floats(&be, NULL, n);

        expect_ok(clipt_cpu_embedding_forward(be.cpu, out, ids, p.pos, wte, wpe, N, C), "cpu");
        expect_ok(be.gpu->backend->embedding_forward(be.gpu, d_out, d_ids, d_pos, d_wte, d_wpe,
                                                     N, C),
                  "embedding_forward");
        check_device(&be, "forward", d_out, out, n, REL_EXACT);

        expect_ok(clipt_cpu_embedding_backward(be.cpu, dwte, dwpe, dout, ids, p.pos, N, C, V),
                  "cpu");
        expect_ok(be.gpu->backend->embedding_backward(be.gpu, d_dwte, d_dwpe, d_dout, d_ids,
                                                      d_pos, N, C, V),
                  "embedding_backward");
        check_device(&be, "dwte", d_dwte, dwte, (size_t)V * C, REL_EXACT);
        check_device(&be, "dwpe", d_dwpe, dwpe, npos, REL_EXACT);

        /* a NULL gradient is skipped: only dwpe accumulates again */
        expect_ok(clipt_cpu_embedding_backward(be.cpu, NULL, dwpe, dout, ids, p.pos, N, C, V),
                  "cpu");
        expect_ok(be.gpu->backend->embedding_backward(be.gpu, NULL, d_dwpe, d_dout, d_ids, d_pos,
                                                      N, C, V),
                  "embedding_backward without dwte");
        check_device(&be, "dwte untouched", d_dwte, dwte, (size_t)V * C, REL_EXACT);
        check_device(&be, "dwpe accumulated twice", d_dwpe, dwpe, npos, REL_EXACT);

        clipt_test_device_free(be.gpu, d_ids);
        clipt_test_device_free(be.gpu, d_pos);
        clipt_test_device_free(be.gpu, d_wte);
        clipt_test_device_free(be.gpu, d_wpe);
        clipt_test_device_free(be.gpu, d_dout);
        clipt_test_device_free(be.gpu, d_dwte);
        clipt_test_device_free(be.gpu, d_dwpe);
        clipt_test_device_free(be.gpu, d_out);
        free(ids); free(wte); free(wpe); free(dout); free(dwte); free(dwpe); free(out);
        packed_free(&p);
    }
    close_backends(&be);
}
END_TEST

static const struct {
    int C;
    row_lengths rows;
} gather_cases[] = {
    {128, {{77, 1, 12, 40}}}, /* float4 path */
    {37, {{9, 1, 4}}},        /* scalar path */
    {1, {{1}}},
};

START_TEST(gather_rows_matches_cpu)
{
    backends be = open_backends(0);
    for (size_t s = 0; s < sizeof gather_cases / sizeof gather_cases[0]; s++) {
        int C = gather_cases[s].C;
        packed p = pack(&gather_cases[s].rows);
        int B = p.B, N = p.N;
        printf("gather_rows C=%d; ", C);
        print_rows("rows", &p);
        size_t n = (size_t)N * C;

        /* one token of each row, somewhere inside it: distinct indices */
        int32_t *rows = clipt_test_calloc((size_t)B, sizeof(int32_t));
        clipt_test_fill_ids(rows, (size_t)B, 70 + s, p.max_len);
        for (int b = 0; b < B; b++) {
            rows[b] = p.offsets[b] + rows[b] % (p.offsets[b + 1] - p.offsets[b]);
        }
        float *inp = random_floats(n, 71 + s, -1.0f, 1.0f);
        float *dout = random_floats((size_t)B * C, 72 + s, -1.0f, 1.0f);
        float *dinp = random_floats(n, 73 + s, -0.5f, 0.5f);
        float *out = clipt_test_calloc((size_t)B * C, sizeof(float));
        int32_t *d_rows = dev_ints(&be, rows, (size_t)B);
        float *d_inp = dev_floats(&be, inp, n);
        float *d_dout = dev_floats(&be, dout, (size_t)B * C);
        float *d_dinp = dev_floats(&be, dinp, n);
        float *d_out = dev_floats(&be, NULL, (size_t)B * C);

        expect_ok(clipt_cpu_gather_rows(be.cpu, out, inp, rows, B, C), "cpu");
        expect_ok(be.gpu->backend->gather_rows(be.gpu, d_out, d_inp, d_rows, B, C),
                  "gather_rows");
        check_device(&be, "gathered rows", d_out, out, (size_t)B * C, REL_EXACT);
        expect_ok(clipt_cpu_gather_rows_backward(be.cpu, dinp, dout, rows, B, C), "cpu");
        expect_ok(be.gpu->backend->gather_rows_backward(be.gpu, d_dinp, d_dout, d_rows, B, C),
                  "gather_rows_backward");
        check_device(&be, "scattered gradient", d_dinp, dinp, n, REL_EXACT);

        clipt_test_device_free(be.gpu, d_rows);
        clipt_test_device_free(be.gpu, d_inp);
        clipt_test_device_free(be.gpu, d_dout);
        clipt_test_device_free(be.gpu, d_dinp);
        clipt_test_device_free(be.gpu, d_out);
        free(rows); free(inp); free(dout); free(dinp); free(out);
        packed_free(&p);
    }
    close_backends(&be);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* LayerNorm                                                                */
/* ------------------------------------------------------------------------ */

static const struct {
    int N, C, small;
} layernorm_shapes[] = {
    {231, 256, 0}, /* float4 path, 77 x 3 rows, two row chunks */
    {130, 512, 0}, /* float4 path, CLIP's width */
    {300, 36, 1},  /* float4 path, C not a multiple of 128; three chunks */
    {5, 37, 1},    /* scalar path */
    {1, 4, 1},     /* float4 path, one row */
    {2, 1, 1},     /* scalar path, C = 1 */
};

START_TEST(layernorm_matches_cpu)
{
    backends be = open_backends(0);
    for (size_t s = 0; s < sizeof layernorm_shapes / sizeof layernorm_shapes[0]; s++) {
        int N = layernorm_shapes[s].N, C = layernorm_shapes[s].C;
        if (clipt_test_small_shapes() && !layernorm_shapes[s].small) continue;
        printf("layernorm N=%d C=%d\n", N, C);
        size_t n = (size_t)N * C;
        float *x = random_floats(n, 100 + s, -2.0f, 3.0f);
        float *w = random_floats((size_t)C, 101 + s, 0.5f, 1.5f);
        float *b = random_floats((size_t)C, 102 + s, -0.5f, 0.5f);
        float *dy = random_floats(n, 103 + s, -1.0f, 1.0f);
        float *dx = random_floats(n, 104 + s, -0.1f, 0.1f);
        float *dw = random_floats((size_t)C, 105 + s, -0.1f, 0.1f);
        float *db = random_floats((size_t)C, 106 + s, -0.1f, 0.1f);
        float *y = clipt_test_calloc(n, sizeof(float));
        float *mean = clipt_test_calloc((size_t)N, sizeof(float));
        float *rstd = clipt_test_calloc((size_t)N, sizeof(float));
        float *d_x = dev_floats(&be, x, n), *d_w = dev_floats(&be, w, (size_t)C);
        float *d_b = dev_floats(&be, b, (size_t)C), *d_dy = dev_floats(&be, dy, n);
        float *d_dx = dev_floats(&be, dx, n), *d_dw = dev_floats(&be, dw, (size_t)C);
        float *d_db = dev_floats(&be, db, (size_t)C), *d_y = dev_floats(&be, NULL, n);
        float *d_mean = dev_floats(&be, NULL, (size_t)N);
        float *d_rstd = dev_floats(&be, NULL, (size_t)N);

        expect_ok(clipt_cpu_layernorm_forward(be.cpu, y, mean, rstd, x, w, b, N, C, 1e-5f), "cpu");
        expect_ok(be.gpu->backend->layernorm_forward(be.gpu, d_y, d_mean, d_rstd, d_x, d_w, d_b,
                                                     N, C, 1e-5f),
                  "layernorm_forward");
        check_device(&be, "forward", d_y, y, n, REL_LAYERNORM_FORWARD);
        check_device(&be, "mean", d_mean, mean, (size_t)N, REL_LAYERNORM_FORWARD);
        check_device(&be, "rstd", d_rstd, rstd, (size_t)N, REL_LAYERNORM_FORWARD);

        /* both backward passes read the CPU's statistics, so only the
         * backward arithmetic is compared */
        float *d_cpu_mean = dev_floats(&be, mean, (size_t)N);
        float *d_cpu_rstd = dev_floats(&be, rstd, (size_t)N);
        expect_ok(clipt_cpu_layernorm_backward(be.cpu, dx, dw, db, dy, x, w, mean, rstd, N, C),
                  "cpu");
        expect_ok(be.gpu->backend->layernorm_backward(be.gpu, d_dx, d_dw, d_db, d_dy, d_x, d_w,
                                                      d_cpu_mean, d_cpu_rstd, N, C),
                  "layernorm_backward");
        check_device(&be, "dinp", d_dx, dx, n, REL_LAYERNORM_BACKWARD);
        check_device(&be, "dweight", d_dw, dw, (size_t)C, REL_LAYERNORM_BACKWARD);
        check_device(&be, "dbias", d_db, db, (size_t)C, REL_LAYERNORM_BACKWARD);

        /* NULL gradients are skipped: only dweight accumulates again */
        expect_ok(clipt_cpu_layernorm_backward(be.cpu, NULL, dw, NULL, dy, x, w, mean, rstd, N,
                                               C),
                  "cpu");
        expect_ok(be.gpu->backend->layernorm_backward(be.gpu, NULL, d_dw, NULL, d_dy, d_x, d_w,
                                                      d_cpu_mean, d_cpu_rstd, N, C),
                  "layernorm_backward with dweight only");
        check_device(&be, "dinp untouched", d_dx, dx, n, REL_LAYERNORM_BACKWARD);
        check_device(&be, "dweight accumulated twice", d_dw, dw, (size_t)C,
                     REL_LAYERNORM_BACKWARD);
        check_device(&be, "dbias untouched", d_db, db, (size_t)C, REL_LAYERNORM_BACKWARD);

        float *dev[] = {d_x, d_w, d_b, d_dy, d_dx, d_dw, d_db, d_y, d_mean, d_rstd,
                        d_cpu_mean, d_cpu_rstd};
        for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) clipt_test_device_free(be.gpu, dev[i]);
        free(x); free(w); free(b); free(dy); free(dx); free(dw); free(db); free(y);
        free(mean); free(rstd);
    }
    close_backends(&be);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Matmul                                                                   */
/* ------------------------------------------------------------------------ */

static const struct {
    int N, C, OC, small;
} matmul_shapes[] = {
    {154, 128, 384, 0}, /* q/k/v projection of 2 x 77 tokens; float4 bias */
    {77, 64, 256, 1},   /* float4 bias */
    {300, 20, 130, 1},  /* scalar bias (130 % 4 != 0); three row chunks */
    {5, 37, 11, 1},     /* odd sizes */
    {1, 1, 1, 1},
};

static void matmul_case(int allow_tf32, double rel)
{
    backends be = open_backends(allow_tf32);
    for (size_t s = 0; s < sizeof matmul_shapes / sizeof matmul_shapes[0]; s++) {
        int N = matmul_shapes[s].N, C = matmul_shapes[s].C, OC = matmul_shapes[s].OC;
        if (clipt_test_small_shapes() && !matmul_shapes[s].small) continue;
        int with_bias = s % 2 == 0;
        printf("matmul N=%d C=%d OC=%d, %s bias, TF32 %s\n", N, C, OC,
               with_bias ? "with" : "no", allow_tf32 ? "on" : "off");
        size_t nin = (size_t)N * C, nw = (size_t)OC * C, nout = (size_t)N * OC;
        float *inp = random_floats(nin, 200 + s, -1.0f, 1.0f);
        float *w = random_floats(nw, 201 + s, -1.0f, 1.0f);
        float *bias = random_floats((size_t)OC, 202 + s, -1.0f, 1.0f);
        float *dout = random_floats(nout, 203 + s, -1.0f, 1.0f);
        float *dinp = random_floats(nin, 204 + s, -1.0f, 1.0f);
        float *dw = random_floats(nw, 205 + s, -1.0f, 1.0f);
        float *db = random_floats((size_t)OC, 206 + s, -1.0f, 1.0f);
        float *out = clipt_test_calloc(nout, sizeof(float));
        float *d_inp = dev_floats(&be, inp, nin), *d_w = dev_floats(&be, w, nw);
        float *d_bias = dev_floats(&be, bias, (size_t)OC), *d_dout = dev_floats(&be, dout, nout);
        float *d_dinp = dev_floats(&be, dinp, nin), *d_dw = dev_floats(&be, dw, nw);
        float *d_db = dev_floats(&be, db, (size_t)OC), *d_out = dev_floats(&be, NULL, nout);

        expect_ok(clipt_cpu_matmul_forward(be.cpu, out, inp, w, with_bias ? bias : NULL, N, C, OC),
                  "cpu");
        expect_ok(be.gpu->backend->matmul_forward(be.gpu, d_out, d_inp, d_w,
                                                  with_bias ? d_bias : NULL, N, C, OC),
                  "matmul_forward");
        check_device(&be, "forward", d_out, out, nout, rel);

        expect_ok(clipt_cpu_matmul_backward(be.cpu, dinp, dw, db, dout, inp, w, N, C, OC), "cpu");
        expect_ok(be.gpu->backend->matmul_backward(be.gpu, d_dinp, d_dw, d_db, d_dout, d_inp, d_w,
                                                   N, C, OC),
                  "matmul_backward");
        check_device(&be, "dinp", d_dinp, dinp, nin, rel);
        check_device(&be, "dweight", d_dw, dw, nw, rel);
        /* the bias gradient is hand-written fp32, not a cuBLAS product */
        check_device(&be, "dbias", d_db, db, (size_t)OC, REL_MATMUL);

        /* NULL gradients are skipped: only dbias accumulates again */
        expect_ok(clipt_cpu_matmul_backward(be.cpu, NULL, NULL, db, dout, inp, w, N, C, OC), "cpu");
        expect_ok(be.gpu->backend->matmul_backward(be.gpu, NULL, NULL, d_db, d_dout, d_inp, d_w, N,
                                                   C, OC),
                  "matmul_backward with dbias only");
        check_device(&be, "dinp untouched", d_dinp, dinp, nin, rel);
        check_device(&be, "dbias accumulated twice", d_db, db, (size_t)OC, REL_MATMUL);

        float *dev[] = {d_inp, d_w, d_bias, d_dout, d_dinp, d_dw, d_db, d_out};
        for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) clipt_test_device_free(be.gpu, dev[i]);
        free(inp); free(w); free(bias); free(dout); free(dinp); free(dw); free(db); free(out);
    }
    close_backends(&be);
}

START_TEST(matmul_matches_cpu)
{
    matmul_case(0, REL_MATMUL);
}
END_TEST

START_TEST(matmul_tf32_matches_cpu)
{
    matmul_case(1, REL_MATMUL_TF32);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Attention                                                                */
/* ------------------------------------------------------------------------ */

static const struct {
    int C, NH, small;
    row_lengths rows;
} attention_cases[] = {
    /* fast path: max_len <= 77 and head size 64 */
    {128, 2, 0, {{77, 1, 30, 77, 5}}}, /* full rows beside short ones */
    {128, 2, 1, {{8, 12, 9, 11, 10, 1, 12, 8, 9, 10, 11, 12, 8, 9, 10, 11}}}, /* training */
    {64, 1, 1, {{13, 1, 8}}},
    {64, 1, 1, {{1}}},                 /* one token */
    {64, 1, 1, {{6, -1, 3}}},          /* an empty row in the middle */
    {64, 1, 1, {{20, 20, 20}}},        /* rows padded to T = 20 */
    /* general path */
    {128, 2, 0, {{78, 1, 40}}},        /* max_len > 77 */
    {64, 1, 1, {{100, 1, 65}}},        /* head size 64 with long rows */
    {96, 1, 1, {{33, 1, 70}}},         /* HS 96, keys cross 32-key chunks */
    {48, 3, 1, {{9, 1, 4, 12}}},       /* HS 16 */
    {48, 3, 1, {{5, -1, 7, 1}}},       /* HS 16, an empty row */
    {300, 3, 1, {{40, 1}}},            /* HS 100 */
};

START_TEST(attention_matches_cpu)
{
    backends be = open_backends(0);
    for (size_t s = 0; s < sizeof attention_cases / sizeof attention_cases[0]; s++) {
        int C = attention_cases[s].C, NH = attention_cases[s].NH;
        if (clipt_test_small_shapes() && !attention_cases[s].small) continue;
        packed p = pack(&attention_cases[s].rows);
        int B = p.B, N = p.N, max_len = p.max_len;
        printf("attention C=%d NH=%d (HS %d); ", C, NH, C / NH);
        print_rows("rows", &p);
        size_t nqkv = (size_t)N * 3 * C, nout = (size_t)N * C;
        size_t nlse = (size_t)N * NH;
        float *qkv = random_floats(nqkv, 300 + s, -1.0f, 1.0f);
        float *dout = random_floats(nout, 301 + s, -1.0f, 1.0f);
        float *dqkv = random_floats(nqkv, 302 + s, -0.1f, 0.1f);
        float *out = clipt_test_calloc(nout, sizeof(float));
        float *lse = clipt_test_calloc(nlse, sizeof(float));
        int32_t *d_offsets = dev_ints(&be, p.offsets, (size_t)B + 1);
        float *d_qkv = dev_floats(&be, qkv, nqkv), *d_dout = dev_floats(&be, dout, nout);
        float *d_dqkv = dev_floats(&be, dqkv, nqkv), *d_out = dev_floats(&be, NULL, nout);
        float *d_lse = dev_floats(&be, NULL, nlse);

        expect_ok(clipt_cpu_attention_forward(be.cpu, out, lse, qkv, p.offsets, B, N, C, NH,
                                              max_len),
                  "cpu");
        expect_ok(be.gpu->backend->attention_forward(be.gpu, d_out, d_lse, d_qkv, d_offsets, B,
                                                     N, C, NH, max_len),
                  "attention_forward");
        check_device(&be, "out", d_out, out, nout, REL_ATTENTION_FORWARD);
        check_device(&be, "lse", d_lse, lse, nlse, REL_ATTENTION_FORWARD);

        /* the GPU backward reads the CPU's out and lse, so only the backward
         * arithmetic is compared */
        float *d_cpu_out = dev_floats(&be, out, nout), *d_cpu_lse = dev_floats(&be, lse, nlse);
        expect_ok(clipt_cpu_attention_backward(be.cpu, dqkv, dout, qkv, out, lse, p.offsets, B,
                                               N, C, NH, max_len),
                  "cpu");
        expect_ok(be.gpu->backend->attention_backward(be.gpu, d_dqkv, d_dout, d_qkv, d_cpu_out,
                                                      d_cpu_lse, d_offsets, B, N, C, NH,
                                                      max_len),
                  "attention_backward");
        check_device(&be, "dqkv", d_dqkv, dqkv, nqkv, REL_ATTENTION_BACKWARD);

        float *dev[] = {d_qkv, d_dout, d_dqkv, d_out, d_lse, d_cpu_out, d_cpu_lse};
        for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) clipt_test_device_free(be.gpu, dev[i]);
        clipt_test_device_free(be.gpu, d_offsets);
        free(qkv); free(dout); free(dqkv); free(out); free(lse);
        packed_free(&p);
    }
    close_backends(&be);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Activation and addition                                                  */
/* ------------------------------------------------------------------------ */

static const size_t activation_sizes[] = {
    4096, /* float4 path */
    1003, /* scalar path */
    4,    /* float4 path, one group */
    1,    /* scalar path */
};

START_TEST(activation_matches_cpu)
{
    backends be = open_backends(0);
    clipt_activation kinds[] = {CLIPT_ACTIVATION_QUICK_GELU, CLIPT_ACTIVATION_GELU};
    for (size_t s = 0; s < sizeof activation_sizes / sizeof activation_sizes[0]; s++) {
        for (int k = 0; k < 2; k++) {
            size_t n = activation_sizes[s];
            printf("activation %s n=%zu\n", kinds[k] == CLIPT_ACTIVATION_GELU ? "GELU" : "QuickGELU",
                   n);
            float *x = random_floats(n, 400 + s, -6.0f, 6.0f);
            float *dy = random_floats(n, 401 + s, -1.0f, 1.0f);
            float *dx = random_floats(n, 402 + s, -1.0f, 1.0f);
            float *y = clipt_test_calloc(n, sizeof(float));
            float *d_x = dev_floats(&be, x, n), *d_dy = dev_floats(&be, dy, n);
            float *d_dx = dev_floats(&be, dx, n), *d_y = dev_floats(&be, NULL, n);
            expect_ok(clipt_cpu_activation_forward(be.cpu, y, x, n, kinds[k]), "cpu");
            expect_ok(be.gpu->backend->activation_forward(be.gpu, d_y, d_x, n, kinds[k]),
                      "activation_forward");
            check_device(&be, "forward", d_y, y, n, REL_ACTIVATION);
            expect_ok(clipt_cpu_activation_backward(be.cpu, dx, dy, x, n, kinds[k]), "cpu");
            expect_ok(be.gpu->backend->activation_backward(be.gpu, d_dx, d_dy, d_x, n, kinds[k]),
                      "activation_backward");
            check_device(&be, "backward", d_dx, dx, n, REL_ACTIVATION);
            clipt_test_device_free(be.gpu, d_x);
            clipt_test_device_free(be.gpu, d_dy);
            clipt_test_device_free(be.gpu, d_dx);
            clipt_test_device_free(be.gpu, d_y);
            free(x); free(dy); free(dx); free(y);
        }
    }
    ck_assert_int_eq(be.gpu->backend->activation_forward(be.gpu, NULL, NULL, 4,
                                                         (clipt_activation)7),
                     CLIPT_ERR_INVALID_ARGUMENT);
    close_backends(&be);
}
END_TEST

START_TEST(add_matches_cpu_and_aliases)
{
    backends be = open_backends(0);
    for (size_t s = 0; s < sizeof activation_sizes / sizeof activation_sizes[0]; s++) {
        size_t n = activation_sizes[s];
        printf("add n=%zu\n", n);
        float *a = random_floats(n, 500 + s, -1.0f, 1.0f);
        float *b = random_floats(n, 501 + s, -1.0f, 1.0f);
        float *out = clipt_test_calloc(n, sizeof(float));
        float *d_a = dev_floats(&be, a, n), *d_b = dev_floats(&be, b, n);
        float *d_out = dev_floats(&be, NULL, n);
        expect_ok(clipt_cpu_add(be.cpu, out, a, b, n), "cpu");
        expect_ok(be.gpu->backend->add(be.gpu, d_out, d_a, d_b, n), "add");
        check_device(&be, "sum", d_out, out, n, REL_EXACT);
        /* out aliasing a: a += b */
        expect_ok(be.gpu->backend->add(be.gpu, d_a, d_a, d_b, n), "add in place");
        check_device(&be, "sum in place", d_a, out, n, REL_EXACT);
        clipt_test_device_free(be.gpu, d_a);
        clipt_test_device_free(be.gpu, d_b);
        clipt_test_device_free(be.gpu, d_out);
        free(a); free(b); free(out);
    }
    close_backends(&be);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Loss                                                                     */
/* ------------------------------------------------------------------------ */

static const struct {
    int N, U, P;
    int with_E0, with_dE;
    float lambda;
    int zero_text; /* text 0 is all zeros, so its norm is clamped to 1e-8 */
} loss_cases[] = {
    {7, 5, 33, 1, 1, 0.3f, 0},     /* odd width */
    {64, 100, 256, 1, 1, 1.0f, 0}, /* more texts than pairs name */
    {3, 4, 8, 0, 1, 0.0f, 1},      /* no regulariser; a zero embedding */
    {10, 6, 17, 1, 0, 0.5f, 0},    /* loss only, no gradient */
    {5, 3, 300, 1, 1, 0.0f, 0},    /* regulariser value without its gradient */
};

START_TEST(cosine_loss_matches_cpu)
{
    backends be = open_backends(0);
    for (size_t s = 0; s < sizeof loss_cases / sizeof loss_cases[0]; s++) {
        int N = loss_cases[s].N, U = loss_cases[s].U, P = loss_cases[s].P;
        float lambda = loss_cases[s].lambda;
        printf("cosine_loss N=%d U=%d P=%d E0 %s, dE %s, lambda %g\n", N, U, P,
               loss_cases[s].with_E0 ? "yes" : "no", loss_cases[s].with_dE ? "yes" : "no",
               (double)lambda);
        size_t nE = (size_t)U * P;
        float *E = random_floats(nE, 600 + s, -1.0f, 1.0f);
        float *E0 = copy_floats(E, nE);
        float *noise = random_floats(nE, 601 + s, -0.1f, 0.1f);
        for (size_t i = 0; i < nE; i++) E0[i] += noise[i];
        if (loss_cases[s].zero_text) memset(E, 0, (size_t)P * sizeof(float));
        float *target = random_floats((size_t)N, 602 + s, 0.0f, 1.0f);
        int32_t *pa = clipt_test_calloc((size_t)N, sizeof(int32_t));
        int32_t *pb = clipt_test_calloc((size_t)N, sizeof(int32_t));
        clipt_test_fill_ids(pa, (size_t)N, 603 + s, U);
        clipt_test_fill_ids(pb, (size_t)N, 604 + s, U);
        pb[0] = pa[0]; /* a text paired with itself */
        if (loss_cases[s].zero_text) pa[1] = 0;
        float *dE = random_floats(nE, 605 + s, -0.1f, 0.1f);
        float losses[3], *cos = clipt_test_calloc((size_t)N, sizeof(float));
        const float *E0_used = loss_cases[s].with_E0 ? E0 : NULL;
        float *dE_used = loss_cases[s].with_dE ? dE : NULL;

        float *d_E = dev_floats(&be, E, nE), *d_E0 = dev_floats(&be, E0, nE);
        float *d_dE = dev_floats(&be, dE, nE), *d_target = dev_floats(&be, target, (size_t)N);
        int32_t *d_pa = dev_ints(&be, pa, (size_t)N), *d_pb = dev_ints(&be, pb, (size_t)N);
        float *d_losses = dev_floats(&be, NULL, 3), *d_cos = dev_floats(&be, NULL, (size_t)N);

        expect_ok(clipt_cpu_cosine_loss(be.cpu, losses, cos, dE_used, E, E0_used, pa, pb, target,
                                        N, U, P, lambda),
                  "cpu");
        expect_ok(be.gpu->backend->cosine_loss(be.gpu, d_losses, d_cos,
                                               loss_cases[s].with_dE ? d_dE : NULL, d_E,
                                               loss_cases[s].with_E0 ? d_E0 : NULL, d_pa, d_pb,
                                               d_target, N, U, P, lambda),
                  "cosine_loss");
        check_device(&be, "losses", d_losses, losses, 3, REL_LOSS);
        check_device(&be, "cos", d_cos, cos, (size_t)N, REL_LOSS);
        check_device(&be, "dE", d_dE, dE, nE, REL_LOSS);

        float *dev[] = {d_E, d_E0, d_dE, d_target, d_losses, d_cos};
        for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) clipt_test_device_free(be.gpu, dev[i]);
        clipt_test_device_free(be.gpu, d_pa);
        clipt_test_device_free(be.gpu, d_pb);
        free(E); free(E0); free(noise); free(target); free(pa); free(pb); free(dE); free(cos);
    }
    close_backends(&be);
}
END_TEST

START_TEST(cosine_loss_bad_pair_is_nan)
{
    /* a pair index outside [0, U) must not be read; the loss becomes NaN */
    backends be = open_backends(0);
    if (strcmp(clipt_context_backend(be.gpu), "cuda") != 0) {
        /* the CPU backend does not check pair indices */
        printf("not run: the CPU stands in for the GPU\n");
        close_backends(&be);
        return;
    }
    float E[8], target[2] = {0.5f, 0.5f};
    clipt_fill_uniform(E, 8, 1, -1.0f, 1.0f);
    int32_t pa[2] = {0, 5}, pb[2] = {1, 1};
    float *d_E = dev_floats(&be, E, 8), *d_target = dev_floats(&be, target, 2);
    int32_t *d_pa = dev_ints(&be, pa, 2), *d_pb = dev_ints(&be, pb, 2);
    float *d_losses = dev_floats(&be, NULL, 3);
    expect_ok(be.gpu->backend->cosine_loss(be.gpu, d_losses, NULL, NULL, d_E, NULL, d_pa, d_pb,
                                           d_target, 2, 2, 4, 0.0f),
              "cosine_loss");
    float losses[3];
    clipt_test_to_host(be.gpu, losses, d_losses, sizeof losses);
    ck_assert_msg(isnan(losses[0]), "loss %g with a pair outside the batch", (double)losses[0]);
    clipt_test_device_free(be.gpu, d_E);
    clipt_test_device_free(be.gpu, d_target);
    clipt_test_device_free(be.gpu, d_pa);
    clipt_test_device_free(be.gpu, d_pb);
    clipt_test_device_free(be.gpu, d_losses);
    close_backends(&be);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Optimizer                                                                */
/* ------------------------------------------------------------------------ */

START_TEST(optimizer_matches_cpu)
{
    backends be = open_backends(0);
    enum { NPARAMS = 2000 };
    /* aligned and unaligned offsets and counts, decayed and not, with
     * padding between segments that must stay untouched */
    clipt_param_segment segs[] = {
        {0, 100, 1}, {128, 37, 0}, {165, 3, 1}, {200, 1500, 1}, {1712, 8, 0},
    };
    int nseg = (int)(sizeof segs / sizeof segs[0]);
    float *params = random_floats(NPARAMS, 700, -1.0f, 1.0f);
    float *grads = random_floats(NPARAMS, 701, -0.1f, 0.1f);
    float *m = random_floats(NPARAMS, 702, -0.01f, 0.01f);
    float *v = random_floats(NPARAMS, 703, 0.0f, 0.01f);
    float *d_params = dev_floats(&be, params, NPARAMS), *d_grads = dev_floats(&be, grads, NPARAMS);
    float *d_m = dev_floats(&be, m, NPARAMS), *d_v = dev_floats(&be, v, NPARAMS);
    float *d_norm = dev_floats(&be, NULL, 1);
    clipt_param_segment *d_segs = clipt_test_to_device(be.gpu, segs, sizeof segs);

    float norm = 0.0f;
    expect_ok(clipt_cpu_grad_norm(be.cpu, &norm, grads, segs, nseg), "cpu");
    expect_ok(be.gpu->backend->grad_norm(be.gpu, d_norm, d_grads, d_segs, nseg), "grad_norm");
    check_device(&be, "gradient norm", d_norm, &norm, 1, REL_OPTIMIZER);

    /* step 3 with clipping active, then step 4 without clipping */
    clipt_adamw_hparams hp = {1e-2, 0.9, 0.999, 1e-8, 0.1, 3, 0.5 * norm};
    expect_ok(clipt_cpu_adamw_update(be.cpu, params, grads, m, v, segs, nseg, &norm, &hp), "cpu");
    expect_ok(be.gpu->backend->adamw_update(be.gpu, d_params, d_grads, d_m, d_v, d_segs, nseg,
                                            d_norm, &hp),
              "adamw_update with clipping");
    check_device(&be, "params after a clipped step", d_params, params, NPARAMS, REL_OPTIMIZER);
    check_device(&be, "first moments", d_m, m, NPARAMS, REL_OPTIMIZER);
    check_device(&be, "second moments", d_v, v, NPARAMS, REL_OPTIMIZER);

    hp.step = 4;
    hp.max_grad_norm = 0.0;
    expect_ok(clipt_cpu_adamw_update(be.cpu, params, grads, m, v, segs, nseg, NULL, &hp), "cpu");
    expect_ok(be.gpu->backend->adamw_update(be.gpu, d_params, d_grads, d_m, d_v, d_segs, nseg,
                                            NULL, &hp),
              "adamw_update without clipping");
    check_device(&be, "params after an unclipped step", d_params, params, NPARAMS,
                 REL_OPTIMIZER);

    hp.step = 0;
    ck_assert_int_eq(be.gpu->backend->adamw_update(be.gpu, d_params, d_grads, d_m, d_v, d_segs,
                                                   nseg, NULL, &hp),
                     CLIPT_ERR_INVALID_ARGUMENT);

    clipt_test_device_free(be.gpu, d_params);
    clipt_test_device_free(be.gpu, d_grads);
    clipt_test_device_free(be.gpu, d_m);
    clipt_test_device_free(be.gpu, d_v);
    clipt_test_device_free(be.gpu, d_norm);
    clipt_test_device_free(be.gpu, d_segs);
    free(params); free(grads); free(m); free(v);
    close_backends(&be);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Suite                                                                    */
/* ------------------------------------------------------------------------ */

static Suite *make_suite(void)
{
    Suite *s = suite_create("cuda_ops");
    TCase *tc = tcase_create("cuda_vs_cpu");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, embedding_matches_cpu);
    tcase_add_test(tc, gather_rows_matches_cpu);
    tcase_add_test(tc, layernorm_matches_cpu);
    tcase_add_test(tc, matmul_matches_cpu);
    tcase_add_test(tc, matmul_tf32_matches_cpu);
    tcase_add_test(tc, attention_matches_cpu);
    tcase_add_test(tc, activation_matches_cpu);
    tcase_add_test(tc, add_matches_cpu_and_aliases);
    tcase_add_test(tc, cosine_loss_matches_cpu);
    tcase_add_test(tc, cosine_loss_bad_pair_is_nan);
    tcase_add_test(tc, optimizer_matches_cpu);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return clipt_test_run_cuda_suite(make_suite, "cuda_ops");
}
