/* Building the noun graph from the tables of wordnet_load.c: resolving
 * offsets, parent and child edges, depths, NLTK's synset names, the LCS
 * rank order and the ancestor list of every synset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wordnet.h"

int32_t clipt_wordnet_id_of_offset(const clipt_wordnet *wn, uint32_t offset)
{
    int32_t lo = 0, hi = wn->n - 1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (wn->offset[mid] == offset) return mid;
        if (wn->offset[mid] < offset) {
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Strings and the lemma index                                              */
/* ------------------------------------------------------------------------ */

typedef struct pool_writer {
    char *next;
} pool_writer;

static const char *pool_copy(pool_writer *w, const char *text, int len)
{
    char *s = w->next;
    memcpy(s, text, (size_t)len);
    s[len] = '\0';
    w->next += len + 1;
    return s;
}

typedef struct sort_key {
    const char *lemma;
    int32_t first, count, line;
} sort_key;

static int compare_keys(const void *x, const void *y)
{
    return strcmp(((const sort_key *)x)->lemma, ((const sort_key *)y)->lemma);
}

/* Copies the index lemmas into the pool, sorts them (index.noun is sorted
 * already, which the check below confirms cheaply) and resolves their
 * sense offsets to synset ids. */
static clipt_status build_lemma_index(clipt_wordnet_raw *raw, clipt_wordnet *wn, pool_writer *pool)
{
    int32_t count = raw->key_total;
    sort_key *keys = malloc((size_t)(count > 0 ? count : 1) * sizeof *keys);
    wn->lemmas = malloc((size_t)(count > 0 ? count : 1) * sizeof *wn->lemmas);
    wn->sense_ids =
        malloc((size_t)(raw->sense_total > 0 ? raw->sense_total : 1) * sizeof *wn->sense_ids);
    if (keys == NULL || wn->lemmas == NULL || wn->sense_ids == NULL) {
        free(keys);
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory for %d index lemmas",
                               count);
    }
    int sorted = 1;
    for (int32_t k = 0; k < count; k++) {
        keys[k].lemma = pool_copy(pool, raw->key_text[k], raw->key_len[k]);
        keys[k].first = raw->key_first[k];
        keys[k].count = raw->key_count[k];
        keys[k].line = raw->key_line[k];
        if (k > 0 && strcmp(keys[k - 1].lemma, keys[k].lemma) >= 0) sorted = 0;
    }
    if (!sorted) qsort(keys, (size_t)count, sizeof *keys, compare_keys);

    clipt_status status = CLIPT_OK;
    for (int32_t k = 0; k < count && status == CLIPT_OK; k++) {
        if (k > 0 && strcmp(keys[k - 1].lemma, keys[k].lemma) == 0) {
            status =
                clipt_set_error(CLIPT_ERR_PARSE,
                                "%s line %d: lemma '%s' is listed again "
                                "(also at line %d)",
                                raw->index_path, keys[k].line, keys[k].lemma, keys[k - 1].line);
            break;
        }
        wn->lemmas[k].lemma = keys[k].lemma;
        wn->lemmas[k].first = keys[k].first;
        wn->lemmas[k].count = keys[k].count;
        for (int32_t i = 0; i < keys[k].count; i++) {
            uint32_t offset = raw->sense_offsets[keys[k].first + i];
            int32_t id = clipt_wordnet_id_of_offset(wn, offset);
            if (id < 0) {
                status = clipt_set_error(CLIPT_ERR_PARSE,
                                         "%s line %d: lemma '%s' lists synset %08u, which is not "
                                         "in %s",
                                         raw->index_path, keys[k].line, keys[k].lemma, offset,
                                         raw->data_path);
                break;
            }
            wn->sense_ids[keys[k].first + i] = id;
        }
    }
    wn->lemma_count = count;
    free(keys);
    return status;
}

/* Names each synset as NLTK does: its first lemma lowercased, ".n.", and
 * the 1-based position of the synset among that lemma's senses, "%02d". */
static clipt_status build_names(clipt_wordnet_raw *raw, clipt_wordnet *wn, pool_writer *pool)
{
    char lower[256];
    for (int32_t id = 0; id < wn->n; id++) {
        const char *first = wn->lemma[wn->lemma_first[id]];
        size_t len = strlen(first);
        if (len >= sizeof lower) {
            return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                                   "%s line %d: lemma of %zu bytes; at most "
                                   "%zu are supported",
                                   raw->data_path, raw->line[id], len, sizeof lower - 1);
        }
        const clipt_lemma_entry *e = clipt_wordnet_find_lemma_entry(wn, first);
        int sense = -1;
        for (int32_t i = 0; e != NULL && i < e->count; i++) {
            if (wn->sense_ids[e->first + i] == id) {
                sense = i + 1;
                break;
            }
        }
        if (sense < 0) {
            for (size_t i = 0; i <= len; i++) {
                char ch = first[i];
                lower[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
            }
            return clipt_set_error(CLIPT_ERR_PARSE,
                                   "%s line %d: synset %08u is not among the senses of its "
                                   "first lemma '%s' in %s, so it has no name",
                                   raw->data_path, raw->line[id], wn->offset[id], lower,
                                   raw->index_path);
        }
        char *name = pool->next;
        int written = sprintf(name, "%s.n.%02d", e->lemma, sense);
        pool->next += written + 1;
        wn->name[id] = name;
    }
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Edges and depths                                                         */
/* ------------------------------------------------------------------------ */

/* Builds the parent lists (hypernyms first, then instance hypernyms, each
 * in file order, exact repeats dropped) and the child lists. */
static clipt_status build_edges(clipt_wordnet_raw *raw, clipt_wordnet *wn)
{
    int32_t n = wn->n, edges = raw->edge_total;
    wn->parent_first = calloc((size_t)n + 1, sizeof(int32_t));
    wn->hypernym_count = calloc((size_t)n, sizeof(int32_t));
    wn->child_first = calloc((size_t)n + 1, sizeof(int32_t));
    wn->parent = malloc((size_t)(edges > 0 ? edges : 1) * sizeof(int32_t));
    wn->child = malloc((size_t)(edges > 0 ? edges : 1) * sizeof(int32_t));
    int32_t *target = malloc((size_t)(edges > 0 ? edges : 1) * sizeof(int32_t));
    if (!wn->parent_first || !wn->hypernym_count || !wn->child_first || !wn->parent || !wn->child ||
        !target) {
        free(target);
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory for %d hypernym edges",
                               edges);
    }
    /* Resolve every pointer's offset. Edges are grouped by source synset
     * because data.noun is read line by line. */
    for (int32_t e = 0; e < edges; e++) {
        target[e] = clipt_wordnet_id_of_offset(wn, raw->edge_to[e]);
        if (target[e] < 0) {
            int32_t from = raw->edge_from[e];
            free(target);
            return clipt_set_error(CLIPT_ERR_PARSE,
                                   "%s line %d: %s pointer of synset %08u to %08u, which is not "
                                   "a synset in that file",
                                   raw->data_path, raw->line[from],
                                   raw->edge_instance[e] ? "instance hypernym" : "hypernym",
                                   wn->offset[from], raw->edge_to[e]);
        }
    }
    int32_t used = 0;
    for (int32_t e0 = 0; e0 < edges;) {
        int32_t from = raw->edge_from[e0], e1 = e0;
        while (e1 < edges && raw->edge_from[e1] == from)
            e1++;
        for (int instance = 0; instance <= 1; instance++) {
            for (int32_t e = e0; e < e1; e++) {
                if (raw->edge_instance[e] != instance) continue;
                int repeat = 0;
                for (int32_t u = e0; u < e; u++) {
                    repeat |= target[u] == target[e] && raw->edge_instance[u] == instance;
                }
                if (repeat) continue;
                wn->parent[used++] = target[e];
                wn->parent_first[from + 1]++;
                if (!instance) wn->hypernym_count[from]++;
                wn->child_first[target[e] + 1]++;
            }
        }
        e0 = e1;
    }
    free(target);
    for (int32_t id = 0; id < n; id++) {
        wn->parent_first[id + 1] += wn->parent_first[id];
        wn->child_first[id + 1] += wn->child_first[id];
    }
    /* Children in ascending id order: walk the sources in id order. */
    int32_t *fill = malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    if (fill == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory for child lists");
    }
    memcpy(fill, wn->child_first, (size_t)n * sizeof(int32_t));
    for (int32_t id = 0; id < n; id++) {
        for (int32_t k = wn->parent_first[id]; k < wn->parent_first[id + 1]; k++)
            wn->child[fill[wn->parent[k]]++] = id;
    }
    free(fill);
    return CLIPT_OK;
}

/* Orders the synsets so that parents come before children (Kahn's
 * algorithm) and computes min and max depth on the way. A synset left
 * unordered lies on or below a hypernym cycle. */
static clipt_status build_depths(clipt_wordnet_raw *raw, clipt_wordnet *wn, int32_t *order,
                                 uint8_t *min_depth, uint8_t *max_depth)
{
    int32_t n = wn->n;
    int32_t *pending = malloc((size_t)n * sizeof(int32_t));
    if (pending == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory ordering synsets");
    }
    int32_t head = 0, tail = 0;
    for (int32_t id = 0; id < n; id++) {
        pending[id] = wn->parent_first[id + 1] - wn->parent_first[id];
        if (pending[id] == 0) order[tail++] = id;
    }
    while (head < tail) {
        int32_t x = order[head++];
        int lo = 255, hi = -1;
        for (int32_t k = wn->parent_first[x]; k < wn->parent_first[x + 1]; k++) {
            int32_t p = wn->parent[k];
            if (min_depth[p] < lo) lo = min_depth[p];
            if (max_depth[p] > hi) hi = max_depth[p];
        }
        if (hi < 0) lo = hi = -1; /* a root */
        if (hi + 1 > CLIPT_ANC_MAX_DIST) {
            free(pending);
            return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                                   "%s line %d: synset %08u lies more than "
                                   "%d hypernyms below a root",
                                   raw->data_path, raw->line[x], wn->offset[x], CLIPT_ANC_MAX_DIST);
        }
        min_depth[x] = (uint8_t)(lo + 1);
        max_depth[x] = (uint8_t)(hi + 1);
        for (int32_t k = wn->child_first[x]; k < wn->child_first[x + 1]; k++) {
            if (--pending[wn->child[k]] == 0) order[tail++] = wn->child[k];
        }
    }
    clipt_status status = CLIPT_OK;
    if (tail < n) {
        int32_t stuck = 0;
        while (pending[stuck] == 0)
            stuck++;
        status = clipt_set_error(CLIPT_ERR_PARSE,
                                 "%s line %d: synset %08u is its own "
                                 "hypernym through a cycle of hypernym "
                                 "pointers, or lies below such a cycle",
                                 raw->data_path, raw->line[stuck], wn->offset[stuck]);
    }
    free(pending);
    return status;
}

/* ------------------------------------------------------------------------ */
/* LCS ranks and ancestor lists                                             */
/* ------------------------------------------------------------------------ */

typedef struct rank_key {
    int32_t id;
    int32_t min_depth;
    const char *name;
} rank_key;

/* NLTK's subsumer among common hypernyms: greatest min depth first, then
 * the smallest name (Python compares str by code point, strcmp by byte,
 * which is the same order for UTF-8). */
static int compare_rank(const void *x, const void *y)
{
    const rank_key *a = x, *b = y;
    if (a->min_depth != b->min_depth) return a->min_depth > b->min_depth ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Merges two rank-sorted ancestor lists into out, keeping the shorter
 * distance of an ancestor present in both; returns the merged length. */
static int32_t merge_ancestors(uint32_t *out, const uint32_t *a, int32_t na, const uint32_t *b,
                               int32_t nb)
{
    int32_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        int32_t ra = CLIPT_ANC_RANK(a[i]), rb = CLIPT_ANC_RANK(b[j]);
        if (ra < rb) {
            out[k++] = a[i++];
        } else if (rb < ra) {
            out[k++] = b[j++];
        } else {
            out[k++] = a[i] < b[j] ? a[i] : b[j];
            i++;
            j++;
        }
    }
    while (i < na)
        out[k++] = a[i++];
    while (j < nb)
        out[k++] = b[j++];
    return k;
}

/* Builds every synset's ancestor list in parent-first order: the union of
 * the parents' lists with distances plus 1, and the synset itself at 0.
 * Shortest distances follow, as in a breadth-first search upward. */
static clipt_status build_ancestors(clipt_wordnet *wn, const int32_t *order)
{
    int32_t n = wn->n;
    int64_t cap = (int64_t)n * 16, total = 0;
    uint32_t *anc = malloc((size_t)cap * sizeof *anc);
    /* three scratch lists; no list is longer than the synset count */
    uint32_t *scratch = malloc((size_t)3 * (size_t)n * sizeof *scratch);
    if (anc == NULL || scratch == NULL) goto oom;
    for (int32_t i = 0; i < n; i++) {
        int32_t x = order[i];
        uint32_t *cur = scratch, *next = scratch + n, *shifted = scratch + 2 * n;
        int32_t len = 1;
        cur[0] = (uint32_t)wn->node[x].rank << CLIPT_ANC_DIST_BITS;
        for (int32_t k = wn->parent_first[x]; k < wn->parent_first[x + 1]; k++) {
            const clipt_synset_node *p = &wn->node[wn->parent[k]];
            /* one more edge to every ancestor of the parent; distances
             * stay below 256 because depths were checked */
            for (int32_t t = 0; t < p->anc_count; t++)
                shifted[t] = anc[p->anc_first + t] + 1;
            len = merge_ancestors(next, cur, len, shifted, p->anc_count);
            uint32_t *swap = cur;
            cur = next;
            next = swap;
        }
        if (len > UINT16_MAX || total + len > UINT32_MAX) {
            free(anc);
            free(scratch);
            return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                                   "synset %08u has %d ancestors after %lld "
                                   "in earlier lists; at most %d per synset "
                                   "and 2^32 in all are supported",
                                   wn->offset[x], len, (long long)total, UINT16_MAX);
        }
        if (total + len > cap) {
            cap = 2 * (total + len);
            uint32_t *grown = realloc(anc, (size_t)cap * sizeof *anc);
            if (grown == NULL) goto oom;
            anc = grown;
        }
        memcpy(anc + total, cur, (size_t)len * sizeof *anc);
        clipt_synset_node *info = &wn->node[x];
        info->anc_first = (uint32_t)total;
        info->anc_count = (uint16_t)len;
        total += len;
    }
    free(scratch);
    wn->anc = anc;
    wn->anc_total = total;
    return CLIPT_OK;
oom:
    free(anc);
    free(scratch);
    return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                           "out of host memory for the ancestor lists of %d "
                           "synsets",
                           n);
}

/* Marks the synsets x for which every ancestor s satisfies
 * spd(x, s) == d(x, s): no up-then-down path from x to s is shorter than
 * the direct way up. Wu-Palmer then reads path lengths off one list. A
 * root qualifies, a synset with one parent inherits the parent's mark, and
 * a synset with several parents is checked ancestor by ancestor. */
static void build_additive_marks(clipt_wordnet *wn, const int32_t *order)
{
    for (int32_t i = 0; i < wn->n; i++) {
        int32_t x = order[i];
        int32_t parents = wn->parent_first[x + 1] - wn->parent_first[x];
        clipt_synset_node *info = &wn->node[x];
        if (parents == 0) {
            info->additive = 1;
            continue;
        }
        if (parents == 1) {
            int32_t p = wn->parent[wn->parent_first[x]];
            info->additive = wn->node[p].additive;
            continue;
        }
        info->additive = 1;
        for (int32_t t = 0; t < info->anc_count && info->additive; t++) {
            uint32_t e = wn->anc[info->anc_first + t];
            const clipt_synset_node *s = &wn->node[wn->by_rank[CLIPT_ANC_RANK(e)]];
            int32_t spd = clipt_wordnet_spd(wn, info, s);
            if (spd != CLIPT_ANC_DIST(e)) info->additive = 0;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* The whole build                                                          */
/* ------------------------------------------------------------------------ */

clipt_status clipt_wordnet_build(clipt_wordnet_raw *raw, clipt_wordnet *wn)
{
    clipt_status status = CLIPT_OK;
    int32_t n = raw->n;
    int32_t *order = NULL;
    uint8_t *min_depth = NULL, *max_depth = NULL;
    rank_key *keys = NULL;
    if (n >= CLIPT_ANC_MAX_SYNSETS) {
        return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                               "%s holds %d synsets; at most %d are "
                               "supported",
                               raw->data_path, n, CLIPT_ANC_MAX_SYNSETS - 1);
    }
    /* The synset tables move from raw to wn. */
    wn->n = n;
    wn->offset = raw->offset;
    wn->lemma_first = raw->lemma_first;
    raw->offset = NULL;
    raw->lemma_first = NULL;

    /* One pool for lemmas, index lemmas and names; a name is its first
     * lemma plus ".n." and at most 10 digits. */
    size_t pool_size = 1;
    for (int32_t k = 0; k < raw->lemma_total; k++)
        pool_size += (size_t)raw->lemma_len[k] + 1;
    for (int32_t k = 0; k < raw->key_total; k++)
        pool_size += (size_t)raw->key_len[k] + 1;
    for (int32_t id = 0; id < n; id++)
        pool_size += (size_t)raw->lemma_len[wn->lemma_first[id]] + 14;
    wn->pool = malloc(pool_size);
    wn->lemma = malloc((size_t)raw->lemma_total * sizeof *wn->lemma);
    wn->name = malloc((size_t)n * sizeof *wn->name);
    wn->node = calloc((size_t)n, sizeof *wn->node);
    wn->by_rank = malloc((size_t)n * sizeof *wn->by_rank);
    wn->rank_min_depth = malloc((size_t)n);
    wn->rank_max_depth = malloc((size_t)n);
    order = malloc((size_t)n * sizeof *order);
    min_depth = malloc((size_t)n);
    max_depth = malloc((size_t)n);
    keys = malloc((size_t)n * sizeof *keys);
    if (!wn->pool || !wn->lemma || !wn->name || !wn->node || !wn->by_rank || !wn->rank_min_depth ||
        !wn->rank_max_depth || !order || !min_depth || !max_depth || !keys) {
        status = clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory for %d synsets", n);
        goto fail;
    }
    pool_writer pool = {wn->pool};
    for (int32_t k = 0; k < raw->lemma_total; k++)
        wn->lemma[k] = pool_copy(&pool, raw->lemma_text[k], raw->lemma_len[k]);

    CLIPT_TRY_GOTO(build_lemma_index(raw, wn, &pool));
    CLIPT_TRY_GOTO(build_names(raw, wn, &pool));
    CLIPT_TRY_GOTO(build_edges(raw, wn));
    CLIPT_TRY_GOTO(build_depths(raw, wn, order, min_depth, max_depth));

    /* LCS ranks: position in NLTK's preference order. */
    for (int32_t id = 0; id < n; id++) {
        keys[id].id = id;
        keys[id].min_depth = min_depth[id];
        keys[id].name = wn->name[id];
    }
    qsort(keys, (size_t)n, sizeof *keys, compare_rank);
    for (int32_t r = 0; r < n; r++) {
        int32_t id = keys[r].id;
        wn->node[id].rank = r;
        wn->node[id].min_depth = min_depth[id];
        wn->node[id].max_depth = max_depth[id];
        wn->by_rank[r] = id;
        wn->rank_min_depth[r] = min_depth[id];
        wn->rank_max_depth[r] = max_depth[id];
    }
    CLIPT_TRY_GOTO(build_ancestors(wn, order));
    build_additive_marks(wn, order);
fail:
    free(order);
    free(min_depth);
    free(max_depth);
    free(keys);
    return status;
}
