/* Loading CLIP's BPE vocabulary from its two file formats.
 *
 * OpenAI's bpe_simple_vocab_16e6.txt.gz (gzip text, one merge "a b" per
 * line after a header line) lists about 262,000 merges, but CLIP uses only
 * the first 48,894 of them. The vocabulary was sized for 49,152 entries:
 * the 256 single-byte symbols, the 2 special tokens and 49,152 - 256 - 2
 * merges fill that budget. The end-of-word forms of the 256 bytes come on
 * top, for 49,408 ids in all, assigned in this order:
 *   0..255     the byte symbols, in the byte table's order (below);
 *   256..511   the same symbols with "</w>" appended (end-of-word forms);
 *   512 + r    the symbol that merge r produces;
 *   49406      start of text, the id after the last merge;
 *   49407      end of text.
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

#include "fileio.h"
#include "tokenizer.h"

/* Merges CLIP takes from the .gz file: 49152 - 256 - 2. */
#define CLIP_MERGE_COUNT 48894
#define END_OF_WORD "</w>"
/* Upper bound on vocab.json ids, to reject files that are not a vocabulary. */
#define MAX_VOCAB_ID (1 << 24)

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
    CLIPT_TRY(clipt_require_regular_file(path, "tokenizer file"));
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

/* Maximum length of a merged token string, in bytes. */
#define MAX_TOKEN_BYTES 1024

/* ------------------------------------------------------------------------ */
/* OpenAI's .gz merges file                                                 */
/* ------------------------------------------------------------------------ */

static clipt_status load_openai(clipt_tokenizer *tok, const char *path)
{
    char *text = NULL, **lines = NULL;
    size_t length, count, bad;
    clipt_vocab_builder v;
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
    CLIPT_TRY_GOTO(clipt_vocab_builder_init(&v, size));

    uint32_t char_of_byte[256];
    int32_t order_of_byte[256];
    int byte_at[256];
    clipt_byte_table(char_of_byte, order_of_byte);
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
        CLIPT_TRY_GOTO(clipt_vocab_builder_set(&v, id, s, n));
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
        int32_t left_id = clipt_vocab_builder_find(&v, left, strlen(left));
        int32_t right_id = clipt_vocab_builder_find(&v, right, strlen(right));
        if (left_id < 0 || right_id < 0) {
            status = clipt_set_error(CLIPT_ERR_PARSE,
                                     "%s: line %zu: symbol \"%s\" is neither a byte symbol nor "
                                     "the result of an earlier merge",
                                     path, line_number, left_id < 0 ? left : right);
            goto fail;
        }
        size_t n = concat(merged, sizeof merged, left, right);
        if (n == 0 || clipt_vocab_builder_find(&v, merged, n) >= 0) {
            status = clipt_set_error(CLIPT_ERR_PARSE,
                                     "%s: line %zu: merged symbol \"%s%s\" is too long or "
                                     "already in the vocabulary",
                                     path, line_number, left, right);
            goto fail;
        }
        int32_t merged_id = 512 + (int32_t)r;
        CLIPT_TRY_GOTO(clipt_vocab_builder_set(&v, merged_id, merged, n));
        clipt_merge_table_add(&tok->merges, left_id, right_id, (int32_t)r, merged_id);
    }

    CLIPT_TRY_GOTO(
        clipt_tokenizer_set_special(tok, CLIPT_SPECIAL_START, "<start_of_text>", size - 2));
    CLIPT_TRY_GOTO(clipt_tokenizer_set_special(tok, CLIPT_SPECIAL_END, "<end_of_text>", size - 1));
    for (int k = 0; k < 2; k++)
        CLIPT_TRY_GOTO(clipt_vocab_builder_set(&v, tok->special_id[k], tok->special_text[k],
                                               tok->special_length[k]));
    CLIPT_TRY_GOTO(clipt_tokenizer_build_decoder(tok, &v, char_of_byte, path));
    tok->vocab_size = size;

fail:
    clipt_vocab_builder_release(&v);
    free(lines);
    free(text);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Hugging Face vocab.json + merges.txt                                     */
/* ------------------------------------------------------------------------ */

static clipt_status read_vocab_json(const char *path, clipt_vocab_builder *v)
{
    struct stat st;
    if (stat(path, &st) != 0) return open_error(path);
    CLIPT_TRY(clipt_require_regular_file(path, "tokenizer file"));
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
    CLIPT_TRY_GOTO(clipt_vocab_builder_init(v, (int32_t)max_id + 1));
    for (int32_t id = 0; id <= (int32_t)max_id; id++)
        if (by_id[id]) CLIPT_TRY_GOTO(clipt_vocab_builder_set(v, id, by_id[id], strlen(by_id[id])));
fail:
    free(by_id);
    json_decref(root);
    return status;
}

static clipt_status load_hf(clipt_tokenizer *tok, const char *vocab_path, const char *merges_path)
{
    char *text = NULL, **lines = NULL;
    size_t length, count, bad;
    clipt_vocab_builder v;
    memset(&v, 0, sizeof v);
    clipt_status status = CLIPT_OK;

    CLIPT_TRY_GOTO(read_vocab_json(vocab_path, &v));
    uint32_t char_of_byte[256];
    int32_t order_of_byte[256];
    clipt_byte_table(char_of_byte, order_of_byte);
    for (int b = 0; b < 256; b++) {
        char s[8];
        size_t n = encode_char(char_of_byte[b], s);
        tok->byte_id[b] = clipt_vocab_builder_find(&v, s, n);
        memcpy(s + n, END_OF_WORD, 4);
        tok->byte_end_id[b] = clipt_vocab_builder_find(&v, s, n + 4);
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
        int32_t left_id = clipt_vocab_builder_find(&v, left, strlen(left));
        int32_t right_id = clipt_vocab_builder_find(&v, right, strlen(right));
        int32_t merged_id = n ? clipt_vocab_builder_find(&v, merged, n) : -1;
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
        int32_t id = clipt_vocab_builder_find(&v, names[k], strlen(names[k]));
        if (id < 0) {
            status = clipt_set_error(CLIPT_ERR_PARSE, "%s: special token \"%s\" is missing",
                                     vocab_path, names[k]);
            goto fail;
        }
        CLIPT_TRY_GOTO(clipt_tokenizer_set_special(tok, k, names[k], id));
    }
    CLIPT_TRY_GOTO(clipt_tokenizer_build_decoder(tok, &v, char_of_byte, vocab_path));
    tok->vocab_size = v.size;

fail:
    clipt_vocab_builder_release(&v);
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
