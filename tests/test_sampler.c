/* The WordNet pair sampler: texts and templates, the meaning of every
 * relation, reproducibility and resume, the train/held-out separation,
 * the relation mix, the seed sources and option errors. Uses the
 * hand-written dict in tests/fixtures/wordnet-tiny and WordNet 3.0 from
 * /usr/share/wordnet. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "sampler.h"

#define TINY_DIR "tests/fixtures/wordnet-tiny"

/* Relation shares of MIX_PAIRS draws: the standard deviation of a share p
 * is sqrt(p (1 - p) / MIX_PAIRS) <= 0.0016, so 0.01 is over 6 standard
 * deviations while a wrong mix (one kind's weight lost to another) is off
 * by 0.1 or more. */
#define MIX_PAIRS 100000
#define MIX_TOLERANCE 0.01
/* Hypernym distances 1..3 among about MIX_PAIRS / 5 hypernym pairs: the
 * standard deviation of each 1/3 share is about 0.0033. */
#define DISTANCE_TOLERANCE 0.02

static clipt_wordnet *tiny;
static clipt_wordnet *full;

static clipt_sampler *make_sampler(const clipt_wordnet *wn,
                                   const clipt_sampler_options *options)
{
    clipt_sampler *s = NULL;
    clipt_status status = clipt_sampler_create(wn, options, &s);
    ck_assert_msg(status == CLIPT_OK, "clipt_sampler_create: %s", clipt_last_error());
    return s;
}

static int32_t id_of(const clipt_wordnet *wn, const char *name)
{
    int32_t id = -1;
    ck_assert_msg(clipt_wordnet_find_name(wn, name, &id) == CLIPT_OK, "%s", clipt_last_error());
    return id;
}

/* 1 when text (template "{}") is a lemma of synset id, ignoring case and
 * reading '_' as ' '. */
static int text_names_synset(const clipt_wordnet *wn, int32_t id, const char *text)
{
    clipt_synset_info info;
    clipt_wordnet_synset_info(wn, id, &info);
    for (int k = 0; k < info.lemma_count; k++) {
        const char *lemma;
        clipt_wordnet_lemma(wn, id, k, &lemma);
        size_t i = 0;
        while (lemma[i] != '\0' && text[i] != '\0' &&
               tolower((unsigned char)(lemma[i] == '_' ? ' ' : lemma[i])) ==
                   tolower((unsigned char)text[i]))
            i++;
        if (lemma[i] == '\0' && text[i] == '\0') return 1;
    }
    return 0;
}

/* 1 when b is reached from a by exactly k parent edges along some path. */
static int reaches_up(const clipt_wordnet *wn, int32_t a, int32_t b, int k)
{
    if (k == 0) return a == b;
    const int32_t *parents;
    int count;
    clipt_wordnet_parents(wn, a, &parents, &count);
    for (int i = 0; i < count; i++)
        if (reaches_up(wn, parents[i], b, k - 1)) return 1;
    return 0;
}

static int share_parent(const clipt_wordnet *wn, int32_t a, int32_t b)
{
    const int32_t *pa, *pb;
    int na, nb;
    clipt_wordnet_parents(wn, a, &pa, &na);
    clipt_wordnet_parents(wn, b, &pb, &nb);
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            if (pa[i] == pb[j]) return 1;
    return 0;
}

/* Checks that a pair matches its relation and carries the right texts,
 * offsets and target. */
static void check_pair(const clipt_wordnet *wn, const clipt_sampler *s, const clipt_pair *p,
                       clipt_wup_convention convention)
{
    ck_assert(p->synset_a >= 0 && p->synset_a < clipt_wordnet_synset_count(wn));
    ck_assert(p->synset_b >= 0 && p->synset_b < clipt_wordnet_synset_count(wn));
    const char *text;
    clipt_sampler_text(s, p->text_id_a, &text, NULL);
    ck_assert_str_eq(text, p->text_a);
    clipt_sampler_text(s, p->text_id_b, &text, NULL);
    ck_assert_str_eq(text, p->text_b);
    ck_assert_msg(text_names_synset(wn, p->synset_a, p->text_a), "\"%s\" is no lemma of synset %d",
                  p->text_a, p->synset_a);
    ck_assert_msg(text_names_synset(wn, p->synset_b, p->text_b), "\"%s\" is no lemma of synset %d",
                  p->text_b, p->synset_b);
    clipt_synset_info ia, ib;
    clipt_wordnet_synset_info(wn, p->synset_a, &ia);
    clipt_wordnet_synset_info(wn, p->synset_b, &ib);
    ck_assert_uint_eq(p->offset_a, ia.offset);
    ck_assert_uint_eq(p->offset_b, ib.offset);
    switch (p->relation) {
    case CLIPT_RELATION_SYNONYM:
        ck_assert_int_eq(p->synset_a, p->synset_b);
        ck_assert_int_ne(p->text_id_a, p->text_id_b);
        break;
    case CLIPT_RELATION_HYPERNYM:
        ck_assert_msg(p->distance >= 1 && p->distance <= 3, "distance %d", p->distance);
        ck_assert_msg(reaches_up(wn, p->synset_a, p->synset_b, p->distance),
                      "%s is not %d edges above %s", ib.name, p->distance, ia.name);
        break;
    case CLIPT_RELATION_HYPONYM:
        ck_assert_msg(p->distance >= 1 && p->distance <= 3, "distance %d", p->distance);
        ck_assert_msg(reaches_up(wn, p->synset_b, p->synset_a, p->distance),
                      "%s is not %d edges below %s", ib.name, p->distance, ia.name);
        break;
    case CLIPT_RELATION_COHYPONYM:
        ck_assert_int_ne(p->synset_a, p->synset_b);
        ck_assert_msg(share_parent(wn, p->synset_a, p->synset_b), "%s and %s share no parent",
                      ia.name, ib.name);
        break;
    case CLIPT_RELATION_RANDOM:
        ck_assert_int_ne(p->synset_a, p->synset_b);
        break;
    default:
        ck_abort_msg("unknown relation %d", (int)p->relation);
    }
    double want;
    ck_assert_int_eq(clipt_wordnet_wup(wn, p->synset_a, p->synset_b, convention, &want), CLIPT_OK);
    ck_assert_msg(p->target == want, "target %.17g, Wu-Palmer %.17g", p->target, want);
}

static int same_pair(const clipt_pair *x, const clipt_pair *y)
{
    return x->text_id_a == y->text_id_a && x->text_id_b == y->text_id_b &&
           x->synset_a == y->synset_a && x->synset_b == y->synset_b &&
           x->relation == y->relation && x->distance == y->distance && x->target == y->target &&
           strcmp(x->text_a, y->text_a) == 0 && strcmp(x->text_b, y->text_b) == 0;
}

/* ------------------------------------------------------------------------ */
/* The tiny dict                                                            */
/* ------------------------------------------------------------------------ */

START_TEST(tiny_texts_and_template)
{
    clipt_sampler_options o;
    clipt_sampler_options_init(&o);
    o.held_out_fraction = 0.0;
    o.text_template = "a photo of a {}.";
    clipt_sampler *s = make_sampler(tiny, &o);
    /* 24 lemmas; "dog" names two synsets and is one text */
    ck_assert_int_eq(clipt_sampler_text_count(s), 23);
    int found = 0;
    for (int32_t t = 0; t < clipt_sampler_text_count(s); t++) {
        const char *text;
        clipt_split split;
        ck_assert_int_eq(clipt_sampler_text(s, t, &text, &split), CLIPT_OK);
        ck_assert_int_eq(split, CLIPT_SPLIT_TRAIN);
        ck_assert_ptr_null(strchr(text, '_'));
        found += strcmp(text, "a photo of a Canis familiaris.") == 0;
    }
    ck_assert_int_eq(found, 1);
    const char *text;
    ck_assert_int_eq(clipt_sampler_text(s, 23, &text, NULL), CLIPT_ERR_INVALID_ARGUMENT);
    clipt_split_info info;
    ck_assert_int_eq(clipt_sampler_split_info(s, CLIPT_SPLIT_TRAIN, &info), CLIPT_OK);
    ck_assert_int_eq(info.synsets, 19);
    ck_assert_int_eq(info.texts, 23);
    ck_assert_int_eq(info.max_distance, 3);
    for (int r = 0; r < CLIPT_RELATION_COUNT; r++) ck_assert_double_eq_tol(info.weights[r], 0.2, 1e-15);
    ck_assert_int_eq(clipt_sampler_split_info(s, CLIPT_SPLIT_HELD_OUT, &info), CLIPT_OK);
    ck_assert_int_eq(info.synsets, 0);
    ck_assert_int_eq(info.texts, 0);

    clipt_pair pairs[400];
    ck_assert_int_eq(clipt_sampler_draw(s, pairs, 400), CLIPT_OK);
    for (int i = 0; i < 400; i++) {
        ck_assert(strncmp(pairs[i].text_a, "a photo of a ", 13) == 0);
        ck_assert(pairs[i].text_a[strlen(pairs[i].text_a) - 1] == '.');
    }
    clipt_sampler_free(s);
}
END_TEST

START_TEST(tiny_pairs_mean_their_relation)
{
    clipt_sampler_options o;
    clipt_sampler_options_init(&o);
    o.held_out_fraction = 0.0;
    for (int convention = 0; convention < 2; convention++) {
        o.convention = (clipt_wup_convention)convention;
        clipt_sampler *s = make_sampler(tiny, &o);
        clipt_pair pairs[2000];
        int seen[CLIPT_RELATION_COUNT] = {0};
        ck_assert_int_eq(clipt_sampler_draw(s, pairs, 2000), CLIPT_OK);
        for (int i = 0; i < 2000; i++) {
            check_pair(tiny, s, &pairs[i], o.convention);
            seen[pairs[i].relation]++;
        }
        for (int r = 0; r < CLIPT_RELATION_COUNT; r++) ck_assert_int_gt(seen[r], 0);
        clipt_sampler_free(s);
    }
}
END_TEST

START_TEST(tiny_shared_text_stays_in_training)
{
    /* Find split seeds that put dog.n.01 and dog.n.02 on opposite sides.
     * The text "dog" must then be a training text, used by the training
     * synset only. */
    int32_t dog1 = id_of(tiny, "dog.n.01"), dog2 = id_of(tiny, "dog.n.02");
    int tested = 0;
    for (uint64_t seed = 0; seed < 200 && tested < 5; seed++) {
        clipt_sampler_options o;
        clipt_sampler_options_init(&o);
        o.held_out_fraction = 0.5;
        o.split_seed = seed;
        clipt_sampler *s = NULL;
        if (clipt_sampler_create(tiny, &o, &s) != CLIPT_OK) continue;
        if (s->side_of[dog1] >= 0 && s->side_of[dog2] >= 0 &&
            s->side_of[dog1] != s->side_of[dog2]) {
            int32_t train = s->side_of[dog1] == CLIPT_SPLIT_TRAIN ? dog1 : dog2;
            int32_t held = train == dog1 ? dog2 : dog1;
            for (int32_t t = 0; t < s->text_count; t++) {
                if (strcmp(s->text[t], "dog") != 0) continue;
                ck_assert_int_eq(s->text_split[t], CLIPT_SPLIT_TRAIN);
                for (int32_t k = s->syn_text_first[held]; k < s->syn_text_first[held + 1]; k++)
                    ck_assert_int_ne(s->syn_text[k], t);
                int used = 0;
                for (int32_t k = s->syn_text_first[train]; k < s->syn_text_first[train + 1]; k++)
                    used |= s->syn_text[k] == t;
                ck_assert(used);
            }
            tested++;
        }
        clipt_sampler_free(s);
    }
    ck_assert_int_eq(tested, 5);
}
END_TEST

START_TEST(tiny_option_errors)
{
    clipt_sampler_options o;
    clipt_sampler *s = (clipt_sampler *)1;
    static const char *bad_templates[] = {"no slot", "{} and {}", "{"};
    for (int i = 0; i < 3; i++) {
        clipt_sampler_options_init(&o);
        o.text_template = bad_templates[i];
        ck_assert_int_eq(clipt_sampler_create(tiny, &o, &s), CLIPT_ERR_INVALID_ARGUMENT);
        ck_assert_ptr_null(s);
    }
    clipt_sampler_options_init(&o);
    o.weights[2] = -1.0;
    ck_assert_int_eq(clipt_sampler_create(tiny, &o, &s), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "weight 2"));
    clipt_sampler_options_init(&o);
    for (int r = 0; r < CLIPT_RELATION_COUNT; r++) o.weights[r] = 0.0;
    ck_assert_int_eq(clipt_sampler_create(tiny, &o, &s), CLIPT_ERR_INVALID_ARGUMENT);
    clipt_sampler_options_init(&o);
    o.held_out_fraction = 1.0;
    ck_assert_int_eq(clipt_sampler_create(tiny, &o, &s), CLIPT_ERR_INVALID_ARGUMENT);
    clipt_sampler_options_init(&o);
    o.min_distance = 0;
    ck_assert_int_eq(clipt_sampler_create(tiny, &o, &s), CLIPT_ERR_INVALID_ARGUMENT);
    o.min_distance = 4;
    o.max_distance = 3;
    ck_assert_int_eq(clipt_sampler_create(tiny, &o, &s), CLIPT_ERR_INVALID_ARGUMENT);
    clipt_sampler_options_init(&o);
    o.subtree = "wolf.n.01";
    ck_assert_int_eq(clipt_sampler_create(tiny, &o, &s), CLIPT_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "subtree"));
    /* only synonyms requested, but wolfpup has one lemma */
    clipt_sampler_options_init(&o);
    o.subtree = "wolfpup.n.01";
    for (int r = 1; r < CLIPT_RELATION_COUNT; r++) o.weights[r] = 0.0;
    ck_assert_int_eq(clipt_sampler_create(tiny, &o, &s), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "no pair"));
    ck_assert_int_eq(clipt_sampler_create(tiny, NULL, NULL), CLIPT_ERR_INVALID_ARGUMENT);
    clipt_sampler_free(NULL);

    /* no held-out side, so no evaluation set; a zero state is rejected */
    clipt_sampler_options_init(&o);
    o.held_out_fraction = 0.0;
    s = make_sampler(tiny, &o);
    clipt_pair pairs[4];
    ck_assert_int_eq(clipt_sampler_eval_pairs(s, 1, pairs, 4), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "held-out side"));
    clipt_sampler_state state;
    memset(&state, 0, sizeof state);
    ck_assert_int_eq(clipt_sampler_set_state(s, &state), CLIPT_ERR_INVALID_ARGUMENT);
    clipt_sampler_free(s);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* WordNet 3.0                                                              */
/* ------------------------------------------------------------------------ */

START_TEST(full_pairs_mean_their_relation)
{
    clipt_sampler_options o;
    clipt_sampler_options_init(&o);
    o.seed = 3;
    clipt_sampler *s = make_sampler(full, &o);
    clipt_pair *pairs = clipt_test_calloc(5000, sizeof *pairs);
    ck_assert_int_eq(clipt_sampler_draw(s, pairs, 5000), CLIPT_OK);
    for (int i = 0; i < 5000; i++) check_pair(full, s, &pairs[i], CLIPT_WUP_NLTK);
    ck_assert_int_eq(clipt_sampler_eval_pairs(s, 9, pairs, 2000), CLIPT_OK);
    for (int i = 0; i < 2000; i++) check_pair(full, s, &pairs[i], CLIPT_WUP_NLTK);
    free(pairs);
    clipt_sampler_free(s);
}
END_TEST

START_TEST(full_reproducible_and_resumable)
{
    enum { N = 3000 };
    clipt_sampler_options o;
    clipt_sampler_options_init(&o);
    o.seed = 11;
    o.text_template = "a photo of a {}.";
    clipt_sampler *s1 = make_sampler(full, &o), *s2 = make_sampler(full, &o);
    clipt_pair *x = clipt_test_calloc(N, sizeof *x), *y = clipt_test_calloc(N, sizeof *y);
    clipt_pair *z = clipt_test_calloc(N, sizeof *z);

    /* same options, same pairs */
    clipt_sampler_draw(s1, x, N);
    clipt_sampler_draw(s2, y, N);
    for (int i = 0; i < N; i++) ck_assert_msg(same_pair(&x[i], &y[i]), "pair %d differs", i);

    /* a saved state resumes the same sequence */
    clipt_sampler_state state;
    ck_assert_int_eq(clipt_sampler_get_state(s1, &state), CLIPT_OK);
    ck_assert_uint_eq(state.pairs_drawn, N);
    clipt_sampler_draw(s1, x, N);
    ck_assert_int_eq(clipt_sampler_set_state(s2, &state), CLIPT_OK);
    clipt_sampler_draw(s2, y, N);
    for (int i = 0; i < N; i++) ck_assert_msg(same_pair(&x[i], &y[i]), "resumed pair %d differs", i);

    /* another seed, other pairs */
    o.seed = 12;
    clipt_sampler *s3 = make_sampler(full, &o);
    clipt_sampler_draw(s3, z, N);
    int same = 0;
    for (int i = 0; i < N; i++) same += same_pair(&x[i], &z[i]);
    ck_assert_int_lt(same, N / 10);

    /* the evaluation set depends on its seed only, not on training draws */
    ck_assert_int_eq(clipt_sampler_eval_pairs(s1, 5, x, 1000), CLIPT_OK);
    ck_assert_int_eq(clipt_sampler_eval_pairs(s3, 5, y, 1000), CLIPT_OK);
    for (int i = 0; i < 1000; i++) ck_assert_msg(same_pair(&x[i], &y[i]), "eval pair %d differs", i);
    ck_assert_int_eq(clipt_sampler_eval_pairs(s3, 6, z, 1000), CLIPT_OK);
    same = 0;
    for (int i = 0; i < 1000; i++) same += same_pair(&x[i], &z[i]);
    ck_assert_int_lt(same, 100);

    free(x);
    free(y);
    free(z);
    clipt_sampler_free(s1);
    clipt_sampler_free(s2);
    clipt_sampler_free(s3);
}
END_TEST

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *lowercase_copy(const char *text)
{
    char *copy = strdup(text);
    for (char *c = copy; *c != '\0'; c++) *c = (char)tolower((unsigned char)*c);
    return copy;
}

START_TEST(full_no_held_out_text_in_training)
{
    enum { TRAIN = 200000, EVAL = 5000 };
    clipt_sampler_options o;
    clipt_sampler_options_init(&o);
    o.seed = 5;
    o.split_seed = 77;
    clipt_sampler *s = make_sampler(full, &o);
    int32_t n = clipt_wordnet_synset_count(full);
    clipt_pair *pairs = clipt_test_calloc(TRAIN, sizeof *pairs);
    uint8_t *train_text = clipt_test_calloc((size_t)clipt_sampler_text_count(s), 1);
    uint8_t *train_synset = clipt_test_calloc((size_t)n, 1);
    ck_assert_int_eq(clipt_sampler_draw(s, pairs, TRAIN), CLIPT_OK);
    for (int i = 0; i < TRAIN; i++) {
        train_text[pairs[i].text_id_a] = train_text[pairs[i].text_id_b] = 1;
        train_synset[pairs[i].synset_a] = train_synset[pairs[i].synset_b] = 1;
    }
    /* the distinct training texts, lowercased (CLIP lowercases) and sorted */
    int32_t count = 0;
    char **texts = clipt_test_calloc((size_t)clipt_sampler_text_count(s), sizeof *texts);
    for (int32_t t = 0; t < clipt_sampler_text_count(s); t++) {
        if (!train_text[t]) continue;
        const char *text;
        clipt_split split;
        clipt_sampler_text(s, t, &text, &split);
        ck_assert_int_eq(split, CLIPT_SPLIT_TRAIN);
        texts[count++] = lowercase_copy(text);
    }
    qsort(texts, (size_t)count, sizeof *texts, compare_strings);

    ck_assert_int_eq(clipt_sampler_eval_pairs(s, 1, pairs, EVAL), CLIPT_OK);
    int leaks = 0, shared_synsets = 0;
    for (int i = 0; i < EVAL; i++) {
        const char *both[2] = {pairs[i].text_a, pairs[i].text_b};
        for (int k = 0; k < 2; k++) {
            char *key = lowercase_copy(both[k]);
            if (bsearch(&key, texts, (size_t)count, sizeof *texts, compare_strings) != NULL)
                leaks++;
            free(key);
        }
        shared_synsets += train_synset[pairs[i].synset_a] + train_synset[pairs[i].synset_b];
    }
    printf("  %d training pairs use %d distinct texts; %d held-out pairs: %d of their texts "
           "and %d of their synsets occur in training pairs\n",
           TRAIN, count, EVAL, leaks, shared_synsets);
    ck_assert_int_gt(count, 50000);
    ck_assert_int_eq(leaks, 0);
    ck_assert_int_eq(shared_synsets, 0);
    for (int32_t i = 0; i < count; i++) free(texts[i]);
    free(texts);
    free(pairs);
    free(train_text);
    free(train_synset);
    clipt_sampler_free(s);
}
END_TEST

START_TEST(full_relation_mix)
{
    static const double weights[CLIPT_RELATION_COUNT] = {1, 2, 3, 4, 0};
    clipt_sampler_options o;
    clipt_sampler_options_init(&o);
    memcpy(o.weights, weights, sizeof weights);
    o.seed = 21;
    clipt_sampler *s = make_sampler(full, &o);
    clipt_split_info info;
    clipt_sampler_split_info(s, CLIPT_SPLIT_TRAIN, &info);
    clipt_pair *pairs = clipt_test_calloc(MIX_PAIRS, sizeof *pairs);
    ck_assert_int_eq(clipt_sampler_draw(s, pairs, MIX_PAIRS), CLIPT_OK);
    int count[CLIPT_RELATION_COUNT] = {0}, distance[4] = {0};
    for (int i = 0; i < MIX_PAIRS; i++) {
        count[pairs[i].relation]++;
        if (pairs[i].relation == CLIPT_RELATION_HYPERNYM) distance[pairs[i].distance]++;
    }
    for (int r = 0; r < CLIPT_RELATION_COUNT; r++) {
        double want = weights[r] / 10.0, got = (double)count[r] / MIX_PAIRS;
        printf("  relation %d: share %.4f, weight %.4f\n", r, got, want);
        ck_assert_double_eq_tol(info.weights[r], want, 1e-15);
        ck_assert_msg(fabs(got - want) <= MIX_TOLERANCE, "relation %d: share %.4f, want %.4f",
                      r, got, want);
    }
    ck_assert_int_eq(count[CLIPT_RELATION_RANDOM], 0);
    for (int k = 1; k <= 3; k++) {
        double got = (double)distance[k] / count[CLIPT_RELATION_HYPERNYM];
        printf("  hypernym distance %d: share %.4f\n", k, got);
        ck_assert_msg(fabs(got - 1.0 / 3.0) <= DISTANCE_TOLERANCE, "distance %d: share %.4f", k,
                      got);
    }
    free(pairs);
    clipt_sampler_free(s);
}
END_TEST

/* Marks id and every synset below it. */
static void mark_below(const clipt_wordnet *wn, int32_t id, uint8_t *marks)
{
    marks[id] = 1;
    const int32_t *children;
    int count;
    clipt_wordnet_children(wn, id, &children, &count);
    for (int i = 0; i < count; i++)
        if (!marks[children[i]]) mark_below(wn, children[i], marks);
}

static void mark_above(const clipt_wordnet *wn, int32_t id, uint8_t *marks)
{
    marks[id] = 1;
    const int32_t *parents;
    int count;
    clipt_wordnet_parents(wn, id, &parents, &count);
    for (int i = 0; i < count; i++) mark_above(wn, parents[i], marks);
}

START_TEST(full_seed_sources)
{
    int32_t n = clipt_wordnet_synset_count(full);
    clipt_pair pairs[2000];
    clipt_sampler_options o;

    /* the subtree under dog.n.01, named by wnid */
    uint8_t *allowed = clipt_test_calloc((size_t)n, 1);
    mark_below(full, id_of(full, "dog.n.01"), allowed);
    clipt_sampler_options_init(&o);
    o.subtree = "n02084071";
    clipt_sampler *s = make_sampler(full, &o);
    clipt_sampler_draw(s, pairs, 2000);
    for (int i = 0; i < 2000; i++) {
        ck_assert(allowed[pairs[i].synset_a]);
        ck_assert(allowed[pairs[i].synset_b]);
    }
    clipt_sampler_free(s);

    /* a wnid file in ImageNet's LOC_synset_mapping.txt style, with the
     * hypernyms of its synsets */
    char path[] = "/tmp/clipt-wnids-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *lines = "# a few ImageNet classes\n"
                        "n02085620 Chihuahua\n"
                        "\n"
                        "n02123045 tabby, tabby cat\n"
                        "n01440764\n";
    ck_assert_int_eq(write(fd, lines, strlen(lines)), (int)strlen(lines));
    close(fd);
    memset(allowed, 0, (size_t)n);
    static const char *const classes[] = {"n02085620", "n02123045", "n01440764"};
    for (int c = 0; c < 3; c++) {
        int32_t id;
        clipt_wordnet_find_wnid(full, classes[c], &id);
        mark_above(full, id, allowed);
    }
    clipt_sampler_options_init(&o);
    o.wnid_file = path;
    o.add_hypernyms = 1;
    o.held_out_fraction = 0.0;
    s = make_sampler(full, &o);
    clipt_split_info info;
    clipt_sampler_split_info(s, CLIPT_SPLIT_TRAIN, &info);
    int32_t expected = 0;
    for (int32_t id = 0; id < n; id++) expected += allowed[id];
    ck_assert_int_eq(info.synsets, expected);
    clipt_sampler_draw(s, pairs, 2000);
    for (int i = 0; i < 2000; i++) {
        ck_assert(allowed[pairs[i].synset_a]);
        ck_assert(allowed[pairs[i].synset_b]);
    }
    clipt_sampler_free(s);

    /* a malformed line and an unknown wnid are reported with the line */
    FILE *f = fopen(path, "w");
    fputs("n02085620\nn0208562\n", f);
    fclose(f);
    ck_assert_int_eq(clipt_sampler_create(full, &o, &s), CLIPT_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "line 2"));
    f = fopen(path, "w");
    fputs("n02085620\n\nn00000001\n", f);
    fclose(f);
    ck_assert_int_eq(clipt_sampler_create(full, &o, &s), CLIPT_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "line 3"));
    unlink(path);
    ck_assert_int_eq(clipt_sampler_create(full, &o, &s), CLIPT_ERR_FILE_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), path));
    free(allowed);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("sampler");
    if (clipt_wordnet_load(TINY_DIR, &tiny) != CLIPT_OK) {
        printf("cannot load %s: %s\n", TINY_DIR, clipt_last_error());
        return 1;
    }
    TCase *tc = tcase_create("tiny");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tiny_texts_and_template);
    tcase_add_test(tc, tiny_pairs_mean_their_relation);
    tcase_add_test(tc, tiny_shared_text_stays_in_training);
    tcase_add_test(tc, tiny_option_errors);
    suite_add_tcase(suite, tc);
    if (clipt_wordnet_load(CLIPT_WORDNET_DEFAULT_DIR, &full) == CLIPT_OK) {
        TCase *tf = tcase_create("wordnet-3.0");
        tcase_set_timeout(tf, 120);
        tcase_add_test(tf, full_pairs_mean_their_relation);
        tcase_add_test(tf, full_reproducible_and_resumable);
        tcase_add_test(tf, full_no_held_out_text_in_training);
        tcase_add_test(tf, full_relation_mix);
        tcase_add_test(tf, full_seed_sources);
        suite_add_tcase(suite, tf);
    } else {
        clipt_test_skip("wordnet-3.0", clipt_last_error());
    }
    int rc = clipt_test_run(suite, "sampler");
    clipt_wordnet_free(tiny);
    clipt_wordnet_free(full);
    return rc;
}
