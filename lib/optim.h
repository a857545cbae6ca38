/* AdamW state over a model's flat parameter buffer. */
#ifndef CLIPT_OPTIM_H
#define CLIPT_OPTIM_H

#include "model.h"

typedef struct clipt_adamw_state {
    float *m;        /* backend memory, first moments, nparams floats */
    float *v;        /* backend memory, second moments */
    float *norm;     /* backend memory, the last global gradient norm */
    int64_t step;    /* updates done so far */
} clipt_adamw_state;

/* Allocates zeroed moments for model. */
clipt_status clipt_adamw_init(clipt_model *model, clipt_adamw_state *state);

void clipt_adamw_release(clipt_model *model, clipt_adamw_state *state);

/* Applies one AdamW update from model->grads to the trainable tensors:
 * computes the global gradient norm (written to *grad_norm when not NULL,
 * before clipping), clips when hp->max_grad_norm > 0, then updates. The
 * step count comes from the state (hp->step is ignored).
 * Errors: CLIPT_ERR_NONFINITE when the gradient norm is NaN or infinite,
 * in which case nothing is updated. */
clipt_status clipt_adamw_step(clipt_model *model, clipt_adamw_state *state,
                              const clipt_adamw_hparams *hp, float *grad_norm);

#endif /* CLIPT_OPTIM_H */
