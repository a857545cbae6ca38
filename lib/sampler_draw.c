/* Drawing pairs: training batches, the held-out evaluation set, the saved
 * generator position and the text table. */
#include <stdlib.h>
#include <string.h>

#include "sampler.h"

/* ------------------------------------------------------------------------ */
/* One pair                                                                 */
/* ------------------------------------------------------------------------ */

/* Returns the number of parents (up) or children of x on the side whose
 * reach is at least need, and the pick-th of them in *chosen. */
static int32_t step_candidates(const clipt_sampler *s, int split, int32_t x, int up, int need,
                               int32_t pick, int32_t *chosen)
{
    const clipt_wordnet *wn = s->wn;
    const clipt_sampler_side *side = &s->side[split];
    const int32_t *first = up ? wn->parent_first : wn->child_first;
    const int32_t *next = up ? wn->parent : wn->child;
    const uint8_t *reach = up ? side->up_reach : side->down_reach;
    int32_t count = 0;
    for (int32_t k = first[x]; k < first[x + 1]; k++) {
        int32_t y = next[k];
        if (s->side_of[y] != split || reach[y] < need) continue;
        if (count++ == pick) *chosen = y;
    }
    return count;
}

/* Walks k edges up or down from x, each step uniform among the neighbours
 * on the side from which the rest of the walk can still be completed. */
static int32_t walk(const clipt_sampler *s, int split, int32_t x, int k, int up, clipt_rng *rng)
{
    for (int remaining = k; remaining > 0; remaining--) {
        int32_t unused;
        int32_t count = step_candidates(s, split, x, up, remaining - 1, -1, &unused);
        int32_t pick = (int32_t)clipt_rng_below(rng, (uint64_t)count);
        step_candidates(s, split, x, up, remaining - 1, pick, &x);
    }
    return x;
}

/* Picks a member of the side that shares a parent with x, uniformly over
 * (parent, sibling) pairs. */
static int32_t pick_cohyponym(const clipt_sampler *s, int split, int32_t x, clipt_rng *rng)
{
    const clipt_wordnet *wn = s->wn;
    int32_t total = 0, pick = -1, found = x;
    for (int pass = 0; pass < 2; pass++) {
        int32_t seen = 0;
        for (int32_t k = wn->parent_first[x]; k < wn->parent_first[x + 1]; k++) {
            int32_t p = wn->parent[k];
            for (int32_t c = wn->child_first[p]; c < wn->child_first[p + 1]; c++) {
                int32_t y = wn->child[c];
                if (y == x || s->side_of[y] != split) continue;
                if (seen++ == pick) found = y;
            }
        }
        if (pass == 0) {
            total = seen;
            if (total == 0) return x;
            pick = (int32_t)clipt_rng_below(rng, (uint64_t)total);
        }
    }
    return found;
}

static int32_t pick_text(const clipt_sampler *s, int32_t x, clipt_rng *rng)
{
    int32_t first = s->syn_text_first[x];
    int32_t count = s->syn_text_first[x + 1] - first;
    return s->syn_text[first + (int32_t)clipt_rng_below(rng, (uint64_t)count)];
}

int clipt_sampler_draw_one(const clipt_sampler *s, clipt_split split, clipt_rng *rng,
                           clipt_pair *pair)
{
    const clipt_sampler_side *side = &s->side[split];
    const clipt_sampler_options *o = &s->options;

    /* The relation, by the side's normalised weights. */
    double u = clipt_rng_uniform(rng), cumulative = 0.0;
    int relation = -1;
    for (int r = 0; r < CLIPT_RELATION_COUNT; r++) {
        if (side->weights[r] <= 0.0) continue;
        relation = r; /* the last possible one absorbs rounding */
        cumulative += side->weights[r];
        if (u < cumulative) break;
    }
    if (relation < 0) return 0;

    int32_t a = -1, b = -1, text_a = -1, text_b = -1, distance = 0;
    switch ((clipt_relation)relation) {
    case CLIPT_RELATION_SYNONYM: {
        a = b = side->synonym[clipt_rng_below(rng, (uint64_t)side->synonym_count)];
        int32_t first = s->syn_text_first[a];
        int32_t count = s->syn_text_first[a + 1] - first;
        int32_t i = (int32_t)clipt_rng_below(rng, (uint64_t)count);
        int32_t j = (int32_t)clipt_rng_below(rng, (uint64_t)count - 1);
        if (j >= i) j++;
        text_a = s->syn_text[first + i];
        text_b = s->syn_text[first + j];
        break;
    }
    case CLIPT_RELATION_HYPERNYM:
    case CLIPT_RELATION_HYPONYM: {
        int up = relation == CLIPT_RELATION_HYPERNYM;
        int max_k = up ? side->max_up : side->max_down;
        const int32_t *sorted = up ? side->up_sorted : side->down_sorted;
        const int32_t *count = up ? side->up_count : side->down_count;
        distance =
            o->min_distance + (int)clipt_rng_below(rng, (uint64_t)(max_k - o->min_distance + 1));
        a = sorted[clipt_rng_below(rng, (uint64_t)count[distance])];
        b = walk(s, split, a, distance, up, rng);
        break;
    }
    case CLIPT_RELATION_COHYPONYM:
        a = side->cohyponym[clipt_rng_below(rng, (uint64_t)side->cohyponym_count)];
        b = pick_cohyponym(s, split, a, rng);
        break;
    case CLIPT_RELATION_RANDOM: {
        int32_t i = (int32_t)clipt_rng_below(rng, (uint64_t)side->member_count);
        int32_t j = (int32_t)clipt_rng_below(rng, (uint64_t)side->member_count - 1);
        if (j >= i) j++;
        a = side->members[i];
        b = side->members[j];
        break;
    }
    }
    if (text_a < 0) {
        text_a = pick_text(s, a, rng);
        text_b = pick_text(s, b, rng);
    }

    const clipt_wordnet *wn = s->wn;
    pair->text_a = s->text[text_a];
    pair->text_b = s->text[text_b];
    pair->text_id_a = text_a;
    pair->text_id_b = text_b;
    pair->synset_a = a;
    pair->synset_b = b;
    pair->offset_a = wn->offset[a];
    pair->offset_b = wn->offset[b];
    pair->relation = (clipt_relation)relation;
    pair->distance = distance;
    if (!clipt_wordnet_wup_ids(wn, a, b, o->convention, &pair->target))
        pair->target = 0.0; /* no common hypernym: only with several roots */
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Training draws and the evaluation set                                    */
/* ------------------------------------------------------------------------ */

CLIPT_API clipt_status clipt_sampler_draw(clipt_sampler *s, clipt_pair *pairs, size_t n)
{
    if (s == NULL || (n > 0 && pairs == NULL)) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "clipt_sampler_draw: NULL argument");
    }
    for (size_t i = 0; i < n; i++) {
        /* draw_one fails only on a side without pairs, and
         * clipt_sampler_create() rejects such a training side */
        clipt_sampler_draw_one(s, CLIPT_SPLIT_TRAIN, &s->rng, &pairs[i]);
    }
    s->pairs_drawn += n;
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_sampler_eval_pairs(const clipt_sampler *s, uint64_t seed,
                                                clipt_pair *pairs, size_t n)
{
    if (s == NULL || (n > 0 && pairs == NULL)) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_sampler_eval_pairs: NULL argument");
    }
    /* Ordered text pairs already taken, in an open-addressing set. */
    size_t slots = 1024;
    while (slots < 2 * n)
        slots *= 2;
    uint64_t *taken = malloc(slots * sizeof *taken);
    if (taken == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory for %zu evaluation pairs", n);
    }
    memset(taken, 0xff, slots * sizeof *taken);
    clipt_rng rng;
    clipt_rng_seed(&rng, seed);
    size_t have = 0, attempts = 0, max_attempts = 50 * n + 1000;
    while (have < n && attempts < max_attempts) {
        attempts++;
        clipt_pair pair;
        if (!clipt_sampler_draw_one(s, CLIPT_SPLIT_HELD_OUT, &rng, &pair)) break;
        uint64_t key = (uint64_t)(uint32_t)pair.text_id_a << 32 | (uint32_t)pair.text_id_b;
        size_t slot = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 20) & (slots - 1);
        while (taken[slot] != UINT64_MAX && taken[slot] != key)
            slot = (slot + 1) & (slots - 1);
        if (taken[slot] == key) continue;
        taken[slot] = key;
        pairs[have++] = pair;
    }
    free(taken);
    if (have < n) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "the held-out side (%d synsets, %d texts) "
                               "gave %zu distinct pairs in %zu draws, fewer "
                               "than the %zu requested; raise "
                               "held_out_fraction or ask for fewer pairs",
                               s->side[CLIPT_SPLIT_HELD_OUT].member_count,
                               s->side[CLIPT_SPLIT_HELD_OUT].text_count, have, attempts, n);
    }
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* State, sizes and texts                                                   */
/* ------------------------------------------------------------------------ */

CLIPT_API clipt_status clipt_sampler_get_state(const clipt_sampler *s, clipt_sampler_state *state)
{
    if (s == NULL || state == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_sampler_get_state: NULL argument");
    }
    memcpy(state->rng, s->rng.s, sizeof state->rng);
    state->pairs_drawn = s->pairs_drawn;
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_sampler_set_state(clipt_sampler *s, const clipt_sampler_state *state)
{
    if (s == NULL || state == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_sampler_set_state: NULL argument");
    }
    if ((state->rng[0] | state->rng[1] | state->rng[2] | state->rng[3]) == 0) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "sampler state has an all-zero generator "
                               "state, which no saved state has");
    }
    memcpy(s->rng.s, state->rng, sizeof state->rng);
    s->pairs_drawn = state->pairs_drawn;
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_sampler_split_info(const clipt_sampler *s, clipt_split split,
                                                clipt_split_info *info)
{
    if (s == NULL || info == NULL ||
        (split != CLIPT_SPLIT_TRAIN && split != CLIPT_SPLIT_HELD_OUT)) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_sampler_split_info: NULL argument or "
                               "unknown split %d",
                               (int)split);
    }
    const clipt_sampler_side *side = &s->side[split];
    info->synsets = side->member_count;
    info->texts = side->text_count;
    memcpy(info->weights, side->weights, sizeof info->weights);
    info->max_distance = side->max_up;
    return CLIPT_OK;
}

CLIPT_API int32_t clipt_sampler_text_count(const clipt_sampler *s)
{
    return s != NULL ? s->text_count : 0;
}

CLIPT_API clipt_status clipt_sampler_text(const clipt_sampler *s, int32_t text_id,
                                          const char **text, clipt_split *split)
{
    if (s == NULL || text == NULL || text_id < 0 || text_id >= s->text_count) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_sampler_text: text id %d is outside "
                               "[0, %d), or text is NULL",
                               text_id, s != NULL ? s->text_count : 0);
    }
    *text = s->text[text_id];
    if (split != NULL) *split = (clipt_split)s->text_split[text_id];
    return CLIPT_OK;
}
