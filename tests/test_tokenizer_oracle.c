/* The tokenizer against open_clip's, through the fixtures that
 * tests/oracle/tokenizer_oracle.py wrote: every WordNet 3.0 noun lemma alone
 * and in "a photo of a {}.", a list of hard strings, and every code point's
 * pre-tokenizer class and single-character cleaning. Agreement must be
 * complete; each test prints how many strings it compared. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "harness.h"
#include "tokenizer.h"
#include "tokenizer_testing.h"

#define CONTEXT_LENGTH 77
/* Room for the longest fixture row without truncation. */
#define MAX_IDS 4096

/* ------------------------------------------------------------------------ */
/* WordNet                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p, *end;
} reader;

static uint32_t read_varint(reader *r)
{
    uint32_t value = 0;
    for (int shift = 0; r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        value |= (uint32_t)(b & 0x7F) << shift;
        if (b < 0x80) return value;
    }
    ck_abort_msg("WordNet fixture ends inside a number");
    return 0;
}

static int read_ids(reader *r, int32_t *ids)
{
    uint32_t n = read_varint(r);
    ck_assert_msg(n <= MAX_IDS, "WordNet fixture row of %u ids", n);
    for (uint32_t i = 0; i < n; i++) ids[i] = (int32_t)read_varint(r);
    return (int)n;
}

/* Compares one encoded text with its expected ids; prints the first few
 * differences and returns 1 when they differ. */
static int compare_row(clipt_tokenizer *tok, const char *text, const int32_t *want, int want_n,
                       int *printed)
{
    int32_t got[MAX_IDS];
    int n;
    clipt_status status = clipt_tokenizer_encode(tok, text, got, MAX_IDS, &n);
    ck_assert_msg(status == CLIPT_OK, "encoding \"%s\": %s", text, clipt_last_error());
    if (n == want_n && memcmp(got, want, (size_t)n * sizeof *got) == 0) return 0;
    if ((*printed)++ < 10) {
        char a[512], b[512];
        printf("  mismatch \"%s\": got %s want %s\n", text, format_ids(a, sizeof a, got, n),
               format_ids(b, sizeof b, want, want_n));
    }
    return 1;
}

START_TEST(wordnet_lemmas_match_open_clip)
{
    size_t length;
    char *fixture = read_gzip_file(FIXTURE_DIR "tokenizer_wordnet.bin.gz", &length);
    ck_assert_msg(fixture != NULL, "cannot read tokenizer_wordnet.bin.gz");
    reader r = {(const uint8_t *)fixture, (const uint8_t *)fixture + length};
    ck_assert_msg(length > 16 && memcmp(fixture, "CLPTWNT1", 8) == 0,
                  "tokenizer_wordnet.bin.gz: bad magic");
    uint32_t count, crc_want;
    memcpy(&count, fixture + 8, 4);
    memcpy(&crc_want, fixture + 12, 4);
    r.p += 16;
    int32_t prefix[64], suffix[64];
    int prefix_n = read_ids(&r, prefix), suffix_n = read_ids(&r, suffix);

    /* The lemmas, as the oracle read them: the first field of each line of
     * index.noun that is not part of the license header, '_' -> ' '. */
    size_t index_length;
    char *index = read_gzip_file(WORDNET_INDEX_NOUN, &index_length);
    ck_assert_msg(index != NULL, "cannot read %s", WORDNET_INDEX_NOUN);
    char **lemmas = clipt_test_calloc(count + 1, sizeof *lemmas);
    uint32_t n_lemmas = 0;
    uLong crc = crc32(0L, Z_NULL, 0);
    for (char *line = index; *line;) {
        char *eol = strchr(line, '\n');
        char *next = eol ? eol + 1 : line + strlen(line);
        if (*line != ' ') {
            char *space = strchr(line, ' ');
            ck_assert(space && space < next);
            *space = '\0';
            for (char *c = line; *c; c++)
                if (*c == '_') *c = ' ';
            ck_assert_msg(n_lemmas < count, "index.noun has more lemmas than the fixture");
            if (n_lemmas > 0) crc = crc32(crc, (const Bytef *)"\n", 1);
            crc = crc32(crc, (const Bytef *)line, (uInt)strlen(line));
            lemmas[n_lemmas++] = line;
        }
        line = next;
    }
    ck_assert_msg(n_lemmas == count, "index.noun has %u lemmas, the fixture %u", n_lemmas, count);
    ck_assert_msg((uint32_t)crc == crc_want,
                  "the lemmas of %s differ from those the fixture was made from",
                  WORDNET_INDEX_NOUN);

    clipt_tokenizer *tok = load_merges_or_fail();
    int mismatches = 0, printed = 0;
    long compared = 0;
    char template[1024];
    for (uint32_t i = 0; i < count; i++) {
        int32_t want[MAX_IDS], want_template[MAX_IDS];
        int n = read_ids(&r, want);
        int template_n = read_ids(&r, want_template);
        if (template_n == 0) {
            /* Stored as prefix + the lemma's ids + suffix. */
            memcpy(want_template, prefix, (size_t)prefix_n * sizeof *prefix);
            memcpy(want_template + prefix_n, want + 1, (size_t)(n - 2) * sizeof *want);
            memcpy(want_template + prefix_n + n - 2, suffix, (size_t)suffix_n * sizeof *suffix);
            template_n = prefix_n + n - 2 + suffix_n;
        }
        snprintf(template, sizeof template, "a photo of a %s.", lemmas[i]);
        mismatches += compare_row(tok, lemmas[i], want, n, &printed);
        mismatches += compare_row(tok, template, want_template, template_n, &printed);
        compared += 2;
    }
    ck_assert_msg(r.p == r.end, "tokenizer_wordnet.bin.gz has trailing bytes");
    printf("  WordNet: compared %ld strings (%u lemmas, alone and in the template), %d differ\n",
           compared, count, mismatches);
    fflush(stdout);
    ck_assert_msg(mismatches == 0, "%d of %ld WordNet strings differ from open_clip", mismatches,
                  compared);
    clipt_tokenizer_free(tok);
    free(lemmas);
    free(index);
    free(fixture);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Hard strings                                                             */
/* ------------------------------------------------------------------------ */

static json_t *load_json_fixture(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, FIXTURE_DIR "%s", name);
    size_t length;
    char *text = read_gzip_file(path, &length);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    json_error_t error;
    json_t *root = json_loadb(text, length, 0, &error);
    ck_assert_msg(root != NULL, "%s:%d: %s", path, error.line, error.text);
    free(text);
    return root;
}

static int json_ids(const json_t *array, int32_t *ids)
{
    size_t n = json_array_size(array);
    ck_assert(n <= MAX_IDS);
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)json_integer_value(json_array_get(array, i));
    return (int)n;
}

START_TEST(hard_strings_match_open_clip)
{
    json_t *root = load_json_fixture("tokenizer_hard.json.gz");
    json_t *cases = json_object_get(root, "cases");
    ck_assert_int_eq(json_integer_value(json_object_get(root, "context_length")), CONTEXT_LENGTH);
    clipt_tokenizer *tok = load_merges_or_fail();
    int mismatches = 0, printed = 0, rows = 0;
    size_t count = json_array_size(cases);
    for (size_t i = 0; i < count; i++) {
        json_t *c = json_array_get(cases, i);
        const char *text = json_string_value(json_object_get(c, "text"));
        int32_t want[MAX_IDS];
        int n = json_ids(json_object_get(c, "ids"), want);
        mismatches += compare_row(tok, text, want, n, &printed);

        /* Texts longer than the context: open_clip's own truncated row. */
        json_t *row = json_object_get(c, "row");
        if (row) {
            int32_t want_row[MAX_IDS], got[CONTEXT_LENGTH];
            int row_n = json_ids(row, want_row), got_n;
            ck_assert_int_eq(row_n, CONTEXT_LENGTH);
            ck_assert_int_eq(clipt_tokenizer_encode(tok, text, got, CONTEXT_LENGTH, &got_n),
                             CLIPT_OK);
            ck_assert_int_eq(got_n, CONTEXT_LENGTH);
            ck_assert_msg(memcmp(got, want_row, sizeof got) == 0,
                          "truncated row of \"%.40s...\" differs from open_clip's", text);
            rows++;
        }
    }
    printf("  hard strings: compared %zu strings and %d truncated rows, %d differ\n", count, rows,
           mismatches);
    fflush(stdout);
    ck_assert_msg(rows >= 3, "the fixture should hold texts longer than the context");
    ck_assert_msg(mismatches == 0, "%d of %zu hard strings differ from open_clip", mismatches,
                  count);
    clipt_tokenizer_free(tok);
    json_decref(root);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Every code point                                                         */
/* ------------------------------------------------------------------------ */

static int is_assigned(const json_t *assigned, uint32_t cp)
{
    size_t lo = 0, hi = json_array_size(assigned);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const json_t *range = json_array_get(assigned, mid);
        uint32_t first = (uint32_t)json_integer_value(json_array_get(range, 0));
        uint32_t last = (uint32_t)json_integer_value(json_array_get(range, 1));
        if (cp < first)
            hi = mid;
        else if (cp > last)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The class the pre-tokenizer gives c, found as the oracle does: from the
 * matches in "a" c c "1". L joins the letter run, N matches alone twice, S
 * forms its own run, W is dropped. */
static char pretoken_class(clipt_tokenizer *tok, uint32_t cp)
{
    char subject[16];
    size_t n = 0, c_len;
    subject[n++] = 'a';
    c_len = put_utf8(subject + n, cp);
    n += c_len;
    n += put_utf8(subject + n, cp);
    subject[n++] = '1';
    size_t starts[8], ends[8];
    int count = 0;
    PCRE2_SIZE offset = 0;
    while (count < 8) {
        int rc = pcre2_match(tok->pattern, (PCRE2_SPTR)subject, n, offset, 0, tok->match, NULL);
        if (rc < 0) break;
        const PCRE2_SIZE *m = pcre2_get_ovector_pointer(tok->match);
        starts[count] = m[0];
        ends[count++] = m[1];
        offset = m[1];
    }
    if (count == 2 && ends[0] == 1 + 2 * c_len) return 'L';
    if (count == 4 && ends[1] == 1 + c_len && ends[2] == 1 + 2 * c_len) return 'N';
    if (count == 3 && starts[1] == 1 && ends[1] == 1 + 2 * c_len) return 'S';
    if (count == 2 && ends[0] == 1 && starts[1] == 1 + 2 * c_len) return 'W';
    return '?';
}

START_TEST(codepoint_classes_match_regex_module)
{
    json_t *root = load_json_fixture("tokenizer_codepoints.json.gz");
    json_t *classes = json_object_get(root, "classes");
    json_t *assigned = json_object_get(root, "assigned");
    clipt_tokenizer *tok = load_merges_or_fail();
    long compared = 0, mismatches = 0, newer = 0;
    for (size_t i = 0; i < json_array_size(classes); i++) {
        json_t *run = json_array_get(classes, i);
        uint32_t first = (uint32_t)json_integer_value(json_array_get(run, 0));
        uint32_t last = (uint32_t)json_integer_value(json_array_get(run, 1));
        char want = json_string_value(json_array_get(run, 2))[0];
        for (uint32_t cp = first; cp <= last; cp++) {
            char got = pretoken_class(tok, cp);
            if (!is_assigned(assigned, cp)) {
                /* Assigned after Unicode 14: PCRE2 10.42 does not know it. */
                newer += got != want;
                continue;
            }
            compared++;
            if (got != want && mismatches++ < 10)
                printf("  U+%04X: class %c, open_clip's regex says %c\n", cp, got, want);
        }
    }
    printf("  pre-tokenizer classes: compared %ld code points assigned in Unicode 14, %ld "
           "differ; %ld newer code points classified differently (known limit)\n",
           compared, mismatches, newer);
    fflush(stdout);
    ck_assert_msg(mismatches == 0, "%ld code points are classified differently", mismatches);
    clipt_tokenizer_free(tok);
    json_decref(root);
}
END_TEST

START_TEST(codepoint_cleaning_matches_open_clip)
{
    json_t *root = load_json_fixture("tokenizer_codepoints.json.gz");
    json_t *cleaned = json_object_get(root, "clean");
    json_t *assigned = json_object_get(root, "assigned");
    clipt_clean_buffers buffers;
    memset(&buffers, 0, sizeof buffers);
    size_t next = 0, count = json_array_size(cleaned);
    long compared = 0, mismatches = 0, newer = 0;
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        char text[8], want_text[64];
        size_t n = put_utf8(text, cp), want_n = n;
        memcpy(want_text, text, n);
        if (next < count) {
            json_t *entry = json_array_get(cleaned, next);
            if ((uint32_t)json_integer_value(json_array_get(entry, 0)) == cp) {
                const char *s = json_string_value(json_array_get(entry, 1));
                want_n = strlen(s);
                memcpy(want_text, s, want_n);
                next++;
            }
        }
        size_t got_n;
        ck_assert_int_eq(clipt_text_clean(&buffers, text, n, &got_n), CLIPT_OK);
        int same = got_n == want_n && memcmp(buffers.bytes, want_text, got_n) == 0;
        if (!is_assigned(assigned, cp)) {
            newer += !same;
            continue;
        }
        compared++;
        if (!same && mismatches++ < 10)
            printf("  U+%04X cleans to %zu bytes \"%.*s\", open_clip gives \"%.*s\"\n", cp, got_n,
                   (int)got_n, buffers.bytes, (int)want_n, want_text);
    }
    printf("  single-character cleaning: compared %ld code points assigned in Unicode 14, %ld "
           "differ; %ld newer code points differ (known limit)\n",
           compared, mismatches, newer);
    fflush(stdout);
    ck_assert_msg(mismatches == 0, "%ld code points clean differently", mismatches);
    clipt_clean_buffers_release(&buffers);
    json_decref(root);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tokenizer_oracle");
    TCase *tc = tcase_create("open_clip");
    tcase_set_timeout(tc, 300);
    if (!file_exists(MERGES_PATH)) {
        clipt_test_skip("tokenizer_oracle", MERGES_PATH " is missing; run scripts/setup");
    } else {
        if (file_exists(WORDNET_INDEX_NOUN))
            tcase_add_test(tc, wordnet_lemmas_match_open_clip);
        else
            clipt_test_skip("wordnet_lemmas_match_open_clip",
                            WORDNET_INDEX_NOUN " is missing; install wordnet-base");
        tcase_add_test(tc, hard_strings_match_open_clip);
        tcase_add_test(tc, codepoint_classes_match_regex_module);
    }
    tcase_add_test(tc, codepoint_cleaning_matches_open_clip);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "tokenizer_oracle");
}
