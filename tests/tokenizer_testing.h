/* Helpers shared by the tokenizer suites: where the merges file and the
 * fixtures are, reading gzip files, and printing id rows in failures. */
#ifndef CLIPT_TOKENIZER_TESTING_H
#define CLIPT_TOKENIZER_TESTING_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "clipt.h"
#include "harness.h"

/* scripts/setup downloads and verifies the merges file here; the suites run
 * from the repository root. */
#define MERGES_PATH "data/bpe_simple_vocab_16e6.txt.gz"
#define WORDNET_INDEX_NOUN "/usr/share/wordnet/index.noun"
#define FIXTURE_DIR "tests/fixtures/"

static inline int file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* Reads a whole gzip (or plain) file into a NUL-terminated buffer the
 * caller frees; returns NULL when the file cannot be read. */
static inline char *read_gzip_file(const char *path, size_t *length)
{
    gzFile f = gzopen(path, "rb");
    if (!f) return NULL;
    size_t used = 0, capacity = 1 << 16;
    char *buf = malloc(capacity + 1);
    for (;;) {
        if (capacity - used < (1 << 16)) {
            capacity *= 2;
            buf = realloc(buf, capacity + 1);
        }
        int got = gzread(f, buf + used, 1 << 16);
        if (got <= 0) break;
        used += (size_t)got;
    }
    gzclose(f);
    buf[used] = '\0';
    if (length) *length = used;
    return buf;
}

/* Loads the tokenizer from MERGES_PATH or fails the test. */
static inline clipt_tokenizer *load_merges_or_fail(void)
{
    clipt_tokenizer *tok = NULL;
    clipt_status status = clipt_tokenizer_load(MERGES_PATH, &tok);
    ck_assert_msg(status == CLIPT_OK, "loading %s: %s: %s", MERGES_PATH,
                  clipt_status_name(status), clipt_last_error());
    return tok;
}

/* Formats up to the first 40 ids as "[a b c ...]" into buf. */
static inline const char *format_ids(char *buf, size_t size, const int32_t *ids, int n)
{
    size_t w = 0;
    buf[0] = '\0';
    w += (size_t)snprintf(buf + w, size - w, "[");
    for (int i = 0; i < n && i < 40 && w < size; i++)
        w += (size_t)snprintf(buf + w, size - w, i ? " %d" : "%d", ids[i]);
    if (w < size) snprintf(buf + w, size - w, n > 40 ? " ...]" : "]");
    return buf;
}

#endif /* CLIPT_TOKENIZER_TESTING_H */
