/* inspect: creates a model from a preset, prints its configuration and
 * tensor table, and encodes two token rows, to show the model works.
 *
 *   inspect [--preset small|vit-b-32] [--device cpu|cuda|auto] [--seed N]
 */
#include <clipt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: inspect [--preset NAME] [--device DEV] [--seed N]\n"
            "  --preset NAME   model preset: small or vit-b-32 (default small)\n"
            "  --device DEV    cpu, cuda, cuda:N or auto (default auto)\n"
            "  --seed N        initialisation seed (default 0)\n");
}

int main(int argc, char **argv)
{
    const char *preset = "small", *device = "auto";
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--preset") == 0 && i + 1 < argc) {
            preset = argv[++i];
        } else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
            device = argv[++i];
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "inspect: unknown or incomplete option \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }

    clipt_context_options opts;
    clipt_context_options_init(&opts);
    opts.device = device;
    clipt_context *ctx = NULL;
    clipt_model *model = NULL;
    clipt_model_config cfg;
    clipt_status st = clipt_context_create(&opts, &ctx);
    if (st == CLIPT_OK) st = clipt_model_config_preset(preset, &cfg);
    if (st == CLIPT_OK) st = clipt_model_create(ctx, &cfg, seed, &model);
    if (st != CLIPT_OK) {
        fprintf(stderr, "inspect: %s: %s\n", clipt_status_string(st), clipt_last_error());
        clipt_context_free(ctx);
        return 1;
    }

    char desc[256];
    clipt_context_describe(ctx, desc, sizeof desc);
    printf("libclipt %s, device %s\n", clipt_version_string(), desc);
    printf("preset %s: vocab %d, context %d, width %d, heads %d, layers %d, "
           "mlp %d, projection %d\n",
           preset, cfg.vocab_size, cfg.context_length, cfg.width, cfg.heads,
           cfg.layers, cfg.mlp_width, cfg.projection_dim);
    int n = clipt_model_tensor_count(model);
    size_t total = 0;
    printf("%-58s %-14s %12s\n", "tensor", "shape", "offset");
    for (int i = 0; i < n; i++) {
        clipt_tensor_info info;
        clipt_model_tensor_info(model, i, &info);
        char shape[32];
        if (info.ndim == 2) {
            snprintf(shape, sizeof shape, "%lld x %lld", (long long)info.shape[0],
                     (long long)info.shape[1]);
        } else {
            snprintf(shape, sizeof shape, "%lld", (long long)info.shape[0]);
        }
        total += info.numel;
        /* The per-layer rows repeat; print the first block in full only. */
        if (strstr(info.name, "layers.") == NULL || strstr(info.name, "layers.0.") != NULL) {
            printf("%-58s %-14s %12zu\n", info.name, shape, info.offset);
        }
    }
    printf("%d tensors, %zu parameters (%.1f MiB fp32)\n", n, total,
           (double)clipt_model_param_count(model) * 4 / 1048576.0);

    /* Two rows: start-of-text, a few ids, end-of-text, then padding. */
    int32_t ids[2][8] = {{49406, 320, 1125, 539, 320, 2368, 49407, 0},
                         {49406, 1929, 49407, 0, 0, 0, 0, 0}};
    int32_t eot[2] = {6, 2};
    float *emb = malloc(2 * (size_t)cfg.projection_dim * sizeof(float));
    if (emb == NULL) {
        fprintf(stderr, "inspect: out of memory\n");
        return 1;
    }
    st = clipt_model_encode(model, &ids[0][0], eot, 2, 8, emb);
    if (st != CLIPT_OK) {
        fprintf(stderr, "inspect: encode failed: %s\n", clipt_last_error());
        return 1;
    }
    for (int b = 0; b < 2; b++) {
        printf("embedding %d: [%.5f %.5f %.5f %.5f ...]\n", b, emb[b * cfg.projection_dim],
               emb[b * cfg.projection_dim + 1], emb[b * cfg.projection_dim + 2],
               emb[b * cfg.projection_dim + 3]);
    }
    free(emb);
    clipt_model_free(model);
    clipt_context_free(ctx);
    return 0;
}
