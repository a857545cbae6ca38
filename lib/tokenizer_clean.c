/* Text cleaning before pre-tokenization, as open_clip's tokenizer does it
 * with its default clean "lower" (open_clip 3.3 src/open_clip/tokenizer.py):
 *
 *   1. ftfy.fix_text with ftfy 6's defaults;
 *   2. html.unescape twice, then strip;
 *   3. every run of whitespace becomes one space (Python's str.split());
 *   4. str.lower(), a full Unicode lower-casing.
 *
 * ftfy.fix_text splits the text into lines, each with its '\n', and cuts a
 * line longer than 1,000,000 code points there. On each line it repeats
 * these fixes until the line stops changing: unescape_html, fix_encoding,
 * fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes,
 * fix_line_breaks, fix_surrogates, remove_terminal_escapes,
 * remove_control_chars, then NFC. Its unescape_html is "auto", which turns
 * it off for the first line that contains '<' and for every line after it.
 *
 * NOTE: two of those fixes are not reproduced, so text that needs them
 * tokenizes differently from open_clip:
 *   - fix_encoding, ftfy's mojibake repair: it re-decodes runs that look like
 *     UTF-8 read as Latin-1, windows-1252 or MacRoman ("cafÃ©" becomes
 *     "café"), restores bytes A0 and 1A inside such runs, and decodes runs of
 *     mojibake embedded in other text. This library leaves such text as it
 *     is. ftfy skips the repair for pure-ASCII text and for text its
 *     heuristics find plausible, which ordinary text is.
 *   - fix_surrogates: UTF-8 cannot contain surrogate code points, so
 *     CESU-8 style surrogate pairs are rejected as invalid UTF-8 here,
 *     where ftfy would join them into one character.
 *
 * Hugging Face's CLIPTokenizer (the Rust tokenizers backend) skips ftfy and
 * HTML unescaping, lower-cases without the final-sigma rule and splits
 * whitespace differently, so it gives other ids for such text. This library
 * follows open_clip, whose cleaning is OpenAI's, the one CLIP was trained
 * with; on plain text, such as every WordNet lemma, the two agree.
 *
 * Character properties come from utf8proc 2.8 (Unicode 15) for NFC, NFKC of
 * the width forms, lower-casing and decimal digits, and from tables of
 * Python 3.11 (Unicode 14) for the rest. On every single character assigned
 * in Unicode 14 this cleaning gives what open_clip's gives (checked by
 * tests/test_tokenizer_oracle.c). */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer.h"

/* ftfy.fix_text cuts lines longer than this many code points (its
 * max_decode_length). */
#define FTFY_MAX_SEGMENT 1000000
/* The fixes settle after a few rounds, because a round past the first only
 * finds work that the previous round created, such as one more level of
 * "&amp;amp;". The bound on rounds only guards against a cycle. */
#define FTFY_MAX_ROUNDS_SLACK 8

/* The code point buffers of clipt_clean_buffers. */
enum { BUF_INPUT, BUF_FIXED, BUF_WORK_A, BUF_WORK_B, BUF_ROUND_START, BUF_SCRATCH };

clipt_status clipt_grow(void **buffer, size_t *capacity, size_t needed, size_t element,
                        const char *what)
{
    if (needed <= *capacity) return CLIPT_OK;
    size_t grown = *capacity ? *capacity : 64;
    while (grown < needed) {
        if (grown > SIZE_MAX / 2 / element)
            return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "%s: %zu elements is too many", what,
                                   needed);
        grown *= 2;
    }
    void *p = realloc(*buffer, grown * element);
    if (!p)
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory allocating %zu bytes for %s", grown * element,
                               what);
    *buffer = p;
    *capacity = grown;
    return CLIPT_OK;
}

/* Buffers always exist after a reserve, even for empty text, so pointer
 * arithmetic and memcpy never see NULL. */
static clipt_status reserve_cps(clipt_clean_buffers *b, int buffer, size_t needed)
{
    if (needed == 0) needed = 1;
    return clipt_grow((void **)&b->cps[buffer], &b->cps_capacity[buffer], needed, sizeof(uint32_t),
                      "tokenizer text buffer");
}

void clipt_clean_buffers_release(clipt_clean_buffers *buffers)
{
    for (int i = 0; i < CLIPT_CLEAN_BUFFERS; i++)
        free(buffers->cps[i]);
    free(buffers->norm);
    free(buffers->bytes);
    memset(buffers, 0, sizeof *buffers);
}

/* ------------------------------------------------------------------------ */
/* UTF-8                                                                    */
/* ------------------------------------------------------------------------ */

/* Decodes one UTF-8 sequence at s (n bytes available) into *cp and returns
 * its length, or 0 when the sequence is invalid: a stray continuation byte,
 * an overlong form, a surrogate, a value past U+10FFFF or a cut sequence. */
static size_t utf8_decode_one(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t length;
    uint32_t value, min_second = 0x80, max_second = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        length = 2;
        value = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        length = 3;
        value = c & 0x0F;
        if (c == 0xE0) min_second = 0xA0; /* overlong */
        if (c == 0xED) max_second = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        length = 4;
        value = c & 0x07;
        if (c == 0xF0) min_second = 0x90; /* overlong */
        if (c == 0xF4) max_second = 0x8F; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (n < length) return 0;
    if (s[1] < min_second || s[1] > max_second) return 0;
    value = (value << 6) | (s[1] & 0x3F);
    for (size_t i = 2; i < length; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        value = (value << 6) | (s[i] & 0x3F);
    }
    *cp = value;
    return length;
}

int clipt_utf8_valid(const uint8_t *text, size_t length, size_t *bad_offset)
{
    size_t i = 0;
    while (i < length) {
        uint32_t cp;
        size_t step = text[i] < 0x80 ? 1 : utf8_decode_one(text + i, length - i, &cp);
        if (step == 0) {
            *bad_offset = i;
            return 0;
        }
        i += step;
    }
    return 1;
}

static size_t utf8_encode_one(uint32_t cp, char *out)
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

/* Writes n code points as UTF-8 into buffers->bytes, NUL-terminated. */
static clipt_status encode_utf8(clipt_clean_buffers *b, const uint32_t *cps, size_t n,
                                size_t *length)
{
    CLIPT_TRY(
        clipt_grow((void **)&b->bytes, &b->bytes_capacity, 4 * n + 1, 1, "tokenizer text buffer"));
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        w += utf8_encode_one(cps[i], b->bytes + w);
    b->bytes[w] = '\0';
    *length = w;
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Unicode normalization through utf8proc                                   */
/* ------------------------------------------------------------------------ */

/* Normalizes n code points into dst (NFC, or NFKC with UTF8PROC_COMPAT in
 * options) and stores the new length in *out_n. */
static clipt_status normalize(clipt_clean_buffers *b, const uint32_t *src, size_t n, int dst,
                              utf8proc_option_t options, size_t *out_n)
{
    size_t length;
    CLIPT_TRY(encode_utf8(b, src, n, &length));
    options |= UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    for (;;) {
        utf8proc_ssize_t count =
            utf8proc_decompose((const utf8proc_uint8_t *)b->bytes, (utf8proc_ssize_t)length,
                               b->norm, (utf8proc_ssize_t)b->norm_capacity, options);
        if (count < 0)
            return clipt_set_error(CLIPT_ERR_INTERNAL, "utf8proc_decompose failed: %s",
                                   utf8proc_errmsg(count));
        if ((size_t)count > b->norm_capacity) {
            CLIPT_TRY(clipt_grow((void **)&b->norm, &b->norm_capacity, (size_t)count,
                                 sizeof(int32_t), "tokenizer normalization buffer"));
            continue;
        }
        count = utf8proc_normalize_utf32(b->norm, count, options);
        if (count < 0)
            return clipt_set_error(CLIPT_ERR_INTERNAL, "utf8proc_normalize_utf32 failed: %s",
                                   utf8proc_errmsg(count));
        CLIPT_TRY(reserve_cps(b, dst, (size_t)count));
        for (utf8proc_ssize_t i = 0; i < count; i++)
            b->cps[dst][i] = (uint32_t)b->norm[i];
        *out_n = (size_t)count;
        return CLIPT_OK;
    }
}

/* ------------------------------------------------------------------------ */
/* ftfy's fixes, one function each (dst has room for 3 * n code points)     */
/* ------------------------------------------------------------------------ */

/* fix_c1_controls: U+0080..U+009F read as windows-1252 bytes. */
static size_t fix_c1_controls(uint32_t *dst, const uint32_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (src[i] >= 0x80 && src[i] <= 0x9F) ? clipt_ftfy_c1_map[src[i] - 0x80] : src[i];
    return n;
}

/* fix_latin_ligatures: "ﬁ" becomes "fi", "ǆ" becomes "dž" and so on. */
static size_t fix_latin_ligatures(uint32_t *dst, const uint32_t *src, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        const clipt_ligature *found = NULL;
        if (src[i] >= 0x132) {
            for (size_t k = 0; k < clipt_ftfy_ligatures_count; k++)
                if (clipt_ftfy_ligatures[k].ligature == src[i]) found = &clipt_ftfy_ligatures[k];
        }
        if (!found) {
            dst[w++] = src[i];
            continue;
        }
        for (int k = 0; k < 3 && found->letters[k]; k++)
            dst[w++] = found->letters[k];
    }
    return w;
}

/* fix_character_width: U+3000 becomes a space and each of U+FF01..U+FFEF its
 * NFKC form (full-width ASCII, half-width katakana and Hangul). */
static clipt_status fix_character_width(clipt_clean_buffers *b, int dst, int src, size_t n,
                                        size_t *out_n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = b->cps[src][i];
        if (cp == 0x3000) {
            b->cps[dst][w++] = ' ';
        } else if (cp >= 0xFF01 && cp <= 0xFFEF) {
            size_t m;
            CLIPT_TRY(normalize(b, &cp, 1, BUF_SCRATCH, UTF8PROC_COMPAT, &m));
            CLIPT_TRY(reserve_cps(b, dst, w + m + 3 * (n - i - 1)));
            memcpy(b->cps[dst] + w, b->cps[BUF_SCRATCH], m * sizeof(uint32_t));
            w += m;
        } else {
            b->cps[dst][w++] = cp;
        }
    }
    *out_n = w;
    return CLIPT_OK;
}

/* uncurl_quotes: U+02BC and U+2018..U+201B become ', U+201C..U+201F ". */
static size_t uncurl_quotes(uint32_t *dst, const uint32_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = src[i];
        if (cp == 0x2BC || (cp >= 0x2018 && cp <= 0x201B))
            cp = '\'';
        else if (cp >= 0x201C && cp <= 0x201F)
            cp = '"';
        dst[i] = cp;
    }
    return n;
}

/* fix_line_breaks: CR LF, CR, U+2028, U+2029 and U+0085 become LF. */
static size_t fix_line_breaks(uint32_t *dst, const uint32_t *src, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = src[i];
        if (cp == '\r' && i + 1 < n && src[i + 1] == '\n') continue;
        if (cp == '\r' || cp == 0x2028 || cp == 0x2029 || cp == 0x85) cp = '\n';
        dst[w++] = cp;
    }
    return w;
}

/* remove_terminal_escapes: ESC [ (decimal digits or ';')* then an ASCII
 * letter. ftfy's \d is Unicode's decimal digits. */
static size_t remove_terminal_escapes(uint32_t *dst, const uint32_t *src, size_t n)
{
    size_t w = 0, i = 0;
    while (i < n) {
        if (src[i] == 0x1B && i + 1 < n && src[i + 1] == '[') {
            size_t j = i + 2;
            while (j < n && (src[j] == ';' ||
                             utf8proc_category((utf8proc_int32_t)src[j]) == UTF8PROC_CATEGORY_ND))
                j++;
            if (j < n && ((src[j] >= 'a' && src[j] <= 'z') || (src[j] >= 'A' && src[j] <= 'Z'))) {
                i = j + 1;
                continue;
            }
        }
        dst[w++] = src[i++];
    }
    return w;
}

/* remove_control_chars: C0 controls other than tab, LF, FF and CR, DEL, the
 * deprecated format controls U+206A..U+206F, U+FEFF and U+FFF9..U+FFFC. */
static int is_removed_control(uint32_t cp)
{
    if (cp < 0x20) return cp != '\t' && cp != '\n' && cp != '\f' && cp != '\r';
    return cp == 0x7F || (cp >= 0x206A && cp <= 0x206F) || cp == 0xFEFF ||
           (cp >= 0xFFF9 && cp <= 0xFFFC);
}

static size_t remove_control_chars(uint32_t *dst, const uint32_t *src, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_removed_control(src[i])) dst[w++] = src[i];
    return w;
}

/* ------------------------------------------------------------------------ */
/* ftfy.fix_text                                                            */
/* ------------------------------------------------------------------------ */

/* Characters that no fix changes when unescaping is off or no '&' is near. */
static int is_plain(uint32_t cp)
{
    return (cp >= 0x20 && cp < 0x7F) || cp == '\t' || cp == '\n';
}

/* Runs every fix once over the *n code points in buffer *cur. The result
 * is left in buffer *cur, which may now be the other work buffer. */
static clipt_status fix_round(clipt_clean_buffers *b, int *cur, size_t *n, int unescape)
{
    int src = *cur, dst = (src == BUF_WORK_A) ? BUF_WORK_B : BUF_WORK_A;
#define STEP(call)                                                                                 \
    do {                                                                                           \
        CLIPT_TRY(reserve_cps(b, dst, 3 * *n + 4));                                                \
        *n = (call);                                                                               \
        int swap_ = src;                                                                           \
        src = dst;                                                                                 \
        dst = swap_;                                                                               \
    } while (0)

    if (unescape) STEP(clipt_ftfy_unescape(b->cps[dst], b->cps[src], *n));
    STEP(fix_c1_controls(b->cps[dst], b->cps[src], *n));
    STEP(fix_latin_ligatures(b->cps[dst], b->cps[src], *n));
    CLIPT_TRY(reserve_cps(b, dst, 3 * *n + 4));
    CLIPT_TRY(fix_character_width(b, dst, src, *n, n));
    int swap = src;
    src = dst;
    dst = swap;
    STEP(uncurl_quotes(b->cps[dst], b->cps[src], *n));
    STEP(fix_line_breaks(b->cps[dst], b->cps[src], *n));
    STEP(remove_terminal_escapes(b->cps[dst], b->cps[src], *n));
    STEP(remove_control_chars(b->cps[dst], b->cps[src], *n));
#undef STEP

    /* NFC; text below U+0300 is already in NFC. */
    int needs_nfc = 0;
    for (size_t i = 0; i < *n && !needs_nfc; i++)
        needs_nfc = b->cps[src][i] >= 0x300;
    if (needs_nfc) {
        CLIPT_TRY(normalize(b, b->cps[src], *n, dst, 0, n));
        src = dst;
    }
    *cur = src;
    return CLIPT_OK;
}

/* Fixes one line (segment) of n code points from the input buffer at
 * offset start and appends the result to the fixed buffer at *fixed_n. */
static clipt_status fix_segment(clipt_clean_buffers *b, size_t start, size_t n, int unescape,
                                size_t *fixed_n)
{
    const uint32_t *segment = b->cps[BUF_INPUT] + start;
    int plain = 1;
    for (size_t i = 0; i < n && plain; i++)
        plain = is_plain(segment[i]) && !(unescape && segment[i] == '&');

    int cur = BUF_WORK_A;
    size_t m = n;
    if (plain) {
        CLIPT_TRY(reserve_cps(b, cur, n));
        memcpy(b->cps[cur], segment, n * sizeof *segment);
    } else {
        CLIPT_TRY(reserve_cps(b, cur, n));
        memcpy(b->cps[cur], segment, n * sizeof *segment);
        /* Repeat the fixes until a round changes nothing, as ftfy does. */
        for (size_t round = 0; round < n + FTFY_MAX_ROUNDS_SLACK; round++) {
            CLIPT_TRY(reserve_cps(b, BUF_ROUND_START, m));
            memcpy(b->cps[BUF_ROUND_START], b->cps[cur], m * sizeof(uint32_t));
            size_t before = m;
            CLIPT_TRY(fix_round(b, &cur, &m, unescape));
            if (m == before &&
                memcmp(b->cps[cur], b->cps[BUF_ROUND_START], m * sizeof(uint32_t)) == 0)
                break;
        }
    }
    CLIPT_TRY(reserve_cps(b, BUF_FIXED, *fixed_n + m));
    memcpy(b->cps[BUF_FIXED] + *fixed_n, b->cps[cur], m * sizeof(uint32_t));
    *fixed_n += m;
    return CLIPT_OK;
}

/* ftfy.fix_text over the input buffer; the result goes to the fixed buffer. */
static clipt_status ftfy_fix_text(clipt_clean_buffers *b, size_t n, size_t *fixed_n)
{
    const uint32_t *text = b->cps[BUF_INPUT];
    int unescape = 1;
    *fixed_n = 0;
    size_t pos = 0;
    while (pos < n) {
        size_t end = pos;
        while (end < n && text[end] != '\n')
            end++;
        end = end < n ? end + 1 : n;
        if (end - pos > FTFY_MAX_SEGMENT) end = pos + FTFY_MAX_SEGMENT;
        /* "auto" unescaping switches off for good at the first '<'. */
        for (size_t i = pos; i < end && unescape; i++)
            if (text[i] == '<') unescape = 0;
        CLIPT_TRY(fix_segment(b, pos, end - pos, unescape, fixed_n));
        pos = end;
    }
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Whitespace and lower-casing                                              */
/* ------------------------------------------------------------------------ */

/* Python's str.isspace() (Unicode 14): bidirectional classes WS, B and S,
 * and general category Zs. U+001C..U+001F count; U+200B does not. */
static int is_python_space(uint32_t cp)
{
    if (cp < 0x80) return cp == ' ' || (cp >= '\t' && cp <= '\r') || (cp >= 0x1C && cp <= 0x1F);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* " ".join(text.split()), in place; returns the new length. */
static size_t collapse_whitespace(uint32_t *text, size_t n)
{
    size_t w = 0;
    int pending_space = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_python_space(text[i])) {
            pending_space = w > 0;
            continue;
        }
        if (pending_space) text[w++] = ' ';
        pending_space = 0;
        text[w++] = text[i];
    }
    return w;
}

/* str.lower()'s final-sigma rule: U+03A3 at position i becomes U+03C2 when
 * a cased letter comes before it and none after it, skipping
 * case-ignorable characters (apostrophes, combining marks, ...) both ways. */
static int is_final_sigma(const uint32_t *text, size_t n, size_t i)
{
#define IGNORABLE(c)                                                                               \
    clipt_in_ranges(clipt_case_ignorable_ranges, clipt_case_ignorable_ranges_count, (c))
#define CASED(c) clipt_in_ranges(clipt_cased_ranges, clipt_cased_ranges_count, (c))
    size_t j = i;
    while (j > 0 && IGNORABLE(text[j - 1]))
        j--;
    if (j == 0 || !CASED(text[j - 1])) return 0;
    j = i + 1;
    while (j < n && IGNORABLE(text[j]))
        j++;
    return j == n || !CASED(text[j]);
#undef IGNORABLE
#undef CASED
}

/* str.lower(): utf8proc's simple lower-case mapping, except that U+0130
 * becomes "i" + U+0307 (its full mapping) and U+03A3 follows the final-sigma
 * rule. dst has room for 2 * n code points. */
static size_t lower_case(uint32_t *dst, const uint32_t *src, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = src[i];
        if (cp < 0x80) {
            dst[w++] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
        } else if (cp == 0x130) {
            dst[w++] = 'i';
            dst[w++] = 0x307;
        } else if (cp == 0x3A3) {
            dst[w++] = is_final_sigma(src, n, i) ? 0x3C2 : 0x3C3;
        } else {
            dst[w++] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
        }
    }
    return w;
}

/* ------------------------------------------------------------------------ */
/* The whole clean                                                          */
/* ------------------------------------------------------------------------ */

/* Text of printable ASCII, tabs and line feeds without '&' passes every
 * ftfy fix and html.unescape unchanged, so only the whitespace and ASCII
 * lower-casing remain. Returns 0 when the text needs the full path. */
static int clean_plain_ascii(clipt_clean_buffers *b, const uint8_t *text, size_t length,
                             size_t *cleaned_length)
{
    for (size_t i = 0; i < length; i++)
        if (!is_plain(text[i]) || text[i] == '&') return 0;
    size_t w = 0;
    int pending_space = 0;
    for (size_t i = 0; i < length; i++) {
        uint8_t c = text[i];
        if (c == ' ' || c == '\t' || c == '\n') {
            pending_space = w > 0;
            continue;
        }
        if (pending_space) b->bytes[w++] = ' ';
        pending_space = 0;
        b->bytes[w++] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
    b->bytes[w] = '\0';
    *cleaned_length = w;
    return 1;
}

clipt_status clipt_text_clean(clipt_clean_buffers *b, const char *text, size_t length,
                              size_t *cleaned_length)
{
    const uint8_t *bytes = (const uint8_t *)text;
    CLIPT_TRY(
        clipt_grow((void **)&b->bytes, &b->bytes_capacity, length + 1, 1, "tokenizer text buffer"));
    if (clean_plain_ascii(b, bytes, length, cleaned_length)) return CLIPT_OK;

    /* Decode, rejecting invalid UTF-8 with the offset of the bad byte. */
    CLIPT_TRY(reserve_cps(b, BUF_INPUT, length));
    size_t n = 0;
    for (size_t i = 0; i < length;) {
        uint32_t cp;
        size_t step = utf8_decode_one(bytes + i, length - i, &cp);
        if (step == 0)
            return clipt_set_error(CLIPT_ERR_INVALID_UTF8,
                                   "invalid UTF-8 at byte offset %zu (byte 0x%02X); the "
                                   "tokenizer accepts UTF-8 text only",
                                   i, bytes[i]);
        b->cps[BUF_INPUT][n++] = cp;
        i += step;
    }

    /* 1. ftfy.fix_text. */
    size_t fixed_n;
    CLIPT_TRY(ftfy_fix_text(b, n, &fixed_n));

    /* 2. html.unescape twice (the strip is part of step 3). */
    CLIPT_TRY(reserve_cps(b, BUF_WORK_A, fixed_n));
    n = clipt_html_unescape(b->cps[BUF_WORK_A], b->cps[BUF_FIXED], fixed_n);
    n = clipt_html_unescape(b->cps[BUF_FIXED], b->cps[BUF_WORK_A], n);

    /* 3. Whitespace runs to one space, stripped. */
    n = collapse_whitespace(b->cps[BUF_FIXED], n);

    /* 4. Lower-case, then back to UTF-8. */
    CLIPT_TRY(reserve_cps(b, BUF_WORK_A, 2 * n));
    n = lower_case(b->cps[BUF_WORK_A], b->cps[BUF_FIXED], n);
    return encode_utf8(b, b->cps[BUF_WORK_A], n, cleaned_length);
}
