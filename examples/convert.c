/* convert: loads a CLIP checkpoint (Hugging Face or OpenAI/open_clip
 * layout) and saves its text encoder as a transformers checkpoint
 * directory.
 *
 *   convert SRC DST [--dtype f32|f16|bf16] [--format text|clip]
 *                   [--no-tokenizer] [--device DEV]
 */
#include <clipt.h>

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: convert SRC DST [options]\n"
            "  SRC                checkpoint directory or .safetensors file\n"
            "  DST                output directory (created if missing)\n"
            "  --dtype T          f32, f16 or bf16 for the text encoder "
            "(default f32)\n"
            "  --format F         text: CLIPTextModelWithProjection "
            "(default);\n"
            "                     clip: full CLIPModel, vision tower copied "
            "from SRC\n"
            "  --no-tokenizer     do not copy the tokenizer files of SRC\n"
            "  --device DEV       cpu, cuda, cuda:N or auto (default cpu)\n");
}

static int fail(const char *what, clipt_status status)
{
    fprintf(stderr, "convert: %s: %s: %s\n", what, clipt_status_name(status),
            clipt_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    const char *src = NULL, *dst = NULL, *device = "cpu";
    clipt_save_options save;
    clipt_save_options_init(&save);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--dtype") == 0 && i + 1 < argc) {
            const char *t = argv[++i];
            if (strcmp(t, "f32") == 0) save.dtype = CLIPT_DTYPE_F32;
            else if (strcmp(t, "f16") == 0) save.dtype = CLIPT_DTYPE_F16;
            else if (strcmp(t, "bf16") == 0) save.dtype = CLIPT_DTYPE_BF16;
            else {
                fprintf(stderr, "convert: unknown dtype \"%s\"\n", t);
                return 2;
            }
        } else if (strcmp(a, "--format") == 0 && i + 1 < argc) {
            const char *f = argv[++i];
            if (strcmp(f, "text") == 0) save.format = CLIPT_SAVE_TEXT_WITH_PROJECTION;
            else if (strcmp(f, "clip") == 0) save.format = CLIPT_SAVE_CLIP_MODEL;
            else {
                fprintf(stderr, "convert: unknown format \"%s\"\n", f);
                return 2;
            }
        } else if (strcmp(a, "--no-tokenizer") == 0) {
            save.copy_tokenizer = 0;
        } else if (strcmp(a, "--device") == 0 && i + 1 < argc) {
            device = argv[++i];
        } else if (a[0] != '-' && src == NULL) {
            src = a;
        } else if (a[0] != '-' && dst == NULL) {
            dst = a;
        } else {
            fprintf(stderr, "convert: unknown or incomplete option \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (src == NULL || dst == NULL) {
        usage(stderr);
        return 2;
    }

    clipt_context_options opts;
    clipt_context_options_init(&opts);
    opts.device = device;
    clipt_context *ctx = NULL;
    clipt_model *model = NULL;
    clipt_status status = clipt_context_create(&opts, &ctx);
    if (status != CLIPT_OK) return fail("creating the context", status);
    status = clipt_model_load(ctx, src, &model);
    if (status != CLIPT_OK) {
        clipt_context_free(ctx);
        return fail("loading", status);
    }
    clipt_model_config c;
    clipt_model_get_config(model, &c);
    printf("loaded %s: V %d, T %d, C %d, NH %d, L %d, F %d, P %d, %s, "
           "eos_token_id %d\n",
           src, c.vocab_size, c.context_length, c.width, c.heads, c.layers,
           c.mlp_width, c.projection_dim,
           c.activation == CLIPT_ACTIVATION_GELU ? "gelu" : "quick_gelu",
           c.eos_token_id);
    status = clipt_model_save(model, dst, &save);
    clipt_model_free(model);
    clipt_context_free(ctx);
    if (status != CLIPT_OK) return fail("saving", status);
    printf("saved %s\n", dst);
    return 0;
}
