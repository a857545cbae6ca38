/* bench/step: time one full training step (forward, loss, backward, AdamW)
 * on a synthetic batch shaped like WordNet pairs, and print texts/s,
 * tokens/s and peak memory. bench/torch_step.py runs the same step in
 * PyTorch on the batch this program writes with --write-batch.
 *
 *   step [--preset small|vit-b-32] [--pairs N] [--pad77] [--steps N]
 *        [--warmup N] [--device DEV] [--threads N] [--seed N]
 *        [--write-batch FILE]
 *
 * The batch: N pairs over U unique texts, with U about 1.8 N as with
 * WordNet pairs, where random pairs rarely share a text. Each text is a
 * start token, 1 to 6 content tokens and an end token, so 3 to 8 tokens
 * like WordNet lemmas. With --pad77 every row is computed on all 77
 * columns (the model's packing is switched off), which is the work a
 * framework that pads to 77 does. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "forward.h"
#include "model.h"
#include "optim.h"
#include "rng.h"

typedef struct batch {
    int U, T, N;
    int32_t *ids, *eot, *pair_a, *pair_b;
    float *target;
    long tokens; /* real tokens, start and end included */
} batch;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int make_batch(batch *bt, int N, uint64_t seed)
{
    clipt_rng rng;
    clipt_rng_seed(&rng, seed);
    bt->N = N;
    bt->U = N + N * 4 / 5;
    bt->T = 77;
    bt->ids = calloc((size_t)bt->U * bt->T, sizeof(int32_t));
    bt->eot = calloc((size_t)bt->U, sizeof(int32_t));
    bt->pair_a = calloc((size_t)N, sizeof(int32_t));
    bt->pair_b = calloc((size_t)N, sizeof(int32_t));
    bt->target = calloc((size_t)N, sizeof(float));
    if (!bt->ids || !bt->eot || !bt->pair_a || !bt->pair_b || !bt->target) return -1;
    bt->tokens = 0;
    for (int u = 0; u < bt->U; u++) {
        int len = 3 + (int)clipt_rng_below(&rng, 6);
        int32_t *row = bt->ids + (size_t)u * bt->T;
        row[0] = 49406;
        for (int t = 1; t < len - 1; t++) row[t] = 256 + (int32_t)clipt_rng_below(&rng, 49000);
        row[len - 1] = 49407;
        bt->eot[u] = len - 1;
        bt->tokens += len;
    }
    for (int n = 0; n < N; n++) {
        bt->pair_a[n] = (int32_t)clipt_rng_below(&rng, (uint64_t)bt->U);
        bt->pair_b[n] = (int32_t)clipt_rng_below(&rng, (uint64_t)bt->U);
        bt->target[n] = (float)clipt_rng_uniform(&rng);
    }
    return 0;
}

static void free_batch(batch *bt)
{
    free(bt->ids);
    free(bt->eot);
    free(bt->pair_a);
    free(bt->pair_b);
    free(bt->target);
}

static int write_batch(const batch *bt, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) return -1;
    fprintf(f, "clipt-step-batch 1\n%d %d %d\n", bt->U, bt->T, bt->N);
    for (int u = 0; u < bt->U; u++) {
        fprintf(f, "%d", bt->eot[u]);
        for (int t = 0; t <= bt->eot[u]; t++) fprintf(f, " %d", bt->ids[(size_t)u * bt->T + t]);
        fprintf(f, "\n");
    }
    for (int n = 0; n < bt->N; n++) {
        fprintf(f, "%d %d %.9g\n", bt->pair_a[n], bt->pair_b[n], (double)bt->target[n]);
    }
    return fclose(f);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: step [options]\n"
            "  --preset NAME      small or vit-b-32 (default small)\n"
            "  --pairs N          pairs per batch (default 256)\n"
            "  --pad77            present every row padded to 77 tokens\n"
            "  --steps N          timed steps (default 10)\n"
            "  --warmup N         untimed steps first (default 2)\n"
            "  --device DEV       cpu, cuda, cuda:N or auto (default cpu)\n"
            "  --threads N        CPU threads, 0 = all (default 0)\n"
            "  --lambda X         regulariser weight (default 0)\n"
            "  --seed N           batch and model seed (default 1)\n"
            "  --write-batch FILE write the batch for bench/torch_step.py and exit\n");
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *preset = "small", *device = "cpu", *batch_path = NULL;
    int pairs = 256, pad77 = 0, steps = 10, warmup = 2, threads = 0;
    double lambda = 0.0;
    unsigned long long seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--preset") && more) preset = argv[++i];
        else if (!strcmp(a, "--pairs") && more) pairs = atoi(argv[++i]);
        else if (!strcmp(a, "--pad77")) pad77 = 1;
        else if (!strcmp(a, "--steps") && more) steps = atoi(argv[++i]);
        else if (!strcmp(a, "--warmup") && more) warmup = atoi(argv[++i]);
        else if (!strcmp(a, "--device") && more) device = argv[++i];
        else if (!strcmp(a, "--threads") && more) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--lambda") && more) lambda = atof(argv[++i]);
        else if (!strcmp(a, "--seed") && more) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--write-batch") && more) batch_path = argv[++i];
        else {
            fprintf(stderr, "step: unknown or incomplete option \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (pairs < 1 || steps < 1 || warmup < 0) {
        fprintf(stderr, "step: --pairs and --steps must be >= 1, --warmup >= 0\n");
        return 2;
    }

    batch bt;
    if (make_batch(&bt, pairs, seed) != 0) {
        fprintf(stderr, "step: out of memory building the batch\n");
        return 1;
    }
    if (batch_path != NULL) {
        if (write_batch(&bt, batch_path) != 0) {
            fprintf(stderr, "step: cannot write %s\n", batch_path);
            return 1;
        }
        printf("wrote %s: %d texts, %d pairs\n", batch_path, bt.U, bt.N);
        free_batch(&bt);
        return 0;
    }

    clipt_context_options opts;
    clipt_context_options_init(&opts);
    opts.device = device;
    opts.num_threads = threads;
    clipt_context *ctx = NULL;
    clipt_model *m = NULL;
    clipt_model_config cfg;
    clipt_adamw_state opt;
    memset(&opt, 0, sizeof opt);
    clipt_status st = clipt_context_create(&opts, &ctx);
    if (st == CLIPT_ERR_NO_DEVICE || st == CLIPT_ERR_NO_CUDA) {
        /* The CUDA step has nothing to time on this machine. */
        printf("skipped: step: no CUDA device (%s)\n", clipt_last_error());
        free_batch(&bt);
        return 0;
    }
    if (st == CLIPT_OK) st = clipt_model_config_preset(preset, &cfg);
    if (st == CLIPT_OK) st = clipt_model_create(ctx, &cfg, seed, &m);
    if (st == CLIPT_OK) st = clipt_model_enable_grads(m);
    if (st == CLIPT_OK) m->pack_rows = !pad77;
    if (st == CLIPT_OK) st = clipt_adamw_init(m, &opt);
    float *E0 = NULL;
    if (st == CLIPT_OK && lambda > 0) {
        E0 = malloc((size_t)bt.U * cfg.projection_dim * sizeof(float));
        st = E0 ? clipt_model_encode(m, bt.ids, bt.eot, bt.U, bt.T, E0) : CLIPT_ERR_OUT_OF_MEMORY;
    }
    if (st != CLIPT_OK) {
        fprintf(stderr, "step: %s: %s\n", clipt_status_name(st), clipt_last_error());
        return 1;
    }

    clipt_pair_batch pb = {bt.N, bt.pair_a, bt.pair_b, bt.target};
    clipt_adamw_hparams hp = {1e-4, 0.9, 0.999, 1e-8, 0.01, 0, 1.0};
    double *times = calloc((size_t)steps, sizeof(double));
    double t_fwd_bwd = 0, t_opt = 0;
    for (int s = 0; s < warmup + steps; s++) {
        float losses[3], norm;
        double t0 = now_seconds();
        st = clipt_batch_loss(m, bt.ids, bt.eot, bt.U, bt.T, &pb, E0, (float)lambda, 1, losses, NULL);
        double t1 = now_seconds();
        if (st == CLIPT_OK) st = clipt_adamw_step(m, &opt, &hp, &norm);
        if (st == CLIPT_OK) st = ctx->backend->synchronize(ctx);
        double t2 = now_seconds();
        if (st != CLIPT_OK) {
            fprintf(stderr, "step %d: %s: %s\n", s, clipt_status_name(st), clipt_last_error());
            return 1;
        }
        if (s >= warmup) {
            times[s - warmup] = t2 - t0;
            t_fwd_bwd += t1 - t0;
            t_opt += t2 - t1;
        }
    }
    qsort(times, (size_t)steps, sizeof(double), compare_doubles);
    double median = times[steps / 2];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char desc[256];
    clipt_context_describe(ctx, desc, sizeof desc);
    long padded_tokens = pad77 ? (long)bt.U * 77 : bt.tokens;
    printf("libclipt step  preset %-8s device %-28s pairs %d texts %d %s\n", preset, desc,
           bt.N, bt.U, pad77 ? "padded-77" : "trimmed");
    printf("  ms/step median %.1f (min %.1f, max %.1f over %d steps)  fwd+loss+bwd %.1f  adamw %.1f\n",
           median * 1e3, times[0] * 1e3, times[steps - 1] * 1e3, steps, t_fwd_bwd / steps * 1e3,
           t_opt / steps * 1e3);
    printf("  texts/s %.0f  tokens/s %.0f (real tokens %ld, computed tokens %ld)  peak RSS %.0f MiB\n",
           bt.U / median, bt.tokens / median, bt.tokens, padded_tokens, ru.ru_maxrss / 1024.0);
    clipt_adamw_release(m, &opt);
    clipt_model_free(m);
    clipt_context_free(ctx);
    free(E0);
    free(times);
    free_batch(&bt);
    return 0;
}
