/* CLIP's byte table and the vocabulary while it is loaded: every token's
 * string by id with a hash index from string to id, the decoding table built
 * from it and the special tokens. Shared by both file formats
 * (lib/tokenizer_load.c). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

/* ------------------------------------------------------------------------ */
/* The byte table                                                           */
/* ------------------------------------------------------------------------ */

/* CLIP's byte-to-unicode table. BPE works on characters, one per byte of
 * UTF-8, and each must be a visible character in the merges file. The 188
 * bytes that are printable in Latin-1 ('!'..'~', 0xA1..0xAC, 0xAE..0xFF)
 * map to the code point of the same value. The other 68 (controls, space,
 * DEL, no-break space, soft hyphen) map to U+0100, U+0101, ... in
 * increasing byte order, so a space becomes U+0120. A byte's position in
 * this order, printable ones first, is its symbol's id. */
void clipt_byte_table(uint32_t char_of_byte[256], int32_t order_of_byte[256])
{
    int32_t order = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        if (printable) {
            char_of_byte[b] = (uint32_t)b;
            order_of_byte[b] = order++;
        }
    }
    uint32_t moved = 0x100;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        if (!printable) {
            char_of_byte[b] = moved++;
            order_of_byte[b] = order++;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Vocabulary strings while loading                                         */
/* ------------------------------------------------------------------------ */

static uint64_t hash_string(const char *s, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001B3ull;
    return h;
}

clipt_status clipt_vocab_builder_init(clipt_vocab_builder *v, int32_t size)
{
    memset(v, 0, sizeof *v);
    size_t slots = 1024;
    while (slots < 2 * (size_t)size)
        slots *= 2;
    v->offset = calloc((size_t)size + 1, sizeof *v->offset);
    v->slot_id = malloc(slots * sizeof *v->slot_id);
    if (!v->offset || !v->slot_id)
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY,
                               "out of host memory for a vocabulary of %d tokens", size);
    for (size_t i = 0; i < slots; i++)
        v->slot_id[i] = -1;
    v->mask = slots - 1;
    v->size = size;
    return CLIPT_OK;
}

void clipt_vocab_builder_release(clipt_vocab_builder *v)
{
    free(v->text);
    free(v->offset);
    free(v->slot_id);
}

/* Returns the id of string s (n bytes), or -1. Ids whose string is not set
 * have an empty range and never match a non-empty s. */
int32_t clipt_vocab_builder_find(const clipt_vocab_builder *v, const char *s, size_t n)
{
    for (size_t i = hash_string(s, n) & v->mask;; i = (i + 1) & v->mask) {
        int32_t id = v->slot_id[i];
        if (id < 0) return -1;
        if (v->offset[id + 1] - v->offset[id] == n && memcmp(v->text + v->offset[id], s, n) == 0)
            return id;
    }
}

/* Stores s as the string of id. Ids are set in increasing order; the ones
 * skipped get no string. */
clipt_status clipt_vocab_builder_set(clipt_vocab_builder *v, int32_t id, const char *s, size_t n)
{
    for (; v->next_id < id; v->next_id++)
        v->offset[v->next_id + 1] = (uint32_t)v->text_used;
    v->next_id = id + 1;
    CLIPT_TRY(
        clipt_grow((void **)&v->text, &v->text_capacity, v->text_used + n, 1, "the vocabulary"));
    memcpy(v->text + v->text_used, s, n);
    v->text_used += n;
    v->offset[id + 1] = (uint32_t)v->text_used;
    size_t i = hash_string(s, n) & v->mask;
    while (v->slot_id[i] >= 0)
        i = (i + 1) & v->mask;
    v->slot_id[i] = id;
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Finishing a tokenizer from its vocabulary                                */
/* ------------------------------------------------------------------------ */

/* Builds the decoding table: every id's string with each character turned
 * back into its byte. A character outside the byte table cannot be decoded,
 * so it is rejected (the specials are ASCII and pass). */
clipt_status clipt_tokenizer_build_decoder(clipt_tokenizer *tok, const clipt_vocab_builder *v,
                                           const uint32_t char_of_byte[256], const char *path)
{
    int16_t byte_of_char[0x144];
    for (size_t i = 0; i < sizeof byte_of_char / sizeof *byte_of_char; i++)
        byte_of_char[i] = -1;
    for (int b = 0; b < 256; b++)
        byte_of_char[char_of_byte[b]] = (int16_t)b;

    tok->token_offset = calloc((size_t)v->size + 1, sizeof *tok->token_offset);
    tok->token_known = calloc((size_t)v->size, 1);
    tok->token_bytes = malloc(v->text_used ? v->text_used : 1);
    if (!tok->token_offset || !tok->token_known || !tok->token_bytes)
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory for the decoder");
    size_t w = 0;
    for (int32_t id = 0; id < v->size; id++) {
        const uint8_t *s = (const uint8_t *)v->text + v->offset[id];
        size_t n = v->offset[id + 1] - v->offset[id];
        tok->token_known[id] = n > 0;
        for (size_t i = 0; i < n;) {
            uint32_t cp = s[i];
            size_t step = 1;
            if (cp >= 0xC0 && cp < 0xE0 && i + 1 < n) {
                cp = ((cp & 0x1F) << 6) | (s[i + 1] & 0x3F);
                step = 2;
            }
            if (cp >= 0x144 || byte_of_char[cp] < 0)
                return clipt_set_error(CLIPT_ERR_PARSE,
                                       "%s: token %d (\"%.*s\") has a character outside CLIP's "
                                       "256 byte characters; this is not a byte-level BPE "
                                       "vocabulary",
                                       path, id, (int)n, (const char *)s);
            tok->token_bytes[w++] = (char)byte_of_char[cp];
            i += step;
        }
        tok->token_offset[id + 1] = (uint32_t)w;
    }
    return CLIPT_OK;
}

clipt_status clipt_tokenizer_set_special(clipt_tokenizer *tok, int which, const char *text,
                                         int32_t id)
{
    tok->special_id[which] = id;
    tok->special_length[which] = strlen(text);
    tok->special_text[which] = strdup(text);
    if (!tok->special_text[which])
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory");
    return CLIPT_OK;
}
