/* The tokenizer's behaviour: both file formats give the same ids, invalid
 * UTF-8 is rejected with its offset, truncation keeps the end id, decoding,
 * the batch layout, the word cache, long words, load errors and the cleaning
 * steps. Agreement with open_clip on large inputs is test_tokenizer_oracle. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "harness.h"
#include "tokenizer.h"
#include "tokenizer_testing.h"

#define CONTEXT_LENGTH 77
#define MAX_IDS 4096

static const char *const sample_texts[] = {
    "hello world", "a photo of a cat", "Hello   World!!", "don't", "hot_dog", "ice-cream",
    "caf\xC3\xA9 cr\xC3\xA8me br\xC3\xBBl\xC3\xA9" "e", "\xE6\x9D\xB1\xE4\xBA\xAC",
    "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD thumbs", "&amp; &lt;b&gt;", "1,000,000 and 3.14",
    "\xEF\xAC\x81nance", "\xCE\x9F\xCE\x94\xCE\xA5\xCE\xA3", "",
};

/* Encodes text with a capacity large enough for no truncation. */
static int encode_all(clipt_tokenizer *tok, const char *text, int32_t *ids)
{
    int n;
    clipt_status status = clipt_tokenizer_encode(tok, text, ids, MAX_IDS, &n);
    ck_assert_msg(status == CLIPT_OK, "encoding \"%s\": %s", text, clipt_last_error());
    return n;
}

/* ------------------------------------------------------------------------ */
/* Hugging Face files written from the .gz                                  */
/* ------------------------------------------------------------------------ */

/* Appends the UTF-8 of CLIP's character for byte b: printable Latin-1 bytes
 * stand for themselves, the others take U+0100 onwards in byte order. */
static size_t byte_character(int b, char *out)
{
    int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    int cp = b;
    if (!printable) {
        cp = 0x100;
        for (int k = 0; k < b; k++) {
            int p = (k >= 0x21 && k <= 0x7E) || (k >= 0xA1 && k <= 0xAC) || k >= 0xAE;
            cp += !p;
        }
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

/* Writes vocab.json and merges.txt for the merges file into dir, the way a
 * Hugging Face CLIP checkpoint stores them. */
static void write_hf_files(const char *dir)
{
    size_t length;
    char *text = read_gzip_file(MERGES_PATH, &length);
    ck_assert(text != NULL);
    json_t *vocab = json_object();
    int id = 0;
    char s[16];
    for (int pass = 0; pass < 2; pass++) {
        /* Printable bytes first, then the others, each pass once more with
         * the end-of-word mark. */
        for (int printable = 1; printable >= 0; printable--) {
            for (int b = 0; b < 256; b++) {
                int p = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
                if (p != printable) continue;
                size_t n = byte_character(b, s);
                if (pass == 1) {
                    memcpy(s + n, "</w>", 4);
                    n += 4;
                }
                s[n] = '\0';
                json_object_set_new(vocab, s, json_integer(id++));
            }
        }
    }
    char path[512];
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    FILE *merges = fopen(path, "w");
    ck_assert(merges != NULL);
    fputs("#version: 0.2\n", merges);
    char *line = strchr(text, '\n') + 1;
    for (int r = 0; r < 48894; r++) {
        char *eol = strchr(line, '\n');
        *eol = '\0';
        fprintf(merges, "%s\n", line);
        char merged[1024];
        size_t w = 0;
        for (const char *c = line; *c; c++)
            if (*c != ' ') merged[w++] = *c;
        merged[w] = '\0';
        json_object_set_new(vocab, merged, json_integer(id++));
        line = eol + 1;
    }
    fclose(merges);
    json_object_set_new(vocab, "<|startoftext|>", json_integer(id++));
    json_object_set_new(vocab, "<|endoftext|>", json_integer(id++));
    ck_assert_int_eq(id, 49408);
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    ck_assert_int_eq(json_dump_file(vocab, path, JSON_COMPACT), 0);
    json_decref(vocab);
    free(text);
}

static void remove_hf_files(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    unlink(path);
    rmdir(dir);
}

START_TEST(formats_give_same_ids)
{
    char dir[] = "/tmp/clipt_tokenizer_XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    write_hf_files(dir);
    clipt_tokenizer *gz = load_merges_or_fail(), *hf = NULL;
    clipt_status status = clipt_tokenizer_load(dir, &hf);
    ck_assert_msg(status == CLIPT_OK, "loading %s: %s", dir, clipt_last_error());
    ck_assert_int_eq(clipt_tokenizer_vocab_size(hf), 49408);
    ck_assert_int_eq(clipt_tokenizer_start_id(hf), 49406);
    ck_assert_int_eq(clipt_tokenizer_end_id(hf), 49407);

    /* The sample texts and every hard string of the oracle fixture, except
     * the ones that spell a special token (the spellings differ by format). */
    json_error_t error;
    size_t length = 0;
    char *fixture = read_gzip_file(FIXTURE_DIR "tokenizer_hard.json.gz", &length);
    ck_assert(fixture != NULL);
    json_t *root = json_loadb(fixture, length, 0, &error);
    ck_assert(root != NULL);
    json_t *cases = json_object_get(root, "cases");
    int compared = 0;
    size_t n_samples = sizeof sample_texts / sizeof *sample_texts;
    for (size_t i = 0; i < n_samples + json_array_size(cases); i++) {
        const char *text = i < n_samples ? sample_texts[i]
                                         : json_string_value(json_object_get(
                                               json_array_get(cases, i - n_samples), "text"));
        if (strcasestr(text, "_of_text>") || strcasestr(text, "oftext|>")) continue;
        int32_t a[MAX_IDS], b[MAX_IDS];
        int na = encode_all(gz, text, a), nb = encode_all(hf, text, b);
        ck_assert_msg(na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0,
                      "\"%s\" encodes differently from the two formats", text);
        compared++;
    }
    printf("  formats: %d texts give the same ids from the .gz and from vocab.json\n", compared);

    /* Each format recognises its own spelling of the special tokens. */
    int32_t ids[8];
    int n;
    ck_assert_int_eq(clipt_tokenizer_encode(hf, "<|endoftext|>", ids, 8, &n), CLIPT_OK);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(ids[1], 49407);
    ck_assert_int_eq(clipt_tokenizer_encode(gz, "<end_of_text>", ids, 8, &n), CLIPT_OK);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(ids[1], 49407);

    json_decref(root);
    free(fixture);
    clipt_tokenizer_free(gz);
    clipt_tokenizer_free(hf);
    remove_hf_files(dir);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Invalid UTF-8                                                            */
/* ------------------------------------------------------------------------ */

static const struct {
    const char *text;
    size_t offset;
} invalid_utf8[] = {
    {"\x80", 0},                       /* stray continuation byte */
    {"ab\xC3", 2},                     /* cut at the end */
    {"ab\xC3(", 2},                    /* lead byte without continuation */
    {"\xC0\xAF", 0},                   /* overlong '/' */
    {"ok \xE0\x80\xAF", 3},            /* overlong, three bytes */
    {"x\xED\xA0\x80", 1},              /* UTF-16 surrogate U+D800 */
    {"\xF4\x90\x80\x80", 0},           /* past U+10FFFF */
    {"\xF8\x88\x80\x80\x80", 0},       /* five-byte form */
    {"\xFF", 0},                       /* never valid */
    {"caf\xC3\xA9 \xE2\x82", 6},       /* valid, then cut */
    {"&amp; \xC3\xA9\xA9", 8},         /* extra continuation byte */
};

START_TEST(invalid_utf8_is_rejected)
{
    clipt_tokenizer *tok = load_merges_or_fail();
    int32_t ids[CONTEXT_LENGTH];
    int n = -1;
    clipt_status status =
        clipt_tokenizer_encode(tok, invalid_utf8[_i].text, ids, CONTEXT_LENGTH, &n);
    ck_assert_int_eq(status, CLIPT_ERR_INVALID_UTF8);
    char expected[64];
    snprintf(expected, sizeof expected, "byte offset %zu ", invalid_utf8[_i].offset);
    ck_assert_msg(strstr(clipt_last_error(), expected) != NULL, "message \"%s\" lacks \"%s\"",
                  clipt_last_error(), expected);
    ck_assert_int_eq(n, -1);

    /* The batch call names the text. */
    const char *texts[2] = {"fine", invalid_utf8[_i].text};
    int32_t rows[2 * CONTEXT_LENGTH], eot[2];
    status = clipt_tokenizer_encode_batch(tok, texts, 2, CONTEXT_LENGTH, rows, eot);
    ck_assert_int_eq(status, CLIPT_ERR_INVALID_UTF8);
    ck_assert_msg(strstr(clipt_last_error(), "text 1") != NULL, "message \"%s\" lacks the index",
                  clipt_last_error());

    /* The handle still works afterwards. */
    ck_assert_int_eq(clipt_tokenizer_encode(tok, "dog", ids, CONTEXT_LENGTH, &n), CLIPT_OK);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(ids[1], 1929);
    clipt_tokenizer_free(tok);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Truncation, counting and the batch layout                                */
/* ------------------------------------------------------------------------ */

START_TEST(truncation_keeps_end_id)
{
    clipt_tokenizer *tok = load_merges_or_fail();
    char text[4096] = "";
    for (int i = 0; i < 120; i++) strcat(text, i % 3 ? "cat " : "dog ");
    int32_t full[MAX_IDS], ids[CONTEXT_LENGTH];
    int full_n = encode_all(tok, text, full), n, counted;
    ck_assert_int_eq(full_n, 122);
    ck_assert_int_eq(clipt_tokenizer_count(tok, text, &counted), CLIPT_OK);
    ck_assert_int_eq(counted, full_n);

    ck_assert_int_eq(clipt_tokenizer_encode(tok, text, ids, CONTEXT_LENGTH, &n), CLIPT_OK);
    ck_assert_int_eq(n, CONTEXT_LENGTH);
    ck_assert_int_eq(ids[0], 49406);
    ck_assert_int_eq(memcmp(ids, full, (CONTEXT_LENGTH - 1) * sizeof *ids), 0);
    ck_assert_int_eq(ids[CONTEXT_LENGTH - 1], 49407);

    /* The smallest capacity keeps only the start and end ids. */
    ck_assert_int_eq(clipt_tokenizer_encode(tok, text, ids, 2, &n), CLIPT_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(ids[0], 49406);
    ck_assert_int_eq(ids[1], 49407);
    ck_assert_int_eq(clipt_tokenizer_encode(tok, text, ids, 1, &n), CLIPT_ERR_INVALID_ARGUMENT);

    /* A row that fits exactly is not touched. */
    ck_assert_int_eq(clipt_tokenizer_encode(tok, "a photo of a cat", ids, 7, &n), CLIPT_OK);
    ck_assert_int_eq(n, 7);
    ck_assert_int_eq(ids[5], 2368);
    ck_assert_int_eq(ids[6], 49407);
    clipt_tokenizer_free(tok);
}
END_TEST

START_TEST(batch_pads_and_marks_eot)
{
    clipt_tokenizer *tok = load_merges_or_fail();
    enum { B = 4, T = 8 };
    const char *texts[B] = {"dog", "", "one two three four five six seven eight", "hot_dog"};
    int32_t ids[B * T], eot[B];
    for (int i = 0; i < B * T; i++) ids[i] = -7;
    ck_assert_int_eq(clipt_tokenizer_encode_batch(tok, texts, B, T, ids, eot), CLIPT_OK);

    const int32_t want[B][T] = {
        {49406, 1929, 49407, 0, 0, 0, 0, 0},
        {49406, 49407, 0, 0, 0, 0, 0, 0},
        {49406, 637, 1237, 2097, 2721, 3127, 4093, 49407},
        {49406, 2069, 318, 1929, 49407, 0, 0, 0},
    };
    const int32_t want_eot[B] = {2, 1, 7, 4};
    for (int b = 0; b < B; b++) {
        char got_text[256], want_text[256];
        ck_assert_msg(memcmp(ids + b * T, want[b], sizeof want[b]) == 0, "row %d: got %s want %s",
                      b, format_ids(got_text, sizeof got_text, ids + b * T, T),
                      format_ids(want_text, sizeof want_text, want[b], T));
        ck_assert_int_eq(eot[b], want_eot[b]);
        ck_assert_int_eq(ids[b * T + eot[b]], 49407);
    }

    ck_assert_int_eq(clipt_tokenizer_encode_batch(tok, texts, 0, T, ids, eot),
                     CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_tokenizer_encode_batch(tok, texts, B, 1, ids, eot),
                     CLIPT_ERR_INVALID_ARGUMENT);
    const char *with_null[2] = {"dog", NULL};
    ck_assert_int_eq(clipt_tokenizer_encode_batch(tok, with_null, 2, T, ids, eot),
                     CLIPT_ERR_INVALID_ARGUMENT);
    clipt_tokenizer_free(tok);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */
/* ------------------------------------------------------------------------ */

static void check_decode(const clipt_tokenizer *tok, const int32_t *ids, int n, const char *want)
{
    char text[4096];
    size_t length;
    ck_assert_int_eq(clipt_tokenizer_decode(tok, ids, n, text, sizeof text, &length), CLIPT_OK);
    ck_assert_uint_eq(length, strlen(want));
    ck_assert_str_eq(text, want);
}

START_TEST(decode_matches_open_clip)
{
    clipt_tokenizer *tok = load_merges_or_fail();
    int32_t ids[MAX_IDS];
    int n = encode_all(tok, "A photo of a Cat!", ids);
    check_decode(tok, ids, n, "<start_of_text>a photo of a cat ! <end_of_text>");
    check_decode(tok, ids + 1, n - 2, "a photo of a cat ! ");
    n = encode_all(tok, "\xE6\x9D\xB1\xE4\xBA\xAC caf\xC3\xA9", ids);
    check_decode(tok, ids + 1, n - 2, "\xE6\x9D\xB1\xE4\xBA\xAC caf\xC3\xA9 ");
    check_decode(tok, ids, 0, "");

    /* A lone continuation byte (id 94 is 0xA1) and a lead byte cut short
     * (id 383 is 0xC3 in its end-of-word form) each become U+FFFD, as
     * Python's "replace" error handler does. */
    const int32_t broken[] = {320, 94, 383};
    check_decode(tok, broken, 3, "a \xEF\xBF\xBD\xEF\xBF\xBD ");

    /* Size 0 returns only the length; a short buffer cuts at a character. */
    n = encode_all(tok, "caf\xC3\xA9", ids);
    size_t length;
    ck_assert_int_eq(clipt_tokenizer_decode(tok, ids + 1, n - 2, NULL, 0, &length), CLIPT_OK);
    ck_assert_uint_eq(length, 6);
    char text[5];
    ck_assert_int_eq(clipt_tokenizer_decode(tok, ids + 1, n - 2, text, sizeof text, &length),
                     CLIPT_OK);
    ck_assert_str_eq(text, "caf");
    ck_assert_uint_eq(length, 6);

    const int32_t bad[] = {320, 49408};
    ck_assert_int_eq(clipt_tokenizer_decode(tok, bad, 2, text, sizeof text, &length),
                     CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(clipt_last_error(), "ids[1] = 49408") != NULL, "%s", clipt_last_error());
    clipt_tokenizer_free(tok);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Cache and long words                                                     */
/* ------------------------------------------------------------------------ */

/* The n-th synthetic word: lower-case letters from the digits of n in base
 * 26, so every n gives a different pre-token. */
static void synthetic_word(unsigned n, char *out)
{
    int w = 0;
    out[w++] = 'q';
    do {
        out[w++] = (char)('a' + n % 26);
        n /= 26;
    } while (n);
    out[w] = '\0';
}

START_TEST(cache_keeps_ids_stable)
{
    clipt_tokenizer *warm = load_merges_or_fail();
    int32_t first[16][MAX_IDS], again[MAX_IDS];
    int first_n[16];
    char word[32];
    for (unsigned i = 0; i < 16; i++) {
        synthetic_word(i * 7919, word);
        first_n[i] = encode_all(warm, word, first[i]);
    }
    /* More distinct words than the cache keeps, so it is emptied at least
     * once; the early words must still encode as before. */
    for (unsigned i = 0; i < CLIPT_WORD_CACHE_MAX_WORDS + 1000; i++) {
        synthetic_word(i, word);
        int32_t ids[64];
        int n;
        ck_assert_int_eq(clipt_tokenizer_encode(warm, word, ids, 64, &n), CLIPT_OK);
    }
    ck_assert_uint_lt(warm->cache.count, CLIPT_WORD_CACHE_MAX_WORDS);
    for (unsigned i = 0; i < 16; i++) {
        synthetic_word(i * 7919, word);
        int n = encode_all(warm, word, again);
        ck_assert_int_eq(n, first_n[i]);
        ck_assert_int_eq(memcmp(again, first[i], (size_t)n * sizeof *again), 0);
    }
    clipt_tokenizer_free(warm);
}
END_TEST

START_TEST(long_words_round_trip)
{
    /* Pre-tokens far longer than the cache keeps go through BPE each time;
     * decoding must give back the cleaned text. */
    clipt_tokenizer *tok = load_merges_or_fail();
    size_t sizes[] = {300, 5000, 100000};
    for (size_t k = 0; k < 3; k++) {
        size_t length = sizes[k];
        char *text = clipt_test_calloc(length + 1, 1);
        for (size_t i = 0; i < length; i++) text[i] = k == 1 ? '!' : "abcab"[i % 5];
        int n;
        ck_assert_int_eq(clipt_tokenizer_count(tok, text, &n), CLIPT_OK);
        int32_t *ids = clipt_test_calloc((size_t)n, sizeof *ids);
        int written;
        ck_assert_int_eq(clipt_tokenizer_encode(tok, text, ids, n, &written), CLIPT_OK);
        ck_assert_int_eq(written, n);
        char *decoded = clipt_test_calloc(length + 64, 1);
        size_t decoded_length;
        ck_assert_int_eq(
            clipt_tokenizer_decode(tok, ids + 1, n - 2, decoded, length + 64, &decoded_length),
            CLIPT_OK);
        ck_assert_uint_eq(decoded_length, length + 1);
        ck_assert_int_eq(memcmp(decoded, text, length), 0);
        ck_assert_int_eq(decoded[length], ' ');
        printf("  a word of %zu bytes: %d ids\n", length, n - 2);
        free(text);
        free(ids);
        free(decoded);
    }
    clipt_tokenizer_free(tok);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Loading errors                                                           */
/* ------------------------------------------------------------------------ */

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert(f != NULL);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    fclose(f);
}

START_TEST(load_errors_are_reported)
{
    clipt_tokenizer *tok = (clipt_tokenizer *)1;
    ck_assert_int_eq(clipt_tokenizer_load("/nonexistent/merges.txt.gz", &tok),
                     CLIPT_ERR_FILE_NOT_FOUND);
    ck_assert_ptr_null(tok);
    ck_assert_int_eq(clipt_tokenizer_load(NULL, &tok), CLIPT_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(clipt_tokenizer_load(MERGES_PATH, NULL), CLIPT_ERR_INVALID_ARGUMENT);
    clipt_tokenizer_free(NULL);

    char dir[] = "/tmp/clipt_tokenizer_XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    char path[512], other[512];

    /* A directory without vocab.json. */
    ck_assert_int_eq(clipt_tokenizer_load(dir, &tok), CLIPT_ERR_FILE_NOT_FOUND);
    ck_assert_msg(strstr(clipt_last_error(), "vocab.json") != NULL, "%s", clipt_last_error());

    /* A truncated gzip stream. */
    size_t length;
    FILE *f = fopen(MERGES_PATH, "rb");
    ck_assert(f != NULL);
    char *gz = clipt_test_calloc(200000, 1);
    length = fread(gz, 1, 200000, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/cut.txt.gz", dir);
    write_file(path, gz, length / 2);
    ck_assert_int_eq(clipt_tokenizer_load(path, &tok), CLIPT_ERR_CORRUPT);
    unlink(path);
    free(gz);

    /* A merge line with three symbols, reported with its line number. */
    const char bad_merges[] = "#version: 0.2\ni n\nt h e\n";
    snprintf(path, sizeof path, "%s/bad.txt", dir);
    write_file(path, bad_merges, sizeof bad_merges - 1);
    ck_assert_int_eq(clipt_tokenizer_load(path, &tok), CLIPT_ERR_PARSE);
    ck_assert_msg(strstr(clipt_last_error(), "line 3") != NULL, "%s", clipt_last_error());

    /* vocab.json that is not an object, and one without CLIP's bytes. */
    snprintf(other, sizeof other, "%s/vocab.json", dir);
    write_file(other, "[1, 2]", 6);
    ck_assert_int_eq(clipt_tokenizer_load_hf(other, path, &tok), CLIPT_ERR_PARSE);
    write_file(other, "{\"a\": 0}", 8);
    ck_assert_int_eq(clipt_tokenizer_load_hf(other, path, &tok), CLIPT_ERR_PARSE);
    ck_assert_msg(strstr(clipt_last_error(), "byte 0x") != NULL, "%s", clipt_last_error());
    write_file(other, "{\"a\": ", 6);
    ck_assert_int_eq(clipt_tokenizer_load_hf(other, path, &tok), CLIPT_ERR_PARSE);
    ck_assert_ptr_null(tok);
    unlink(other);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Cleaning steps                                                           */
/* ------------------------------------------------------------------------ */

/* Inputs and what open_clip's clean makes of them (open_clip 3.3 with
 * ftfy 6.3.1, Python 3.11). */
static const struct {
    const char *text, *cleaned;
} clean_cases[] = {
    {"&lt;b&gt;", "<b>"},
    /* ftfy leaves entities alone in text with '<'; html.unescape decodes
     * them afterwards, too late for ftfy's quote uncurling. */
    {"<b>&ldquo;x&rdquo;", "<b>\xE2\x80\x9Cx\xE2\x80\x9D"},
    {"\xEF\xBC\xAC\xEF\xBC\xAF\xEF\xBC\xB5\xEF\xBC\xA4\xE3\x80\x80\xEF\xBC\xAE\xEF\xBC\xAF",
     "loud no"},
    {"\xEF\xAC\x81ne \xC7\x85", "fine d\xC5\xBE"},
    {"\xC4\xB0", "i\xCC\x87"},
    {"\xCE\x9F\xCE\x94\xCE\xA5\xCE\xA3\xCE\xA3\xCE\x95\xCE\xA5\xCE\xA3",
     "\xCE\xBF\xCE\xB4\xCF\x85\xCF\x83\xCF\x83\xCE\xB5\xCF\x85\xCF\x82"},
    {"  a\t\nb  ", "a b"},
    {"x\x1B[1my", "xy"},
    {"&EACUTE;", "\xC3\xA9"},
    {"a\r\nb\xE2\x80\xA8" "c", "a b c"},
    {"\xC2\x93q\xC2\x94", "\"q\""},
    {"&amp;amp;lt;", "<"},
    {"e\xCC\x81", "\xC3\xA9"},
    /* NOTE: ftfy would repair this mojibake to "caf\xC3\xA9"; the library
     * does not reproduce that repair and lower-cases it as it is. */
    {"caf\xC3\x83\xC2\xA9", "caf\xC3\xA3\xC2\xA9"},
};

START_TEST(cleaning_steps)
{
    clipt_clean_buffers buffers;
    memset(&buffers, 0, sizeof buffers);
    size_t length;
    const char *text = clean_cases[_i].text;
    ck_assert_int_eq(clipt_text_clean(&buffers, text, strlen(text), &length), CLIPT_OK);
    ck_assert_uint_eq(length, strlen(buffers.bytes));
    ck_assert_msg(strcmp(buffers.bytes, clean_cases[_i].cleaned) == 0,
                  "\"%s\" cleans to \"%s\", want \"%s\"", text, buffers.bytes,
                  clean_cases[_i].cleaned);
    clipt_clean_buffers_release(&buffers);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("tokenizer");
    tcase_set_timeout(tc, 120);
    if (file_exists(MERGES_PATH)) {
        tcase_add_test(tc, formats_give_same_ids);
        tcase_add_loop_test(tc, invalid_utf8_is_rejected, 0,
                            sizeof invalid_utf8 / sizeof *invalid_utf8);
        tcase_add_test(tc, truncation_keeps_end_id);
        tcase_add_test(tc, batch_pads_and_marks_eot);
        tcase_add_test(tc, decode_matches_open_clip);
        tcase_add_test(tc, cache_keeps_ids_stable);
        tcase_add_test(tc, long_words_round_trip);
        tcase_add_test(tc, load_errors_are_reported);
    } else {
        clipt_test_skip("tokenizer", MERGES_PATH " is missing; run scripts/setup");
    }
    tcase_add_loop_test(tc, cleaning_steps, 0, sizeof clean_cases / sizeof *clean_cases);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "tokenizer");
}
