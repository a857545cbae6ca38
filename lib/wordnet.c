/* The public WordNet API: loading a dict directory, synset facts and the
 * lookups by offset, wnid, NLTK name and lemma. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wordnet.h"

/* Longest lemma or name a lookup accepts; WordNet 3.0's longest noun lemma
 * has 71 bytes. */
#define LOOKUP_MAX 256

/* ------------------------------------------------------------------------ */
/* Loading                                                                  */
/* ------------------------------------------------------------------------ */

CLIPT_API clipt_status clipt_wordnet_load(const char *dir, clipt_wordnet **out)
{
    if (out == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "clipt_wordnet_load: out is NULL");
    }
    *out = NULL;
    if (dir == NULL) {
        const char *env = getenv("WNSEARCHDIR");
        dir = env != NULL && env[0] != '\0' ? env : CLIPT_WORDNET_DEFAULT_DIR;
    }
    clipt_wordnet *wn = calloc(1, sizeof *wn);
    char *dir_copy = strdup(dir);
    if (wn == NULL || dir_copy == NULL) {
        free(wn);
        free(dir_copy);
        return clipt_set_error(CLIPT_ERR_OUT_OF_MEMORY, "out of host memory loading WordNet");
    }
    wn->dir = dir_copy;
    clipt_wordnet_raw raw;
    clipt_status status = clipt_wordnet_read(dir, &raw);
    if (status == CLIPT_OK) status = clipt_wordnet_build(&raw, wn);
    clipt_wordnet_raw_free(&raw);
    if (status != CLIPT_OK) {
        clipt_wordnet_free(wn);
        return status;
    }
    *out = wn;
    return CLIPT_OK;
}

CLIPT_API void clipt_wordnet_free(clipt_wordnet *wn)
{
    if (wn == NULL) return;
    free(wn->dir);
    free(wn->offset);
    free(wn->name);
    free(wn->lemma_first);
    free(wn->lemma);
    free(wn->parent_first);
    free(wn->parent);
    free(wn->hypernym_count);
    free(wn->child_first);
    free(wn->child);
    free(wn->node);
    free(wn->by_rank);
    free(wn->rank_min_depth);
    free(wn->rank_max_depth);
    free(wn->anc);
    free(wn->lemmas);
    free(wn->sense_ids);
    free(wn->pool);
    free(wn);
}

CLIPT_API const char *clipt_wordnet_dir(const clipt_wordnet *wn)
{
    return wn != NULL ? wn->dir : NULL;
}

CLIPT_API int32_t clipt_wordnet_synset_count(const clipt_wordnet *wn)
{
    return wn != NULL ? wn->n : 0;
}

/* ------------------------------------------------------------------------ */
/* Synset facts                                                             */
/* ------------------------------------------------------------------------ */

static clipt_status check_id(const clipt_wordnet *wn, int32_t id, const char *function)
{
    if (wn == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "%s: wn is NULL", function);
    }
    if (id < 0 || id >= wn->n) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "%s: synset id %d is outside [0, %d)",
                               function, id, wn->n);
    }
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_wordnet_synset_info(const clipt_wordnet *wn, int32_t id,
                                                 clipt_synset_info *info)
{
    CLIPT_TRY(check_id(wn, id, "clipt_wordnet_synset_info"));
    if (info == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_wordnet_synset_info: info is NULL");
    }
    const clipt_synset_node *r = &wn->node[id];
    int parents = wn->parent_first[id + 1] - wn->parent_first[id];
    info->offset = wn->offset[id];
    info->name = wn->name[id];
    info->lemma_count = wn->lemma_first[id + 1] - wn->lemma_first[id];
    info->hypernym_count = wn->hypernym_count[id];
    info->instance_hypernym_count = parents - wn->hypernym_count[id];
    info->hyponym_count = wn->child_first[id + 1] - wn->child_first[id];
    info->min_depth = r->min_depth;
    info->max_depth = r->max_depth;
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_wordnet_lemma(const clipt_wordnet *wn, int32_t id, int index,
                                           const char **lemma)
{
    CLIPT_TRY(check_id(wn, id, "clipt_wordnet_lemma"));
    int count = wn->lemma_first[id + 1] - wn->lemma_first[id];
    if (index < 0 || index >= count || lemma == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_wordnet_lemma: lemma index %d is "
                               "outside [0, %d) for %s, or lemma is NULL",
                               index, count, wn->name[id]);
    }
    *lemma = wn->lemma[wn->lemma_first[id] + index];
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_wordnet_parents(const clipt_wordnet *wn, int32_t id,
                                             const int32_t **parents, int *count)
{
    CLIPT_TRY(check_id(wn, id, "clipt_wordnet_parents"));
    if (parents == NULL || count == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "clipt_wordnet_parents: NULL output");
    }
    *parents = wn->parent + wn->parent_first[id];
    *count = wn->parent_first[id + 1] - wn->parent_first[id];
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_wordnet_children(const clipt_wordnet *wn, int32_t id,
                                              const int32_t **children, int *count)
{
    CLIPT_TRY(check_id(wn, id, "clipt_wordnet_children"));
    if (children == NULL || count == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT, "clipt_wordnet_children: NULL output");
    }
    *children = wn->child + wn->child_first[id];
    *count = wn->child_first[id + 1] - wn->child_first[id];
    return CLIPT_OK;
}

/* ------------------------------------------------------------------------ */
/* Lookups                                                                  */
/* ------------------------------------------------------------------------ */

/* Copies text into buf as index.noun spells lemmas: ASCII lowercase,
 * underscores for spaces. Returns 0 when it does not fit. */
static int normalize_lemma(const char *text, size_t len, char *buf, size_t size)
{
    if (len >= size) return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
        if (ch == ' ') ch = '_';
        buf[i] = ch;
    }
    buf[len] = '\0';
    return 1;
}

static const clipt_lemma_entry *find_normalized(const clipt_wordnet *wn, const char *key)
{
    int32_t lo = 0, hi = wn->lemma_count - 1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(wn->lemmas[mid].lemma, key);
        if (c == 0) return &wn->lemmas[mid];
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return NULL;
}

const clipt_lemma_entry *clipt_wordnet_find_lemma_entry(const clipt_wordnet *wn, const char *lemma)
{
    char key[LOOKUP_MAX];
    if (!normalize_lemma(lemma, strlen(lemma), key, sizeof key)) return NULL;
    return find_normalized(wn, key);
}

CLIPT_API clipt_status clipt_wordnet_find_offset(const clipt_wordnet *wn, uint32_t offset,
                                                 int32_t *id)
{
    if (wn == NULL || id == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_wordnet_find_offset: NULL argument");
    }
    *id = clipt_wordnet_id_of_offset(wn, offset);
    if (*id < 0) {
        return clipt_set_error(CLIPT_ERR_NOT_FOUND, "no noun synset at offset %08u in %s/data.noun",
                               offset, wn->dir);
    }
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_wordnet_find_wnid(const clipt_wordnet *wn, const char *wnid,
                                               int32_t *id)
{
    if (wn == NULL || wnid == NULL || id == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_wordnet_find_wnid: NULL argument");
    }
    *id = -1;
    int valid = wnid[0] == 'n' && strlen(wnid) == 9;
    uint32_t offset = 0;
    for (int i = 1; valid && i < 9; i++) {
        valid = wnid[i] >= '0' && wnid[i] <= '9';
        offset = offset * 10 + (uint32_t)(wnid[i] - '0');
    }
    if (!valid) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "invalid wnid \"%.*s\": expected 'n' and 8 "
                               "digits, as in n02084071",
                               LOOKUP_MAX, wnid);
    }
    *id = clipt_wordnet_id_of_offset(wn, offset);
    if (*id < 0) {
        return clipt_set_error(CLIPT_ERR_NOT_FOUND,
                               "wnid %s: no noun synset at offset %08u in "
                               "%s/data.noun",
                               wnid, offset, wn->dir);
    }
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_wordnet_find_name(const clipt_wordnet *wn, const char *name,
                                               int32_t *id)
{
    if (wn == NULL || name == NULL || id == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_wordnet_find_name: NULL argument");
    }
    *id = -1;
    /* Split at the last two dots, as NLTK does: lemma, pos, sense. */
    const char *last = strrchr(name, '.');
    const char *mid = NULL;
    for (const char *p = name; last != NULL && p < last; p++) {
        if (*p == '.') mid = p;
    }
    int sense = 0, valid = mid != NULL && mid > name && last[1] != '\0';
    for (const char *p = valid ? last + 1 : ""; *p != '\0' && valid; p++) {
        valid = *p >= '0' && *p <= '9' && sense < 100000;
        sense = sense * 10 + (*p - '0');
    }
    if (!valid || sense < 1) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "invalid synset name \"%.*s\": expected "
                               "lemma.pos.NN such as dog.n.01",
                               LOOKUP_MAX, name);
    }
    size_t pos_len = (size_t)(last - mid - 1);
    char pos = pos_len == 1 ? mid[1] : '?';
    if (pos >= 'A' && pos <= 'Z') pos = (char)(pos + 32);
    if (pos != 'n') {
        int known = pos_len == 1 && strchr("vasr", pos) != NULL;
        return clipt_set_error(known ? CLIPT_ERR_UNSUPPORTED : CLIPT_ERR_INVALID_ARGUMENT,
                               "synset name \"%.*s\": part of speech "
                               "'%.*s'; only nouns (n) are loaded",
                               LOOKUP_MAX, name, (int)pos_len, mid + 1);
    }
    char key[LOOKUP_MAX];
    const clipt_lemma_entry *e = NULL;
    if (normalize_lemma(name, (size_t)(mid - name), key, sizeof key)) e = find_normalized(wn, key);
    if (e == NULL) {
        return clipt_set_error(CLIPT_ERR_NOT_FOUND,
                               "synset name \"%.*s\": no noun lemma '%.*s' "
                               "in %s/index.noun",
                               LOOKUP_MAX, name, (int)(mid - name), name, wn->dir);
    }
    if (sense > e->count) {
        return clipt_set_error(CLIPT_ERR_NOT_FOUND,
                               "synset name \"%s\": lemma '%s' has %d noun "
                               "senses",
                               name, e->lemma, e->count);
    }
    *id = wn->sense_ids[e->first + sense - 1];
    return CLIPT_OK;
}

CLIPT_API clipt_status clipt_wordnet_find_lemma(const clipt_wordnet *wn, const char *lemma,
                                                const int32_t **ids, int *count)
{
    if (wn == NULL || lemma == NULL || ids == NULL || count == NULL) {
        return clipt_set_error(CLIPT_ERR_INVALID_ARGUMENT,
                               "clipt_wordnet_find_lemma: NULL argument");
    }
    const clipt_lemma_entry *e = clipt_wordnet_find_lemma_entry(wn, lemma);
    if (e == NULL) {
        *ids = NULL;
        *count = 0;
        return clipt_set_error(CLIPT_ERR_NOT_FOUND, "no noun lemma \"%.*s\" in %s/index.noun",
                               LOOKUP_MAX, lemma, wn->dir);
    }
    *ids = wn->sense_ids + e->first;
    *count = e->count;
    return CLIPT_OK;
}
