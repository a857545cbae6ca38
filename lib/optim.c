#include "optim.h"

#include <math.h>
#include <string.h>

clipt_status clipt_adamw_init(clipt_model *m, clipt_adamw_state *st)
{
    clipt_context *ctx = m->ctx;
    const clipt_backend *be = ctx->backend;
    size_t bytes = m->nparams * sizeof(float);
    clipt_status status = CLIPT_OK;
    memset(st, 0, sizeof *st);
    CLIPT_TRY_GOTO(be->alloc(ctx, bytes, "AdamW first moments", (void **)&st->m));
    CLIPT_TRY_GOTO(be->alloc(ctx, bytes, "AdamW second moments", (void **)&st->v));
    CLIPT_TRY_GOTO(be->alloc(ctx, sizeof(float), "gradient norm", (void **)&st->norm));
    CLIPT_TRY_GOTO(be->zero(ctx, st->m, bytes));
    CLIPT_TRY_GOTO(be->zero(ctx, st->v, bytes));
    CLIPT_TRY_GOTO(be->zero(ctx, st->norm, sizeof(float)));
    return CLIPT_OK;
fail:
    clipt_adamw_release(m, st);
    return status;
}

void clipt_adamw_release(clipt_model *m, clipt_adamw_state *st)
{
    clipt_context *ctx = m->ctx;
    if (st->m != NULL) ctx->backend->free(ctx, st->m);
    if (st->v != NULL) ctx->backend->free(ctx, st->v);
    if (st->norm != NULL) ctx->backend->free(ctx, st->norm);
    memset(st, 0, sizeof *st);
}

clipt_status clipt_adamw_step(clipt_model *m, clipt_adamw_state *st,
                              const clipt_adamw_hparams *hp, float *grad_norm)
{
    if (m->grads == NULL || st->m == NULL) {
        return clipt_set_error(CLIPT_ERR_MISUSE,
                               "AdamW step without gradients or optimizer "
                               "state");
    }
    clipt_context *ctx = m->ctx;
    const clipt_backend *be = ctx->backend;
    float norm = 0.0f;
    CLIPT_TRY(be->grad_norm(ctx, st->norm, m->grads, m->segments_device,
                            m->nsegments));
    CLIPT_TRY(be->download(ctx, &norm, st->norm, sizeof norm));
    CLIPT_TRY(be->synchronize(ctx));
    if (grad_norm != NULL) *grad_norm = norm;
    if (!isfinite(norm)) {
        return clipt_set_error(CLIPT_ERR_NONFINITE,
                               "gradient norm is %g; the update was skipped",
                               (double)norm);
    }
    clipt_adamw_hparams h = *hp;
    h.step = st->step + 1;
    CLIPT_TRY(be->adamw_update(ctx, m->params, m->grads, st->m, st->v,
                               m->segments_device, m->nsegments, st->norm, &h));
    st->step = h.step;
    return CLIPT_OK;
}
