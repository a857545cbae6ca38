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
    for (size_t i = 0; i < n && pairs != NULL; i++) {
        if ((unsigned)pairs[i].relation >= CLIPT_RELATION_COUNT) {
            return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "pair %zu: unknown relation %d",
                                   i, (int)pairs[i].relation);
        }
    }
    clipt_status status = CLIPT_OK;
    clipt_text_batch b;
    clipt_text_batch_init(&b);
    float *E = NULL, *E0 = NULL;
    double *cos = NULL, *target = NULL, *overlap = NULL, *x = NULL, *y = NULL;
    CLIPT_TRY_GOTO(clipt_text_batch_build(&b, tokenizer, model->cfg.context_length, pairs, n));
    size_t U = (size_t)b.U;
    E = malloc(U * (size_t)P * sizeof(float));
    if (reference != NULL) E0 = malloc(U * (size_t)P * sizeof(float));
    cos = malloc(n * sizeof(double));
    target = malloc(n * sizeof(double));
    overlap = malloc(n * sizeof(double));
    x = malloc(n * sizeof(double));
    y = malloc(n * sizeof(double));
    if (E == NULL || (reference != NULL && E0 == NULL) || cos == NULL || target == NULL ||
        overlap == NULL || x == NULL || y == NULL) {
        status = clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                                 "out of host memory evaluating %zu pairs", n);
        goto fail;
    }
    CLIPT_TRY_GOTO(encode_rows(model, &b, E));
    if (reference != NULL) CLIPT_TRY_GOTO(encode_rows(reference, &b, E0));

    memset(stats, 0, sizeof *stats);
    stats->pairs = n;
    double distance = 0.0;
    for (size_t i = 0; i < n; i++) {
        cos[i] = cosine(E + (size_t)b.pair_a[i] * P, E + (size_t)b.pair_b[i] * P, P);
        target[i] = pairs[i].target;
        overlap[i] = token_overlap(&b, b.pair_a[i], b.pair_b[i]);
        distance += (target[i] - cos[i]) * (target[i] - cos[i]);
    }
    stats->spearman = clipt_spearman(cos, target, n);
    stats->pearson = clipt_pearson(cos, target, n);
    stats->distance = distance / (double)n;
    stats->overlap_spearman = clipt_spearman(overlap, target, n);
    stats->drift = NAN;
    if (reference != NULL) {
        double drift = 0.0;
        for (size_t u = 0; u < U; u++) {
            drift += cosine(E + u * P, E0 + u * P, P);
        }
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
    clipt_text_batch_release(&b);
    free(E);
    free(E0);
    free(cos);
    free(target);
    free(overlap);
    free(x);
    free(y);
    return status;
}

CLIPT_API clipt_status clipt_trainer_evaluate(clipt_trainer *t, const clipt_pair *pairs, size_t n,
                                              clipt_eval_stats *stats)
{
    if (t == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_trainer_evaluate: trainer is NULL");
    }
    return clipt_evaluate(t->model, t->original, t->tokenizer, pairs, n, stats);
}
