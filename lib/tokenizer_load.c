/* Loading CLIP's BPE vocabulary from its two file formats.
 *
 * OpenAI's bpe_simple_vocab_16e6.txt.gz (gzip text, one merge "a b" per
 * line after a header line) lists about 262,000 merges, but CLIP uses only
 * the first 48,894 of them: the tokenizer was sized for 49,152 entries, so
 * the 256 single-byte symbols, the 2 special tokens and 49,152 - 256 - 2
 * merges fill that budget, and the end-of-word forms of the 256 bytes add
 * 256 more. The ids follow from that list: 0..255 are the byte symbols in
 * the byte table's order (below), 256..511 the same symbols with "</w>"
 * appended (the end-of-word forms), 512 + r the result of merge r, and the
 * two ids after the last merge are the special tokens: 49406 start of text
 * and 49407 end of text, for a vocabulary of 49,408.
 *
 * A Hugging Face checkpoint stores the same vocabulary as vocab.json (token
 * string -> id) and merges.txt (a "#version" line, then the merges in rank
 * order); there the ids are read from vocab.json rather than derived.
 *
 * The special tokens are recognised in input text by their spelling in the
 * loaded vocabulary, as each reference does: "<start_of_text>" and
 * "<end_of_text>" for the .gz file (the names open_clip gives them), and
 * "<|startoftext|>" and "<|endoftext|>" from vocab.json. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "tokenizer.h"

/* Merges CLIP takes from the .gz file: 49152 - 256 - 2. */
#define CLIP_MERGE_COUNT 48894
#define END_OF_WORD "</w>"
/* Upper bound on vocab.json ids, to reject files that are not a vocabulary. */
#define MAX_VOCAB_ID (1 << 24)

/* ------------------------------------------------------------------------ */
/* The byte table                                                           */
/* ------------------------------------------------------------------------ */

/* CLIP's byte-to-unicode table. BPE works on characters, one per byte of
 * UTF-8, and each must be a visible character in the merges file. The 188
 * bytes that are printable in Latin-1 ('!'..'~', 0xA1..0xAC, 0xAE..0xFF)
 * stand for the code point of the same value; the other 68 (controls,
 * space, DEL, no-break space, soft hyphen) take U+0100, U+0101, ... in
 * increasing byte order, so a space is U+0120 'Ġ'. A byte's position in this
 * order, printable ones first, is its symbol's id. */
static void build_byte_table(uint32_t char_of_byte[256], int32_t order_of_byte[256])
{
    int32_t order = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        if (printable) {
            char_of_byte[b] = (uint32_t)b;
            order_of_byte[b] = order++;
        }
    }
    uint32_t moved = 0x100;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        if (!printable) {
            char_of_byte[b] = moved++;
            order_of_byte[b] = order++;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Vocabulary strings while loading                                         */
/* ------------------------------------------------------------------------ */

/* Every token string by id, plus a hash index from string to id. */
typedef struct vocab_builder {
    char *text; /* all strings, back to back */
    size_t text_used, text_capacity;
    uint32_t *offset; /* (vocab_size + 1) offsets into text */
    int32_t *slot_id; /* hash slots holding ids, -1 when empty */
    size_t mask;
    int32_t size;    /* vocabulary size (highest id + 1) */
    int32_t next_id; /* ids below it have their string set */
} vocab_builder;

static uint64_t hash_string(const char *s, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001B3ull;
    return h;
}

static clipt_status builder_init(vocab_builder *v, int32_t size)
{
    memset(v, 0, sizeof *v);
    size_t slots = 1024;
    while (slots < 2 * (size_t)size)
        slots *= 2;
    v->offset = calloc((size_t)size + 1, sizeof *v->offset);
    v->slot_id = malloc(slots * sizeof *v->slot_id);
    if (!v->offset || !v->slot_id)
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory for a vocabulary of %d tokens", size);
    for (size_t i = 0; i < slots; i++)
        v->slot_id[i] = -1;
    v->mask = slots - 1;
    v->size = size;
    return CLIPT_OK;
}

static void builder_release(vocab_builder *v)
{
    free(v->text);
    free(v->offset);
    free(v->slot_id);
}

/* Returns the id of string s (n bytes), or -1. Ids whose string is not set
 * have an empty range and never match a non-empty s. */
static int32_t builder_find(const vocab_builder *v, const char *s, size_t n)
{
    for (size_t i = hash_string(s, n) & v->mask;; i = (i + 1) & v->mask) {
        int32_t id = v->slot_id[i];
        if (id < 0) return -1;
        if (v->offset[id + 1] - v->offset[id] == n && memcmp(v->text + v->offset[id], s, n) == 0)
            return id;
    }
}

/* Stores s as the string of id. Ids are set in increasing order; the ones
 * skipped get no string. */
static clipt_status builder_set(vocab_builder *v, int32_t id, const char *s, size_t n)
{
    for (; v->next_id < id; v->next_id++)
        v->offset[v->next_id + 1] = (uint32_t)v->text_used;
    v->next_id = id + 1;
    CLIPT_TRY(
        clipt_grow((void **)&v->text, &v->text_capacity, v->text_used + n, 1, "the vocabulary"));
    memcpy(v->text + v->text_used, s, n);
    v->text_used += n;
    v->offset[id + 1] = (uint32_t)v->text_used;
    size_t i = hash_string(s, n) & v->mask;
    while (v->slot_id[i] >= 0)
        i = (i + 1) & v->mask;
    v->slot_id[i] = id;
    return CLIPT_OK;
}

static size_t encode_char(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6)); /* byte characters are all below U+0800 */
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

/* ------------------------------------------------------------------------ */
/* Finishing a tokenizer from its vocabulary                                */
/* ------------------------------------------------------------------------ */

/* Builds the decoding table: every id's string with each character turned
 * back into its byte. A character outside the byte table cannot be decoded,
 * so it is rejected (the specials are ASCII and pass). */
static clipt_status build_decoder(clipt_tokenizer *tok, const vocab_builder *v,
                                  const uint32_t char_of_byte[256], const char *path)
{
    int16_t byte_of_char[0x144];
    for (size_t i = 0; i < sizeof byte_of_char / sizeof *byte_of_char; i++)
        byte_of_char[i] = -1;
    for (int b = 0; b < 256; b++)
        byte_of_char[char_of_byte[b]] = (int16_t)b;

    tok->token_offset = calloc((size_t)v->size + 1, sizeof *tok->token_offset);
    tok->token_known = calloc((size_t)v->size, 1);
    tok->token_bytes = malloc(v->text_used ? v->text_used : 1);
    if (!tok->token_offset || !tok->token_known || !tok->token_bytes)
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory for the decoder");
    size_t w = 0;
    for (int32_t id = 0; id < v->size; id++) {
        const uint8_t *s = (const uint8_t *)v->text + v->offset[id];
        size_t n = v->offset[id + 1] - v->offset[id];
        tok->token_known[id] = n > 0;
        for (size_t i = 0; i < n;) {
            uint32_t cp = s[i];
            size_t step = 1;
            if (cp >= 0xC0 && cp < 0xE0 && i + 1 < n) {
                cp = ((cp & 0x1F) << 6) | (s[i + 1] & 0x3F);
                step = 2;
            }
            if (cp >= 0x144 || byte_of_char[cp] < 0)
                return clipt_set_error(CLIPT_ERR_PARSE,
                                       "%s: token %d (\"%.*s\") has a character outside CLIP's "
                                       "256 byte characters; this is not a byte-level BPE "
                                       "vocabulary",
                                       path, id, (int)n, (const char *)s);
            tok->token_bytes[w++] = (char)byte_of_char[cp];
            i += step;
        }
        tok->token_offset[id + 1] = (uint32_t)w;
    }
    return CLIPT_OK;
}

static clipt_status set_special(clipt_tokenizer *tok, int which, const char *text, int32_t id)
{
    tok->special_id[which] = id;
    tok->special_length[which] = strlen(text);
    tok->special_text[which] = strdup(text);
    if (!tok->special_text[which])
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory");
    return CLIPT_OK;
}

/* CLIP's pre-tokenizer: the special tokens, the contractions 's 't 're 've
 * 'm 'll 'd (only after an ASCII apostrophe), runs of letters, single
 * digits, and runs of anything else but whitespace. Whitespace separates
 * matches and is dropped. The reference compiles it case-insensitively with
 * Python's regex module, which makes two details explicit here:
 *   - its \s is the 25 White_Space characters; PCRE2's \s also takes
 *     U+180E, so the class lists them;
 *   - U+0345 (combining ypogegrammeni) case-folds to a Greek letter, so the
 *     case-insensitive symbol class [^\s\p{L}\p{N}] rejects it while the
 *     letter class does not take it either: no alternative matches it and it
 *     is dropped like whitespace. It is left out of the symbol class. */
#define WHITE_SPACE                                                                                \
    "\\t\\n\\x0B\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"               \
    "\\x{202F}\\x{205F}\\x{3000}"
clipt_status clipt_tokenizer_compile_pattern(clipt_tokenizer *tok)
{
    char pattern[512];
    size_t w = 0;
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < tok->special_length[k]; i++) {
            unsigned char c = (unsigned char)tok->special_text[k][i];
            int alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
            if (w + 4 >= sizeof pattern / 2)
                return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                                       "special token \"%s\" is too long for the pre-tokenizer",
                                       tok->special_text[k]);
            if (!alnum && c < 0x80) pattern[w++] = '\\';
            pattern[w++] = (char)c;
        }
        pattern[w++] = '|';
    }
    const char *rest =
        "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^" WHITE_SPACE "\\x{345}\\p{L}\\p{N}]+";
    memcpy(pattern + w, rest, strlen(rest) + 1);

    int code;
    PCRE2_SIZE offset;
    tok->pattern = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS, &code, &offset, NULL);
    if (!tok->pattern) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(code, message, sizeof message);
        return clipt_set_error(CLIPT_ERR_INTERNAL, "pre-tokenizer pattern failed at %zu: %s",
                               (size_t)offset, (const char *)message);
    }
    /* Without JIT support PCRE2 interprets the pattern, more slowly. */
    pcre2_jit_compile(tok->pattern, PCRE2_JIT_COMPLETE);
    tok->match = pcre2_match_data_create_from_pattern(tok->pattern, NULL);
    if (!tok->match) return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory");
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Reading files                                                            */
/* ------------------------------------------------------------------------ */

static clipt_status open_error(const char *path)
{
    if (errno == ENOENT)
        return clipt_set_error(CLIPT_ERR_FILE_NOT_FOUND, "%s: file not found", path);
    return clipt_set_error(CLIPT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
}

/* Reads a whole file, gunzipping it when it is gzip (zlib reads plain files
 * as they are). The buffer gets a NUL after the last byte. */
static clipt_status read_file(const char *path, char **out, size_t *length)
{
    *out = NULL;
    gzFile f = gzopen(path, "rb");
    if (!f) return open_error(path);
    char *buf = NULL;
    size_t used = 0, capacity = 0;
    clipt_status status = CLIPT_OK;
    for (;;) {
        CLIPT_TRY_GOTO(clipt_grow((void **)&buf, &capacity, used + 65536 + 1, 1, path));
        int got = gzread(f, buf + used, 65536);
        if (got < 0) {
            int code;
            const char *message = gzerror(f, &code);
            status = clipt_set_error(code == Z_ERRNO ? CLIPT_ERR_IO : CLIPT_ERR_CORRUPT,
                                     "%s: read failed: %s", path,
                                     code == Z_ERRNO ? strerror(errno) : message);
            goto fail;
        }
        if (got == 0) break;
        used += (size_t)got;
    }
    if (gzclose_r(f) != Z_OK) {
        f = NULL;
        status =
            clipt_set_error(CLIPT_ERR_CORRUPT, "%s: the gzip stream is truncated or corrupt", path);
        goto fail;
    }
    buf[used] = '\0';
    *out = buf;
    *length = used;
    return CLIPT_OK;
fail:
    if (f) gzclose_r(f);
    free(buf);
    return status;
}

/* Splits text in place into lines at '\n' (a '\r' before it is dropped).
 * Returns the line starts in *lines (caller frees); a trailing newline does
 * not start another line. */
static clipt_status split_lines(char *text, size_t length, char ***lines, size_t *count)
{
    size_t n = 0, capacity = 0;
    char **list = NULL;
    size_t start = 0;
    while (start < length) {
        size_t end = start;
        while (end < length && text[end] != '\n')
            end++;
        size_t stop = end;
        if (stop > start && text[stop - 1] == '\r') stop--;
        text[stop] = '\0';
        clipt_status status =
            clipt_grow((void **)&list, &capacity, n + 1, sizeof *list, "merge lines");
        if (status != CLIPT_OK) {
            free(list);
            return status;
        }
        list[n++] = text + start;
        start = end + 1;
    }
    *lines = list;
    *count = n;
    return CLIPT_OK;
}

/* Splits a merge line "left right" in place. */
static int split_merge(char *line, char **left, char **right)
{
    char *space = strchr(line, ' ');
    if (!space || space == line || space[1] == '\0' || strchr(space + 1, ' ')) return 0;
    *space = '\0';
    *left = line;
    *right = space + 1;
    return 1;
}

/* Writes left + right into buf (size bytes); returns the length, or 0 when
 * it does not fit. */
static size_t concat(char *buf, size_t size, const char *left, const char *right)
{
    size_t a = strlen(left), b = strlen(right);
    if (a + b >= size) return 0;
    memcpy(buf, left, a);
    memcpy(buf + a, right, b + 1);
    return a + b;
}

/* Longest token string accepted in a merge, in bytes. */
#define MAX_TOKEN_BYTES 1024

/* ------------------------------------------------------------------------ */
/* OpenAI's .gz merges file                                                 */
/* ------------------------------------------------------------------------ */

static clipt_status load_openai(clipt_tokenizer *tok, const char *path)
{
    char *text = NULL, **lines = NULL;
    size_t length, count, bad;
    vocab_builder v;
    memset(&v, 0, sizeof v);
    clipt_status status = CLIPT_OK;

    CLIPT_TRY_GOTO(read_file(path, &text, &length));
    if (!clipt_utf8_valid((const uint8_t *)text, length, &bad)) {
        status =
            clipt_set_error(CLIPT_ERR_PARSE, "%s: invalid UTF-8 at byte offset %zu", path, bad);
        goto fail;
    }
    CLIPT_TRY_GOTO(split_lines(text, length, &lines, &count));
    if (count < 2) {
        status = clipt_set_error(CLIPT_ERR_PARSE,
                                 "%s: no merges after the header line; expected CLIP's "
                                 "bpe_simple_vocab_16e6.txt.gz",
                                 path);
        goto fail;
    }
    /* Line 0 is a header; the next CLIP_MERGE_COUNT lines are the merges. */
    size_t merges = count - 1 < CLIP_MERGE_COUNT ? count - 1 : CLIP_MERGE_COUNT;
    int32_t size = 512 + (int32_t)merges + 2;
    CLIPT_TRY_GOTO(builder_init(&v, size));

    uint32_t char_of_byte[256];
    int32_t order_of_byte[256];
    int byte_at[256];
    build_byte_table(char_of_byte, order_of_byte);
    for (int b = 0; b < 256; b++) {
        byte_at[order_of_byte[b]] = b;
        tok->byte_id[b] = order_of_byte[b];
        tok->byte_end_id[b] = 256 + order_of_byte[b];
    }
    for (int id = 0; id < 512; id++) {
        char s[8];
        size_t n = encode_char(char_of_byte[byte_at[id % 256]], s);
        if (id >= 256) {
            memcpy(s + n, END_OF_WORD, 4);
            n += 4;
        }
        CLIPT_TRY_GOTO(builder_set(&v, id, s, n));
    }

    CLIPT_TRY_GOTO(clipt_merge_table_init(&tok->merges, merges));
    for (size_t r = 0; r < merges; r++) {
        size_t line_number = r + 2;
        char *left, *right, merged[MAX_TOKEN_BYTES];
        if (!split_merge(lines[r + 1], &left, &right)) {
            status = clipt_set_error(CLIPT_ERR_PARSE,
                                     "%s: line %zu: expected two symbols separated by one space",
                                     path, line_number);
            goto fail;
        }
        int32_t left_id = builder_find(&v, left, strlen(left));
        int32_t right_id = builder_find(&v, right, strlen(right));
        if (left_id < 0 || right_id < 0) {
            status = clipt_set_error(CLIPT_ERR_PARSE,
                                     "%s: line %zu: symbol \"%s\" is neither a byte symbol nor "
                                     "the result of an earlier merge",
                                     path, line_number, left_id < 0 ? left : right);
            goto fail;
        }
        size_t n = concat(merged, sizeof merged, left, right);
        if (n == 0 || builder_find(&v, merged, n) >= 0) {
            status = clipt_set_error(CLIPT_ERR_PARSE,
                                     "%s: line %zu: merged symbol \"%s%s\" is too long or "
                                     "already in the vocabulary",
                                     path, line_number, left, right);
            goto fail;
        }
        int32_t merged_id = 512 + (int32_t)r;
        CLIPT_TRY_GOTO(builder_set(&v, merged_id, merged, n));
        clipt_merge_table_add(&tok->merges, left_id, right_id, (int32_t)r, merged_id);
    }

    CLIPT_TRY_GOTO(set_special(tok, CLIPT_SPECIAL_START, "<start_of_text>", size - 2));
    CLIPT_TRY_GOTO(set_special(tok, CLIPT_SPECIAL_END, "<end_of_text>", size - 1));
    for (int k = 0; k < 2; k++)
        CLIPT_TRY_GOTO(
            builder_set(&v, tok->special_id[k], tok->special_text[k], tok->special_length[k]));
    CLIPT_TRY_GOTO(build_decoder(tok, &v, char_of_byte, path));
    tok->vocab_size = size;

fail:
    builder_release(&v);
    free(lines);
    free(text);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Hugging Face vocab.json + merges.txt                                     */
/* ------------------------------------------------------------------------ */

static clipt_status read_vocab_json(const char *path, vocab_builder *v)
{
    struct stat st;
    if (stat(path, &st) != 0) return open_error(path);
    json_error_t error;
    json_t *root = json_load_file(path, 0, &error);
    if (!root)
        return clipt_set_error(CLIPT_ERR_PARSE, "%s:%d:%d: %s", path, error.line, error.column,
                               error.text);
    clipt_status status = CLIPT_OK;
    const char **by_id = NULL;
    const char *key;
    json_t *value;
    if (!json_is_object(root)) {
        status = clipt_set_error(CLIPT_ERR_PARSE,
                                 "%s: expected a JSON object mapping token strings to ids", path);
        goto fail;
    }
    json_int_t max_id = -1;
    json_object_foreach(root, key, value)
    {
        json_int_t id = json_is_integer(value) ? json_integer_value(value) : -1;
        if (id < 0 || id >= MAX_VOCAB_ID) {
            status = clipt_set_error(CLIPT_ERR_PARSE,
                                     "%s: token \"%s\" has id that is not an integer in [0, %d)",
                                     path, key, MAX_VOCAB_ID);
            goto fail;
        }
        if (id > max_id) max_id = id;
    }
    if (max_id < 0) {
        status = clipt_set_error(CLIPT_ERR_PARSE, "%s: the vocabulary is empty", path);
        goto fail;
    }
    by_id = calloc((size_t)max_id + 1, sizeof *by_id);
    if (!by_id) {
        status = clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory reading %s", path);
        goto fail;
    }
    json_object_foreach(root, key, value)
    {
        json_int_t id = json_integer_value(value);
        if (by_id[id]) {
            status = clipt_set_error(CLIPT_ERR_PARSE, "%s: tokens \"%s\" and \"%s\" share id %lld",
                                     path, by_id[id], key, (long long)id);
            goto fail;
        }
        by_id[id] = key;
    }
    CLIPT_TRY_GOTO(builder_init(v, (int32_t)max_id + 1));
    for (int32_t id = 0; id <= (int32_t)max_id; id++)
        if (by_id[id]) CLIPT_TRY_GOTO(builder_set(v, id, by_id[id], strlen(by_id[id])));
fail:
    free(by_id);
    json_decref(root);
    return status;
}

static clipt_status load_hf(clipt_tokenizer *tok, const char *vocab_path, const char *merges_path)
{
    char *text = NULL, **lines = NULL;
    size_t length, count, bad;
    vocab_builder v;
    memset(&v, 0, sizeof v);
    clipt_status status = CLIPT_OK;

    CLIPT_TRY_GOTO(read_vocab_json(vocab_path, &v));
    uint32_t char_of_byte[256];
    int32_t order_of_byte[256];
    build_byte_table(char_of_byte, order_of_byte);
    for (int b = 0; b < 256; b++) {
        char s[8];
        size_t n = encode_char(char_of_byte[b], s);
        tok->byte_id[b] = builder_find(&v, s, n);
        memcpy(s + n, END_OF_WORD, 4);
        tok->byte_end_id[b] = builder_find(&v, s, n + 4);
        if (tok->byte_id[b] < 0 || tok->byte_end_id[b] < 0) {
            status = clipt_set_error(CLIPT_ERR_PARSE,
                                     "%s: no token for byte 0x%02X (\"%.*s\" and \"%s\" are both "
                                     "needed); this is not CLIP's byte-level vocabulary",
                                     vocab_path, b, (int)n, s, s);
            goto fail;
        }
    }

    CLIPT_TRY_GOTO(read_file(merges_path, &text, &length));
    if (!clipt_utf8_valid((const uint8_t *)text, length, &bad)) {
        status = clipt_set_error(CLIPT_ERR_PARSE, "%s: invalid UTF-8 at byte offset %zu",
                                 merges_path, bad);
        goto fail;
    }
    CLIPT_TRY_GOTO(split_lines(text, length, &lines, &count));
    CLIPT_TRY_GOTO(clipt_merge_table_init(&tok->merges, count));
    /* Every line is a merge in rank order, except "#version" lines and
     * empty ones (as the tokenizers library reads the file). */
    int32_t rank = 0;
    for (size_t i = 0; i < count; i++) {
        if (lines[i][0] == '\0' || strncmp(lines[i], "#version", 8) == 0) continue;
        char *left, *right, merged[MAX_TOKEN_BYTES];
        if (!split_merge(lines[i], &left, &right)) {
            status = clipt_set_error(CLIPT_ERR_PARSE,
                                     "%s: line %zu: expected two symbols separated by one space",
                                     merges_path, i + 1);
            goto fail;
        }
        size_t n = concat(merged, sizeof merged, left, right);
        int32_t left_id = builder_find(&v, left, strlen(left));
        int32_t right_id = builder_find(&v, right, strlen(right));
        int32_t merged_id = n ? builder_find(&v, merged, n) : -1;
        if (left_id < 0 || right_id < 0 || merged_id < 0) {
            status = clipt_set_error(CLIPT_ERR_PARSE,
                                     "%s: line %zu: \"%s\", \"%s\" or \"%s%s\" is not in %s",
                                     merges_path, i + 1, left, right, left, right, vocab_path);
            goto fail;
        }
        if (!clipt_merge_table_add(&tok->merges, left_id, right_id, rank, merged_id)) {
            status = clipt_set_error(CLIPT_ERR_PARSE, "%s: line %zu: merge \"%s %s\" repeats",
                                     merges_path, i + 1, left, right);
            goto fail;
        }
        rank++;
    }

    const char *names[2] = {"<|startoftext|>", "<|endoftext|>"};
    for (int k = 0; k < 2; k++) {
        int32_t id = builder_find(&v, names[k], strlen(names[k]));
        if (id < 0) {
            status = clipt_set_error(CLIPT_ERR_PARSE, "%s: special token \"%s\" is missing",
                                     vocab_path, names[k]);
            goto fail;
        }
        CLIPT_TRY_GOTO(set_special(tok, k, names[k], id));
    }
    CLIPT_TRY_GOTO(build_decoder(tok, &v, char_of_byte, vocab_path));
    tok->vocab_size = v.size;

fail:
    builder_release(&v);
    free(lines);
    free(text);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Public loaders                                                           */
/* ------------------------------------------------------------------------ */

static clipt_status finish_load(clipt_tokenizer *tok, clipt_status status, clipt_tokenizer **out)
{
    if (status == CLIPT_OK) status = clipt_tokenizer_compile_pattern(tok);
    if (status != CLIPT_OK) {
        clipt_tokenizer_free(tok);
        return status;
    }
    *out = tok;
    return CLIPT_OK;
}

static clipt_status new_tokenizer(clipt_tokenizer **tok)
{
    *tok = calloc(1, sizeof **tok);
    if (!*tok) return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory");
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_tokenizer_load(const char *path, clipt_tokenizer **out)
{
    if (!out)
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "clipt_tokenizer_load: out is NULL");
    *out = NULL;
    if (!path)
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "clipt_tokenizer_load: path is NULL");
    struct stat st;
    if (stat(path, &st) != 0) return open_error(path);

    clipt_tokenizer *tok;
    CLIPT_TRY(new_tokenizer(&tok));
    if (!S_ISDIR(st.st_mode)) return finish_load(tok, load_openai(tok, path), out);

    size_t n = strlen(path);
    char *vocab = malloc(n + 16), *merges = malloc(n + 16);
    clipt_status status = CLIPT_OK;
    if (!vocab || !merges) {
        status = clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory");
    } else {
        snprintf(vocab, n + 16, "%s/vocab.json", path);
        snprintf(merges, n + 16, "%s/merges.txt", path);
        status = load_hf(tok, vocab, merges);
    }
    free(vocab);
    free(merges);
    return finish_load(tok, status, out);
}

CLIPT_API clipt_status clipt_tokenizer_load_hf(const char *vocab_json_path,
                                               const char *merges_txt_path, clipt_tokenizer **out)
{
    if (!out)
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "clipt_tokenizer_load_hf: out is NULL");
    *out = NULL;
    if (!vocab_json_path || !merges_txt_path)
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_tokenizer_load_hf: a path is NULL");
    clipt_tokenizer *tok;
    CLIPT_TRY(new_tokenizer(&tok));
    return finish_load(tok, load_hf(tok, vocab_json_path, merges_txt_path), out);
}
