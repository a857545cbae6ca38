/* Reading data.noun and index.noun (format of wndb(5WN), WordNet 3.0) into
 * flat tables. Every malformed line is reported with its file and line
 * number; nothing is resolved here, see wordnet_build.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "wordnet.h"

/* Maximum length of a token quoted in an error message. */
#define QUOTE_MAX 40

/* ------------------------------------------------------------------------ */
/* Files and growable arrays                                                */
/* ------------------------------------------------------------------------ */

static clipt_status read_whole_file(const char *path, char **out)
{
    *out = NULL;
    clipt_status regular = clipt_require_regular_file(path, "WordNet file");
    if (regular == CLIPT_ERR_IO) return regular;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int err = errno;
        clipt_status status = err == ENOENT ? CLIPT_ERR_FILE_NOT_FOUND : CLIPT_ERR_IO;
        return clipt_set_error(status,
                               "cannot open %s: %s; install Debian's "
                               "wordnet-base package, or pass the WordNet "
                               "dict directory or set WNSEARCHDIR",
                               path, strerror(err));
    }
    char *buf = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return clipt_set_error(CLIPT_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    }
    buf = malloc((size_t)size + 1);
    if (buf == NULL) {
        fclose(f);
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory reading %s (%ld bytes)",
                               path, size);
    }
    size_t got = fread(buf, 1, (size_t)size, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || got != (size_t)size) {
        free(buf);
        return clipt_set_error(CLIPT_ERR_IO, "cannot read %s: read %zu of %ld bytes", path, got,
                               size);
    }
    /* Lines are split at NUL-terminated text, so a NUL byte would silently
     * end the file early. */
    const char *nul = memchr(buf, '\0', (size_t)size);
    if (nul != NULL) {
        long at = (long)(nul - buf);
        free(buf);
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s contains a NUL byte at offset %ld; a "
                               "WordNet database file is plain text",
                               path, at);
    }
    buf[size] = '\0';
    *out = buf;
    return CLIPT_OK;
}

/* Makes room for need elements in *array, doubling its capacity. */
static clipt_status reserve(void **array, int32_t *capacity, int64_t need, size_t elem,
                            const char *what)
{
    if (need <= *capacity) return CLIPT_OK;
    if (need > INT32_MAX) {
        return clipt_set_error(CLIPT_ERR_UNSUPPORTED, "more than %d %s in a WordNet file",
                               INT32_MAX, what);
    }
    int64_t cap = *capacity > 0 ? *capacity : 1024;
    while (cap < need)
        cap *= 2;
    if (cap > INT32_MAX) cap = INT32_MAX;
    void *p = realloc(*array, (size_t)cap * elem);
    if (p == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory growing the table of %s "
                               "to %lld entries",
                               what, (long long)cap);
    }
    *array = p;
    *capacity = (int32_t)cap;
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Tokens of one line                                                       */
/* ------------------------------------------------------------------------ */

typedef struct line_cursor {
    const char *p;    /* next character */
    const char *end;  /* end of the line, exclusive */
    const char *path; /* file, for messages */
    int line;         /* 1-based line number, for messages */
} line_cursor;

static clipt_status line_error(const line_cursor *c, const char *fmt, ...) CLIPT_PRINTF(2, 3);

static clipt_status line_error(const line_cursor *c, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return clipt_set_error(CLIPT_ERR_PARSE, "%s line %d: %s", c->path, c->line, detail);
}

/* Sets tok and len to the next space-separated token; returns 0 at the end
 * of the line. */
static int next_token(line_cursor *c, const char **tok, int *len)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r'))
        c->p++;
    if (c->p >= c->end) return 0;
    const char *start = c->p;
    while (c->p < c->end && *c->p != ' ' && *c->p != '\t' && *c->p != '\r')
        c->p++;
    *tok = start;
    *len = (int)(c->p - start);
    return 1;
}

/* Parses a token of digits in base 10 or 16. digits > 0 requires exactly
 * that many. Returns 0 when the token is not such a number or exceeds
 * UINT32_MAX. */
static int parse_number(const char *tok, int len, int base, int digits, uint32_t *value)
{
    if (len == 0 || len > 10 || (digits > 0 && len != digits)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < len; i++) {
        int d;
        char ch = tok[i];
        if (ch >= '0' && ch <= '9') {
            d = ch - '0';
        } else if (base == 16 && ch >= 'a' && ch <= 'f') {
            d = ch - 'a' + 10;
        } else if (base == 16 && ch >= 'A' && ch <= 'F') {
            d = ch - 'A' + 10;
        } else {
            return 0;
        }
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (v > UINT32_MAX) return 0;
    *value = (uint32_t)v;
    return 1;
}

/* Reads the next token as a number; names the field in the error. */
static clipt_status expect_number(line_cursor *c, int base, int digits, const char *field,
                                  uint32_t *value)
{
    const char *tok;
    int len;
    if (!next_token(c, &tok, &len)) {
        return line_error(c, "line ends before the %s (truncated line?)", field);
    }
    if (!parse_number(tok, len, base, digits, value)) {
        const char *form = base == 16 ? "hexadecimal" : "decimal";
        if (digits > 0) {
            return line_error(c,
                              "expected the %s as %d %s digits, found "
                              "'%.*s'",
                              field, digits, form, len > QUOTE_MAX ? QUOTE_MAX : len, tok);
        }
        return line_error(c, "expected the %s as a %s number, found '%.*s'", field, form,
                          len > QUOTE_MAX ? QUOTE_MAX : len, tok);
    }
    return CLIPT_OK;
}

static int token_is(const char *tok, int len, const char *text)
{
    return (size_t)len == strlen(text) && memcmp(tok, text, (size_t)len) == 0;
}

/* ------------------------------------------------------------------------ */
/* data.noun                                                                */
/* ------------------------------------------------------------------------ */

/* Parses the pointers of one synset line and records its @ and @i edges.
 * Pointers with a source/target field other than 0000 relate single lemmas
 * and are not part of the synset hierarchy; NLTK keeps them apart too. */
static clipt_status parse_pointers(line_cursor *c, clipt_wordnet_raw *raw, int32_t *edge_cap)
{
    uint32_t count;
    CLIPT_TRY(expect_number(c, 10, 3, "pointer count", &count));
    for (uint32_t i = 0; i < count; i++) {
        const char *sym, *pos, *src;
        int sym_len, pos_len, src_len;
        if (!next_token(c, &sym, &sym_len)) {
            return line_error(c,
                              "line ends after %u of %u pointers "
                              "(truncated line or wrong pointer count)",
                              i, count);
        }
        if (token_is(sym, sym_len, "|")) {
            return line_error(c,
                              "pointer count is %u but the gloss starts "
                              "after %u pointers",
                              count, i);
        }
        uint32_t target, lemmas;
        CLIPT_TRY(expect_number(c, 10, 8, "pointer's synset offset", &target));
        if (!next_token(c, &pos, &pos_len)) {
            return line_error(c, "line ends inside pointer %u of %u", i + 1, count);
        }
        if (pos_len != 1 || strchr("nvasr", pos[0]) == NULL) {
            return line_error(c,
                              "pointer %u has part of speech '%.*s'; "
                              "expected n, v, a, s or r",
                              i + 1, pos_len > QUOTE_MAX ? QUOTE_MAX : pos_len, pos);
        }
        if (!next_token(c, &src, &src_len) || !parse_number(src, src_len, 16, 4, &lemmas)) {
            return line_error(c,
                              "pointer %u lacks its 4-digit hexadecimal "
                              "source/target field",
                              i + 1);
        }
        int instance = token_is(sym, sym_len, "@i");
        if (!instance && !token_is(sym, sym_len, "@")) continue;
        if (lemmas != 0) continue;
        if (pos[0] != 'n') {
            return line_error(c,
                              "hypernym pointer to part of speech '%c'; "
                              "a noun's hypernyms must be nouns",
                              pos[0]);
        }
        int32_t e = raw->edge_total, old_cap = *edge_cap;
        CLIPT_TRY(reserve((void **)&raw->edge_from, edge_cap, e + 1, sizeof *raw->edge_from,
                          "hypernym pointers"));
        if (*edge_cap != old_cap) {
            /* the three edge arrays share one capacity */
            size_t cap = (size_t)*edge_cap;
            void *to = realloc(raw->edge_to, cap * sizeof *raw->edge_to);
            if (to == NULL) goto oom;
            raw->edge_to = to;
            void *inst = realloc(raw->edge_instance, cap);
            if (inst == NULL) goto oom;
            raw->edge_instance = inst;
        }
        raw->edge_from[e] = raw->n - 1;
        raw->edge_to[e] = target;
        raw->edge_instance[e] = (uint8_t)instance;
        raw->edge_total = e + 1;
    }
    return CLIPT_OK;
oom:
    return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory storing hypernym pointers");
}

/* Parses one synset line: offset, lexicographer file, synset type, lemmas,
 * pointers, then '|' and the gloss. */
static clipt_status parse_synset_line(line_cursor *c, clipt_wordnet_raw *raw, int32_t *synset_cap,
                                      int32_t *lemma_cap, int32_t *edge_cap)
{
    uint32_t offset, lexfile, lemma_count;
    CLIPT_TRY(expect_number(c, 10, 8, "synset offset", &offset));
    if (raw->n > 0 && offset <= raw->offset[raw->n - 1]) {
        return line_error(c,
                          "offset %08u does not follow the previous "
                          "synset's %08u; data.noun lists synsets in "
                          "ascending offset order",
                          offset, raw->offset[raw->n - 1]);
    }
    CLIPT_TRY(expect_number(c, 10, 2, "lexicographer file number", &lexfile));
    const char *tok;
    int len;
    if (!next_token(c, &tok, &len)) {
        return line_error(c, "line ends before the synset type");
    }
    if (!token_is(tok, len, "n")) {
        return line_error(c,
                          "synset type '%.*s' in the noun file; expected "
                          "'n'",
                          len > QUOTE_MAX ? QUOTE_MAX : len, tok);
    }
    CLIPT_TRY(expect_number(c, 16, 2, "lemma count", &lemma_count));
    if (lemma_count == 0) return line_error(c, "synset has no lemmas");

    int32_t id = raw->n, old_cap = *synset_cap;
    void *p;
    CLIPT_TRY(reserve((void **)&raw->offset, synset_cap, id + 2, sizeof *raw->offset, "synsets"));
    if (*synset_cap != old_cap) {
        size_t cap = (size_t)*synset_cap;
        if ((p = realloc(raw->line, cap * sizeof(int32_t))) == NULL) goto oom;
        raw->line = p;
        p = realloc(raw->lemma_first, cap * sizeof(int32_t));
        if (p == NULL) goto oom;
        raw->lemma_first = p;
    }
    raw->offset[id] = offset;
    raw->line[id] = c->line;
    raw->lemma_first[id] = raw->lemma_total;
    raw->n = id + 1;

    for (uint32_t i = 0; i < lemma_count; i++) {
        if (!next_token(c, &tok, &len)) {
            return line_error(c,
                              "line ends after %u of %u lemmas "
                              "(truncated line or wrong lemma count)",
                              i, lemma_count);
        }
        /* Drop a trailing syntactic marker such as "(p)" or "(ip)". */
        if (len > 2 && tok[len - 1] == ')') {
            const char *open = memchr(tok, '(', (size_t)len);
            if (open != NULL && open > tok) len = (int)(open - tok);
        }
        int32_t k = raw->lemma_total, old_lemma_cap = *lemma_cap;
        CLIPT_TRY(reserve((void **)&raw->lemma_text, lemma_cap, k + 1, sizeof *raw->lemma_text,
                          "lemmas"));
        if (*lemma_cap != old_lemma_cap) {
            p = realloc(raw->lemma_len, (size_t)*lemma_cap * sizeof(int32_t));
            if (p == NULL) goto oom;
            raw->lemma_len = p;
        }
        raw->lemma_text[k] = tok;
        raw->lemma_len[k] = len;
        raw->lemma_total = k + 1;
        uint32_t lex_id;
        CLIPT_TRY(expect_number(c, 16, 1, "lemma's lexical id", &lex_id));
    }
    raw->lemma_first[raw->n] = raw->lemma_total;

    CLIPT_TRY(parse_pointers(c, raw, edge_cap));
    if (!next_token(c, &tok, &len)) {
        return line_error(c, "line ends before the gloss separator '|' "
                             "(truncated line?)");
    }
    if (!token_is(tok, len, "|")) {
        return line_error(c,
                          "expected '|' before the gloss, found '%.*s' "
                          "(is the pointer count right?)",
                          len > QUOTE_MAX ? QUOTE_MAX : len, tok);
    }
    return CLIPT_OK;
oom:
    return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory storing synset %08u",
                           offset);
}

typedef clipt_status (*line_parser)(line_cursor *c, clipt_wordnet_raw *raw, int32_t *caps);

static clipt_status parse_data_line(line_cursor *c, clipt_wordnet_raw *raw, int32_t *caps)
{
    return parse_synset_line(c, raw, &caps[0], &caps[1], &caps[2]);
}

/* ------------------------------------------------------------------------ */
/* index.noun                                                               */
/* ------------------------------------------------------------------------ */

/* Parses one lemma line: lemma, part of speech, synset count, pointer
 * symbols, sense count, tagged sense count, then the synset offsets in
 * sense order. */
static clipt_status parse_index_line(line_cursor *c, clipt_wordnet_raw *raw, int32_t *caps)
{
    const char *lemma, *tok;
    int lemma_len, len;
    if (!next_token(c, &lemma, &lemma_len)) {
        return line_error(c, "line contains only white space");
    }
    if (!next_token(c, &tok, &len)) {
        return line_error(c, "line ends before the part of speech");
    }
    if (!token_is(tok, len, "n")) {
        return line_error(c,
                          "part of speech '%.*s' in the noun index; "
                          "expected 'n'",
                          len > QUOTE_MAX ? QUOTE_MAX : len, tok);
    }
    uint32_t synsets, pointers, senses, tagged;
    CLIPT_TRY(expect_number(c, 10, 0, "synset count", &synsets));
    if (synsets == 0) return line_error(c, "synset count is 0");
    CLIPT_TRY(expect_number(c, 10, 0, "pointer symbol count", &pointers));
    for (uint32_t i = 0; i < pointers; i++) {
        if (!next_token(c, &tok, &len)) {
            return line_error(c, "line ends after %u of %u pointer symbols", i, pointers);
        }
    }
    CLIPT_TRY(expect_number(c, 10, 0, "sense count", &senses));
    if (senses != synsets) {
        return line_error(c, "sense count %u differs from synset count %u", senses, synsets);
    }
    CLIPT_TRY(expect_number(c, 10, 0, "tagged sense count", &tagged));

    int32_t k = raw->key_total, old_cap = caps[3];
    CLIPT_TRY(
        reserve((void **)&raw->key_text, &caps[3], k + 1, sizeof *raw->key_text, "index lemmas"));
    if (caps[3] != old_cap) {
        /* the four per-lemma arrays share one capacity */
        int32_t **arrays[4] = {&raw->key_len, &raw->key_line, &raw->key_first, &raw->key_count};
        for (int i = 0; i < 4; i++) {
            void *p = realloc(*arrays[i], (size_t)caps[3] * sizeof(int32_t));
            if (p == NULL) goto oom;
            *arrays[i] = p;
        }
    }
    raw->key_text[k] = lemma;
    raw->key_len[k] = lemma_len;
    raw->key_line[k] = c->line;
    raw->key_first[k] = raw->sense_total;
    raw->key_count[k] = (int32_t)synsets;
    raw->key_total = k + 1;

    for (uint32_t i = 0; i < synsets; i++) {
        uint32_t offset;
        if (!next_token(c, &tok, &len)) {
            return line_error(c,
                              "line ends after %u of %u synset offsets "
                              "(truncated line or wrong synset count)",
                              i, synsets);
        }
        if (!parse_number(tok, len, 10, 8, &offset)) {
            return line_error(c,
                              "expected synset offset %u of %u as 8 "
                              "decimal digits, found '%.*s'",
                              i + 1, synsets, len > QUOTE_MAX ? QUOTE_MAX : len, tok);
        }
        int32_t s = raw->sense_total;
        CLIPT_TRY(reserve((void **)&raw->sense_offsets, &caps[4], s + 1, sizeof *raw->sense_offsets,
                          "lemma senses"));
        raw->sense_offsets[s] = offset;
        raw->sense_total = s + 1;
    }
    if (next_token(c, &tok, &len)) {
        return line_error(c,
                          "unexpected '%.*s' after the %u synset offsets "
                          "(wrong synset count?)",
                          len > QUOTE_MAX ? QUOTE_MAX : len, tok, synsets);
    }
    return CLIPT_OK;
oom:
    return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory storing index lemma %d", k);
}

/* ------------------------------------------------------------------------ */
/* Reading a dict directory                                                 */
/* ------------------------------------------------------------------------ */

/* Calls parse on every line that is neither empty nor part of the license
 * header (lines that start with a space). */
static clipt_status parse_lines(char *buf, const char *path, line_parser parse,
                                clipt_wordnet_raw *raw, int32_t *caps)
{
    line_cursor c = {buf, buf, path, 0};
    const char *p = buf;
    while (*p != '\0') {
        const char *eol = strchr(p, '\n');
        if (eol == NULL) eol = p + strlen(p);
        c.line++;
        c.p = p;
        c.end = eol;
        if (eol > p && *p != ' ') CLIPT_TRY(parse(&c, raw, caps));
        p = *eol == '\n' ? eol + 1 : eol;
    }
    return CLIPT_OK;
}

static char *join_path(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *path = malloc(n);
    if (path != NULL) snprintf(path, n, "%s/%s", dir, file);
    return path;
}

clipt_status clipt_wordnet_read(const char *dir, clipt_wordnet_raw *raw)
{
    clipt_status status = CLIPT_OK;
    memset(raw, 0, sizeof *raw);
    /* capacities: synsets, lemmas, edges, index lemmas, senses */
    int32_t caps[5] = {0, 0, 0, 0, 0};
    raw->data_path = join_path(dir, "data.noun");
    raw->index_path = join_path(dir, "index.noun");
    if (raw->data_path == NULL || raw->index_path == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory for a file name");
    }
    CLIPT_TRY_GOTO(read_whole_file(raw->data_path, &raw->data_buf));
    CLIPT_TRY_GOTO(read_whole_file(raw->index_path, &raw->index_buf));
    CLIPT_TRY_GOTO(parse_lines(raw->data_buf, raw->data_path, parse_data_line, raw, caps));
    if (raw->n == 0) {
        status = clipt_set_error(CLIPT_ERR_PARSE, "%s contains no synsets", raw->data_path);
        goto fail;
    }
    CLIPT_TRY_GOTO(parse_lines(raw->index_buf, raw->index_path, parse_index_line, raw, caps));
    return CLIPT_OK;
fail:
    return status;
}

void clipt_wordnet_raw_free(clipt_wordnet_raw *raw)
{
    free(raw->data_path);
    free(raw->index_path);
    free(raw->data_buf);
    free(raw->index_buf);
    free(raw->offset);
    free(raw->line);
    free(raw->lemma_first);
    free(raw->lemma_text);
    free(raw->lemma_len);
    free(raw->edge_from);
    free(raw->edge_to);
    free(raw->edge_instance);
    free(raw->key_text);
    free(raw->key_len);
    free(raw->key_line);
    free(raw->key_first);
    free(raw->key_count);
    free(raw->sense_offsets);
    memset(raw, 0, sizeof *raw);
}
