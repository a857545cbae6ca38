/* A map from strings to dense indices (0, 1, 2, ... in insertion order),
 * with open addressing. The map copies the keys. */
#ifndef CLIPT_STRMAP_H
#define CLIPT_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

typedef struct clipt_strmap {
    char **keys;        /* (count) owned copies, by index */
    int32_t *slots;     /* (capacity) index + 1, 0 when empty */
    size_t count, capacity;
} clipt_strmap;

void clipt_strmap_init(clipt_strmap *map);
void clipt_strmap_release(clipt_strmap *map);

/* Returns the index of key, or -1 when absent. */
int32_t clipt_strmap_find(const clipt_strmap *map, const char *key);

/* Finds key or inserts it with the next index; *index receives it and
 * *inserted (when not NULL) whether it was new. */
clipt_status clipt_strmap_insert(clipt_strmap *map, const char *key,
                                 int32_t *index, int *inserted);

#endif /* CLIPT_STRMAP_H */
