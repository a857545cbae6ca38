/* HTML character references, decoded the two ways CLIP's reference cleaning
 * decodes them: Python's html.unescape (run twice after ftfy) and ftfy's own
 * stricter unescape_html (run inside ftfy's fix loop). Both work on code
 * points and follow the matching rules of the Python sources: CPython 3.11
 * Lib/html/__init__.py and ftfy 6.3 ftfy/fixes.py. */
#include <string.h>

#include "tokenizer.h"

/* Maximum length of a name that html.unescape matches, in characters. */
#define HTML_NAME_MAX 32
/* ftfy matches &name; and &#name; with 1 to 24 letters or digits. */
#define FTFY_NAME_MAX 24

/* ------------------------------------------------------------------------ */
/* Table lookups                                                            */
/* ------------------------------------------------------------------------ */

/* Finds the entity whose name equals the code points name[0..length), or
 * returns NULL. Entity names are ASCII, so any other code point misses. */
static const clipt_entity *find_entity(const clipt_entity *table, size_t count,
                                       const uint32_t *name, size_t length)
{
    char key[HTML_NAME_MAX + 2];
    if (length == 0 || length >= sizeof key) return NULL;
    for (size_t i = 0; i < length; i++) {
        if (name[i] >= 0x80) return NULL;
        key[i] = (char)name[i];
    }
    key[length] = '\0';

    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int order = strcmp(table[mid].name, key);
        if (order == 0) return &table[mid];
        if (order < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int clipt_in_ranges(const clipt_codepoint_range *ranges, size_t count, uint32_t cp)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < ranges[mid].first)
            hi = mid;
        else if (cp > ranges[mid].last)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

static size_t write_entity(uint32_t *dst, const clipt_entity *entity)
{
    size_t n = 0;
    while (n < 3 && entity->value[n] != 0) {
        dst[n] = entity->value[n];
        n++;
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* html.unescape                                                            */
/* ------------------------------------------------------------------------ */

static int is_ascii_digit(uint32_t c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(uint32_t c)
{
    if (c >= '0' && c <= '9') return (int)(c - '0');
    if (c >= 'a' && c <= 'f') return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return (int)(c - 'A' + 10);
    return -1;
}

/* Writes what the numeric reference &#num; decodes to, 0 or 1 code point.
 * The C1 range, NUL and CR get HTML5's replacements, surrogates and numbers
 * past U+10FFFF become U+FFFD, and the code points HTML5 forbids vanish. */
static size_t write_numeric(uint32_t *dst, uint32_t num)
{
    for (size_t i = 0; i < clipt_html_invalid_charrefs_count; i++) {
        if (clipt_html_invalid_charrefs[i].from == num) {
            dst[0] = clipt_html_invalid_charrefs[i].to;
            return 1;
        }
    }
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
        dst[0] = 0xFFFD;
        return 1;
    }
    if (clipt_in_ranges(clipt_html_dropped_codepoints, clipt_html_dropped_codepoints_count, num))
        return 0;
    dst[0] = num;
    return 1;
}

/* Names may contain any character but these (html.unescape's [^\t\n\f <&#;]). */
static int is_name_char(uint32_t c)
{
    return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' && c != '#' &&
           c != ';';
}

/* Decodes the reference that starts after an '&' at s (m code points
 * follow). Returns how many code points after the '&' it consumed, or 0 when
 * nothing is replaced there; the replacement goes to dst, its length to
 * *written. */
static size_t unescape_reference(const uint32_t *s, size_t m, uint32_t *dst, size_t *written)
{
    *written = 0;
    if (m >= 2 && s[0] == '#' && is_ascii_digit(s[1])) {
        /* &#123 with an optional ';'; large numbers saturate above U+10FFFF. */
        uint32_t num = 0;
        size_t j = 1;
        for (; j < m && is_ascii_digit(s[j]); j++) {
            num = num * 10 + (s[j] - '0');
            if (num > 0x10FFFF) num = 0x110000;
        }
        if (j < m && s[j] == ';') j++;
        *written = write_numeric(dst, num);
        return j;
    }
    if (m >= 3 && s[0] == '#' && (s[1] == 'x' || s[1] == 'X') && hex_value(s[2]) >= 0) {
        uint32_t num = 0;
        size_t j = 2;
        for (; j < m && hex_value(s[j]) >= 0; j++) {
            num = num * 16 + (uint32_t)hex_value(s[j]);
            if (num > 0x10FFFF) num = 0x110000;
        }
        if (j < m && s[j] == ';') j++;
        *written = write_numeric(dst, num);
        return j;
    }

    /* A name of 1 to 32 characters and an optional ';'. */
    size_t j = 0;
    while (j < m && j < HTML_NAME_MAX && is_name_char(s[j]))
        j++;
    if (j == 0) return 0;
    size_t length = j + (j < m && s[j] == ';');
    const clipt_entity *entity =
        find_entity(clipt_html5_entities, clipt_html5_entities_count, s, length);
    if (entity) {
        *written = write_entity(dst, entity);
        return length;
    }
    /* Otherwise the longest prefix of at least two characters that is a
     * name (only the legacy names without ';' can be one), followed by the
     * rest of the match as it was. */
    for (size_t x = length - 1; x >= 2; x--) {
        entity = find_entity(clipt_html5_entities, clipt_html5_entities_count, s, x);
        if (entity) {
            size_t n = write_entity(dst, entity);
            memcpy(dst + n, s + x, (length - x) * sizeof *s);
            *written = n + (length - x);
            return length;
        }
    }
    return 0;
}

size_t clipt_html_unescape(uint32_t *dst, const uint32_t *src, size_t n)
{
    size_t w = 0, i = 0;
    while (i < n) {
        if (src[i] != '&') {
            dst[w++] = src[i++];
            continue;
        }
        size_t written;
        size_t consumed = unescape_reference(src + i + 1, n - i - 1, dst + w, &written);
        if (consumed == 0) {
            dst[w++] = src[i++];
            continue;
        }
        w += written;
        i += 1 + consumed;
    }
    return w;
}

/* ------------------------------------------------------------------------ */
/* ftfy's unescape_html                                                     */
/* ------------------------------------------------------------------------ */

static int is_ascii_alnum(uint32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Decodes the reference "&#?[0-9A-Za-z]{1,24};" that starts at s[0] == '&'
 * (m code points from s on). Returns the length of the match, 0 when there
 * is none; *written receives the replacement's length, or SIZE_MAX when the
 * match stays as it is. */
static size_t ftfy_reference(const uint32_t *s, size_t m, uint32_t *dst, size_t *written)
{
    size_t start = 1 + (m > 1 && s[1] == '#');
    size_t k = start;
    while (k < m && k - start <= FTFY_NAME_MAX && is_ascii_alnum(s[k]))
        k++;
    size_t run = k - start;
    if (run < 1 || run > FTFY_NAME_MAX || k >= m || s[k] != ';') return 0;
    size_t length = k + 1;

    *written = SIZE_MAX;
    if (start == 1) {
        /* Named: the HTML5 names that end in ';', then ftfy's upper-case
         * additions; an unknown name stays. */
        const clipt_entity *entity =
            find_entity(clipt_html5_entities, clipt_html5_entities_count, s + 1, length - 1);
        if (!entity)
            entity = find_entity(clipt_ftfy_upper_entities, clipt_ftfy_upper_entities_count, s + 1,
                                 length - 1);
        if (entity) *written = write_entity(dst, entity);
        return length;
    }
    /* Numeric: decoded by html.unescape, kept only when that consumed the
     * whole match (no ';' left over). */
    uint32_t decoded[FTFY_NAME_MAX + 3];
    size_t n = clipt_html_unescape(decoded, s, length);
    for (size_t i = 0; i < n; i++)
        if (decoded[i] == ';') return length;
    memcpy(dst, decoded, n * sizeof *dst);
    *written = n;
    return length;
}

size_t clipt_ftfy_unescape(uint32_t *dst, const uint32_t *src, size_t n)
{
    size_t w = 0, i = 0;
    while (i < n) {
        if (src[i] != '&') {
            dst[w++] = src[i++];
            continue;
        }
        size_t written;
        size_t length = ftfy_reference(src + i, n - i, dst + w, &written);
        if (length == 0) {
            dst[w++] = src[i++];
            continue;
        }
        if (written == SIZE_MAX) {
            /* The match stays as it was and scanning resumes after it. */
            memcpy(dst + w, src + i, length * sizeof *src);
            w += length;
        } else {
            w += written;
        }
        i += length;
    }
    return w;
}
