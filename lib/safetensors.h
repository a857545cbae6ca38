/* safetensors files: a validating reader over a read-only mapping and a
 * writer that produces the reference library's byte layout.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * mapping tensor names to {"dtype", "shape", "data_offsets": [begin, end]}
 * plus an optional "__metadata__" object of strings, then the data buffer.
 * Offsets are relative to the buffer and end is exclusive. */
#ifndef CLIPT_SAFETENSORS_H
#define CLIPT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "fileio.h"

/* The reader accepts headers up to this size, as the reference reader does. */
#define CLIPT_ST_MAX_HEADER 100000000u

/* Every dtype of the format, in the order of the reference implementation's
 * enumeration; the writer orders tensors by this value, largest first. */
typedef enum clipt_st_dtype {
    CLIPT_ST_BOOL,
    CLIPT_ST_F4,
    CLIPT_ST_F6_E2M3,
    CLIPT_ST_F6_E3M2,
    CLIPT_ST_U8,
    CLIPT_ST_I8,
    CLIPT_ST_F8_E5M2,
    CLIPT_ST_F8_E4M3,
    CLIPT_ST_F8_E8M0,
    CLIPT_ST_F8_E4M3FNUZ,
    CLIPT_ST_F8_E5M2FNUZ,
    CLIPT_ST_I16,
    CLIPT_ST_U16,
    CLIPT_ST_F16,
    CLIPT_ST_BF16,
    CLIPT_ST_I32,
    CLIPT_ST_U32,
    CLIPT_ST_F32,
    CLIPT_ST_C64,
    CLIPT_ST_F64,
    CLIPT_ST_I64,
    CLIPT_ST_U64,
    CLIPT_ST_DTYPE_COUNT
} clipt_st_dtype;

/* Returns the dtype's name as the format spells it ("BF16"). */
const char *clipt_st_dtype_name(clipt_st_dtype dtype);

/* Returns the size of one element in bits (4 for F4, 8 for BOOL). */
int clipt_st_dtype_bits(clipt_st_dtype dtype);

typedef struct clipt_st_tensor {
    const char *name;
    clipt_st_dtype dtype;
    int ndim;
    const uint64_t *shape;   /* (ndim), NULL for a 0-d tensor */
    uint64_t numel;
    uint64_t begin, end;     /* bytes from the start of the data buffer */
    const uint8_t *data;     /* first byte of the tensor */
} clipt_st_tensor;

typedef struct clipt_st_file {
    char *path;              /* for messages */
    clipt_mapped_file map;   /* the file when opened from disk */
    uint64_t header_bytes;   /* N */
    clipt_st_tensor *tensors;/* sorted by name */
    int ntensors;
    char **metadata;         /* key, value, key, value, ... */
    int nmetadata;           /* pairs */
    char *names;             /* storage of the names */
    uint64_t *shapes;        /* storage of the shapes */
} clipt_st_file;

/* Maps and validates a file. The checks: header length against the file
 * size and CLIPT_ST_MAX_HEADER; JSON syntax and UTF-8 with no duplicate
 * keys; known dtypes; shapes whose byte size matches the offsets without
 * overflow; offsets that tile the data buffer exactly, with no overlap,
 * gap or trailing byte; a "__metadata__" of strings. Nothing is read from
 * the data buffer. Errors: CLIPT_ERR_FILE_NOT_FOUND, CLIPT_ERR_IO,
 * CLIPT_ERR_CORRUPT (the file is shorter than its header says),
 * CLIPT_ERR_PARSE (any other violation), CLIPT_ERR_OUT_OF_MEMORY. */
clipt_status clipt_st_open(const char *path, clipt_st_file **out);

/* Validates bytes already in memory, which must outlive the result; what
 * names them in messages. */
clipt_status clipt_st_parse(const uint8_t *bytes, size_t size,
                            const char *what, clipt_st_file **out);

void clipt_st_close(clipt_st_file *file);

/* Returns the tensor named name, or NULL. */
const clipt_st_tensor *clipt_st_find(const clipt_st_file *file,
                                     const char *name);

/* Returns the metadata value for key, or NULL. */
const char *clipt_st_metadata(const clipt_st_file *file, const char *key);

/* Converts an F32, F16 or BF16 tensor to fp32 in dst (numel floats).
 * Errors: CLIPT_ERR_UNSUPPORTED for other dtypes, CLIPT_ERR_NONFINITE for a
 * NaN or infinity, both naming the tensor. */
clipt_status clipt_st_read_f32(const clipt_st_file *file,
                               const clipt_st_tensor *tensor, float *dst);

/* ------------------------------------------------------------------------ */
/* Half-precision conversions                                               */
/* ------------------------------------------------------------------------ */

float clipt_f16_to_f32(uint16_t h);
float clipt_bf16_to_f32(uint16_t b);
/* Round to nearest even; overflow gives infinity, NaN stays NaN. */
uint16_t clipt_f32_to_f16(float f);
uint16_t clipt_f32_to_bf16(float f);

/* ------------------------------------------------------------------------ */
/* Writer                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct clipt_st_entry {
    const char *name;
    clipt_st_dtype dtype;
    int ndim;
    const uint64_t *shape;
    const void *data;        /* exactly the bytes the shape and dtype need */
} clipt_st_entry;

/* Writes entries to path atomically, in the reference writer's layout.
 * Tensors are sorted by dtype (larger enumeration value first), then by
 * name, and packed back to back. The JSON header is compact, with
 * "__metadata__" first and, per tensor, dtype, shape and data_offsets in
 * that order. Spaces pad the header to a multiple of 8 bytes. metadata holds nmetadata
 * key/value pairs, written in the given order.
 * Errors: CLIPT_ERR_INVALID_ARGUMENT for duplicate or reserved names or a
 * size overflow; CLIPT_ERR_IO; CLIPT_ERR_OUT_OF_MEMORY. */
clipt_status clipt_st_write(const char *path, const clipt_st_entry *entries,
                            int count, const char *const *metadata,
                            int nmetadata);

#endif /* CLIPT_SAFETENSORS_H */
