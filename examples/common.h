/* Helpers shared by the example programs: opening a context, a model and a
 * tokenizer from command-line choices, the sampler settings that finetune
 * and eval must agree on, and the evaluation table. Header-only, so each
 * example stays one program built from one .c file. */
#ifndef CLIPT_EXAMPLES_COMMON_H
#define CLIPT_EXAMPLES_COMMON_H

#include <clipt.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The merges file scripts/setup installs. */
#define EXAMPLE_DEFAULT_MERGES "data/bpe_simple_vocab_16e6.txt.gz"

static const char *const example_relation_names[CLIPT_RELATION_COUNT] = {
    "synonym", "hypernym", "hyponym", "co-hyponym", "random"};

/* Prints "program: context: detail (STATUS)" to stderr and returns 1. */
static inline int example_fail(const char *program, const char *context, clipt_status st)
{
    const char *detail = clipt_last_error();
    if (detail[0] == '\0') detail = clipt_status_string(st);
    fprintf(stderr, "%s: %s: %s (%s)\n", program, context, detail, clipt_status_name(st));
    return 1;
}

static inline clipt_status example_open_context(const char *device, int threads,
                                                clipt_context **ctx)
{
    clipt_context_options opts;
    clipt_context_options_init(&opts);
    opts.device = device;
    opts.num_threads = threads;
    return clipt_context_create(&opts, ctx);
}

/* Loads model_dir, or creates preset with CLIP's initialisation from seed. */
static inline clipt_status example_open_model(clipt_context *ctx, const char *model_dir,
                                              const char *preset, unsigned long long seed,
                                              clipt_model **model)
{
    if (model_dir != NULL) return clipt_model_load(ctx, model_dir, model);
    clipt_model_config cfg;
    clipt_status st = clipt_model_config_preset(preset, &cfg);
    if (st != CLIPT_OK) return st;
    return clipt_model_create(ctx, &cfg, seed, model);
}

static inline int example_file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Finds the merges file that scripts/setup installs: $CLIPT_MERGES when
 * set, else data/ under the working directory, else data/ of the source
 * tree the program was built in (two levels above build/examples/). */
static inline void example_default_merges(char *out, size_t size)
{
    const char *env = getenv("CLIPT_MERGES");
    if (env != NULL && env[0] != '\0') {
        snprintf(out, size, "%s", env);
        return;
    }
    snprintf(out, size, "%s", EXAMPLE_DEFAULT_MERGES);
    if (example_file_exists(out)) return;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(exe, '/');
        if (slash == NULL) return;
        *slash = '\0';
    }
    int len = snprintf(out, size, "%s/%s", exe, EXAMPLE_DEFAULT_MERGES);
    if (len < 0 || (size_t)len >= size || !example_file_exists(out)) {
        snprintf(out, size, "%s", EXAMPLE_DEFAULT_MERGES);
    }
}

/* Opens the tokenizer: path when given, else the model directory's
 * vocab.json + merges.txt when both exist, else the merges file that
 * scripts/setup installs. *used receives the path chosen. */
static inline clipt_status example_open_tokenizer(const char *path, const char *model_dir,
                                                  clipt_tokenizer **tok, char *used,
                                                  size_t used_size)
{
    if (path == NULL && model_dir != NULL) {
        char vocab[4096], merges[4096];
        snprintf(vocab, sizeof vocab, "%s/vocab.json", model_dir);
        snprintf(merges, sizeof merges, "%s/merges.txt", model_dir);
        if (example_file_exists(vocab) && example_file_exists(merges)) path = model_dir;
    }
    if (path == NULL) {
        example_default_merges(used, used_size);
    } else {
        snprintf(used, used_size, "%s", path);
    }
    return clipt_tokenizer_load(used, tok);
}

/* The data settings that decide the split and the evaluation pairs; eval
 * must use the same values as the finetune run it checks. */
typedef struct example_data_options {
    const char *wordnet_dir, *root, *wnid_file, *template_text;
    double weights[CLIPT_RELATION_COUNT];
    double held_out;
    unsigned long long split_seed, seed;
    int textbook;
} example_data_options;

static inline void example_data_defaults(example_data_options *d)
{
    memset(d, 0, sizeof *d);
    d->template_text = "{}";
    const double mix[CLIPT_RELATION_COUNT] = {0.2, 0.15, 0.15, 0.2, 0.3};
    memcpy(d->weights, mix, sizeof mix);
    d->held_out = 0.1;
    d->split_seed = 1234;
}

static inline clipt_status example_open_sampler(const clipt_wordnet *wn,
                                                const example_data_options *d,
                                                clipt_sampler **sampler)
{
    clipt_sampler_options so;
    clipt_sampler_options_init(&so);
    so.wnid_file = d->wnid_file;
    so.subtree = d->root;
    so.add_hypernyms = d->wnid_file != NULL;
    so.held_out_fraction = d->held_out;
    so.split_seed = d->split_seed;
    memcpy(so.weights, d->weights, sizeof so.weights);
    so.text_template = d->template_text;
    so.convention = d->textbook ? CLIPT_WUP_TEXTBOOK : CLIPT_WUP_NLTK;
    so.seed = d->seed;
    return clipt_sampler_create(wn, &so, sampler);
}

/* Parses an integer option value in [min, max]; on failure prints
 * "program: option: ..." and returns -1. */
static inline int example_parse_int(const char *program, const char *option, const char *text,
                                    long long min, long long max, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || v < min || v > max) {
        fprintf(stderr, "%s: %s is \"%s\"; expected a whole number from %lld to %lld\n",
                program, option, text, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* Parses a seed: a whole number from 0 to 2^64 - 1. */
static inline int example_parse_seed(const char *program, const char *option, const char *text,
                                     unsigned long long *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || text[0] == '-') {
        fprintf(stderr, "%s: %s is \"%s\"; expected a whole number from 0 to %llu\n",
                program, option, text, ULLONG_MAX);
        return -1;
    }
    *out = v;
    return 0;
}

/* Parses a finite number option value in [min, max]. */
static inline int example_parse_double(const char *program, const char *option, const char *text,
                                       double min, double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !isfinite(v) || v < min || v > max) {
        fprintf(stderr, "%s: %s is \"%s\"; expected a number from %g to %g\n", program,
                option, text, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* Returns the byte offset of the first invalid UTF-8 sequence in s, or -1
 * when s is valid (overlong forms, surrogates and values past U+10FFFF
 * count as invalid). */
static inline long example_utf8_error(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (long i = 0; p[i];) {
        unsigned c = p[i];
        /* n continuation bytes follow the lead byte c; cp starts with its payload */
        int n;
        unsigned cp;
        if (c < 0x80) {
            n = 0;
            cp = c;
        } else if ((c >> 5) == 6) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c >> 4) == 14) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c >> 3) == 30) {
            n = 3;
            cp = c & 0x07;
        } else {
            return i;
        }
        for (int k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) return i;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        static const unsigned smallest[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < smallest[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
        i += n + 1;
    }
    return -1;
}

/* Checks that an option's text is UTF-8; prints the problem and returns -1
 * when it is not. */
static inline int example_check_utf8(const char *program, const char *option, const char *text)
{
    long at = example_utf8_error(text);
    if (at < 0) return 0;
    fprintf(stderr, "%s: %s contains invalid UTF-8 at byte %ld\n", program, option, at);
    return -1;
}

/* Checks that a text template contains exactly one "{}". */
static inline int example_check_template(const char *program, const char *template_text)
{
    const char *hole = strstr(template_text, "{}");
    if (hole == NULL || strstr(hole + 2, "{}") != NULL) {
        fprintf(stderr, "%s: --template \"%s\" must contain exactly one {}\n", program,
                template_text);
        return -1;
    }
    return example_check_utf8(program, "--template", template_text);
}

/* Parses "S,H,O,C,R": five relation weights >= 0. Returns 0 on success. */
static inline int example_parse_mix(const char *s, double *weights)
{
    double w[CLIPT_RELATION_COUNT];
    for (int k = 0; k < CLIPT_RELATION_COUNT; k++) {
        char *end = NULL;
        w[k] = strtod(s, &end);
        if (end == s || !(w[k] >= 0.0) || !isfinite(w[k])) return -1;
        if (*end != (k == CLIPT_RELATION_COUNT - 1 ? '\0' : ',')) return -1;
        s = end + 1;
    }
    memcpy(weights, w, sizeof w);
    return 0;
}

/* Prints a table of one or two evaluations side by side (after may be
 * NULL): Spearman, Pearson and distance overall and per relation kind. */
static inline void example_print_eval(const char *label_before, const clipt_eval_stats *before,
                                      const char *label_after, const clipt_eval_stats *after)
{
    printf("%-12s %6s | %-26s", "held-out", "pairs", label_before);
    if (after != NULL) printf(" | %-26s", label_after);
    printf("\n%-12s %6s | %8s %8s %8s", "", "", "spearman", "pearson", "distance");
    if (after != NULL) printf(" | %8s %8s %8s", "spearman", "pearson", "distance");
    printf("\n");
    printf("%-12s %6zu | %8.4f %8.4f %8.4f", "all", before->pairs, before->spearman,
           before->pearson, before->distance);
    if (after != NULL) printf(" | %8.4f %8.4f %8.4f", after->spearman, after->pearson, after->distance);
    printf("\n");
    for (int k = 0; k < CLIPT_RELATION_COUNT; k++) {
        if (before->kind_pairs[k] == 0) continue;
        printf("%-12s %6zu | %8.4f %8.4f %8.4f", example_relation_names[k], before->kind_pairs[k],
               before->kind_spearman[k], before->kind_pearson[k], before->kind_distance[k]);
        if (after != NULL) {
            printf(" | %8.4f %8.4f %8.4f", after->kind_spearman[k], after->kind_pearson[k],
                   after->kind_distance[k]);
        }
        printf("\n");
    }
    printf("token-overlap baseline spearman %.4f (no learning: Jaccard of BPE tokens)\n",
           before->overlap_spearman);
    if (!isnan(before->drift) || (after != NULL && !isnan(after->drift))) {
        printf("drift, mean cos(M(w), M0(w)): %.4f", before->drift);
        if (after != NULL) printf(" -> %.4f", after->drift);
        printf("\n");
    }
}

#endif /* CLIPT_EXAMPLES_COMMON_H */
