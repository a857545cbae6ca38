/* Forward and backward passes of the encoder and the loss of one batch,
 * written once against the backend table. */
#ifndef CLIPT_FORWARD_H
#define CLIPT_FORWARD_H

#include "model.h"

/* Checks a batch of host token rows: B >= 1, 1 <= T <= context length,
 * 0 <= eot[b] < T, and ids at or before each eot inside [0, V). Messages
 * name the row and column. */
clipt_status clipt_check_batch(const clipt_model *model, const int32_t *ids,
                               const int32_t *eot, int B, int T);

/* Runs the encoder on a checked host batch. Each row is cut after its
 * end-of-text token and the rows are packed without padding. With training
 * set, every layer's activations are kept for clipt_backward(). The
 * embeddings (B,P) are left in backend memory at model->acts.output;
 * *tokens, when not NULL, receives the number of tokens computed. */
clipt_status clipt_forward(clipt_model *model, const int32_t *ids,
                           const int32_t *eot, int B, int T, int training,
                           size_t *tokens);

/* Backpropagates model->acts.doutput (B,P) through the last training
 * forward pass and accumulates into model->grads. Frozen tensors get no
 * gradient, and the pass stops below the lowest trainable block. */
clipt_status clipt_backward(clipt_model *model);

/* One batch of pairs for the loss: texts are rows of the encoded batch. */
typedef struct clipt_pair_batch {
    int N;                  /* pairs */
    const int32_t *pair_a;  /* (N) row of the first text */
    const int32_t *pair_b;  /* (N) row of the second text */
    const float *target;    /* (N) Wu-Palmer similarity */
} clipt_pair_batch;

/* Computes the loss of one batch and, when with_grads is set, zeroes the
 * gradients and fills them with the gradient of the loss. Host inputs:
 * ids (U,T), eot (U), the pairs, and E0 (U,P) or NULL (no regulariser).
 * losses receives total, distance and regulariser; cos (N), when not NULL,
 * receives each pair's cosine similarity.
 * Errors: the batch checks above, CLIPT_ERR_INVALID_ARGUMENT for a pair
 * index outside [0, U) or a target that is not finite, and
 * CLIPT_ERR_NONFINITE when the loss is NaN or infinite. */
clipt_status clipt_batch_loss(clipt_model *model, const int32_t *ids,
                              const int32_t *eot, int U, int T,
                              const clipt_pair_batch *pairs, const float *E0,
                              float lambda, int with_grads, float losses[3],
                              float *cos);

#endif /* CLIPT_FORWARD_H */
