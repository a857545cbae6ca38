/* WordNet loading, lookups and Wu-Palmer similarity: the hand-written dict
 * in tests/fixtures/wordnet-tiny (structure, hand-computed values, NLTK's
 * values for every pair, malformed variants), and the WordNet 3.0 noun
 * database in /usr/share/wordnet against NLTK's values in
 * tests/fixtures/wordnet_nltk.txt.gz (written by
 * tests/oracle/wordnet_nltk.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "harness.h"
#include "wordnet.h"

#define TINY_DIR "tests/fixtures/wordnet-tiny"
#define TINY_NLTK TINY_DIR "/nltk_pairs.txt"
#define FULL_NLTK "tests/fixtures/wordnet_nltk.txt.gz"

/* NLTK computes 2.0 * depth / (len1 + len2) in double precision from
 * integers, as the library does, so the values should agree bit for bit.
 * The tolerance is far below the gap between two distinct Wu-Palmer values
 * of WordNet 3.0 (depths are at most 20, so distinct fractions differ by
 * more than 1 / 80^2), so any wrong subsumer or path length fails. */
#define WUP_TOLERANCE 1e-12

/* Loaded once in main(); each test runs in a forked child. */
static clipt_wordnet *tiny;
static clipt_wordnet *full;

static int32_t id_of(const clipt_wordnet *wn, const char *name)
{
    int32_t id = -1;
    clipt_status status = clipt_wordnet_find_name(wn, name, &id);
    ck_assert_msg(status == CLIPT_OK, "find_name(%s): %s", name,
                  clipt_last_error());
    return id;
}

static double wup(const clipt_wordnet *wn, const char *a, const char *b,
                  clipt_wup_convention convention)
{
    double value = -1.0;
    clipt_status status = clipt_wordnet_wup(wn, id_of(wn, a), id_of(wn, b),
                                            convention, &value);
    ck_assert_msg(status == CLIPT_OK, "wup(%s, %s): %s", a, b,
                  clipt_last_error());
    return value;
}

/* ------------------------------------------------------------------------ */
/* The tiny dict                                                            */
/* ------------------------------------------------------------------------ */

START_TEST(tiny_structure)
{
    ck_assert_int_eq(clipt_wordnet_synset_count(tiny), 19);
    /* entity.n.01 is the one root */
    int roots = 0;
    for (int32_t id = 0; id < clipt_wordnet_synset_count(tiny); id++) {
        const int32_t *parents;
        int count;
        ck_assert_int_eq(clipt_wordnet_parents(tiny, id, &parents, &count), CLIPT_OK);
        if (count == 0) {
            roots++;
            ck_assert_int_eq(id, id_of(tiny, "entity.n.01"));
        }
    }
    ck_assert_int_eq(roots, 1);

    /* dog.n.01: two hypernyms in file order, then its lemmas as written */
    clipt_synset_info info;
    int32_t dog = id_of(tiny, "dog.n.01");
    ck_assert_int_eq(clipt_wordnet_synset_info(tiny, dog, &info), CLIPT_OK);
    ck_assert_uint_eq(info.offset, 800);
    ck_assert_int_eq(info.hypernym_count, 2);
    ck_assert_int_eq(info.instance_hypernym_count, 0);
    ck_assert_int_eq(info.hyponym_count, 1);
    ck_assert_int_eq(info.min_depth, 4);
    ck_assert_int_eq(info.max_depth, 6);
    const int32_t *parents, *children;
    int count;
    clipt_wordnet_parents(tiny, dog, &parents, &count);
    ck_assert_int_eq(count, 2);
    ck_assert_int_eq(parents[0], id_of(tiny, "canine.n.01"));
    ck_assert_int_eq(parents[1], id_of(tiny, "domestic_animal.n.01"));
    clipt_wordnet_children(tiny, dog, &children, &count);
    ck_assert_int_eq(count, 1);
    ck_assert_int_eq(children[0], id_of(tiny, "puppy.n.01"));
    const char *lemma;
    ck_assert_int_eq(info.lemma_count, 3);
    clipt_wordnet_lemma(tiny, dog, 2, &lemma);
    ck_assert_str_eq(lemma, "Canis_familiaris");
    ck_assert_int_eq(clipt_wordnet_lemma(tiny, dog, 3, &lemma), CLIPT_ERR_INVALID_ARGUMENT);

    /* Einstein: two instance hypernyms, no hypernym */
    clipt_wordnet_synset_info(tiny, id_of(tiny, "einstein.n.01"), &info);
    ck_assert_int_eq(info.hypernym_count, 0);
    ck_assert_int_eq(info.instance_hypernym_count, 2);
    ck_assert_int_eq(info.min_depth, 4);
    ck_assert_int_eq(info.max_depth, 5);

    /* puppy's "@ 00000900 n 0101" relates lemmas and is no synset edge */
    clipt_wordnet_parents(tiny, id_of(tiny, "puppy.n.01"), &parents, &count);
    ck_assert_int_eq(count, 2);
    ck_assert_int_eq(parents[0], dog);
    ck_assert_int_eq(parents[1], id_of(tiny, "mammal.n.01"));
}
END_TEST

START_TEST(tiny_names_and_depths_match_nltk)
{
    FILE *f = fopen(TINY_NLTK, "r");
    ck_assert_msg(f != NULL, "cannot open %s", TINY_NLTK);
    char line[256], name[128];
    unsigned offset;
    int min_depth, max_depth, checked = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "S %u %127s %d %d", &offset, name, &min_depth, &max_depth) != 4)
            continue;
        int32_t id;
        clipt_synset_info info;
        ck_assert_int_eq(clipt_wordnet_find_offset(tiny, offset, &id), CLIPT_OK);
        clipt_wordnet_synset_info(tiny, id, &info);
        ck_assert_str_eq(info.name, name);
        ck_assert_int_eq(info.min_depth, min_depth);
        ck_assert_int_eq(info.max_depth, max_depth);
        ck_assert_int_eq(id_of(tiny, name), id);
        checked++;
    }
    fclose(f);
    ck_assert_int_eq(checked, 19);
}
END_TEST

START_TEST(tiny_lookups)
{
    int32_t id;
    ck_assert_int_eq(clipt_wordnet_find_wnid(tiny, "n00000800", &id), CLIPT_OK);
    ck_assert_int_eq(id, id_of(tiny, "dog.n.01"));
    ck_assert_int_eq(clipt_wordnet_find_wnid(tiny, "n0800", &id), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_wordnet_find_wnid(tiny, "v00000800", &id), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_wordnet_find_wnid(tiny, "n00000801", &id), CLIPT_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "00000801"));
    ck_assert_int_eq(clipt_wordnet_find_offset(tiny, 801, &id), CLIPT_ERR_NOT_FOUND);

    /* any lemma of the synset, any case, spaces for underscores */
    ck_assert_int_eq(id_of(tiny, "Domestic_Dog.n.01"), id_of(tiny, "dog.n.01"));
    ck_assert_int_eq(id_of(tiny, "canis familiaris.n.1"), id_of(tiny, "dog.n.01"));
    ck_assert_int_eq(clipt_wordnet_find_name(tiny, "dog.n.02", &id), CLIPT_OK);
    ck_assert_int_eq(id, 17); /* offset 1500, the 18th line */
    ck_assert_int_eq(clipt_wordnet_find_name(tiny, "dog.n.03", &id), CLIPT_ERR_NOT_FOUND);
    ck_assert_int_eq(clipt_wordnet_find_name(tiny, "dog.v.01", &id), CLIPT_ERR_UNSUPPORTED);
    ck_assert_int_eq(clipt_wordnet_find_name(tiny, "dog.x.01", &id), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_wordnet_find_name(tiny, "dog", &id), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_wordnet_find_name(tiny, "dog.n.00", &id), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_wordnet_find_name(tiny, "wolf.n.01", &id), CLIPT_ERR_NOT_FOUND);

    const int32_t *senses;
    int count;
    ck_assert_int_eq(clipt_wordnet_find_lemma(tiny, "DOG", &senses, &count), CLIPT_OK);
    ck_assert_int_eq(count, 2);
    ck_assert_int_eq(senses[0], id_of(tiny, "dog.n.01"));
    ck_assert_int_eq(senses[1], id_of(tiny, "dog.n.02"));
    ck_assert_int_eq(clipt_wordnet_find_lemma(tiny, "dogs", &senses, &count), CLIPT_ERR_NOT_FOUND);
}
END_TEST

START_TEST(tiny_wup_hand_values)
{
    /* Depths (min/max): canine 5/5, domestic_animal 3/3, dog 4/6,
     * carnivore 4/4, mammal 3/3, cat 5/5, puppy 4/7 (parents dog and
     * mammal), wolfdog 4/5 (parents carnivore and domestic_animal),
     * wolfpup 5/6. */
    static const struct {
        const char *a, *b;
        double nltk, textbook;
    } cases[] = {
        /* LCS by min depth is canine (5 > dog's 4): depth 6, paths 1 + 1 */
        {"dog.n.01", "dog.n.01", 12.0 / 14.0, 1.0},
        /* carnivore: depth 5; dog climbs 2, cat 1 */
        {"dog.n.01", "cat.n.01", 10.0 / 13.0, 10.0 / 13.0},
        /* carnivore: depth 5; puppy climbs to mammal and goes down to
         * carnivore (1 + 1), shorter than climbing to it (3) */
        {"puppy.n.01", "cat.n.01", 10.0 / 13.0, 10.0 / 14.0},
        /* canine ties nothing (min 5): depth 6, puppy to canine is 2 */
        {"puppy.n.01", "puppy.n.01", 12.0 / 16.0, 1.0},
        /* carnivore and wolfdog tie at min depth 4; a = wolfdog wins */
        {"wolfdog.n.01", "wolfpup.n.01", 12.0 / 13.0, 12.0 / 13.0},
        /* same tie, a = wolfpup is not a candidate: carnivore by name */
        {"wolfpup.n.01", "wolfdog.n.01", 10.0 / 13.0, 12.0 / 13.0},
        /* instance hypernyms count as hypernyms: physicist, depth 5 */
        {"einstein.n.01", "physicist.n.01", 10.0 / 11.0, 10.0 / 11.0},
        {"physicist.n.01", "einstein.n.01", 10.0 / 11.0, 10.0 / 11.0},
        /* organism: depth 2; dog climbs 3, the person sense 2 */
        {"dog.n.01", "dog.n.02", 4.0 / 9.0, 4.0 / 11.0},
        /* the root: depth 1 */
        {"abstraction.n.01", "dog.n.01", 2.0 / 7.0, 2.0 / 9.0},
        {"entity.n.01", "entity.n.01", 1.0, 1.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double got = wup(tiny, cases[i].a, cases[i].b, CLIPT_WUP_NLTK);
        double got_textbook = wup(tiny, cases[i].a, cases[i].b, CLIPT_WUP_TEXTBOOK);
        printf("  %-18s %-18s nltk %.6f textbook %.6f\n", cases[i].a, cases[i].b,
               got, got_textbook);
        ck_assert_msg(got == cases[i].nltk, "nltk wup(%s, %s) = %.17g, want %.17g",
                      cases[i].a, cases[i].b, got, cases[i].nltk);
        ck_assert_msg(got_textbook == cases[i].textbook,
                      "textbook wup(%s, %s) = %.17g, want %.17g", cases[i].a,
                      cases[i].b, got_textbook, cases[i].textbook);
    }
}
END_TEST

START_TEST(tiny_wup_matches_nltk_every_pair)
{
    FILE *f = fopen(TINY_NLTK, "r");
    ck_assert_msg(f != NULL, "cannot open %s", TINY_NLTK);
    char line[256];
    unsigned oa, ob;
    double want, want_textbook;
    int pairs = 0, mismatches = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "P %u %u %lf %lf", &oa, &ob, &want, &want_textbook) != 4)
            continue;
        int32_t a, b;
        double got, got_textbook;
        ck_assert_int_eq(clipt_wordnet_find_offset(tiny, oa, &a), CLIPT_OK);
        ck_assert_int_eq(clipt_wordnet_find_offset(tiny, ob, &b), CLIPT_OK);
        ck_assert_int_eq(clipt_wordnet_wup(tiny, a, b, CLIPT_WUP_NLTK, &got), CLIPT_OK);
        ck_assert_int_eq(clipt_wordnet_wup(tiny, a, b, CLIPT_WUP_TEXTBOOK, &got_textbook), CLIPT_OK);
        if (fabs(got - want) > WUP_TOLERANCE || fabs(got_textbook - want_textbook) > WUP_TOLERANCE) {
            if (mismatches < 5)
                printf("  mismatch %08u %08u: nltk %.17g want %.17g, textbook %.17g want %.17g\n",
                       oa, ob, got, want, got_textbook, want_textbook);
            mismatches++;
        }
        pairs++;
    }
    fclose(f);
    printf("  tiny dict: %d ordered pairs, %d mismatches\n", pairs, mismatches);
    ck_assert_int_eq(pairs, 19 * 19);
    ck_assert_int_eq(mismatches, 0);
}
END_TEST

START_TEST(tiny_wup_words)
{
    double value;
    int32_t sense_a, sense_b;
    ck_assert_int_eq(clipt_wordnet_wup_words(tiny, "dog", "cat", CLIPT_WUP_NLTK, &value,
                                             &sense_a, &sense_b), CLIPT_OK);
    /* dog.n.01 ~ cat 10/13 beats dog.n.02 ~ cat 0.4 */
    ck_assert_double_eq(value, 10.0 / 13.0);
    ck_assert_int_eq(sense_a, id_of(tiny, "dog.n.01"));
    ck_assert_int_eq(sense_b, id_of(tiny, "cat.n.01"));
    ck_assert_int_eq(clipt_wordnet_wup_words(tiny, "dog", "wolf", CLIPT_WUP_NLTK, &value,
                                             NULL, NULL), CLIPT_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "wolf"));
}
END_TEST

START_TEST(tiny_argument_errors)
{
    double value;
    int32_t a[2] = {0, 5}, b[2] = {1, 19};
    double out[2];
    ck_assert_int_eq(clipt_wordnet_wup(tiny, -1, 0, CLIPT_WUP_NLTK, &value), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_wordnet_wup(tiny, 0, 19, CLIPT_WUP_NLTK, &value), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_wordnet_wup(tiny, 0, 1, (clipt_wup_convention)7, &value),
                     CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_wordnet_wup_batch(tiny, CLIPT_WUP_NLTK, a, b, 2, out),
                     CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "pair 1"));
    clipt_synset_info info;
    ck_assert_int_eq(clipt_wordnet_synset_info(tiny, 19, &info), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_wordnet_load(TINY_DIR, NULL), CLIPT_ERR_INVALID_ARGUMENT);
    clipt_wordnet_free(NULL);
}
END_TEST

START_TEST(tiny_wnsearchdir)
{
    /* the test runs in a forked child, so the variable stays there */
    setenv("WNSEARCHDIR", TINY_DIR, 1);
    clipt_wordnet *wn = NULL;
    ck_assert_int_eq(clipt_wordnet_load(NULL, &wn), CLIPT_OK);
    ck_assert_str_eq(clipt_wordnet_dir(wn), TINY_DIR);
    ck_assert_int_eq(clipt_wordnet_synset_count(wn), 19);
    clipt_wordnet_free(wn);
    setenv("WNSEARCHDIR", "tests/fixtures/no-such-dir", 1);
    ck_assert_int_eq(clipt_wordnet_load(NULL, &wn), CLIPT_ERR_FILE_NOT_FOUND);
    ck_assert_ptr_null(wn);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "tests/fixtures/no-such-dir/data.noun"));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Variants of the tiny dict                                                */
/* ------------------------------------------------------------------------ */

/* Copies file from the tiny dict into dir with line number `line` (from 1)
 * replaced by text. A NULL text deletes the line, and line 0 with a NULL
 * text leaves the file out entirely. */
static void write_variant_file(const char *dir, const char *file, int line,
                               const char *text)
{
    char src[512], dst[512], buf[1024];
    snprintf(src, sizeof src, "%s/%s", TINY_DIR, file);
    snprintf(dst, sizeof dst, "%s/%s", dir, file);
    if (line == 0 && text == NULL) return;
    FILE *in = fopen(src, "r"), *out = fopen(dst, "w");
    ck_assert_msg(in != NULL && out != NULL, "cannot copy %s to %s", src, dst);
    int n = 0;
    while (fgets(buf, sizeof buf, in) != NULL) {
        n++;
        if (n != line) {
            fputs(buf, out);
        } else if (text != NULL) {
            fprintf(out, "%s\n", text);
        }
    }
    fclose(in);
    fclose(out);
}

/* Makes a temporary dict with one change to data.noun or index.noun. */
static void make_variant(char *dir, const char *file, int line, const char *text)
{
    strcpy(dir, "/tmp/clipt-wordnet-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    int data = strcmp(file, "data.noun") == 0;
    write_variant_file(dir, "data.noun", data ? line : -1, data ? text : NULL);
    write_variant_file(dir, "index.noun", data ? -1 : line, data ? NULL : text);
}

static void remove_variant(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/data.noun", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/index.noun", dir);
    unlink(path);
    rmdir(dir);
}

/* data.noun line 6 is animal, 11 dog, 5 organism; index.noun line 10 is
 * cat, 11 dog. */
static const struct {
    const char *what, *file;
    int line;
    const char *text;
    clipt_status status;
    const char *where, *detail;
} broken[] = {
    {"truncated inside a pointer", "data.noun", 6,
     "00000300 05 n 01 animal 0 001 @ 00000200", CLIPT_ERR_PARSE,
     "data.noun line 6", "line ends inside pointer 1 of 1"},
    {"truncated inside a lemma", "data.noun", 6, "00000300 05 n 01 anim",
     CLIPT_ERR_PARSE, "data.noun line 6", "lexical id"},
    {"truncated before the gloss", "data.noun", 6,
     "00000300 05 n 01 animal 0 001 @ 00000200 n 0000", CLIPT_ERR_PARSE,
     "data.noun line 6", "before the gloss separator"},
    {"pointer count too large", "data.noun", 6,
     "00000300 05 n 01 animal 0 002 @ 00000200 n 0000 | an animal",
     CLIPT_ERR_PARSE, "data.noun line 6",
     "pointer count is 2 but the gloss starts after 1 pointers"},
    {"pointer count too small", "data.noun", 11,
     "00000800 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 003 "
     "@ 00000600 n 0000 @ 00000700 n 0000 ~ 00001000 n 0000 "
     "+ 00000900 n 0101 | a dog",
     CLIPT_ERR_PARSE, "data.noun line 11", "expected '|' before the gloss, found '+'"},
    {"pointer count not a number", "data.noun", 6,
     "00000300 05 n 01 animal 0 0x1 @ 00000200 n 0000 | an animal",
     CLIPT_ERR_PARSE, "data.noun line 6", "pointer count"},
    {"hypernym offset points nowhere", "data.noun", 6,
     "00000300 05 n 01 animal 0 001 @ 00000999 n 0000 | an animal",
     CLIPT_ERR_PARSE, "data.noun line 6", "to 00000999, which is not a synset"},
    {"hypernym of another part of speech", "data.noun", 6,
     "00000300 05 n 01 animal 0 001 @ 00000200 v 0000 | an animal",
     CLIPT_ERR_PARSE, "data.noun line 6", "part of speech 'v'"},
    {"verb in the noun file", "data.noun", 6,
     "00000300 05 v 01 animal 0 001 @ 00000200 n 0000 | an animal",
     CLIPT_ERR_PARSE, "data.noun line 6", "synset type 'v'"},
    {"offsets out of order", "data.noun", 6,
     "00000150 05 n 01 animal 0 001 @ 00000200 n 0000 | an animal",
     CLIPT_ERR_PARSE, "data.noun line 6", "does not follow"},
    {"hypernym cycle", "data.noun", 5,
     "00000200 03 n 01 organism 0 001 @ 00000300 n 0000 | a living thing",
     CLIPT_ERR_PARSE, "data.noun line 5", "cycle"},
    {"index lists an unknown synset", "index.noun", 10,
     "cat n 1 1 @ 1 0 00000901  ", CLIPT_ERR_PARSE, "index.noun line 10",
     "lists synset 00000901, which is not in"},
    {"index synset count too large", "index.noun", 11,
     "dog n 3 1 @ 3 1 00000800 00001500  ", CLIPT_ERR_PARSE,
     "index.noun line 11", "line ends after 2 of 3 synset offsets"},
    {"index sense count differs", "index.noun", 11,
     "dog n 2 1 @ 3 1 00000800 00001500  ", CLIPT_ERR_PARSE,
     "index.noun line 11", "sense count 3 differs from synset count 2"},
    {"index lacks a synset's first lemma", "index.noun", 10, NULL,
     CLIPT_ERR_PARSE, "data.noun line 12", "first lemma 'cat'"},
    {"index lemma listed twice", "index.noun", 10, "dog n 1 1 @ 1 0 00000900  ",
     CLIPT_ERR_PARSE, "index.noun line", "listed again"},
    {"data.noun missing", "data.noun", 0, NULL, CLIPT_ERR_FILE_NOT_FOUND,
     "/data.noun", "wordnet-base"},
    {"index.noun missing", "index.noun", 0, NULL, CLIPT_ERR_FILE_NOT_FOUND,
     "/index.noun", "No such file"},
};

START_TEST(tiny_malformed_files)
{
    char dir[64];
    make_variant(dir, broken[_i].file, broken[_i].line, broken[_i].text);
    clipt_wordnet *wn = (clipt_wordnet *)1;
    clipt_status status = clipt_wordnet_load(dir, &wn);
    const char *message = clipt_last_error();
    printf("  %-36s %s: %s\n", broken[_i].what, clipt_status_name(status), message);
    remove_variant(dir);
    ck_assert_ptr_null(wn);
    ck_assert_msg(status == broken[_i].status, "%s: status %s, want %s", broken[_i].what,
                  clipt_status_name(status), clipt_status_name(broken[_i].status));
    ck_assert_msg(strstr(message, broken[_i].where) != NULL, "%s: message \"%s\" lacks \"%s\"",
                  broken[_i].what, message, broken[_i].where);
    ck_assert_msg(strstr(message, broken[_i].detail) != NULL, "%s: message \"%s\" lacks \"%s\"",
                  broken[_i].what, message, broken[_i].detail);
}
END_TEST

START_TEST(tiny_nul_byte_and_empty_file)
{
    char dir[64], path[128];
    make_variant(dir, "data.noun", -1, NULL);
    snprintf(path, sizeof path, "%s/data.noun", dir);
    FILE *f = fopen(path, "ab");
    ck_assert_ptr_nonnull(f);
    fwrite("0000\0", 1, 5, f);
    fclose(f);
    clipt_wordnet *wn = NULL;
    clipt_status status = clipt_wordnet_load(dir, &wn);
    printf("  NUL byte: %s: %s\n", clipt_status_name(status), clipt_last_error());
    ck_assert_int_eq(status, CLIPT_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "NUL byte"));

    /* only the license header */
    f = fopen(path, "w");
    fputs("  1 license text\n", f);
    fclose(f);
    status = clipt_wordnet_load(dir, &wn);
    printf("  no synsets: %s: %s\n", clipt_status_name(status), clipt_last_error());
    remove_variant(dir);
    ck_assert_int_eq(status, CLIPT_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "contains no synsets"));
    ck_assert_ptr_null(wn);
}
END_TEST

START_TEST(tiny_two_roots)
{
    /* abstraction without its hypernym becomes a second root */
    char dir[64];
    make_variant(dir, "data.noun", 22, "00001600 03 n 01 abstraction 0 000 | a general concept");
    clipt_wordnet *wn = NULL;
    clipt_status status = clipt_wordnet_load(dir, &wn);
    remove_variant(dir);
    ck_assert_msg(status == CLIPT_OK, "%s", clipt_last_error());
    int32_t a = id_of(wn, "abstraction.n.01"), b = id_of(wn, "dog.n.01");
    double value = -1.0;
    ck_assert_int_eq(clipt_wordnet_wup(wn, a, b, CLIPT_WUP_NLTK, &value), CLIPT_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(clipt_last_error(), "share no hypernym"));
    ck_assert_int_eq(clipt_wordnet_wup(wn, a, b, CLIPT_WUP_TEXTBOOK, &value), CLIPT_ERR_NOT_FOUND);
    double out = -1.0;
    ck_assert_int_eq(clipt_wordnet_wup_batch(wn, CLIPT_WUP_NLTK, &a, &b, 1, &out), CLIPT_OK);
    ck_assert_double_eq(out, 0.0);
    ck_assert_int_eq(clipt_wordnet_wup(wn, a, a, CLIPT_WUP_NLTK, &value), CLIPT_OK);
    ck_assert_double_eq(value, 1.0);
    clipt_wordnet_free(wn);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* WordNet 3.0 against NLTK                                                 */
/* ------------------------------------------------------------------------ */

START_TEST(full_structure)
{
    ck_assert_int_eq(clipt_wordnet_synset_count(full), 82115);
    int roots = 0, deepest = 0;
    for (int32_t id = 0; id < clipt_wordnet_synset_count(full); id++) {
        clipt_synset_info info;
        clipt_wordnet_synset_info(full, id, &info);
        if (info.hypernym_count + info.instance_hypernym_count == 0) {
            roots++;
            ck_assert_str_eq(info.name, "entity.n.01");
            ck_assert_uint_eq(info.offset, 1740);
        }
        if (info.max_depth > deepest) deepest = info.max_depth;
    }
    ck_assert_int_eq(roots, 1);
    ck_assert_int_eq(deepest, 19);

    int32_t dog;
    ck_assert_int_eq(clipt_wordnet_find_wnid(full, "n02084071", &dog), CLIPT_OK);
    ck_assert_int_eq(dog, id_of(full, "dog.n.01"));
    const char *lemma;
    clipt_wordnet_lemma(full, dog, 2, &lemma);
    ck_assert_str_eq(lemma, "Canis_familiaris");
    const int32_t *senses;
    int count;
    ck_assert_int_eq(clipt_wordnet_find_lemma(full, "dog", &senses, &count), CLIPT_OK);
    ck_assert_int_eq(count, 7);
    ck_assert_int_eq(senses[0], dog);
}
END_TEST

START_TEST(full_matches_nltk_fixture)
{
    gzFile f = gzopen(FULL_NLTK, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", FULL_NLTK);
    char line[512], category[64], name[256], word_a[256], word_b[256];
    unsigned oa, ob;
    double want, want_textbook;
    int min_depth, max_depth;
    int pairs = 0, mismatches = 0, textbook_mismatches = 0;
    int synsets = 0, synset_mismatches = 0, words = 0, word_mismatches = 0;
    ck_assert_ptr_nonnull(gzgets(f, line, sizeof line));
    ck_assert_msg(strncmp(line, "clipt-fixture wordnet-nltk 1", 28) == 0, "header: %s", line);
    while (gzgets(f, line, sizeof line) != NULL) {
        if (sscanf(line, "P %63s %u %u %lf %lf", category, &oa, &ob, &want, &want_textbook) == 5) {
            int32_t a, b;
            double got = -1.0, got_textbook = -1.0;
            ck_assert_int_eq(clipt_wordnet_find_offset(full, oa, &a), CLIPT_OK);
            ck_assert_int_eq(clipt_wordnet_find_offset(full, ob, &b), CLIPT_OK);
            clipt_wordnet_wup(full, a, b, CLIPT_WUP_NLTK, &got);
            clipt_wordnet_wup(full, a, b, CLIPT_WUP_TEXTBOOK, &got_textbook);
            if (!(fabs(got - want) <= WUP_TOLERANCE)) {
                if (mismatches++ < 5)
                    printf("  %s %08u %08u: got %.17g, NLTK %.17g\n", category, oa, ob, got, want);
            }
            if (!(fabs(got_textbook - want_textbook) <= WUP_TOLERANCE)) textbook_mismatches++;
            pairs++;
        } else if (sscanf(line, "S %u %255s %d %d", &oa, name, &min_depth, &max_depth) == 4) {
            int32_t id;
            clipt_synset_info info;
            ck_assert_int_eq(clipt_wordnet_find_offset(full, oa, &id), CLIPT_OK);
            clipt_wordnet_synset_info(full, id, &info);
            int32_t by_name = -1;
            clipt_wordnet_find_name(full, name, &by_name);
            if (strcmp(info.name, name) != 0 || info.min_depth != min_depth ||
                info.max_depth != max_depth || by_name != id) {
                if (synset_mismatches++ < 5)
                    printf("  synset %08u: %s %d %d, NLTK %s %d %d\n", oa, info.name,
                           info.min_depth, info.max_depth, name, min_depth, max_depth);
            }
            synsets++;
        } else if (sscanf(line, "W %255s %255s %lf", word_a, word_b, &want) == 3) {
            double got = -1.0;
            clipt_wordnet_wup_words(full, word_a, word_b, CLIPT_WUP_NLTK, &got, NULL, NULL);
            if (!(fabs(got - want) <= WUP_TOLERANCE)) {
                if (word_mismatches++ < 5)
                    printf("  words %s %s: got %.17g, NLTK %.17g\n", word_a, word_b, got, want);
            }
            words++;
        }
    }
    gzclose(f);
    printf("  NLTK fixture: %d synset pairs, %d mismatches (textbook %d); %d synsets, "
           "%d mismatches; %d word pairs, %d mismatches\n",
           pairs, mismatches, textbook_mismatches, synsets, synset_mismatches, words,
           word_mismatches);
    ck_assert_int_ge(pairs, 5000);
    ck_assert_int_ge(words, 300);
    ck_assert_int_ge(synsets, 3000);
    ck_assert_int_eq(mismatches, 0);
    ck_assert_int_eq(textbook_mismatches, 0);
    ck_assert_int_eq(synset_mismatches, 0);
    ck_assert_int_eq(word_mismatches, 0);
}
END_TEST

START_TEST(full_known_values)
{
    /* NLTK 3.10.4 on Debian's WordNet 3.0 */
    ck_assert_double_eq(wup(full, "dog.n.01", "cat.n.01", CLIPT_WUP_NLTK), 0.8571428571428571);
    ck_assert_double_eq(wup(full, "dog.n.01", "dog.n.01", CLIPT_WUP_NLTK), 0.9285714285714286);
    ck_assert_double_eq(wup(full, "einstein.n.01", "physicist.n.01", CLIPT_WUP_NLTK),
                        0.631578947368421);
    ck_assert_double_eq(wup(full, "physicist.n.01", "einstein.n.01", CLIPT_WUP_NLTK),
                        0.9473684210526315);
    ck_assert_double_eq(wup(full, "dog.n.01", "dog.n.01", CLIPT_WUP_TEXTBOOK), 1.0);
}
END_TEST

START_TEST(full_textbook_properties)
{
    /* symmetric, 1 exactly on the diagonal, in (0, 1) elsewhere; the batch
     * call gives what single calls give */
    enum { PAIRS = 20000 };
    int32_t n = clipt_wordnet_synset_count(full);
    int32_t *a = clipt_test_calloc(PAIRS, sizeof *a), *b = clipt_test_calloc(PAIRS, sizeof *b);
    double *batch = clipt_test_calloc(PAIRS, sizeof *batch);
    uint64_t x = 12345;
    for (int i = 0; i < PAIRS; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        a[i] = (int32_t)((x >> 33) % (uint64_t)n);
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        b[i] = i % 10 == 0 ? a[i] : (int32_t)((x >> 33) % (uint64_t)n);
    }
    ck_assert_int_eq(clipt_wordnet_wup_batch(full, CLIPT_WUP_TEXTBOOK, a, b, PAIRS, batch), CLIPT_OK);
    for (int i = 0; i < PAIRS; i++) {
        double ab, ba, nltk;
        clipt_wordnet_wup(full, a[i], b[i], CLIPT_WUP_TEXTBOOK, &ab);
        clipt_wordnet_wup(full, b[i], a[i], CLIPT_WUP_TEXTBOOK, &ba);
        clipt_wordnet_wup(full, a[i], b[i], CLIPT_WUP_NLTK, &nltk);
        ck_assert_msg(ab == ba, "textbook not symmetric for ids %d %d", a[i], b[i]);
        ck_assert_msg(ab == batch[i], "batch differs at pair %d", i);
        if (a[i] == b[i]) {
            ck_assert_msg(ab == 1.0, "textbook self-similarity of %d is %.17g", a[i], ab);
        } else {
            ck_assert_msg(ab > 0.0 && ab < 1.0, "textbook %.17g for ids %d %d", ab, a[i], b[i]);
        }
        ck_assert_msg(nltk > 0.0 && nltk <= 1.0, "nltk %.17g for ids %d %d", nltk, a[i], b[i]);
    }
    ck_assert_int_eq(clipt_wordnet_wup_batch(full, CLIPT_WUP_NLTK, a, b, PAIRS, batch), CLIPT_OK);
    for (int i = 0; i < PAIRS; i++) {
        double single;
        clipt_wordnet_wup(full, a[i], b[i], CLIPT_WUP_NLTK, &single);
        ck_assert_msg(single == batch[i], "batch differs at pair %d", i);
    }
    free(a);
    free(b);
    free(batch);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wordnet");
    clipt_status status = clipt_wordnet_load(TINY_DIR, &tiny);
    if (status != CLIPT_OK) {
        printf("cannot load %s: %s\n", TINY_DIR, clipt_last_error());
        return 1;
    }
    TCase *tc = tcase_create("tiny");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tiny_structure);
    tcase_add_test(tc, tiny_names_and_depths_match_nltk);
    tcase_add_test(tc, tiny_lookups);
    tcase_add_test(tc, tiny_wup_hand_values);
    tcase_add_test(tc, tiny_wup_matches_nltk_every_pair);
    tcase_add_test(tc, tiny_wup_words);
    tcase_add_test(tc, tiny_argument_errors);
    tcase_add_test(tc, tiny_wnsearchdir);
    tcase_add_loop_test(tc, tiny_malformed_files, 0, sizeof broken / sizeof broken[0]);
    tcase_add_test(tc, tiny_nul_byte_and_empty_file);
    tcase_add_test(tc, tiny_two_roots);
    suite_add_tcase(s, tc);

    /* The WordNet 3.0 tests need Debian's wordnet-base (scripts/setup). */
    status = clipt_wordnet_load(CLIPT_WORDNET_DEFAULT_DIR, &full);
    if (status == CLIPT_OK) {
        TCase *tf = tcase_create("wordnet-3.0");
        tcase_set_timeout(tf, 120);
        tcase_add_test(tf, full_structure);
        tcase_add_test(tf, full_matches_nltk_fixture);
        tcase_add_test(tf, full_known_values);
        tcase_add_test(tf, full_textbook_properties);
        suite_add_tcase(s, tf);
    } else {
        clipt_test_skip("wordnet-3.0", clipt_last_error());
    }
    int rc = clipt_test_run(s, "wordnet");
    clipt_wordnet_free(tiny);
    clipt_wordnet_free(full);
    return rc;
}
