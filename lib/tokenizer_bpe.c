/* Byte-pair encoding of one pre-token, the merge table it reads and the
 * per-tokenizer cache of finished words.
 *
 * A pre-token's UTF-8 bytes start as one symbol each. The last byte takes
 * its end-of-word form (the byte's character followed by "</w>"), so a
 * piece at the end of a word and the same piece inside a longer word are
 * different tokens. Then the adjacent pair with the lowest merge rank is
 * replaced by its merged symbol, at every occurrence from left to right
 * without overlap, and this repeats until no adjacent pair has a rank.
 * The result equals that of the reference loop in OpenAI's
 * simple_tokenizer.py. This version keeps the candidate pairs in a
 * min-heap ordered by (rank, position), so a pre-token of n bytes costs
 * O(n log n) rather than O(n^2). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

/* A pair that may merge: the left symbol sits at position pos. */
struct clipt_bpe_candidate {
    int32_t rank, pos;
    int32_t left, right, merged;
};

/* ------------------------------------------------------------------------ */
/* Merge table                                                              */
/* ------------------------------------------------------------------------ */

static size_t merge_slot(const clipt_merge_table *table, uint64_t key)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29)) & table->mask;
}

clipt_status clipt_merge_table_init(clipt_merge_table *table, size_t expected)
{
    size_t slots = 64;
    while (slots < 2 * expected)
        slots *= 2;
    table->slots = malloc(slots * sizeof *table->slots);
    if (!table->slots)
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory allocating %zu bytes for the merge table",
                               slots * sizeof *table->slots);
    for (size_t i = 0; i < slots; i++)
        table->slots[i].key = CLIPT_MERGE_EMPTY;
    table->mask = slots - 1;
    table->count = 0;
    return CLIPT_OK;
}

void clipt_merge_table_release(clipt_merge_table *table)
{
    free(table->slots);
    memset(table, 0, sizeof *table);
}

int clipt_merge_table_add(clipt_merge_table *table, int32_t left, int32_t right, int32_t rank,
                          int32_t merged)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t i = merge_slot(table, key);
    while (table->slots[i].key != CLIPT_MERGE_EMPTY) {
        if (table->slots[i].key == key) return 0;
        i = (i + 1) & table->mask;
    }
    table->slots[i] = (clipt_merge_slot){key, rank, merged};
    table->count++;
    return 1;
}

static const clipt_merge_slot *merge_find(const clipt_merge_table *table, int32_t left,
                                          int32_t right)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t i = merge_slot(table, key);
    while (table->slots[i].key != CLIPT_MERGE_EMPTY) {
        if (table->slots[i].key == key) return &table->slots[i];
        i = (i + 1) & table->mask;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* BPE of one pre-token                                                     */
/* ------------------------------------------------------------------------ */

void clipt_bpe_buffers_release(clipt_bpe_buffers *buffers)
{
    free(buffers->symbols);
    free(buffers->heap);
    memset(buffers, 0, sizeof *buffers);
}

static int candidate_before(const struct clipt_bpe_candidate *a,
                            const struct clipt_bpe_candidate *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(struct clipt_bpe_candidate *heap, size_t *size, struct clipt_bpe_candidate c)
{
    size_t i = (*size)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!candidate_before(&c, &heap[parent])) break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = c;
}

static struct clipt_bpe_candidate heap_pop(struct clipt_bpe_candidate *heap, size_t *size)
{
    struct clipt_bpe_candidate top = heap[0];
    struct clipt_bpe_candidate last = heap[--*size];
    size_t i = 0, n = *size;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && candidate_before(&heap[child + 1], &heap[child])) child++;
        if (!candidate_before(&heap[child], &last)) break;
        heap[i] = heap[child];
        i = child;
    }
    if (n > 0) heap[i] = last;
    return top;
}

/* Pushes the pair (symbol at left, symbol at right) when it has a merge. */
static void push_pair(const clipt_tokenizer *tok, const int32_t *symbol,
                      struct clipt_bpe_candidate *heap, size_t *size, int32_t left, int32_t right)
{
    const clipt_merge_slot *m = merge_find(&tok->merges, symbol[left], symbol[right]);
    if (m)
        heap_push(
            heap, size,
            (struct clipt_bpe_candidate){m->rank, left, symbol[left], symbol[right], m->merged});
}

clipt_status clipt_bpe_word(const clipt_tokenizer *tok, clipt_bpe_buffers *b, const uint8_t *bytes,
                            size_t length, int32_t *out, size_t *count)
{
    if (length == 1) {
        out[0] = tok->byte_end_id[bytes[0]];
        *count = 1;
        return CLIPT_OK;
    }
    if (length > INT32_MAX / 4)
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "a single word of %zu bytes is too long to tokenize", length);
    if (length > b->symbol_capacity) {
        /* One allocation contains the symbol, prev and next arrays. */
        int32_t *block = realloc(b->symbols, 3 * length * sizeof(int32_t));
        if (!block)
            return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                                   "out of host memory allocating %zu bytes for BPE symbols",
                                   3 * length * sizeof(int32_t));
        b->symbols = block;
        b->symbol_capacity = length;
    }
    /* Each merge pushes at most two new pairs. */
    CLIPT_TRY(clipt_grow((void **)&b->heap, &b->heap_capacity, 3 * length,
                         sizeof(struct clipt_bpe_candidate), "BPE candidate heap"));

    int32_t n = (int32_t)length;
    int32_t *symbol = b->symbols;
    int32_t *prev = symbol + b->symbol_capacity, *next = prev + b->symbol_capacity;
    for (int32_t i = 0; i < n; i++) {
        symbol[i] = i + 1 < n ? tok->byte_id[bytes[i]] : tok->byte_end_id[bytes[i]];
        prev[i] = i - 1;
        next[i] = i + 1 < n ? i + 1 : -1;
    }
    size_t size = 0;
    for (int32_t i = 0; i + 1 < n; i++)
        push_pair(tok, symbol, b->heap, &size, i, i + 1);

    /* Merge the lowest (rank, position) pair that is still current. A
     * position merged into its left neighbour is marked -1, and candidates
     * whose symbols changed since they were pushed are skipped. */
    while (size > 0) {
        struct clipt_bpe_candidate c = heap_pop(b->heap, &size);
        int32_t p = c.pos, q = next[p];
        if (symbol[p] != c.left || q < 0 || symbol[q] != c.right) continue;
        symbol[p] = c.merged;
        symbol[q] = -1;
        next[p] = next[q];
        if (next[q] >= 0) prev[next[q]] = p;
        if (prev[p] >= 0) push_pair(tok, symbol, b->heap, &size, prev[p], p);
        if (next[p] >= 0) push_pair(tok, symbol, b->heap, &size, p, next[p]);
    }

    size_t w = 0;
    for (int32_t i = 0; i >= 0; i = next[i])
        out[w++] = symbol[i];
    *count = w;
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Word cache                                                               */
/* ------------------------------------------------------------------------ */

void clipt_word_cache_release(clipt_word_cache *cache)
{
    free(cache->slots);
    free(cache->keys);
    free(cache->ids);
    memset(cache, 0, sizeof *cache);
}

/* FNV-1a; pre-tokens are short. */
static uint64_t hash_bytes(const uint8_t *bytes, size_t length)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < length; i++)
        h = (h ^ bytes[i]) * 0x100000001B3ull;
    return h;
}

static const clipt_word_slot *cache_find(const clipt_word_cache *cache, uint64_t hash,
                                         const uint8_t *bytes, size_t length)
{
    if (!cache->slots) return NULL;
    for (size_t i = hash & cache->mask;; i = (i + 1) & cache->mask) {
        const clipt_word_slot *s = &cache->slots[i];
        if (s->key_length == 0) return NULL;
        if (s->hash == hash && s->key_length == length &&
            memcmp(cache->keys + s->key_offset, bytes, length) == 0)
            return s;
    }
}

static void cache_clear(clipt_word_cache *cache)
{
    if (cache->slots) memset(cache->slots, 0, (cache->mask + 1) * sizeof *cache->slots);
    cache->count = 0;
    cache->keys_used = 0;
    cache->ids_used = 0;
}

static void slot_place(clipt_word_slot *slots, size_t mask, const clipt_word_slot *s)
{
    size_t i = s->hash & mask;
    while (slots[i].key_length != 0)
        i = (i + 1) & mask;
    slots[i] = *s;
}

/* Keeps the load factor at or below one half. */
static clipt_status cache_reserve_slot(clipt_word_cache *cache)
{
    size_t slots = cache->slots ? cache->mask + 1 : 0;
    if (2 * (cache->count + 1) <= slots) return CLIPT_OK;
    size_t grown = slots ? 2 * slots : 1024;
    clipt_word_slot *fresh = calloc(grown, sizeof *fresh);
    if (!fresh)
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory allocating %zu bytes for the word cache",
                               grown * sizeof *fresh);
    for (size_t i = 0; i < slots; i++)
        if (cache->slots[i].key_length != 0) slot_place(fresh, grown - 1, &cache->slots[i]);
    free(cache->slots);
    cache->slots = fresh;
    cache->mask = grown - 1;
    return CLIPT_OK;
}

static clipt_status cache_insert(clipt_word_cache *cache, uint64_t hash, const uint8_t *bytes,
                                 size_t length, const int32_t *ids, size_t count)
{
    if (cache->count >= CLIPT_WORD_CACHE_MAX_WORDS ||
        cache->keys_used + length > CLIPT_WORD_CACHE_MAX_BYTES)
        cache_clear(cache);
    CLIPT_TRY(cache_reserve_slot(cache));
    CLIPT_TRY(clipt_grow((void **)&cache->keys, &cache->keys_capacity, cache->keys_used + length, 1,
                         "the word cache"));
    CLIPT_TRY(clipt_grow((void **)&cache->ids, &cache->ids_capacity, cache->ids_used + count,
                         sizeof(int32_t), "the word cache"));
    clipt_word_slot s = {hash, (uint32_t)cache->keys_used, (uint32_t)length,
                         (uint32_t)cache->ids_used, (uint32_t)count};
    memcpy(cache->keys + cache->keys_used, bytes, length);
    memcpy(cache->ids + cache->ids_used, ids, count * sizeof *ids);
    cache->keys_used += length;
    cache->ids_used += count;
    slot_place(cache->slots, cache->mask, &s);
    cache->count++;
    return CLIPT_OK;
}

clipt_status clipt_tokenizer_bpe(clipt_tokenizer *tok, const uint8_t *bytes, size_t length,
                                 size_t *count)
{
    CLIPT_TRY(clipt_grow((void **)&tok->ids, &tok->ids_capacity, *count + length, sizeof(int32_t),
                         "token ids"));
    int cacheable = length <= CLIPT_WORD_CACHE_MAX_KEY;
    uint64_t hash = 0;
    if (cacheable) {
        hash = hash_bytes(bytes, length);
        const clipt_word_slot *s = cache_find(&tok->cache, hash, bytes, length);
        if (s) {
            memcpy(tok->ids + *count, tok->cache.ids + s->ids_offset,
                   s->ids_count * sizeof(int32_t));
            *count += s->ids_count;
            return CLIPT_OK;
        }
    }
    size_t produced;
    CLIPT_TRY(clipt_bpe_word(tok, &tok->bpe, bytes, length, tok->ids + *count, &produced));
    if (cacheable)
        CLIPT_TRY(cache_insert(&tok->cache, hash, bytes, length, tok->ids + *count, produced));
    *count += produced;
    return CLIPT_OK;
}
