/* Building the pair sampler: options, the seed pool, the train/held-out
 * split, the text table and the anchor lists of each side. Drawing is in
 * sampler_draw.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "sampler.h"

CLIPT_API void clipt_sampler_options_init(clipt_sampler_options *options)
{
    if (options == NULL) return;
    memset(options, 0, sizeof *options);
    options->held_out_fraction = 0.1;
    for (int r = 0; r < CLIPT_RELATION_COUNT; r++)
        options->weights[r] = 1.0;
    options->min_distance = 1;
    options->max_distance = 3;
    options->convention = CLIPT_WUP_NLTK;
}

static clipt_status validate_options(const clipt_sampler_options *o)
{
    double sum = 0.0;
    for (int r = 0; r < CLIPT_RELATION_COUNT; r++) {
        if (!isfinite(o->weights[r]) || o->weights[r] < 0.0) {
            return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                   "sampler weight %d is %g; weights must be "
                                   "finite and >= 0",
                                   r, o->weights[r]);
        }
        sum += o->weights[r];
    }
    if (!(sum > 0.0)) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "every sampler weight is 0; give at least one "
                               "relation a positive weight");
    }
    if (o->min_distance < 1 || o->max_distance < o->min_distance ||
        o->max_distance > CLIPT_SAMPLER_MAX_DISTANCE) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "sampler distances [%d, %d]: need 1 <= "
                               "min_distance <= max_distance <= %d",
                               o->min_distance, o->max_distance, CLIPT_SAMPLER_MAX_DISTANCE);
    }
    if (!(o->held_out_fraction >= 0.0 && o->held_out_fraction < 1.0)) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "held_out_fraction %g is outside [0, 1)",
                               o->held_out_fraction);
    }
    const char *t = o->text_template;
    if (t != NULL) {
        const char *slot = strstr(t, "{}");
        if (slot == NULL || strstr(slot + 2, "{}") != NULL) {
            return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                   "text template \"%s\" must contain "
                                   "exactly one \"{}\"",
                                   t);
        }
    }
    if (o->convention != CLIPT_WUP_NLTK && o->convention != CLIPT_WUP_TEXTBOOK) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "unknown Wu-Palmer convention %d",
                               (int)o->convention);
    }
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Seeds and the pool                                                       */
/* ------------------------------------------------------------------------ */

/* Marks the synsets listed in a wnid file, one per line. */
static clipt_status read_seed_file(const clipt_wordnet *wn, const char *path, uint8_t *in_pool)
{
    CLIPT_TRY(clipt_require_regular_file(path, "wnid file"));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int err = errno;
        return clipt_set_error(err == ENOENT ? CLIPT_ERR_FILE_NOT_FOUND : CLIPT_ERR_IO,
                               "cannot open wnid file %s: %s", path, strerror(err));
    }
    char line[512];
    int line_no = 0, seeds = 0;
    clipt_status status = CLIPT_OK;
    while (status == CLIPT_OK && fgets(line, sizeof line, f) != NULL) {
        line_no++;
        char word[512];
        if (sscanf(line, "%511s", word) != 1 || word[0] == '#') continue;
        int32_t id;
        status = clipt_wordnet_find_wnid(wn, word, &id);
        if (status == CLIPT_ERR_INVALID_ARGUMENT) {
            status = clipt_set_error(CLIPT_ERR_PARSE,
                                     "%s line %d: \"%s\" is not a wnid "
                                     "('n' and 8 digits)",
                                     path, line_no, word);
        } else if (status != CLIPT_OK) {
            status = clipt_error_prefix(status, "%s line %d", path, line_no);
        } else {
            in_pool[id] = 1;
            seeds++;
        }
    }
    if (status == CLIPT_OK && ferror(f)) {
        status = clipt_set_error(CLIPT_ERR_IO, "cannot read wnid file %s", path);
    }
    if (status == CLIPT_OK && seeds == 0) {
        status = clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "wnid file %s lists no wnid", path);
    }
    fclose(f);
    return status;
}

/* Marks the pool: the seeds, then their hypernyms when requested. */
static clipt_status mark_pool(const clipt_wordnet *wn, const clipt_sampler_options *o,
                              uint8_t *in_pool, int32_t *stack)
{
    int32_t n = wn->n;
    if (o->wnid_file != NULL) {
        CLIPT_TRY(read_seed_file(wn, o->wnid_file, in_pool));
    } else if (o->subtree != NULL) {
        int32_t root;
        const char *s = o->subtree;
        clipt_status status = s[0] == 'n' && strchr(s, '.') == NULL
                                  ? clipt_wordnet_find_wnid(wn, s, &root)
                                  : clipt_wordnet_find_name(wn, s, &root);
        if (status != CLIPT_OK) {
            return clipt_error_prefix(status, "sampler subtree");
        }
        /* everything below root, through hyponyms and instance hyponyms */
        int32_t top = 0;
        stack[top++] = root;
        in_pool[root] = 1;
        while (top > 0) {
            int32_t x = stack[--top];
            for (int32_t k = wn->child_first[x]; k < wn->child_first[x + 1]; k++) {
                int32_t c = wn->child[k];
                if (!in_pool[c]) {
                    in_pool[c] = 1;
                    stack[top++] = c;
                }
            }
        }
    } else {
        memset(in_pool, 1, (size_t)n);
    }
    if (!o->add_hypernyms) return CLIPT_OK;
    /* Climb from every seed; 2 marks a synset whose hypernyms are done. */
    for (int32_t seed = 0; seed < n; seed++) {
        if (in_pool[seed] != 1) continue;
        int32_t top = 0;
        stack[top++] = seed;
        in_pool[seed] = 2;
        while (top > 0) {
            int32_t x = stack[--top];
            for (int32_t k = wn->parent_first[x]; k < wn->parent_first[x + 1]; k++) {
                int32_t p = wn->parent[k];
                if (in_pool[p] != 2) {
                    in_pool[p] = 2;
                    stack[top++] = p;
                }
            }
        }
    }
    return CLIPT_OK;
}

/* Assigns a synset to a side from a hash of its offset and the split seed
 * (splitmix64's finaliser), independent of every other synset. */
static int8_t side_of_offset(uint64_t split_seed, uint32_t offset, double held_out_fraction)
{
    uint64_t z = split_seed ^ ((uint64_t)offset * 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    double u = (double)(z >> 11) * 0x1.0p-53;
    return u < held_out_fraction ? CLIPT_SPLIT_HELD_OUT : CLIPT_SPLIT_TRAIN;
}

/* ------------------------------------------------------------------------ */
/* Texts                                                                    */
/* ------------------------------------------------------------------------ */

static char fold(char ch)
{
    return (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
}

/* FNV-1a over the lemma with ASCII case folded and '_' read as ' '. */
static uint32_t hash_lemma(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++) {
        char ch = *s == '_' ? ' ' : fold(*s);
        h = (h ^ (uint8_t)ch) * 16777619u;
    }
    return h;
}

static int same_text(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        char x = *a == '_' ? ' ' : fold(*a), y = *b == '_' ? ' ' : fold(*b);
        if (x != y) return 0;
    }
    return *a == *b;
}

/* Builds the text table: one text per distinct lemma of the pool, the
 * side of each text, and each synset's texts on its own side. */
static clipt_status build_texts(clipt_sampler *s)
{
    const clipt_wordnet *wn = s->wn;
    int32_t n = wn->n, occurrences = 0;
    for (int32_t x = 0; x < n; x++) {
        if (s->side_of[x] >= 0) occurrences += wn->lemma_first[x + 1] - wn->lemma_first[x];
    }
    uint32_t slots = 1024;
    while (slots < 2u * (uint32_t)occurrences)
        slots *= 2;
    int32_t *table = malloc(slots * sizeof *table);
    const char **first_lemma = malloc(((size_t)occurrences + 1) * sizeof(char *));
    int32_t *occurrence_text = malloc(((size_t)occurrences + 1) * sizeof(int32_t));
    uint8_t *used_by = calloc((size_t)occurrences + 1, 1); /* bit per side */
    s->syn_text_first = calloc((size_t)n + 1, sizeof(int32_t));
    s->syn_text = malloc(((size_t)occurrences + 1) * sizeof(int32_t));
    clipt_status status = CLIPT_OK;
    if (!table || !first_lemma || !occurrence_text || !used_by || !s->syn_text_first ||
        !s->syn_text) {
        status = clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory for %d sampler texts",
                                 occurrences);
        goto done;
    }
    memset(table, 0xff, slots * sizeof *table);

    /* Distinct texts in order of first use, and who uses them. */
    int32_t texts = 0, occ = 0;
    for (int32_t x = 0; x < n; x++) {
        if (s->side_of[x] < 0) continue;
        for (int32_t k = wn->lemma_first[x]; k < wn->lemma_first[x + 1]; k++) {
            const char *lemma = wn->lemma[k];
            uint32_t slot = hash_lemma(lemma) & (slots - 1);
            while (table[slot] >= 0 && !same_text(first_lemma[table[slot]], lemma))
                slot = (slot + 1) & (slots - 1);
            if (table[slot] < 0) {
                table[slot] = texts;
                first_lemma[texts++] = lemma;
            }
            occurrence_text[occ++] = table[slot];
            used_by[table[slot]] |= (uint8_t)(1u << s->side_of[x]);
        }
    }

    /* A text used on the training side stays there only. */
    s->text_count = texts;
    s->text = malloc(((size_t)texts + 1) * sizeof *s->text);
    s->text_split = malloc((size_t)texts + 1);
    const char *tmpl = s->text_template;
    const char *slot_at = strstr(tmpl, "{}");
    size_t prefix = (size_t)(slot_at - tmpl), suffix = strlen(slot_at + 2);
    size_t pool = 1;
    for (int32_t t = 0; t < texts; t++)
        pool += prefix + strlen(first_lemma[t]) + suffix + 1;
    s->text_pool = malloc(pool);
    if (!s->text || !s->text_split || !s->text_pool) {
        status = clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory for %d sampler texts",
                                 texts);
        goto done;
    }
    char *w = s->text_pool;
    for (int32_t t = 0; t < texts; t++) {
        s->text_split[t] =
            (used_by[t] & (1u << CLIPT_SPLIT_TRAIN)) ? CLIPT_SPLIT_TRAIN : CLIPT_SPLIT_HELD_OUT;
        s->text[t] = w;
        memcpy(w, tmpl, prefix);
        w += prefix;
        for (const char *c = first_lemma[t]; *c != '\0'; c++)
            *w++ = *c == '_' ? ' ' : *c;
        memcpy(w, slot_at + 2, suffix + 1);
        w += suffix + 1;
    }

    /* Each synset keeps its texts that lie on its side, once each. */
    occ = 0;
    int32_t kept = 0;
    for (int32_t x = 0; x < n; x++) {
        s->syn_text_first[x] = kept;
        if (s->side_of[x] < 0) continue;
        int32_t first = kept;
        for (int32_t k = wn->lemma_first[x]; k < wn->lemma_first[x + 1]; k++) {
            int32_t t = occurrence_text[occ++];
            int repeat = 0;
            for (int32_t u = first; u < kept; u++)
                repeat |= s->syn_text[u] == t;
            if (s->text_split[t] == s->side_of[x] && !repeat) s->syn_text[kept++] = t;
        }
        if (kept == first) s->side_of[x] = -1; /* every text went to training */
    }
    s->syn_text_first[n] = kept;
done:
    free(table);
    free(first_lemma);
    free(occurrence_text);
    free(used_by);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Anchors of one side                                                      */
/* ------------------------------------------------------------------------ */

/* Sorts the members by reach, largest first, and counts the members that
 * reach at least k for every k. */
static void sort_by_reach(const clipt_sampler_side *side, const uint8_t *reach, int32_t *sorted,
                          int32_t *count_at_least)
{
    int32_t bucket[CLIPT_SAMPLER_MAX_DISTANCE + 2] = {0};
    for (int32_t i = 0; i < side->member_count; i++)
        bucket[reach[side->members[i]]]++;
    int32_t below = 0;
    for (int k = CLIPT_SAMPLER_MAX_DISTANCE; k >= 0; k--) {
        count_at_least[k] = below + bucket[k];
        int32_t start = below;
        below += bucket[k];
        bucket[k] = start;
    }
    for (int32_t i = 0; i < side->member_count; i++) {
        int32_t x = side->members[i];
        sorted[bucket[reach[x]]++] = x;
    }
}

/* Builds the anchor lists of one side. by_depth lists the synsets by
 * ascending max depth, so parents precede children. */
static clipt_status build_side(clipt_sampler *s, int split, const int32_t *by_depth)
{
    const clipt_wordnet *wn = s->wn;
    const clipt_sampler_options *o = &s->options;
    clipt_sampler_side *side = &s->side[split];
    int32_t n = wn->n;
    side->members = malloc((size_t)n * sizeof(int32_t));
    side->synonym = malloc((size_t)n * sizeof(int32_t));
    side->cohyponym = malloc((size_t)n * sizeof(int32_t));
    side->up_sorted = malloc((size_t)n * sizeof(int32_t));
    side->down_sorted = malloc((size_t)n * sizeof(int32_t));
    side->up_reach = calloc((size_t)n, 1);
    side->down_reach = calloc((size_t)n, 1);
    side->member_children = calloc((size_t)n, sizeof(int32_t));
    if (!side->members || !side->synonym || !side->cohyponym || !side->up_sorted ||
        !side->down_sorted || !side->up_reach || !side->down_reach || !side->member_children) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory for the sampler's "
                                                        "anchor lists");
    }
    const int8_t *side_of = s->side_of;
    for (int32_t x = 0; x < n; x++) {
        if (side_of[x] != split) continue;
        side->members[side->member_count++] = x;
        if (s->syn_text_first[x + 1] - s->syn_text_first[x] >= 2)
            side->synonym[side->synonym_count++] = x;
        for (int32_t k = wn->parent_first[x]; k < wn->parent_first[x + 1]; k++) {
            /* a parent listed as hypernym and instance hypernym counts once */
            int repeat = 0;
            for (int32_t u = wn->parent_first[x]; u < k; u++)
                repeat |= wn->parent[u] == wn->parent[k];
            if (!repeat) side->member_children[wn->parent[k]]++;
        }
    }
    for (int32_t t = 0; t < s->text_count; t++)
        side->text_count += s->text_split[t] == split;
    for (int32_t i = 0; i < side->member_count; i++) {
        int32_t x = side->members[i], shared = 0;
        for (int32_t k = wn->parent_first[x]; k < wn->parent_first[x + 1]; k++)
            shared |= side->member_children[wn->parent[k]] >= 2;
        if (shared) side->cohyponym[side->cohyponym_count++] = x;
    }

    /* Longest walks on the side, capped at max_distance: upward in
     * parent-first order, downward in the reverse order. */
    for (int32_t i = 0; i < n; i++) {
        int32_t x = by_depth[i], best = 0;
        if (side_of[x] != split) continue;
        for (int32_t k = wn->parent_first[x]; k < wn->parent_first[x + 1]; k++) {
            int32_t p = wn->parent[k];
            if (side_of[p] == split && side->up_reach[p] + 1 > best) best = side->up_reach[p] + 1;
        }
        side->up_reach[x] = (uint8_t)(best < o->max_distance ? best : o->max_distance);
    }
    for (int32_t i = n - 1; i >= 0; i--) {
        int32_t x = by_depth[i], best = 0;
        if (side_of[x] != split) continue;
        for (int32_t k = wn->child_first[x]; k < wn->child_first[x + 1]; k++) {
            int32_t c = wn->child[k];
            if (side_of[c] == split && side->down_reach[c] + 1 > best)
                best = side->down_reach[c] + 1;
        }
        side->down_reach[x] = (uint8_t)(best < o->max_distance ? best : o->max_distance);
    }
    sort_by_reach(side, side->up_reach, side->up_sorted, side->up_count);
    sort_by_reach(side, side->down_reach, side->down_sorted, side->down_count);
    for (int k = o->min_distance; k <= o->max_distance; k++) {
        if (side->up_count[k] > 0) side->max_up = k;
        if (side->down_count[k] > 0) side->max_down = k;
    }

    /* The mix: requested weights of the relations this side can draw. */
    int possible[CLIPT_RELATION_COUNT] = {
        [CLIPT_RELATION_SYNONYM] = side->synonym_count > 0,
        [CLIPT_RELATION_HYPERNYM] = side->max_up > 0,
        [CLIPT_RELATION_HYPONYM] = side->max_down > 0,
        [CLIPT_RELATION_COHYPONYM] = side->cohyponym_count > 0,
        [CLIPT_RELATION_RANDOM] = side->member_count >= 2,
    };
    double sum = 0.0;
    for (int r = 0; r < CLIPT_RELATION_COUNT; r++) {
        side->weights[r] = possible[r] ? o->weights[r] : 0.0;
        sum += side->weights[r];
    }
    for (int r = 0; r < CLIPT_RELATION_COUNT; r++)
        side->weights[r] = sum > 0.0 ? side->weights[r] / sum : 0.0;
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Create and free                                                          */
/* ------------------------------------------------------------------------ */

CLIPT_API clipt_status clipt_sampler_create(const clipt_wordnet *wn,
                                            const clipt_sampler_options *options,
                                            clipt_sampler **out)
{
    if (out != NULL) *out = NULL;
    if (wn == NULL || out == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "clipt_sampler_create: NULL argument");
    }
    clipt_sampler_options defaults;
    if (options == NULL) {
        clipt_sampler_options_init(&defaults);
        options = &defaults;
    }
    CLIPT_TRY(validate_options(options));

    clipt_status status = CLIPT_OK;
    int32_t n = wn->n;
    uint8_t *in_pool = calloc((size_t)n, 1);
    int32_t *scratch = malloc((size_t)n * sizeof(int32_t));
    clipt_sampler *s = calloc(1, sizeof *s);
    const char *tmpl = options->text_template ? options->text_template : "{}";
    if (s != NULL) {
        s->text_template = strdup(tmpl);
        s->side_of = malloc((size_t)n);
    }
    if (!in_pool || !scratch || !s || !s->text_template || !s->side_of) {
        status = clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory creating a sampler");
        goto fail;
    }
    s->wn = wn;
    s->options = *options;
    s->options.text_template = s->text_template;
    s->options.wnid_file = NULL; /* the caller's strings are not kept */
    s->options.subtree = NULL;

    CLIPT_TRY_GOTO(mark_pool(wn, options, in_pool, scratch));
    for (int32_t x = 0; x < n; x++) {
        s->side_of[x] = in_pool[x] ? side_of_offset(options->split_seed, wn->offset[x],
                                                    options->held_out_fraction)
                                   : -1;
    }
    CLIPT_TRY_GOTO(build_texts(s));

    /* synsets by ascending max depth (counting sort) */
    int32_t count[CLIPT_ANC_MAX_DIST + 2] = {0};
    for (int32_t x = 0; x < n; x++)
        count[wn->node[x].max_depth + 1]++;
    for (int d = 1; d <= CLIPT_ANC_MAX_DIST + 1; d++)
        count[d] += count[d - 1];
    for (int32_t x = 0; x < n; x++)
        scratch[count[wn->node[x].max_depth]++] = x;
    CLIPT_TRY_GOTO(build_side(s, CLIPT_SPLIT_TRAIN, scratch));
    CLIPT_TRY_GOTO(build_side(s, CLIPT_SPLIT_HELD_OUT, scratch));
    if (s->side[CLIPT_SPLIT_TRAIN].weights[0] + s->side[CLIPT_SPLIT_TRAIN].weights[1] +
            s->side[CLIPT_SPLIT_TRAIN].weights[2] + s->side[CLIPT_SPLIT_TRAIN].weights[3] +
            s->side[CLIPT_SPLIT_TRAIN].weights[4] ==
        0.0) {
        status = clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                 "the training side holds %d synsets and "
                                 "can produce no pair of a relation with a "
                                 "positive weight; widen the seeds or "
                                 "change the weights",
                                 s->side[CLIPT_SPLIT_TRAIN].member_count);
        goto fail;
    }
    clipt_rng_seed(&s->rng, options->seed);
    free(in_pool);
    free(scratch);
    *out = s;
    return CLIPT_OK;
fail:
    free(in_pool);
    free(scratch);
    clipt_sampler_free(s);
    return status;
}

CLIPT_API void clipt_sampler_free(clipt_sampler *s)
{
    if (s == NULL) return;
    for (int i = 0; i < 2; i++) {
        clipt_sampler_side *side = &s->side[i];
        free(side->members);
        free(side->synonym);
        free(side->cohyponym);
        free(side->up_sorted);
        free(side->down_sorted);
        free(side->up_reach);
        free(side->down_reach);
        free(side->member_children);
    }
    free(s->text_template);
    free(s->side_of);
    free(s->syn_text_first);
    free(s->syn_text);
    free(s->text);
    free(s->text_split);
    free(s->text_pool);
    free(s);
}
