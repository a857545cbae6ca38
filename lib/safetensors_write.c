/* safetensors writer: the byte layout of the reference serializer
 * (huggingface/safetensors, prepare and serialize in tensor.rs), so a file
 * written here equals the one safetensors.torch.save_file writes for the
 * same tensors and one metadata key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

/* A growing text buffer for the JSON header. */
typedef struct text_buffer {
    char *data;
    size_t length, capacity;
    int failed;
} text_buffer;

static void append(text_buffer *b, const char *s, size_t n)
{
    if (b->failed) return;
    if (b->length + n + 1 > b->capacity) {
        size_t cap = b->capacity ? b->capacity : 1024;
        while (cap < b->length + n + 1) cap *= 2;
        char *p = realloc(b->data, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->capacity = cap;
    }
    memcpy(b->data + b->length, s, n);
    b->length += n;
    b->data[b->length] = '\0';
}

static void append_str(text_buffer *b, const char *s) { append(b, s, strlen(s)); }

/* Appends s as a JSON string with the escapes serde_json uses: quote,
 * backslash, \b \f \n \r \t, and \u00XX (lowercase hex) for the other
 * control characters. Everything else, UTF-8 included, is copied. */
static void append_json_string(text_buffer *b, const char *s)
{
    append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': append(b, "\\\"", 2); break;
        case '\\': append(b, "\\\\", 2); break;
        case '\b': append(b, "\\b", 2); break;
        case '\f': append(b, "\\f", 2); break;
        case '\n': append(b, "\\n", 2); break;
        case '\r': append(b, "\\r", 2); break;
        case '\t': append(b, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                append(b, esc, 6);
            } else {
                append(b, (const char *)p, 1);
            }
        }
    }
    append(b, "\"", 1);
}

static void append_u64(text_buffer *b, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    append(b, num, (size_t)n);
}

/* Largest dtype enumeration value first, then names in byte order. */
static int compare_write_order(const void *a, const void *b)
{
    const clipt_st_entry *x = *(const clipt_st_entry *const *)a;
    const clipt_st_entry *y = *(const clipt_st_entry *const *)b;
    if (x->dtype != y->dtype) return x->dtype > y->dtype ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int compare_entry_names(const void *a, const void *b)
{
    return strcmp((*(const clipt_st_entry *const *)a)->name,
                  (*(const clipt_st_entry *const *)b)->name);
}

/* Byte size of an entry, or an error for overflow or a partial byte. */
static clipt_status entry_bytes(const clipt_st_entry *e, uint64_t *out)
{
    if ((unsigned)e->dtype >= CLIPT_ST_DTYPE_COUNT || e->ndim < 0 ||
        (e->ndim > 0 && e->shape == NULL) || e->name == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "safetensors writer: tensor \"%s\" has an "
                               "invalid dtype, rank or shape",
                               e->name ? e->name : "(null)");
    }
    uint64_t numel = 1;
    int overflow = 0;
    for (int d = 0; d < e->ndim && !overflow; d++) {
        if (e->shape[d] != 0 && numel > UINT64_MAX / e->shape[d]) overflow = 1;
        else numel *= e->shape[d];
    }
    uint64_t bits = (uint64_t)clipt_st_dtype_bits(e->dtype);
    if (overflow || numel > UINT64_MAX / bits || numel * bits % 8 != 0) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "safetensors writer: tensor \"%s\": size "
                               "overflows or is not a whole number of bytes",
                               e->name);
    }
    *out = numel * bits / 8;
    return CLIPT_OK;
}

/* Rejects reserved and duplicate names. order is scratch of count entries. */
static clipt_status check_names(const clipt_st_entry **order, int count)
{
    qsort(order, (size_t)count, sizeof *order, compare_entry_names);
    for (int i = 0; i < count; i++) {
        if (strcmp(order[i]->name, "__metadata__") == 0) {
            return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                   "safetensors writer: \"__metadata__\" is "
                                   "reserved and cannot name a tensor");
        }
        if (i > 0 && strcmp(order[i - 1]->name, order[i]->name) == 0) {
            return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                   "safetensors writer: tensor name \"%s\" "
                                   "appears twice",
                                   order[i]->name);
        }
    }
    return CLIPT_OK;
}

clipt_status clipt_st_write(const char *path, const clipt_st_entry *entries,
                            int count, const char *const *metadata,
                            int nmetadata)
{
    clipt_status status = CLIPT_OK;
    const clipt_st_entry **order = NULL;
    uint64_t *sizes = NULL;
    text_buffer header = {0};
    clipt_atomic_file file = {0};
    file.fd = -1;
    if (count < 0 || (count > 0 && entries == NULL) || nmetadata < 0 ||
        (nmetadata > 0 && metadata == NULL)) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "safetensors writer: invalid entry or "
                               "metadata list for %s",
                               path);
    }
    size_t n = (size_t)count;
    CLIPT_TRY_GOTO(clipt_host_alloc((n ? n : 1) * sizeof *order,
                                    "safetensors write order", (void **)&order));
    CLIPT_TRY_GOTO(clipt_host_alloc((n ? n : 1) * sizeof *sizes,
                                    "safetensors sizes", (void **)&sizes));
    for (size_t i = 0; i < n; i++) order[i] = &entries[i];
    CLIPT_TRY_GOTO(check_names(order, count));
    qsort(order, n, sizeof *order, compare_write_order);

    /* header: metadata first, then tensors in offset order */
    append_str(&header, "{");
    if (nmetadata > 0) {
        append_str(&header, "\"__metadata__\":{");
        for (int i = 0; i < nmetadata; i++) {
            if (i > 0) append_str(&header, ",");
            append_json_string(&header, metadata[2 * i]);
            append_str(&header, ":");
            append_json_string(&header, metadata[2 * i + 1]);
        }
        append_str(&header, "}");
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        const clipt_st_entry *e = order[i];
        CLIPT_TRY_GOTO(entry_bytes(e, &sizes[i]));
        if (sizes[i] > 0 && e->data == NULL) {
            status = clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                                     "safetensors writer: tensor \"%s\" has "
                                     "no data",
                                     e->name);
            goto fail;
        }
        if (i > 0 || nmetadata > 0) append_str(&header, ",");
        append_json_string(&header, e->name);
        append_str(&header, ":{\"dtype\":\"");
        append_str(&header, clipt_st_dtype_name(e->dtype));
        append_str(&header, "\",\"shape\":[");
        for (int d = 0; d < e->ndim; d++) {
            if (d > 0) append_str(&header, ",");
            append_u64(&header, e->shape[d]);
        }
        append_str(&header, "],\"data_offsets\":[");
        append_u64(&header, offset);
        append_str(&header, ",");
        offset += sizes[i];
        append_u64(&header, offset);
        append_str(&header, "]}");
    }
    append_str(&header, "}");
    while (header.length % 8 != 0) append_str(&header, " ");
    if (header.failed) {
        status = clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                                 "out of host memory building the header of %s",
                                 path);
        goto fail;
    }

    uint8_t length_field[8];
    for (int i = 0; i < 8; i++) length_field[i] = (uint8_t)(header.length >> (8 * i));
    CLIPT_TRY_GOTO(clipt_atomic_open(path, &file));
    CLIPT_TRY_GOTO(clipt_atomic_write(&file, length_field, 8));
    CLIPT_TRY_GOTO(clipt_atomic_write(&file, header.data, header.length));
    for (size_t i = 0; i < n; i++) {
        CLIPT_TRY_GOTO(clipt_atomic_write(&file, order[i]->data, (size_t)sizes[i]));
    }
    status = clipt_atomic_commit(&file);
    free(order);
    free(sizes);
    free(header.data);
    return status;

fail:
    clipt_atomic_abort(&file);
    free(order);
    free(sizes);
    free(header.data);
    return status;
}
