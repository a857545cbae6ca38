/* The pair sampler's tables, built by sampler.c and read by
 * sampler_draw.c. */
#ifndef CLIPT_SAMPLER_H
#define CLIPT_SAMPLER_H

#include "rng.h"
#include "wordnet.h"

/* Largest max_distance option: reach values are stored in 8 bits. */
#define CLIPT_SAMPLER_MAX_DISTANCE 32

/* Synsets of one side and the anchors each relation can start from. */
typedef struct clipt_sampler_side {
    int32_t *members; /* synsets with a text on this side, id order */
    int32_t member_count;
    int32_t *synonym; /* members with two or more texts */
    int32_t synonym_count;
    int32_t *cohyponym; /* members sharing a parent with a member */
    int32_t cohyponym_count;
    /* Members sorted by up_reach, largest first: the first up_count[k]
     * start a hypernym walk of k edges. Likewise down for hyponyms. */
    int32_t *up_sorted;
    int32_t up_count[CLIPT_SAMPLER_MAX_DISTANCE + 1];
    int32_t *down_sorted;
    int32_t down_count[CLIPT_SAMPLER_MAX_DISTANCE + 1];
    /* (n) longest walk, capped at max_distance, that stays on this side:
     * upward through parents, downward through children. 0 off the side. */
    uint8_t *up_reach;
    uint8_t *down_reach;
    /* (n) children of each synset that are members of this side */
    int32_t *member_children;
    int max_up, max_down;                 /* largest usable k, 0 when none */
    double weights[CLIPT_RELATION_COUNT]; /* normalised mix, see clipt.h */
    int32_t text_count;
} clipt_sampler_side;

struct clipt_sampler {
    const clipt_wordnet *wn;
    clipt_sampler_options options;
    char *text_template;     /* owned copy of options.text_template */
    int8_t *side_of;         /* (n) CLIPT_SPLIT_* or -1 outside the pool */
    int32_t *syn_text_first; /* (n + 1) texts of each synset on its side */
    int32_t *syn_text;
    int32_t text_count;
    char **text;         /* (text_count) template applied */
    uint8_t *text_split; /* (text_count) CLIPT_SPLIT_* */
    char *text_pool;
    clipt_sampler_side side[2];
    clipt_rng rng;
    uint64_t pairs_drawn;
};

/* Draws one pair from side into *pair with rng. Returns 0 only when the
 * side produces no pairs at all. */
int clipt_sampler_draw_one(const clipt_sampler *s, clipt_split split, clipt_rng *rng,
                           clipt_pair *pair);

#endif /* CLIPT_SAMPLER_H */
