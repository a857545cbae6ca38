/* The in-memory WordNet noun graph shared by the loader (wordnet_load.c),
 * the graph builder and lookups (wordnet.c), Wu-Palmer similarity (wup.c)
 * and the pair sampler (sampler.c, sampler_draw.c).
 *
 * Synset ids are positions in data.noun order, which is ascending offset
 * order. Edges point from a synset to its parents: hypernyms (@ pointers)
 * first, then instance hypernyms (@i). */
#ifndef CLIPT_WORDNET_H
#define CLIPT_WORDNET_H

#include <stdint.h>

#include "internal.h"

/* One ancestor of a synset (the synset itself included) packed in 32 bits:
 * the ancestor's LCS rank in the high 24 bits, the shortest number of
 * parent edges up to it in the low 8 bits. A synset's ancestor list is
 * sorted by rank, so two lists intersect by a merge. */
#define CLIPT_ANC_DIST_BITS 8
#define CLIPT_ANC_MAX_DIST 255
#define CLIPT_ANC_MAX_SYNSETS (1 << 24)
#define CLIPT_ANC_RANK(e) ((int32_t)((e) >> CLIPT_ANC_DIST_BITS))
#define CLIPT_ANC_DIST(e) ((int32_t)((e)&CLIPT_ANC_MAX_DIST))

/* Per-synset facts Wu-Palmer reads, 16 bytes so one load brings them. */
typedef struct clipt_synset_node {
    int32_t rank;       /* LCS rank: position in NLTK's subsumer order */
    uint32_t anc_first; /* first entry of its ancestor list */
    uint16_t anc_count; /* entries in the list, itself included */
    uint8_t min_depth;  /* edges on the shortest path to a root */
    uint8_t max_depth;  /* edges on the longest path to a root */
    uint8_t additive;   /* 1: spd(x, s) == d(x, s) for every ancestor s */
    uint8_t pad[3];
} clipt_synset_node;

/* One lemma of index.noun with its senses in sense order. */
typedef struct clipt_lemma_entry {
    const char *lemma; /* as written in index.noun: lowercase, underscores */
    int32_t first;     /* first sense in wordnet.sense_ids */
    int32_t count;     /* number of senses */
} clipt_lemma_entry;

struct clipt_wordnet {
    char *dir;                 /* the dict directory that was read */
    int32_t n;                 /* synsets */
    uint32_t *offset;          /* (n) byte offsets in data.noun, ascending */
    const char **name;         /* (n) NLTK-style names, "dog.n.01" */
    int32_t *lemma_first;      /* (n + 1) into lemma */
    const char **lemma;        /* lemmas as written in data.noun */
    int32_t *parent_first;     /* (n + 1) into parent */
    int32_t *parent;           /* hypernyms, then instance hypernyms */
    int32_t *hypernym_count;   /* (n) parents that are @, not @i */
    int32_t *child_first;      /* (n + 1) into child */
    int32_t *child;            /* hyponyms and instance hyponyms */
    clipt_synset_node *node;   /* (n) */
    int32_t *by_rank;          /* (n) synset id of each LCS rank */
    uint8_t *rank_min_depth;   /* (n) min depth of each LCS rank */
    uint8_t *rank_max_depth;   /* (n) max depth of each LCS rank */
    uint32_t *anc;             /* packed ancestor entries */
    int64_t anc_total;         /* entries in anc */
    clipt_lemma_entry *lemmas; /* index.noun lemmas sorted by strcmp */
    int32_t lemma_count;
    int32_t *sense_ids; /* synset ids of each lemma's senses */
    char *pool;         /* every string above */
};

/* Tables the loader fills before the graph is built. Pointers into the
 * file buffers stay valid until clipt_wordnet_build() copies them. */
typedef struct clipt_wordnet_raw {
    char *data_path;  /* "<dir>/data.noun" for messages */
    char *index_path; /* "<dir>/index.noun" for messages */
    char *data_buf;   /* whole files, NUL-terminated */
    char *index_buf;
    int32_t n;
    uint32_t *offset;        /* (n) */
    int32_t *line;           /* (n) line number of each synset */
    int32_t *lemma_first;    /* (n + 1) */
    const char **lemma_text; /* lemma tokens, not NUL-terminated */
    int32_t *lemma_len;
    int32_t lemma_total;
    int32_t *edge_from;     /* synset id of the pointing synset */
    uint32_t *edge_to;      /* target offset, resolved later */
    uint8_t *edge_instance; /* 1 for @i */
    int32_t edge_total;
    const char **key_text; /* index.noun lemmas, not NUL-terminated */
    int32_t *key_len;
    int32_t *key_line;
    int32_t *key_first; /* into sense_offsets */
    int32_t *key_count;
    int32_t key_total;
    uint32_t *sense_offsets;
    int32_t sense_total;
} clipt_wordnet_raw;

/* Reads and parses data.noun and index.noun of dir into raw. On failure
 * the message names the file and line. raw is released by
 * clipt_wordnet_raw_free() in every case. */
clipt_status clipt_wordnet_read(const char *dir, clipt_wordnet_raw *raw);
void clipt_wordnet_raw_free(clipt_wordnet_raw *raw);

/* Builds the graph from raw: resolves pointers, computes depths, names,
 * LCS ranks and ancestor lists. wn is zeroed on entry. */
clipt_status clipt_wordnet_build(clipt_wordnet_raw *raw, clipt_wordnet *wn);

/* Returns the length of the shortest path from x up to a common ancestor c
 * and down to y, min over c of d(x, c) + d(y, c), by merging the two
 * ancestor lists. Returns INT32_MAX when x and y share no ancestor. */
static inline int32_t clipt_wordnet_spd(const clipt_wordnet *wn, const clipt_synset_node *x,
                                        const clipt_synset_node *y)
{
    const uint32_t *a = wn->anc + x->anc_first, *b = wn->anc + y->anc_first;
    int32_t na = x->anc_count, nb = y->anc_count, i = 0, j = 0;
    int32_t best = INT32_MAX;
    while (i < na && j < nb) {
        int32_t ra = CLIPT_ANC_RANK(a[i]), rb = CLIPT_ANC_RANK(b[j]);
        if (ra < rb) {
            i++;
        } else if (rb < ra) {
            j++;
        } else {
            int32_t d = CLIPT_ANC_DIST(a[i]) + CLIPT_ANC_DIST(b[j]);
            if (d < best) best = d;
            i++;
            j++;
        }
    }
    return best;
}

/* Computes Wu-Palmer(a, b) into *out for valid ids and a valid convention;
 * returns 0 when a and b share no ancestor. */
int clipt_wordnet_wup_ids(const clipt_wordnet *wn, int32_t a, int32_t b,
                          clipt_wup_convention convention, double *out);

/* Finds an index.noun lemma after lowercasing it and turning spaces into
 * underscores; returns NULL when there is none. */
const clipt_lemma_entry *clipt_wordnet_find_lemma_entry(const clipt_wordnet *wn, const char *lemma);

/* Binary search over offsets; returns the synset id or -1. */
int32_t clipt_wordnet_id_of_offset(const clipt_wordnet *wn, uint32_t offset);

#endif /* CLIPT_WORDNET_H */
