/* A program built against an installed libclipt (see tests/test_install.sh):
 * it uses only <clipt.h> and pkg-config's flags. */
#include <clipt.h>

#include <stdio.h>

int main(void)
{
    clipt_context_options opts;
    clipt_context_options_init(&opts);
    opts.device = "cpu";
    opts.num_threads = 1;
    clipt_context *ctx = NULL;
    clipt_model *model = NULL;
    clipt_model_config cfg;
    clipt_status st = clipt_context_create(&opts, &ctx);
    if (st == CLIPT_OK) st = clipt_model_config_preset("small", &cfg);
    if (st == CLIPT_OK) {
        cfg.layers = 1;
        st = clipt_model_create(ctx, &cfg, 1, &model);
    }
    float emb[256];
    int32_t ids[3] = {49406, 1929, 49407}, eot = 2;
    if (st == CLIPT_OK) st = clipt_model_encode(model, ids, &eot, 1, 3, emb);
    if (st != CLIPT_OK) {
        printf("install_program: %s: %s\n", clipt_status_name(st), clipt_last_error());
        return 1;
    }
    printf("install_program: libclipt %s encoded one row, first value %.4f\n",
           clipt_version_string(), emb[0]);
    clipt_model_free(model);
    clipt_context_free(ctx);
    return 0;
}
