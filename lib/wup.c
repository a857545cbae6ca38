/* Wu-Palmer similarity between noun synsets, in NLTK's convention and in
 * the textbook one, for synset pairs, batches and lemma pairs.
 *
 * NLTK's rules (Synset.wup_similarity in nltk/corpus/reader/wordnet.py;
 * the code is the same in NLTK 3.8.1 and 3.10.4), restated:
 *  1. The candidates are the synsets that are ancestors of both a and b.
 *     Every synset is its own ancestor, and instance-hypernym edges count
 *     as hypernym edges everywhere below.
 *  2. Of the candidates, those with the greatest min depth remain. The min
 *     depth is the number of edges on the shortest path up to a root.
 *  3. The subsumer is a itself if a remains, else the remaining synset whose
 *     name sorts first. b gets no such preference, so swapping the
 *     arguments can change the result.
 *  4. The subsumer is scored by its max depth (longest path to a root):
 *     depth = max_depth + 1. Because it was chosen by min depth, a synset
 *     compared with itself can lose to an ancestor whose min depth is
 *     greater than its own, and score below 1 (dog.n.01 reaches a root
 *     quickly through domestic_animal.n.01 while canine.n.02 is deeper).
 *  5. For x = a and x = b, len(x) = spd(x, subsumer) + depth. spd is 0 when
 *     x is the subsumer. Otherwise it is the shortest path that climbs
 *     from x to a common ancestor c of x and the subsumer, then descends
 *     to the subsumer: min over c of d(x, c) + d(subsumer, c), where d is
 *     the shortest upward distance. It can be less than d(x, subsumer).
 *  6. The similarity is 2 depth / (len(a) + len(b)) in double precision.
 * NLTK adds a simulated root only for verbs, adjectives, adverbs and
 * WordNet 1.6 nouns, so none is added here; synsets without a common
 * ancestor (possible only in a database with several roots) give None in
 * NLTK and CLIPT_ERR_NOT_FOUND here.
 *
 * Speed: ancestor lists are sorted by LCS rank, the position in the order
 * of rules 2 and 3 (greatest min depth, then smallest name), so the first
 * common entry of a merge is the subsumer candidate, and a synset marked
 * additive (see wordnet_build.c) has spd equal to the distance stored in
 * its own list. */
#include <stdlib.h>

#include "wordnet.h"

/* Returns spd(x, s) of rule 5 for the subsumer s of LCS rank
 * subsumer_rank, found at distance dist in x's ancestor list. */
static int32_t path_to_subsumer(const clipt_wordnet *wn, const clipt_synset_node *x,
                                int32_t subsumer_rank, int32_t dist)
{
    if (x->rank == subsumer_rank) return 0;
    if (x->additive) return dist;
    return clipt_wordnet_spd(wn, x, &wn->node[wn->by_rank[subsumer_rank]]);
}

/* Computes NLTK's similarity; returns 0 when a and b share no ancestor. */
static int wup_nltk(const clipt_wordnet *wn, int32_t a, int32_t b, double *out)
{
    const clipt_synset_node *ia = &wn->node[a], *ib = &wn->node[b];
    const uint32_t *la = wn->anc + ia->anc_first;
    const uint32_t *lb = wn->anc + ib->anc_first;
    int32_t na = ia->anc_count, nb = ib->anc_count, i = 0, j = 0;

    /* Rules 1 and 2: the first common entry in rank order. */
    while (i < na && j < nb) {
        int32_t ra = CLIPT_ANC_RANK(la[i]), rb = CLIPT_ANC_RANK(lb[j]);
        if (ra == rb) break;
        if (ra < rb) {
            i++;
        } else {
            j++;
        }
    }
    if (i == na || j == nb) return 0;
    int32_t subsumer_rank = CLIPT_ANC_RANK(la[i]);
    int32_t dist_a = CLIPT_ANC_DIST(la[i]), dist_b = CLIPT_ANC_DIST(lb[j]);
    int32_t max_depth = wn->rank_max_depth[subsumer_rank];

    /* Rule 3: a wins when it is an ancestor of b with the same min depth. */
    if (ia->rank != subsumer_rank && ia->min_depth == wn->rank_min_depth[subsumer_rank]) {
        int32_t k = j + 1;
        while (k < nb && CLIPT_ANC_RANK(lb[k]) < ia->rank)
            k++;
        if (k < nb && CLIPT_ANC_RANK(lb[k]) == ia->rank) {
            subsumer_rank = ia->rank;
            max_depth = ia->max_depth;
            dist_a = 0;
            dist_b = CLIPT_ANC_DIST(lb[k]);
        }
    }

    /* Rules 4 to 6. */
    int32_t depth = max_depth + 1;
    int32_t len_a = path_to_subsumer(wn, ia, subsumer_rank, dist_a);
    int32_t len_b = path_to_subsumer(wn, ib, subsumer_rank, dist_b);
    *out = 2.0 * depth / (double)(len_a + len_b + 2 * depth);
    return 1;
}

/* Computes the textbook similarity 2 (D(lcs) + 1) / (D(a) + 1 + D(b) + 1)
 * with D the max depth and lcs a common ancestor of greatest D. Ancestors
 * have a smaller D than their descendants, so a synset with itself gives
 * 1 and every other pair less. Returns 0 without a common ancestor. */
static int wup_textbook(const clipt_wordnet *wn, int32_t a, int32_t b, double *out)
{
    const clipt_synset_node *ia = &wn->node[a], *ib = &wn->node[b];
    const uint32_t *la = wn->anc + ia->anc_first;
    const uint32_t *lb = wn->anc + ib->anc_first;
    int32_t na = ia->anc_count, nb = ib->anc_count, i = 0, j = 0;
    int lcs_depth = -1;
    while (i < na && j < nb) {
        int32_t ra = CLIPT_ANC_RANK(la[i]), rb = CLIPT_ANC_RANK(lb[j]);
        if (ra < rb) {
            i++;
        } else if (rb < ra) {
            j++;
        } else {
            int d = wn->rank_max_depth[ra];
            if (d > lcs_depth) lcs_depth = d;
            i++;
            j++;
        }
    }
    if (lcs_depth < 0) return 0;
    *out = 2.0 * (lcs_depth + 1) / (double)(ia->max_depth + 1 + ib->max_depth + 1);
    return 1;
}

int clipt_wordnet_wup_ids(const clipt_wordnet *wn, int32_t a, int32_t b,
                          clipt_wup_convention convention, double *out)
{
    if (convention == CLIPT_WUP_TEXTBOOK) return wup_textbook(wn, a, b, out);
    return wup_nltk(wn, a, b, out);
}

/* ------------------------------------------------------------------------ */
/* Public entry points                                                      */
/* ------------------------------------------------------------------------ */

static clipt_status check_convention(clipt_wup_convention convention, const char *function)
{
    if (convention != CLIPT_WUP_NLTK && convention != CLIPT_WUP_TEXTBOOK) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "%s: unknown Wu-Palmer convention %d; use "
                               "CLIPT_WUP_NLTK or CLIPT_WUP_TEXTBOOK",
                               function, (int)convention);
    }
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_wordnet_wup(const clipt_wordnet *wn, int32_t a, int32_t b,
                                         clipt_wup_convention convention, double *similarity)
{
    if (wn == NULL || similarity == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "clipt_wordnet_wup: NULL argument");
    }
    CLIPT_TRY(check_convention(convention, "clipt_wordnet_wup"));
    if (a < 0 || a >= wn->n || b < 0 || b >= wn->n) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_wordnet_wup: synset ids %d, %d; valid "
                               "ids are [0, %d)",
                               a, b, wn->n);
    }
    if (!clipt_wordnet_wup_ids(wn, a, b, convention, similarity)) {
        return clipt_set_error(CLIPT_ERR_NOT_FOUND, "%s and %s share no hypernym", wn->name[a],
                               wn->name[b]);
    }
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_wordnet_wup_batch(const clipt_wordnet *wn,
                                               clipt_wup_convention convention, const int32_t *a,
                                               const int32_t *b, size_t n, double *similarity)
{
    if (wn == NULL || (n > 0 && (a == NULL || b == NULL || similarity == NULL))) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_wordnet_wup_batch: NULL argument");
    }
    CLIPT_TRY(check_convention(convention, "clipt_wordnet_wup_batch"));
    for (size_t i = 0; i < n; i++) {
        if (a[i] < 0 || a[i] >= wn->n || b[i] < 0 || b[i] >= wn->n) {
            return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                   "clipt_wordnet_wup_batch: pair %zu has "
                                   "synset ids %d, %d; valid ids are "
                                   "[0, %d)",
                                   i, a[i], b[i], wn->n);
        }
    }
    /* Random pairs miss the cache: fetch the nodes of pair i + 2 AHEAD and
     * the ancestor lists of pair i + AHEAD while pair i is computed. */
    enum { AHEAD = 8 };
    for (size_t i = 0; i < n; i++) {
        if (i + 2 * AHEAD < n) {
            __builtin_prefetch(&wn->node[a[i + 2 * AHEAD]]);
            __builtin_prefetch(&wn->node[b[i + 2 * AHEAD]]);
        }
        if (i + AHEAD < n) {
            __builtin_prefetch(wn->anc + wn->node[a[i + AHEAD]].anc_first);
            __builtin_prefetch(wn->anc + wn->node[b[i + AHEAD]].anc_first);
        }
        if (!clipt_wordnet_wup_ids(wn, a[i], b[i], convention, &similarity[i])) similarity[i] = 0.0;
    }
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_wordnet_wup_words(const clipt_wordnet *wn, const char *word_a,
                                               const char *word_b, clipt_wup_convention convention,
                                               double *similarity, int32_t *sense_a,
                                               int32_t *sense_b)
{
    if (wn == NULL || word_a == NULL || word_b == NULL || similarity == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_wordnet_wup_words: NULL argument");
    }
    CLIPT_TRY(check_convention(convention, "clipt_wordnet_wup_words"));
    const int32_t *senses_a, *senses_b;
    int count_a, count_b;
    CLIPT_TRY(clipt_wordnet_find_lemma(wn, word_a, &senses_a, &count_a));
    CLIPT_TRY(clipt_wordnet_find_lemma(wn, word_b, &senses_b, &count_b));
    double best = -1.0;
    int32_t best_a = -1, best_b = -1;
    for (int i = 0; i < count_a; i++) {
        for (int j = 0; j < count_b; j++) {
            double v;
            if (clipt_wordnet_wup_ids(wn, senses_a[i], senses_b[j], convention, &v) && v > best) {
                best = v;
                best_a = senses_a[i];
                best_b = senses_b[j];
            }
        }
    }
    if (best < 0.0) {
        return clipt_set_error(CLIPT_ERR_NOT_FOUND,
                               "no noun sense of \"%s\" shares a hypernym "
                               "with a noun sense of \"%s\"",
                               word_a, word_b);
    }
    *similarity = best;
    if (sense_a != NULL) *sense_a = best_a;
    if (sense_b != NULL) *sense_b = best_b;
    return CLIPT_OK;
}
