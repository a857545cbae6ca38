#include "strmap.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a, 64 bits. */
static uint64_t hash_string(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

void clipt_strmap_init(clipt_strmap *map)
{
    memset(map, 0, sizeof *map);
}

void clipt_strmap_release(clipt_strmap *map)
{
    for (size_t i = 0; i < map->count; i++) free(map->keys[i]);
    free(map->keys);
    free(map->slots);
    memset(map, 0, sizeof *map);
}

int32_t clipt_strmap_find(const clipt_strmap *map, const char *key)
{
    if (map->capacity == 0) return -1;
    size_t mask = map->capacity - 1;
    for (size_t i = hash_string(key) & mask;; i = (i + 1) & mask) {
        int32_t slot = map->slots[i];
        if (slot == 0) return -1;
        if (strcmp(map->keys[slot - 1], key) == 0) return slot - 1;
    }
}

/* Doubles the slot table (capacity is a power of two, load <= 1/2). */
static clipt_status grow(clipt_strmap *map)
{
    size_t capacity = map->capacity ? map->capacity * 2 : 64;
    int32_t *slots = calloc(capacity, sizeof *slots);
    char **keys = realloc(map->keys, capacity / 2 * sizeof *keys);
    if (slots == NULL || keys == NULL) {
        free(slots);
        if (keys != NULL) map->keys = keys;
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory growing a text map to %zu slots",
                               capacity);
    }
    map->keys = keys;
    for (size_t k = 0; k < map->count; k++) {
        size_t i = hash_string(keys[k]) & (capacity - 1);
        while (slots[i] != 0) i = (i + 1) & (capacity - 1);
        slots[i] = (int32_t)k + 1;
    }
    free(map->slots);
    map->slots = slots;
    map->capacity = capacity;
    return CLIPT_OK;
}

clipt_status clipt_strmap_insert(clipt_strmap *map, const char *key,
                                 int32_t *index, int *inserted)
{
    int32_t found = clipt_strmap_find(map, key);
    if (inserted != NULL) *inserted = found < 0;
    if (found >= 0) {
        *index = found;
        return CLIPT_OK;
    }
    if (map->count >= (size_t)INT32_MAX - 1) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "text map is full (%zu keys)",
                               map->count);
    }
    if ((map->count + 1) * 2 > map->capacity) CLIPT_TRY(grow(map));
    char *copy = strdup(key);
    if (copy == NULL) {
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory copying a text of %zu bytes",
                               strlen(key));
    }
    size_t mask = map->capacity - 1, i = hash_string(key) & mask;
    while (map->slots[i] != 0) i = (i + 1) & mask;
    map->keys[map->count] = copy;
    map->slots[i] = (int32_t)map->count + 1;
    *index = (int32_t)map->count++;
    return CLIPT_OK;
}
