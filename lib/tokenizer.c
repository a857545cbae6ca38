/* The tokenizer's public calls: encoding one text or a batch, decoding, and
 * releasing a tokenizer. Loading is in tokenizer_load.c. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

CLIPT_API void clipt_tokenizer_free(clipt_tokenizer *tok)
{
    if (!tok) return;
    clipt_merge_table_release(&tok->merges);
    for (int k = 0; k < 2; k++)
        free(tok->special_text[k]);
    free(tok->token_offset);
    free(tok->token_known);
    free(tok->token_bytes);
    pcre2_match_data_free(tok->match);
    pcre2_code_free(tok->pattern);
    clipt_word_cache_release(&tok->cache);
    clipt_bpe_buffers_release(&tok->bpe);
    clipt_clean_buffers_release(&tok->clean);
    free(tok->ids);
    free(tok);
}

CLIPT_API int32_t clipt_tokenizer_vocab_size(const clipt_tokenizer *tok)
{
    return tok->vocab_size;
}

CLIPT_API int32_t clipt_tokenizer_start_id(const clipt_tokenizer *tok)
{
    return tok->special_id[CLIPT_SPECIAL_START];
}

CLIPT_API int32_t clipt_tokenizer_end_id(const clipt_tokenizer *tok)
{
    return tok->special_id[CLIPT_SPECIAL_END];
}

/* ------------------------------------------------------------------------ */
/* Pre-tokenizer                                                            */
/* ------------------------------------------------------------------------ */

/* CLIP's pre-tokenizer: the special tokens, the contractions 's 't 're 've
 * 'm 'll 'd (only after an ASCII apostrophe), runs of letters, single
 * digits, and runs of anything else but whitespace. Whitespace separates
 * matches and is dropped. The reference compiles it case-insensitively with
 * Python's regex module, and two details of that module are spelled out:
 *   - Its \s is the 25 White_Space characters. PCRE2's \s also matches
 *     U+180E, so the class lists them.
 *   - U+0345 (combining ypogegrammeni) case-folds to a Greek letter, so the
 *     reference's case-insensitive symbol class rejects it, and its letter
 *     class does not match it either. It is dropped like whitespace there,
 *     so it is left out of the symbol class here.
 * NOTE: \p{L} and \p{N} use PCRE2's tables (Unicode 14 in PCRE2 10.42), so a
 * letter assigned after Unicode 14 is a symbol here but a letter for the
 * reference, whose regex module knows newer Unicode versions. */
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
/* Encoding                                                                 */
/* ------------------------------------------------------------------------ */

static clipt_status push_id(clipt_tokenizer *tok, size_t *count, int32_t id)
{
    CLIPT_TRY(clipt_grow((void **)&tok->ids, &tok->ids_capacity, *count + 1, sizeof(int32_t),
                         "token ids"));
    tok->ids[(*count)++] = id;
    return CLIPT_OK;
}

/* Encodes text into tok->ids without truncation: the start id, the ids of
 * each pre-token of the cleaned text, the end id. */
static clipt_status encode_full(clipt_tokenizer *tok, const char *text, size_t *count)
{
    size_t length;
    CLIPT_TRY(clipt_text_clean(&tok->clean, text, strlen(text), &length));
    const uint8_t *s = (const uint8_t *)tok->clean.bytes;

    *count = 0;
    CLIPT_TRY(push_id(tok, count, tok->special_id[CLIPT_SPECIAL_START]));
    PCRE2_SIZE offset = 0;
    while (offset < length) {
        /* The cleaned text is valid UTF-8 by construction. */
        int rc = pcre2_match(tok->pattern, s, length, offset, PCRE2_NO_UTF_CHECK, tok->match, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(rc, message, sizeof message);
            return clipt_set_error(CLIPT_ERR_INTERNAL, "pre-tokenizer match failed: %s",
                                   (const char *)message);
        }
        const PCRE2_SIZE *match = pcre2_get_ovector_pointer(tok->match);
        size_t start = match[0], end = match[1];
        int special = -1;
        for (int k = 0; k < 2; k++)
            if (end - start == tok->special_length[k] &&
                memcmp(s + start, tok->special_text[k], end - start) == 0)
                special = k;
        if (special >= 0)
            CLIPT_TRY(push_id(tok, count, tok->special_id[special]));
        else
            CLIPT_TRY(clipt_tokenizer_bpe(tok, s + start, end - start, count));
        offset = end;
    }
    return push_id(tok, count, tok->special_id[CLIPT_SPECIAL_END]);
}

/* Copies the first capacity ids of tok->ids to ids; when that cuts the
 * row, its last id becomes the end id. */
static int copy_truncated(const clipt_tokenizer *tok, size_t count, int32_t *ids, int capacity)
{
    size_t keep = count < (size_t)capacity ? count : (size_t)capacity;
    memcpy(ids, tok->ids, keep * sizeof *ids);
    if (count > keep) ids[keep - 1] = tok->special_id[CLIPT_SPECIAL_END];
    return (int)keep;
}

CLIPT_API clipt_status clipt_tokenizer_encode(clipt_tokenizer *tok, const char *text, int32_t *ids,
                                              int capacity, int *n)
{
    if (!tok || !text || !ids || !n)
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_tokenizer_encode: tok, text, ids and n must not be NULL");
    if (capacity < 2)
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_tokenizer_encode: capacity %d leaves no room for the start "
                               "and end ids; pass at least 2",
                               capacity);
    size_t count;
    clipt_status status = encode_full(tok, text, &count);
    if (status != CLIPT_OK) return clipt_error_prefix(status, "clipt_tokenizer_encode");
    *n = copy_truncated(tok, count, ids, capacity);
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_tokenizer_count(clipt_tokenizer *tok, const char *text, int *n)
{
    if (!tok || !text || !n)
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_tokenizer_count: tok, text and n must not be NULL");
    size_t count;
    clipt_status status = encode_full(tok, text, &count);
    if (status != CLIPT_OK) return clipt_error_prefix(status, "clipt_tokenizer_count");
    if (count > INT32_MAX)
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_tokenizer_count: the text encodes to %zu ids, more than "
                               "fits in an int",
                               count);
    *n = (int)count;
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_tokenizer_encode_batch(clipt_tokenizer *tok, const char *const *texts,
                                                    int B, int T, int32_t *ids, int32_t *eot)
{
    if (!tok || !texts || !ids || !eot)
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_tokenizer_encode_batch: tok, texts, ids and eot must not "
                               "be NULL");
    if (B < 1 || T < 2)
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_tokenizer_encode_batch: B = %d, T = %d; need B >= 1 and "
                               "T >= 2 (room for the start and end ids)",
                               B, T);
    for (int b = 0; b < B; b++) {
        if (!texts[b])
            return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                   "clipt_tokenizer_encode_batch: text %d is NULL", b);
        size_t count;
        clipt_status status = encode_full(tok, texts[b], &count);
        if (status != CLIPT_OK)
            return clipt_error_prefix(status, "clipt_tokenizer_encode_batch: text %d", b);
        int32_t *row = ids + (size_t)b * (size_t)T;
        int n = copy_truncated(tok, count, row, T);
        memset(row + n, 0, (size_t)(T - n) * sizeof *row);
        eot[b] = n - 1;
    }
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */
/* ------------------------------------------------------------------------ */

/* Length of the UTF-8 sequence at s (n bytes left), or, with *valid = 0, of
 * its maximal invalid prefix (at least 1 byte), which Python's "replace"
 * error handler turns into one U+FFFD. */
static size_t utf8_step(const uint8_t *s, size_t n, int *valid)
{
    uint8_t c = s[0];
    size_t length;
    uint8_t lo = 0x80, hi = 0xBF;
    *valid = 0;
    if (c < 0x80) {
        *valid = 1;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        length = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        length = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        length = 4;
    else
        return 1;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    size_t i = 1;
    for (; i < length && i < n; i++) {
        uint8_t min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xBF;
        if (s[i] < min || s[i] > max) return i;
    }
    *valid = i == length;
    return i;
}

CLIPT_API clipt_status clipt_tokenizer_decode(const clipt_tokenizer *tok, const int32_t *ids, int n,
                                              char *text, size_t size, size_t *length)
{
    if (!tok || (!ids && n > 0) || n < 0 || (!text && size > 0) || !length)
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_tokenizer_decode: NULL pointer or n = %d < 0", n);
    /* Gather the tokens' bytes. */
    size_t raw_length = 0;
    for (int i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= tok->vocab_size || !tok->token_known[id])
            return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                   "clipt_tokenizer_decode: ids[%d] = %d is not in the "
                                   "vocabulary of %d tokens",
                                   i, id, tok->vocab_size);
        raw_length += tok->token_offset[id + 1] - tok->token_offset[id];
    }
    uint8_t *raw = malloc(raw_length + 1);
    /* Each invalid byte may become the 3 bytes of U+FFFD. */
    char *decoded = malloc(3 * raw_length + 1);
    if (!raw || !decoded) {
        free(raw);
        free(decoded);
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory decoding %d ids", n);
    }
    size_t w = 0;
    for (int i = 0; i < n; i++) {
        uint32_t begin = tok->token_offset[ids[i]], end = tok->token_offset[ids[i] + 1];
        memcpy(raw + w, tok->token_bytes + begin, end - begin);
        w += end - begin;
    }

    /* UTF-8 with U+FFFD for invalid sequences, then "</w>" to a space. */
    size_t d = 0;
    for (size_t i = 0; i < raw_length;) {
        int valid;
        size_t step = utf8_step(raw + i, raw_length - i, &valid);
        if (valid) {
            memcpy(decoded + d, raw + i, step);
            d += step;
        } else {
            memcpy(decoded + d, "\xEF\xBF\xBD", 3);
            d += 3;
        }
        i += step;
    }
    size_t out = 0;
    for (size_t i = 0; i < d;) {
        if (i + 4 <= d && memcmp(decoded + i, "</w>", 4) == 0) {
            decoded[out++] = ' ';
            i += 4;
        } else {
            decoded[out++] = decoded[i++];
        }
    }
    *length = out;

    if (size > 0) {
        size_t keep = out < size - 1 ? out : size - 1;
        /* Cut before a continuation byte rather than inside a character. */
        while (keep > 0 && keep < out && ((uint8_t)decoded[keep] & 0xC0) == 0x80)
            keep--;
        memcpy(text, decoded, keep);
        text[keep] = '\0';
    }
    free(raw);
    free(decoded);
    return CLIPT_OK;
}
