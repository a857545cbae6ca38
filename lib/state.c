/* Training state files: named sections behind a checksummed table.
 *
 * Layout, little-endian:
 *   0   8  magic "CLIPTSTA"
 *   8   4  format version (1)
 *   12  4  section count S
 *   16  8  reserved, zero
 *   24  4  CRC-32 of bytes [0, 24) followed by the table
 *   28  4  reserved, zero
 *   32     table: S entries of 96 bytes
 *            0  64  name, NUL-padded (1 to 63 bytes)
 *            64  4  kind (clipt_section_kind)
 *            68  4  CRC-32 of the section's bytes
 *            72  8  offset of the section from the file start
 *            80  8  size in bytes
 *            88  8  reserved, zero
 *   then the sections in table order, each starting at the next multiple
 *   of 64 bytes (zero padding between), the file ending where the last
 *   section ends. Every offset is implied by the sizes, so the reader
 *   recomputes them and any difference is corruption. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fileio.h"

#define STATE_MAGIC "CLIPTSTA"
#define STATE_VERSION 1u
#define HEADER_BYTES 32u
#define ENTRY_BYTES 96u
#define NAME_BYTES 64u
#define SECTION_ALIGN 64u

typedef struct section {
    char name[NAME_BYTES];
    clipt_section_kind kind;
    const void *data;
    size_t bytes;
} section;

struct clipt_state_writer {
    section *sections;
    int count, capacity;
};

struct clipt_state {
    char *file;           /* the whole file */
    section *sections;
    int count;
};

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint64_t align_up(uint64_t x)
{
    return (x + SECTION_ALIGN - 1) / SECTION_ALIGN * SECTION_ALIGN;
}

static uint32_t crc_of(uint32_t crc, const void *data, size_t bytes)
{
    return (uint32_t)crc32_z(crc, data, bytes);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */
/* ------------------------------------------------------------------------ */

CLIPT_API clipt_status clipt_state_writer_create(clipt_state_writer **out)
{
    if (out == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_state_writer_create: out is NULL");
    }
    *out = calloc(1, sizeof **out);
    if (*out == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory creating a state writer");
    }
    return CLIPT_OK;
}

CLIPT_API void clipt_state_writer_free(clipt_state_writer *w)
{
    if (w == NULL) return;
    free(w->sections);
    free(w);
}

CLIPT_API clipt_status clipt_state_writer_add(clipt_state_writer *w,
                                              const char *name,
                                              clipt_section_kind kind,
                                              const void *data, size_t bytes)
{
    if (w == NULL || name == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_state_writer_add: writer and name must "
                               "not be NULL");
    }
    size_t length = strlen(name);
    if (length == 0 || length >= NAME_BYTES) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "state section name \"%s\" has %zu bytes; "
                               "names have 1 to %u",
                               name, length, NAME_BYTES - 1);
    }
    if (kind != CLIPT_SECTION_BYTES && kind != CLIPT_SECTION_FLOAT32) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "state section \"%s\": unknown kind %d", name,
                               (int)kind);
    }
    if (data == NULL && bytes > 0) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "state section \"%s\": data is NULL", name);
    }
    if (kind == CLIPT_SECTION_FLOAT32 && bytes % sizeof(float) != 0) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "state section \"%s\": %zu bytes is not a "
                               "whole number of fp32 values",
                               name, bytes);
    }
    for (int i = 0; i < w->count; i++) {
        if (strcmp(w->sections[i].name, name) == 0) {
            return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                   "state section \"%s\" was already added",
                                   name);
        }
    }
    if (w->count == w->capacity) {
        int cap = w->capacity ? 2 * w->capacity : 8;
        section *s = realloc(w->sections, (size_t)cap * sizeof *s);
        if (s == NULL) {
            return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                                   "out of host memory adding state section "
                                   "\"%s\"",
                                   name);
        }
        w->sections = s;
        w->capacity = cap;
    }
    section *s = &w->sections[w->count++];
    memset(s->name, 0, sizeof s->name);
    memcpy(s->name, name, length);
    s->kind = kind;
    s->data = data;
    s->bytes = bytes;
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_state_writer_commit(clipt_state_writer *w,
                                                 const char *path)
{
    if (w == NULL || path == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_state_writer_commit: writer and path "
                               "must not be NULL");
    }
    size_t head = HEADER_BYTES + (size_t)w->count * ENTRY_BYTES;
    uint8_t *header = calloc(1, head);
    if (header == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory writing %s", path);
    }
    /* table first, then the header checksum that covers it */
    uint64_t offset = head;
    for (int i = 0; i < w->count; i++) {
        const section *s = &w->sections[i];
        uint8_t *e = header + HEADER_BYTES + (size_t)i * ENTRY_BYTES;
        offset = align_up(offset);
        memcpy(e, s->name, NAME_BYTES);
        put_u32(e + 64, (uint32_t)s->kind);
        put_u32(e + 68, crc_of(0, s->data, s->bytes));
        put_u64(e + 72, offset);
        put_u64(e + 80, s->bytes);
        offset += s->bytes;
    }
    memcpy(header, STATE_MAGIC, 8);
    put_u32(header + 8, STATE_VERSION);
    put_u32(header + 12, (uint32_t)w->count);
    uint32_t crc = crc_of(0, header, 24);
    put_u32(header + 24, crc_of(crc, header + HEADER_BYTES, head - HEADER_BYTES));

    clipt_atomic_file file;
    clipt_status status = clipt_atomic_open(path, &file);
    if (status != CLIPT_OK) {
        free(header);
        return status;
    }
    static const uint8_t zeros[SECTION_ALIGN];
    uint64_t written = head;
    status = clipt_atomic_write(&file, header, head);
    for (int i = 0; i < w->count && status == CLIPT_OK; i++) {
        const section *s = &w->sections[i];
        status = clipt_atomic_write(&file, zeros, (size_t)(align_up(written) - written));
        if (status == CLIPT_OK) status = clipt_atomic_write(&file, s->data, s->bytes);
        written = align_up(written) + s->bytes;
    }
    free(header);
    if (status != CLIPT_OK) {
        clipt_atomic_abort(&file);
        return status;
    }
    return clipt_atomic_commit(&file);
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */
/* ------------------------------------------------------------------------ */

/* Checks the fixed header; *count receives the number of sections. */
static clipt_status check_header(const uint8_t *p, size_t size,
                                 const char *path, uint32_t *count)
{
    if (size < 8 && memcmp(p, STATE_MAGIC, size) == 0) {
        return clipt_set_error(CLIPT_ERR_CORRUPT,
                               "%s: truncated: %zu bytes, shorter than the "
                               "magic number",
                               path, size);
    }
    if (memcmp(p, STATE_MAGIC, 8) != 0) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: not a libclipt training state file (no "
                               "\"%s\" magic number)",
                               path, STATE_MAGIC);
    }
    if (size < HEADER_BYTES) {
        return clipt_set_error(CLIPT_ERR_CORRUPT,
                               "%s: truncated: %zu bytes, shorter than the "
                               "%u-byte header",
                               path, size, HEADER_BYTES);
    }
    uint32_t version = get_u32(p + 8);
    if (version != STATE_VERSION) {
        return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                               "%s: format version %u; this libclipt reads "
                               "version %u",
                               path, version, STATE_VERSION);
    }
    *count = get_u32(p + 12);
    if (*count > (size - HEADER_BYTES) / ENTRY_BYTES) {
        return clipt_set_error(CLIPT_ERR_CORRUPT,
                               "%s: truncated: the table of %u sections does "
                               "not fit in %zu bytes",
                               path, *count, size);
    }
    size_t head = HEADER_BYTES + (size_t)*count * ENTRY_BYTES;
    uint32_t crc = crc_of(crc_of(0, p, 24), p + HEADER_BYTES, head - HEADER_BYTES);
    if (crc != get_u32(p + 24) || get_u64(p + 16) != 0 || get_u32(p + 28) != 0) {
        return clipt_set_error(CLIPT_ERR_CORRUPT,
                               "%s: the header checksum does not match; the "
                               "file is corrupted",
                               path);
    }
    return CLIPT_OK;
}

/* Checks one table entry against the position it must have. */
static clipt_status check_entry(const uint8_t *file, size_t size,
                                const char *path, int index, uint64_t *offset,
                                section *s)
{
    const uint8_t *e = file + HEADER_BYTES + (size_t)index * ENTRY_BYTES;
    memcpy(s->name, e, NAME_BYTES);
    size_t length = strnlen(s->name, NAME_BYTES);
    for (size_t k = length; k < NAME_BYTES; k++) {
        if (s->name[k] != '\0') length = 0; /* garbage after the name */
    }
    uint32_t kind = get_u32(e + 64);
    uint64_t at = get_u64(e + 72), bytes = get_u64(e + 80);
    uint64_t expected = align_up(*offset);
    if (length == 0 || length == NAME_BYTES || get_u64(e + 88) != 0 ||
        (kind != CLIPT_SECTION_BYTES && kind != CLIPT_SECTION_FLOAT32) ||
        at != expected) {
        return clipt_set_error(CLIPT_ERR_CORRUPT,
                               "%s: table entry %d is inconsistent; the file "
                               "is corrupted",
                               path, index);
    }
    if (bytes > size || at > size - bytes) {
        return clipt_set_error(CLIPT_ERR_CORRUPT,
                               "%s: truncated: section \"%s\" needs bytes "
                               "[%llu, %llu), the file has %zu",
                               path, s->name, (unsigned long long)at,
                               (unsigned long long)(at + bytes), size);
    }
    for (uint64_t k = *offset; k < at; k++) {
        if (file[k] != 0) {
            return clipt_set_error(CLIPT_ERR_CORRUPT,
                                   "%s: non-zero padding before section "
                                   "\"%s\"; the file is corrupted",
                                   path, s->name);
        }
    }
    if (crc_of(0, file + at, (size_t)bytes) != get_u32(e + 68)) {
        return clipt_set_error(CLIPT_ERR_CORRUPT,
                               "%s: section \"%s\" fails its checksum; the "
                               "file is corrupted",
                               path, s->name);
    }
    s->kind = (clipt_section_kind)kind;
    s->data = file + at;
    s->bytes = (size_t)bytes;
    *offset = at + bytes;
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_state_load(const char *path, clipt_state **out)
{
    if (out != NULL) *out = NULL;
    if (path == NULL || out == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_state_load: path and out must not be "
                               "NULL");
    }
    clipt_state *st = calloc(1, sizeof *st);
    if (st == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory loading %s", path);
    }
    size_t size = 0;
    uint32_t count = 0;
    clipt_status status = CLIPT_OK;
    CLIPT_TRY_GOTO(clipt_read_file(path, SIZE_MAX - 1, &st->file, &size));
    const uint8_t *p = (const uint8_t *)st->file;
    CLIPT_TRY_GOTO(check_header(p, size, path, &count));
    CLIPT_TRY_GOTO(clipt_host_calloc((count ? count : 1) * sizeof(section),
                                     "state sections", (void **)&st->sections));
    uint64_t offset = HEADER_BYTES + (uint64_t)count * ENTRY_BYTES;
    for (uint32_t i = 0; i < count; i++) {
        CLIPT_TRY_GOTO(check_entry(p, size, path, (int)i, &offset, &st->sections[i]));
        for (uint32_t k = 0; k < i; k++) {
            if (strcmp(st->sections[k].name, st->sections[i].name) == 0) {
                status = clipt_set_error(CLIPT_ERR_CORRUPT,
                                         "%s: section \"%s\" appears twice",
                                         path, st->sections[i].name);
                goto fail;
            }
        }
        st->count++;
    }
    if (offset != size) {
        status = clipt_set_error(CLIPT_ERR_CORRUPT,
                                 "%s: %llu bytes after the last section; the "
                                 "file is corrupted",
                                 path, (unsigned long long)(size - offset));
        goto fail;
    }
    *out = st;
    return CLIPT_OK;

fail:
    clipt_state_free(st);
    return status;
}

CLIPT_API void clipt_state_free(clipt_state *st)
{
    if (st == NULL) return;
    free(st->file);
    free(st->sections);
    free(st);
}

CLIPT_API int clipt_state_section_count(const clipt_state *st)
{
    return st == NULL ? 0 : st->count;
}

CLIPT_API clipt_status clipt_state_section_info(const clipt_state *st,
                                                int index,
                                                clipt_section_info *info)
{
    if (st == NULL || info == NULL || index < 0 || index >= st->count) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_state_section_info: index %d is out of "
                               "range [0, %d)",
                               index, st == NULL ? 0 : st->count);
    }
    info->name = st->sections[index].name;
    info->kind = st->sections[index].kind;
    info->bytes = st->sections[index].bytes;
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_state_get(const clipt_state *st, const char *name,
                                       clipt_section_kind kind,
                                       const void **data, size_t *bytes)
{
    if (st == NULL || name == NULL || data == NULL || bytes == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_state_get: NULL argument");
    }
    for (int i = 0; i < st->count; i++) {
        const section *s = &st->sections[i];
        if (strcmp(s->name, name) != 0) continue;
        if (s->kind != kind) {
            return clipt_set_error(CLIPT_ERR_PARSE,
                                   "state section \"%s\" is of kind %d, not "
                                   "%d",
                                   name, (int)s->kind, (int)kind);
        }
        *data = s->data;
        *bytes = s->bytes;
        return CLIPT_OK;
    }
    return clipt_set_error(CLIPT_ERR_NOT_FOUND,
                           "the state has no section \"%s\"", name);
}

CLIPT_API clipt_status clipt_state_read(const clipt_state *st, const char *name,
                                        clipt_section_kind kind, void *dst,
                                        size_t bytes)
{
    const void *data = NULL;
    size_t have = 0;
    CLIPT_TRY(clipt_state_get(st, name, kind, &data, &have));
    if (have != bytes) {
        return clipt_set_error(CLIPT_ERR_SHAPE,
                               "state section \"%s\" holds %zu bytes, the "
                               "destination %zu",
                               name, have, bytes);
    }
    if (bytes > 0) memcpy(dst, data, bytes);
    return CLIPT_OK;
}
