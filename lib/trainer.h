/* The trainer's internal structure and the batch preparation it shares
 * with evaluation. */
#ifndef CLIPT_TRAINER_H
#define CLIPT_TRAINER_H

#include "forward.h"
#include "optim.h"
#include "strmap.h"

/* The unique texts of a set of pairs, tokenized into (U, T) rows, and each
 * pair's two row indices. Buffers grow and are reused between batches. */
typedef struct clipt_text_batch {
    clipt_strmap texts;      /* text -> row */
    const char **rows;       /* (U) text of each row, owned by `texts` */
    int32_t *ids;            /* (U, T) token ids, padded with 0 */
    int32_t *eot;            /* (U) end-of-text position of each row */
    int32_t *pair_a, *pair_b;/* (N) */
    float *target;           /* (N) */
    size_t rows_capacity, eot_capacity, ids_capacity;  /* in items */
    size_t pair_a_capacity, pair_b_capacity, target_capacity;
    int U, T, N;
    int64_t tokens;          /* sum of eot + 1 */
} clipt_text_batch;

void clipt_text_batch_init(clipt_text_batch *batch);
void clipt_text_batch_release(clipt_text_batch *batch);

/* Fills batch from n pairs: finds the unique texts, tokenizes them with
 * T = the context length, and maps each pair to its rows. */
clipt_status clipt_text_batch_build(clipt_text_batch *batch,
                                    clipt_tokenizer *tokenizer, int T,
                                    const clipt_pair *pairs, size_t n);

struct clipt_trainer {
    clipt_model *model;
    clipt_model *original;      /* M0: a frozen copy of the initial model */
    clipt_tokenizer *tokenizer;
    clipt_trainer_options options;
    clipt_adamw_state adam;
    int64_t step;
    clipt_text_batch batch;
    /* M0 embeddings by text: cache_texts maps a text to its row of
     * cache (P floats each). */
    clipt_strmap cache_texts;
    float *cache;
    size_t cache_capacity;      /* rows allocated */
    float *E0;                  /* (U, P) scratch for one batch */
    size_t E0_capacity;
};

/* Fills t->E0 (U,P) with the original model's embeddings of batch b's
 * rows, encoding with M0 only the texts not cached yet and caching them. */
clipt_status clipt_trainer_fill_original(clipt_trainer *t, const clipt_text_batch *b);

/* Adds one text's M0 embedding (P floats) to the cache, replacing an
 * earlier one for the same text. */
clipt_status clipt_trainer_cache_put(clipt_trainer *t, const char *text, const float *embedding);

/* Creates a model with model's configuration on the same context and a
 * copy of its parameters. */
clipt_status clipt_model_clone(const clipt_model *model, clipt_model **out);

#endif /* CLIPT_TRAINER_H */
