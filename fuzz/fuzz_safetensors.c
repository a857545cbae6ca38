/* libFuzzer target: the safetensors header validator on arbitrary bytes.
 * A file that validates must give consistent lookups, and its F32, F16 and
 * BF16 tensors must convert without reading outside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

/* Converts tensors up to this many elements, to keep each run fast. */
#define MAX_CONVERTED 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clipt_st_file *f = NULL;
    if (clipt_st_parse(data, size, "fuzz input", &f) != CLIPT_OK) return 0;
    for (int i = 0; i < f->ntensors; i++) {
        const clipt_st_tensor *t = &f->tensors[i];
        if (clipt_st_find(f, t->name) != t) abort();
        if (t->data < data || t->data + (t->end - t->begin) > data + size) abort();
        if (t->numel > MAX_CONVERTED) continue;
        if (t->dtype == CLIPT_ST_F32 || t->dtype == CLIPT_ST_F16 ||
            t->dtype == CLIPT_ST_BF16) {
            float *x = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
            if (x != NULL) clipt_st_read_f32(f, t, x);
            free(x);
        }
    }
    clipt_st_metadata(f, "format");
    clipt_st_close(f);
    return 0;
}
