/* safetensors reader: validates the whole header before any tensor byte is
 * touched, following the checks of the reference reader (huggingface/
 * safetensors, tensor.rs) and rejecting duplicate keys, which its README
 * forbids. Half-precision conversions live here too. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

/* ------------------------------------------------------------------------ */
/* Dtypes                                                                   */
/* ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    int bits;
} dtype_table[CLIPT_ST_DTYPE_COUNT] = {
    [CLIPT_ST_BOOL] = {"BOOL", 8},
    [CLIPT_ST_F4] = {"F4", 4},
    [CLIPT_ST_F6_E2M3] = {"F6_E2M3", 6},
    [CLIPT_ST_F6_E3M2] = {"F6_E3M2", 6},
    [CLIPT_ST_U8] = {"U8", 8},
    [CLIPT_ST_I8] = {"I8", 8},
    [CLIPT_ST_F8_E5M2] = {"F8_E5M2", 8},
    [CLIPT_ST_F8_E4M3] = {"F8_E4M3", 8},
    [CLIPT_ST_F8_E8M0] = {"F8_E8M0", 8},
    [CLIPT_ST_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8},
    [CLIPT_ST_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8},
    [CLIPT_ST_I16] = {"I16", 16},
    [CLIPT_ST_U16] = {"U16", 16},
    [CLIPT_ST_F16] = {"F16", 16},
    [CLIPT_ST_BF16] = {"BF16", 16},
    [CLIPT_ST_I32] = {"I32", 32},
    [CLIPT_ST_U32] = {"U32", 32},
    [CLIPT_ST_F32] = {"F32", 32},
    [CLIPT_ST_C64] = {"C64", 64},
    [CLIPT_ST_F64] = {"F64", 64},
    [CLIPT_ST_I64] = {"I64", 64},
    [CLIPT_ST_U64] = {"U64", 64},
};

const char *clipt_st_dtype_name(clipt_st_dtype dtype)
{
    return (unsigned)dtype < CLIPT_ST_DTYPE_COUNT ? dtype_table[dtype].name : "?";
}

int clipt_st_dtype_bits(clipt_st_dtype dtype)
{
    return (unsigned)dtype < CLIPT_ST_DTYPE_COUNT ? dtype_table[dtype].bits : 0;
}

static int dtype_from_name(const char *name, clipt_st_dtype *out)
{
    for (int i = 0; i < CLIPT_ST_DTYPE_COUNT; i++) {
        if (strcmp(dtype_table[i].name, name) == 0) {
            *out = (clipt_st_dtype)i;
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Header validation                                                        */
/* ------------------------------------------------------------------------ */

static uint64_t read_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Reads a JSON integer >= 0 into *out; returns 0 for anything else. */
static int json_to_u64(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

/* Checks one tensor entry and fills t (except data); shapes go to *dims. */
static clipt_status parse_entry(const char *what, const char *name,
                                json_t *value, clipt_st_tensor *t,
                                uint64_t **dims)
{
    if (!json_is_object(value)) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: tensor \"%s\": entry is not a JSON object",
                               what, name);
    }
    json_t *dtype = json_object_get(value, "dtype");
    json_t *shape = json_object_get(value, "shape");
    json_t *offsets = json_object_get(value, "data_offsets");
    if (!json_is_string(dtype) || !json_is_array(shape) ||
        !json_is_array(offsets)) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: tensor \"%s\": needs a string \"dtype\", "
                               "an array \"shape\" and an array "
                               "\"data_offsets\"",
                               what, name);
    }
    if (!dtype_from_name(json_string_value(dtype), &t->dtype)) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: tensor \"%s\": unknown dtype \"%s\"", what,
                               name, json_string_value(dtype));
    }

    /* element count, with overflow checks */
    t->ndim = (int)json_array_size(shape);
    t->shape = t->ndim > 0 ? *dims : NULL;
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        uint64_t n;
        if (!json_to_u64(json_array_get(shape, (size_t)d), &n)) {
            return clipt_set_error(CLIPT_ERR_PARSE,
                                   "%s: tensor \"%s\": shape[%d] is not a "
                                   "non-negative integer",
                                   what, name, d);
        }
        (*dims)[d] = n;
        if (n != 0 && numel > UINT64_MAX / n) {
            return clipt_set_error(CLIPT_ERR_PARSE,
                                   "%s: tensor \"%s\": the element count of "
                                   "its shape overflows 64 bits",
                                   what, name);
        }
        numel *= n;
    }
    *dims += t->ndim;
    t->numel = numel;

    /* byte size must be whole and equal to the span of the offsets */
    uint64_t bits = (uint64_t)clipt_st_dtype_bits(t->dtype);
    if (numel > UINT64_MAX / bits) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: tensor \"%s\": byte size of %llu %s "
                               "elements overflows 64 bits",
                               what, name, (unsigned long long)numel,
                               clipt_st_dtype_name(t->dtype));
    }
    if (numel * bits % 8 != 0) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: tensor \"%s\": %llu %s elements do not "
                               "fill a whole number of bytes",
                               what, name, (unsigned long long)numel,
                               clipt_st_dtype_name(t->dtype));
    }
    if (json_array_size(offsets) != 2 ||
        !json_to_u64(json_array_get(offsets, 0), &t->begin) ||
        !json_to_u64(json_array_get(offsets, 1), &t->end)) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: tensor \"%s\": data_offsets must be two "
                               "non-negative integers [begin, end]",
                               what, name);
    }
    if (t->end < t->begin) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: tensor \"%s\": data_offsets [%llu, %llu] "
                               "end before begin",
                               what, name, (unsigned long long)t->begin,
                               (unsigned long long)t->end);
    }
    if (t->end - t->begin != numel * bits / 8) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: tensor \"%s\": data_offsets [%llu, %llu] "
                               "span %llu bytes, but %s with %llu elements "
                               "needs %llu",
                               what, name, (unsigned long long)t->begin,
                               (unsigned long long)t->end,
                               (unsigned long long)(t->end - t->begin),
                               clipt_st_dtype_name(t->dtype),
                               (unsigned long long)numel,
                               (unsigned long long)(numel * bits / 8));
    }
    return CLIPT_OK;
}

static clipt_status parse_metadata(clipt_st_file *f, const char *what,
                                   json_t *value)
{
    if (json_is_null(value)) return CLIPT_OK; /* the reference accepts null */
    if (!json_is_object(value)) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: \"__metadata__\" must be an object of "
                               "strings",
                               what);
    }
    size_t n = json_object_size(value);
    f->metadata = calloc(2 * n + 1, sizeof(char *));
    if (f->metadata == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory reading %s", what);
    }
    const char *key;
    json_t *v;
    json_object_foreach(value, key, v) {
        if (!json_is_string(v)) {
            return clipt_set_error(CLIPT_ERR_PARSE,
                                   "%s: \"__metadata__\" value of \"%s\" is "
                                   "not a string",
                                   what, key);
        }
        char *k = strdup(key), *s = strdup(json_string_value(v));
        f->metadata[2 * f->nmetadata] = k;
        f->metadata[2 * f->nmetadata + 1] = s;
        f->nmetadata++;
        if (k == NULL || s == NULL) {
            return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                                   "out of host memory reading %s", what);
        }
    }
    return CLIPT_OK;
}

static int compare_offsets(const void *a, const void *b)
{
    const clipt_st_tensor *x = *(const clipt_st_tensor *const *)a;
    const clipt_st_tensor *y = *(const clipt_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(((const clipt_st_tensor *)a)->name,
                  ((const clipt_st_tensor *)b)->name);
}

/* Checks that the tensors tile [0, buffer size) in offset order. */
static clipt_status check_tiling(clipt_st_file *f, const char *what,
                                 uint64_t buffer_bytes)
{
    clipt_st_tensor **order = NULL;
    size_t n = (size_t)f->ntensors;
    CLIPT_TRY(clipt_host_alloc((n > 0 ? n : 1) * sizeof *order,
                               "safetensors offsets", (void **)&order));
    for (size_t i = 0; i < n; i++) order[i] = &f->tensors[i];
    qsort(order, n, sizeof *order, compare_offsets);

    clipt_status status = CLIPT_OK;
    uint64_t expected = 0;
    for (size_t i = 0; i < n && status == CLIPT_OK; i++) {
        const clipt_st_tensor *t = order[i];
        if (t->begin != expected) {
            status = clipt_set_error(CLIPT_ERR_PARSE,
                                     "%s: tensor \"%s\": data_offsets begin "
                                     "at %llu, but the previous tensor ends "
                                     "at %llu (tensors must be contiguous, "
                                     "%s)",
                                     what, t->name,
                                     (unsigned long long)t->begin,
                                     (unsigned long long)expected,
                                     t->begin < expected ? "they overlap"
                                                         : "there is a gap");
        }
        expected = t->end;
    }
    if (status == CLIPT_OK && expected > buffer_bytes) {
        status = clipt_set_error(CLIPT_ERR_CORRUPT,
                                 "%s: tensors need %llu bytes of data but "
                                 "the file holds %llu after the header; the "
                                 "file is truncated",
                                 what, (unsigned long long)expected,
                                 (unsigned long long)buffer_bytes);
    } else if (status == CLIPT_OK && expected < buffer_bytes) {
        status = clipt_set_error(CLIPT_ERR_PARSE,
                                 "%s: %llu bytes after the last tensor "
                                 "(data ends at %llu of %llu); the data "
                                 "buffer must be covered exactly",
                                 what,
                                 (unsigned long long)(buffer_bytes - expected),
                                 (unsigned long long)expected,
                                 (unsigned long long)buffer_bytes);
    }
    free(order);
    return status;
}

/* Builds the tensor table from the parsed header. */
static clipt_status build_tables(clipt_st_file *f, const char *what,
                                 json_t *root)
{
    size_t ntensors = 0, ndims = 0, name_bytes = 0;
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        if (strcmp(key, "__metadata__") == 0) continue;
        ntensors++;
        name_bytes += strlen(key) + 1;
        json_t *shape = json_is_object(value) ? json_object_get(value, "shape") : NULL;
        if (json_is_array(shape)) ndims += json_array_size(shape);
    }
    if (ntensors > INT32_MAX) {
        return clipt_set_error(CLIPT_ERR_PARSE, "%s: too many tensors", what);
    }
    CLIPT_TRY(clipt_host_calloc((ntensors > 0 ? ntensors : 1) * sizeof(clipt_st_tensor),
                                "safetensors tensor table", (void **)&f->tensors));
    CLIPT_TRY(clipt_host_alloc((ndims > 0 ? ndims : 1) * sizeof(uint64_t),
                               "safetensors shapes", (void **)&f->shapes));
    CLIPT_TRY(clipt_host_alloc(name_bytes > 0 ? name_bytes : 1,
                               "safetensors names", (void **)&f->names));

    uint64_t *dims = f->shapes;
    char *names = f->names;
    json_object_foreach(root, key, value) {
        if (strcmp(key, "__metadata__") == 0) {
            CLIPT_TRY(parse_metadata(f, what, value));
            continue;
        }
        clipt_st_tensor *t = &f->tensors[f->ntensors++];
        size_t len = strlen(key) + 1;
        memcpy(names, key, len);
        t->name = names;
        names += len;
        CLIPT_TRY(parse_entry(what, t->name, value, t, &dims));
    }
    return CLIPT_OK;
}

clipt_status clipt_st_parse(const uint8_t *bytes, size_t size,
                            const char *what, clipt_st_file **out)
{
    *out = NULL;
    if (size == 0) {
        return clipt_set_error(CLIPT_ERR_CORRUPT,
                               "%s: empty file; a safetensors file starts "
                               "with an 8-byte header length",
                               what);
    }
    if (size < 8) {
        return clipt_set_error(CLIPT_ERR_CORRUPT,
                               "%s: %zu bytes is shorter than the 8-byte "
                               "header length",
                               what, size);
    }
    uint64_t n = read_le64(bytes);
    if (n > CLIPT_ST_MAX_HEADER) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: header length %llu exceeds the limit of "
                               "%u bytes",
                               what, (unsigned long long)n,
                               CLIPT_ST_MAX_HEADER);
    }
    if (n > size - 8) {
        return clipt_set_error(CLIPT_ERR_CORRUPT,
                               "%s: header length %llu, but only %zu bytes "
                               "follow the length field; the file is "
                               "truncated",
                               what, (unsigned long long)n, size - 8);
    }

    json_error_t err;
    json_t *root = json_loadb((const char *)bytes + 8, (size_t)n,
                              JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) {
        return clipt_set_error(CLIPT_ERR_PARSE,
                               "%s: header is not valid JSON: %s (line %d, "
                               "column %d)",
                               what, err.text, err.line, err.column);
    }
    clipt_status status = CLIPT_OK;
    clipt_st_file *f = calloc(1, sizeof *f);
    if (f == NULL) {
        json_decref(root);
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory reading %s", what);
    }
    if (!json_is_object(root)) {
        status = clipt_set_error(CLIPT_ERR_PARSE,
                                 "%s: header must be a JSON object", what);
        goto fail;
    }
    f->header_bytes = n;
    f->path = strdup(what);
    if (f->path == NULL) {
        status = clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                                 "out of host memory reading %s", what);
        goto fail;
    }
    CLIPT_TRY_GOTO(build_tables(f, what, root));
    CLIPT_TRY_GOTO(check_tiling(f, what, (uint64_t)size - 8 - n));

    const uint8_t *buffer = bytes + 8 + n;
    for (int i = 0; i < f->ntensors; i++) {
        f->tensors[i].data = buffer + f->tensors[i].begin;
    }
    qsort(f->tensors, (size_t)f->ntensors, sizeof *f->tensors, compare_names);
    json_decref(root);
    *out = f;
    return CLIPT_OK;

fail:
    json_decref(root);
    clipt_st_close(f);
    return status;
}

clipt_status clipt_st_open(const char *path, clipt_st_file **out)
{
    *out = NULL;
    clipt_mapped_file map;
    CLIPT_TRY(clipt_map_file(path, &map));
    clipt_status status = clipt_st_parse(map.data, map.size, path, out);
    if (status != CLIPT_OK) {
        clipt_unmap_file(&map);
        return status;
    }
    (*out)->map = map;
    return CLIPT_OK;
}

void clipt_st_close(clipt_st_file *f)
{
    if (f == NULL) return;
    clipt_unmap_file(&f->map);
    for (int i = 0; i < 2 * f->nmetadata; i++) free(f->metadata[i]);
    /* a metadata pair whose strdup failed is counted and freed above */
    free(f->metadata);
    free(f->tensors);
    free(f->shapes);
    free(f->names);
    free(f->path);
    free(f);
}

const clipt_st_tensor *clipt_st_find(const clipt_st_file *f, const char *name)
{
    clipt_st_tensor key;
    memset(&key, 0, sizeof key);
    key.name = name;
    return bsearch(&key, f->tensors, (size_t)f->ntensors, sizeof key,
                   compare_names);
}

const char *clipt_st_metadata(const clipt_st_file *f, const char *key)
{
    for (int i = 0; i < f->nmetadata; i++) {
        if (strcmp(f->metadata[2 * i], key) == 0) return f->metadata[2 * i + 1];
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Conversion to fp32                                                       */
/* ------------------------------------------------------------------------ */

float clipt_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ff;
    uint32_t bits;
    if (exponent == 0) {
        /* zero or subnormal: mantissa units of 2^-24, exact in fp32 */
        float v = ldexpf((float)mantissa, -24);
        return sign ? -v : v;
    }
    if (exponent == 31) {
        bits = sign | 0x7f800000u | (mantissa << 13); /* infinity or NaN */
    } else {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float clipt_bf16_to_f32(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t clipt_f32_to_f16(float value)
{
    uint32_t x;
    memcpy(&x, &value, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t magnitude = x & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return sign | 0x7e00;  /* NaN */
    if (magnitude >= 0x47800000u) return sign | 0x7c00; /* >= 65536: inf */
    if (magnitude < 0x00800000u) return sign;           /* fp32 subnormal */
    int exponent = (int)(magnitude >> 23) - 127;
    uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    if (exponent >= -14) {
        /* normal half: keep 10 of 23 fraction bits, round half to even;
         * a carry moves into the exponent, up to infinity */
        uint32_t half = ((uint32_t)(exponent + 15) << 10) | ((mantissa >> 13) & 0x3ff);
        uint32_t rest = mantissa & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    /* subnormal half: count units of 2^-24, value = mantissa * 2^(e-23) */
    int shift = -exponent - 1;
    if (shift > 24) return sign; /* below half of the smallest subnormal */
    uint32_t q = mantissa >> shift;
    uint32_t rest = mantissa & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (q & 1))) q++;
    return (uint16_t)(sign | q);
}

uint16_t clipt_f32_to_bf16(float value)
{
    uint32_t x;
    memcpy(&x, &value, sizeof x);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fffu + ((x >> 16) & 1); /* round half to even */
    return (uint16_t)(x >> 16);
}

clipt_status clipt_st_read_f32(const clipt_st_file *f,
                               const clipt_st_tensor *t, float *dst)
{
    const uint8_t *p = t->data;
    size_t n = (size_t)t->numel;
    switch (t->dtype) {
    case CLIPT_ST_F32:
        memcpy(dst, p, n * sizeof(float));
        break;
    case CLIPT_ST_F16:
    case CLIPT_ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, sizeof h);
            dst[i] = t->dtype == CLIPT_ST_F16 ? clipt_f16_to_f32(h)
                                              : clipt_bf16_to_f32(h);
        }
        break;
    default:
        return clipt_set_error(CLIPT_ERR_UNSUPPORTED,
                               "%s: tensor \"%s\" has dtype %s; parameters "
                               "must be F32, F16 or BF16",
                               f->path, t->name, clipt_st_dtype_name(t->dtype));
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(dst[i])) {
            return clipt_set_error(CLIPT_ERR_NONFINITE,
                                   "%s: tensor \"%s\" holds %g at element %zu",
                                   f->path, t->name, (double)dst[i], i);
        }
    }
    return CLIPT_OK;
}
