/* The model structure: configuration, the table of named tensors inside the
 * flat parameter buffer, gradients and the activation workspace. */
#ifndef CLIPT_MODEL_H
#define CLIPT_MODEL_H

#include "backend.h"

#define CLIPT_TENSOR_NAME_MAX 96

/* Where a tensor sits in the encoder, for choosing which tensors train. */
enum {
    CLIPT_PLACE_EMBEDDING = -1, /* token and position embeddings */
    CLIPT_PLACE_HEAD = -2       /* final LayerNorm and projection */
};

typedef struct clipt_tensor_entry {
    char name[CLIPT_TENSOR_NAME_MAX];
    int ndim;
    int64_t shape[4];
    size_t offset;
    size_t numel;
    int decayed;   /* weight matrices of Linear layers and the projection */
    int place;     /* layer index, or CLIPT_PLACE_EMBEDDING / _HEAD */
    int trainable;
} clipt_tensor_entry;

/* Offsets (in floats) of one block's parameters. q, k and v weights are
 * adjacent, so qkv_weight is one (3C, C) matrix; the biases likewise. */
typedef struct clipt_layer_offsets {
    size_t ln1_weight, ln1_bias;
    size_t qkv_weight, qkv_bias;
    size_t attn_out_weight, attn_out_bias;
    size_t ln2_weight, ln2_bias;
    size_t fc1_weight, fc1_bias;
    size_t fc2_weight, fc2_bias;
} clipt_layer_offsets;

/* Activations saved by a training forward pass (all layers) or used as
 * scratch by an inference pass (one layer's worth, reused). Every pointer is
 * backend memory inside `memory`. A batch of B rows is packed into N tokens
 * without padding: row b owns tokens [offsets[b], offsets[b+1]). Shapes
 * below write (B,T) for N; layers = L when training, else 1. */
typedef struct clipt_activations {
    int capacity_rows;     /* B */
    size_t capacity_tokens;/* N; also the stride between layers' slices */
    int layers, with_grads;
    void *memory;
    int32_t *ids;          /* (N) packed token ids */
    int32_t *pos;          /* (N) position of each token inside its row */
    int32_t *offsets;      /* (B+1) first token of each row, then N */
    int32_t *eot;          /* (B) token index of each row's end of text */
    float *encoded;        /* (B,T,C) embedding output */
    float *ln1;            /* (layers,B,T,C) */
    float *ln1_mean;       /* (layers,B,T) */
    float *ln1_rstd;       /* (layers,B,T) */
    float *qkv;            /* (layers,B,T,3C) */
    float *atty;           /* (layers,B,T,C) attention output, heads merged */
    float *att_lse;        /* (layers,B,NH,T) */
    float *residual2;      /* (layers,B,T,C) after the attention residual */
    float *ln2;            /* (layers,B,T,C) */
    float *ln2_mean;       /* (layers,B,T) */
    float *ln2_rstd;       /* (layers,B,T) */
    float *fch;            /* (layers,B,T,F) fc1 output, pre-activation */
    float *fch_act;        /* (layers,B,T,F) */
    float *residual3;      /* (layers,B,T,C) block output */
    float *scratch;        /* (B,T,C) projection outputs before the adds */
    float *eot_residual;   /* (B,C) last block's input at the end-of-text rows */
    float *eot_atty;       /* (B,C) last block's attention output there */
    float *pooled;         /* (B,C) last block's output at those rows */
    float *lnf;            /* (B,C) */
    float *lnf_mean;       /* (B) */
    float *lnf_rstd;       /* (B) */
    float *output;         /* (B,P) embeddings */
    /* gradient buffers, present when with_grads */
    float *dresidual;      /* (B,T,C) */
    float *dln;            /* (B,T,C) */
    float *dqkv;           /* (B,T,3C) */
    float *datty;          /* (B,T,C) */
    float *dfch_act;       /* (B,T,F) */
    float *dfch;           /* (B,T,F) */
    float *deot_atty;      /* (B,C) */
    float *dpooled;        /* (B,C) */
    float *dlnf;           /* (B,C) */
    float *doutput;        /* (B,P) */
} clipt_activations;

/* Scratch for the loss of one batch, in backend memory. */
typedef struct clipt_loss_scratch {
    int capacity_pairs;
    size_t capacity_embeddings; /* floats of E0 */
    void *memory;
    int32_t *pair_a, *pair_b;   /* (N) */
    float *target, *cos;        /* (N) */
    float *losses;              /* (3) total, distance, regulariser */
    float *E0;                  /* (U,P) */
} clipt_loss_scratch;

struct clipt_model {
    clipt_context *ctx;
    clipt_model_config cfg;
    clipt_tensor_entry *tensors;
    int ntensors;
    size_t nparams;        /* floats in the flat buffer, padding included */
    size_t wte, wpe, lnf_weight, lnf_bias, projection;
    clipt_layer_offsets *layer;   /* (L) */
    float *params;         /* backend memory, nparams floats */
    float *grads;          /* backend memory, allocated by enable_grads */
    /* Trainable tensors: the embeddings when train_embeddings, blocks
     * first_trainable_layer .. L-1, and always the head. */
    int first_trainable_layer;
    int train_embeddings;
    clipt_param_segment *segments;        /* host copy */
    clipt_param_segment *segments_device; /* backend copy */
    int nsegments;
    clipt_activations acts;
    clipt_loss_scratch loss;
    /* When 0, rows are not cut at their end of text: every row is computed
     * on all T columns with id 0 after its end of text, as a framework
     * padding to T would. Only tests and benchmarks turn packing off. */
    int pack_rows;
    int forward_ready;     /* a training forward ran since the last backward */
    int forward_B;         /* rows of that forward pass */
    int forward_N;         /* packed tokens */
    int forward_max_len;   /* longest row */
};

/* Allocates the gradient buffer (zeroed) if it does not exist yet. */
clipt_status clipt_model_enable_grads(clipt_model *model);

/* Chooses the trainable tensors: top_blocks < 0 trains everything;
 * otherwise the last top_blocks blocks, the final LayerNorm and the
 * projection train, and the embeddings and lower blocks are frozen. Updates
 * the optimizer segments. */
clipt_status clipt_model_set_trainable(clipt_model *model, int top_blocks);

/* Zeroes the gradient buffer. */
clipt_status clipt_model_zero_grads(clipt_model *model);

/* Grows the activation workspace to fit B rows of N packed tokens in all,
 * with all layers and gradient buffers when training. */
clipt_status clipt_activations_reserve(clipt_model *model, int B, size_t N,
                                       int training);


void clipt_activations_release(clipt_model *model);

#endif /* CLIPT_MODEL_H */
