/* Evaluation on a fixed set of pairs: correlation of cosine similarity with
 * the Wu-Palmer targets, overall and per relation kind, the distance loss,
 * drift from the original model, and the token-overlap baseline. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "trainer.h"

/* Encodes every row of the batch with model into E (U,P). */
static clipt_status encode_rows(clipt_model *model, const clipt_text_batch *b, float *E)
{
    return clipt_model_encode(model, b->ids, b->eot, b->U, b->T, E);
}

static double cosine(const float *x, const float *y, int P)
{
    double dot = 0.0, xx = 0.0, yy = 0.0;
    for (int k = 0; k < P; k++) {
        dot += (double)x[k] * y[k];
        xx += (double)x[k] * x[k];
        yy += (double)y[k] * y[k];
    }
    /* the same clamp as the training loss */
    return dot / (fmax(sqrt(xx), 1e-8) * fmax(sqrt(yy), 1e-8));
}

/* Jaccard overlap of the two rows' token sets, start and end ids left out. */
static double token_overlap(const clipt_text_batch *b, int row_a, int row_b)
{
    const int32_t *a = b->ids + (size_t)row_a * b->T, *c = b->ids + (size_t)row_b * b->T;
    int na = b->eot[row_a], nc = b->eot[row_b];
    int common = 0, union_size = 0;
    /* tokens 1 .. eot-1; rows are short, so quadratic loops are fine */
    for (int i = 1; i < na; i++) {
        int seen = 0;
        for (int j = 1; j < i; j++) seen |= a[j] == a[i];
        if (seen) continue;
        union_size++;
        for (int j = 1; j < nc; j++) {
            if (c[j] == a[i]) {
                common++;
                break;
            }
        }
    }
    for (int i = 1; i < nc; i++) {
        int seen = 0;
        for (int j = 1; j < i; j++) seen |= c[j] == c[i];
        for (int j = 1; j < na && !seen; j++) seen |= a[j] == c[i];
        if (!seen) union_size++;
    }
    return union_size > 0 ? (double)common / union_size : 0.0;
}

/* Scores model on the n pairs of batch b; E_ref (U,P), when not NULL,
 * holds the reference model's embeddings of the rows, for drift. */
static clipt_status evaluate_batch(clipt_model *model, const clipt_text_batch *b,
                                   const float *E_ref, const clipt_pair *pairs, size_t n,
                                   clipt_eval_stats *stats)
{
    int P = model->cfg.projection_dim;
    size_t U = (size_t)b->U;
    clipt_status status = CLIPT_OK;
    float *E = malloc(U * (size_t)P * sizeof(float));
    double *cos = malloc(n * sizeof(double));
    double *target = malloc(n * sizeof(double));
    double *overlap = malloc(n * sizeof(double));
    double *x = malloc(n * sizeof(double));
    double *y = malloc(n * sizeof(double));
    if (E == NULL || cos == NULL || target == NULL || overlap == NULL || x == NULL || y == NULL) {
        status = clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                                 "out of host memory evaluating %zu pairs", n);
        goto fail;
    }
    CLIPT_TRY_GOTO(encode_rows(model, b, E));

    memset(stats, 0, sizeof *stats);
    stats->pairs = n;
    double distance = 0.0;
    for (size_t i = 0; i < n; i++) {
        cos[i] = cosine(E + (size_t)b->pair_a[i] * P, E + (size_t)b->pair_b[i] * P, P);
        target[i] = pairs[i].target;
        overlap[i] = token_overlap(b, b->pair_a[i], b->pair_b[i]);
        distance += (target[i] - cos[i]) * (target[i] - cos[i]);
    }
    stats->spearman = clipt_spearman(cos, target, n);
    stats->pearson = clipt_pearson(cos, target, n);
    stats->distance = distance / (double)n;
    stats->overlap_spearman = clipt_spearman(overlap, target, n);
    stats->drift = NAN;
    if (E_ref != NULL) {
        double drift = 0.0;
        for (size_t u = 0; u < U; u++) drift += cosine(E + u * P, E_ref + u * P, P);
        stats->drift = drift / (double)U;
    }
    for (int k = 0; k < CLIPT_RELATION_COUNT; k++) {
        size_t m = 0;
        double d = 0.0;
        for (size_t i = 0; i < n; i++) {
            if ((int)pairs[i].relation != k) continue;
            x[m] = cos[i];
            y[m] = target[i];
            d += (target[i] - cos[i]) * (target[i] - cos[i]);
            m++;
        }
        stats->kind_pairs[k] = m;
        stats->kind_spearman[k] = m >= 2 ? clipt_spearman(x, y, m) : NAN;
        stats->kind_pearson[k] = m >= 2 ? clipt_pearson(x, y, m) : NAN;
        stats->kind_distance[k] = m >= 1 ? d / (double)m : NAN;
    }
fail:
    free(E);
    free(cos);
    free(target);
    free(overlap);
    free(x);
    free(y);
    return status;
}

static clipt_status check_relations(const clipt_pair *pairs, size_t n)
{
    for (size_t i = 0; i < n && pairs != NULL; i++) {
        if ((unsigned)pairs[i].relation >= CLIPT_RELATION_COUNT) {
            return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "pair %zu: unknown relation %d",
                                   i, (int)pairs[i].relation);
        }
    }
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_evaluate(clipt_model *model, clipt_model *reference,
                                      clipt_tokenizer *tokenizer, const clipt_pair *pairs,
                                      size_t n, clipt_eval_stats *stats)
{
    if (model == NULL || tokenizer == NULL || stats == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_evaluate: model, tokenizer and stats must not be NULL");
    }
    int P = model->cfg.projection_dim;
    if (reference != NULL && reference->cfg.projection_dim != P) {
        return clipt_set_error(CLIPT_ERR_SHAPE,
                               "the reference model's projection width is %d, the model's %d",
                               reference->cfg.projection_dim, P);
    }
    CLIPT_TRY(check_relations(pairs, n));
    clipt_status status = CLIPT_OK;
    clipt_text_batch b;
    clipt_text_batch_init(&b);
    float *E_ref = NULL;
    CLIPT_TRY_GOTO(clipt_text_batch_build(&b, tokenizer, model->cfg.context_length, pairs, n));
    if (reference != NULL) {
        E_ref = malloc((size_t)b.U * (size_t)P * sizeof(float));
        if (E_ref == NULL) {
            status = clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                                     "out of host memory for %d reference embeddings", b.U);
            goto fail;
        }
        CLIPT_TRY_GOTO(encode_rows(reference, &b, E_ref));
    }
    CLIPT_TRY_GOTO(evaluate_batch(model, &b, E_ref, pairs, n, stats));
fail:
    clipt_text_batch_release(&b);
    free(E_ref);
    return status;
}

CLIPT_API clipt_status clipt_trainer_evaluate(clipt_trainer *t, const clipt_pair *pairs, size_t n,
                                              clipt_eval_stats *stats)
{
    if (t == NULL || stats == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_trainer_evaluate: trainer and stats must not be NULL");
    }
    CLIPT_TRY(check_relations(pairs, n));
    /* The original model's embeddings come from the trainer's cache, so
     * each evaluation text is encoded with M0 once per run. */
    clipt_text_batch *b = &t->batch;
    CLIPT_TRY(clipt_text_batch_build(b, t->tokenizer, t->model->cfg.context_length, pairs, n));
    CLIPT_TRY(clipt_trainer_fill_original(t, b));
    return evaluate_batch(t->model, b, t->E0, pairs, n, stats);
}
