/* eval: evaluates a model on the held-out WordNet pairs that finetune uses
 * (the same split and evaluation set for the same data options), and
 * prints finetune's table. With --reference, a second model is evaluated
 * beside it and drift is measured against it. Run with --help. */
#include <clipt.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

/* Reads pairs from a tab-separated file; returns the count or -1 after
 * printing the file and line of the problem. Texts are kept in *storage. */
static long read_pairs_file(const char *path, clipt_pair **out, char **storage)
{
    /* a directory is refused; a pipe (such as <(command) in bash) is read */
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "eval: %s is a directory, not a pairs file\n", path);
        return -1;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "eval: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 0, n = 0, lineno = 0;
    clipt_pair *pairs = NULL;
    char *line = NULL, *all = NULL;
    size_t line_cap = 0, all_len = 0, all_cap = 0;
    ssize_t len;
    /* First pass: keep every line; texts point into the copy afterwards. */
    while ((len = getline(&line, &line_cap, f)) > 0) {
        if (all_len + (size_t)len + 1 > all_cap) {
            all_cap = (all_len + (size_t)len + 1) * 2;
            char *p = realloc(all, all_cap);
            if (p == NULL) goto oom;
            all = p;
        }
        memcpy(all + all_len, line, (size_t)len + 1);
        all_len += (size_t)len + 1;
    }
    fclose(f);
    free(line);
    for (size_t pos = 0; pos < all_len;) {
        char *l = all + pos;
        pos += strlen(l) + 1;
        lineno++;
        l[strcspn(l, "\r\n")] = '\0';
        if (l[0] == '\0' || l[0] == '#') continue;
        char *fields[4] = {NULL, NULL, NULL, NULL};
        int nf = 0;
        for (char *tok = l; tok != NULL && nf < 4; nf++) {
            fields[nf] = tok;
            tok = strchr(tok, '\t');
            if (tok != NULL) *tok++ = '\0';
        }
        char *end = NULL;
        double target = nf >= 3 ? strtod(fields[2], &end) : 0.0;
        if (nf < 3 || end == fields[2] || *end != '\0' || !isfinite(target)) {
            fprintf(stderr, "eval: %s:%zu: expected TEXT_A<tab>TEXT_B<tab>TARGET with a finite "
                            "number as TARGET\n", path, lineno);
            free(pairs);
            free(all);
            return -1;
        }
        for (int k = 0; k < 2; k++) {
            long bad = example_utf8_error(fields[k]);
            if (bad >= 0) {
                fprintf(stderr, "eval: %s:%zu: text %d has invalid UTF-8 at byte %ld\n", path,
                        lineno, k + 1, bad);
                free(pairs);
                free(all);
                return -1;
            }
        }
        int relation = CLIPT_RELATION_RANDOM;
        if (nf == 4) {
            relation = -1;
            for (int k = 0; k < CLIPT_RELATION_COUNT; k++) {
                if (strcmp(fields[3], example_relation_names[k]) == 0) relation = k;
            }
            if (relation < 0) {
                fprintf(stderr, "eval: %s:%zu: unknown relation \"%s\"\n", path, lineno, fields[3]);
                free(pairs);
                free(all);
                return -1;
            }
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            clipt_pair *p = realloc(pairs, cap * sizeof *p);
            if (p == NULL) {
                free(pairs);
                free(all);
                fprintf(stderr, "eval: out of memory reading %s\n", path);
                return -1;
            }
            pairs = p;
        }
        memset(&pairs[n], 0, sizeof pairs[n]);
        pairs[n].text_a = fields[0];
        pairs[n].text_b = fields[1];
        pairs[n].target = target;
        pairs[n].relation = (clipt_relation)relation;
        n++;
    }
    *out = pairs;
    *storage = all;
    return (long)n;
oom:
    fclose(f);
    free(line);
    free(all);
    fprintf(stderr, "eval: out of memory reading %s\n", path);
    return -1;
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: eval [options]\n"
"Evaluates a model on the held-out WordNet pairs of finetune: Spearman and\n"
"Pearson correlation of cosine similarity with Wu-Palmer similarity, overall\n"
"and per relation kind, the distance loss, drift and the token-overlap\n"
"baseline.\n"
"\n"
"  --model DIR          model to evaluate (Hugging Face directory)\n"
"  --preset NAME        or a randomly initialised preset: small or vit-b-32\n"
"  --init-seed N        seed of that initialisation (default 0)\n"
"  --reference DIR      a second model, shown beside the first; drift is\n"
"                       measured against it (for example the original);\n"
"                       without a reference no drift is reported\n"
"  --reference-preset NAME, --reference-seed N\n"
"                       the reference as a randomly initialised preset\n"
"  --tokenizer PATH     merges .gz or vocab.json + merges.txt directory\n"
"                       (default: the model directory's, else\n"
"                       " EXAMPLE_DEFAULT_MERGES ")\n"
"  --wordnet DIR, --root SYNSET, --wnid-file FILE, --mix S,H,O,C,R,\n"
"  --template TEXT, --held-out F, --split-seed N, --textbook-wup\n"
"                       the data options of finetune; give the same values\n"
"                       as the run being checked (defaults are finetune's)\n"
"  --eval-pairs N       held-out pairs (default 3000)\n"
"  --pairs-file FILE    evaluate on the pairs of FILE instead: one pair per\n"
"                       line, TEXT_A<tab>TEXT_B<tab>TARGET[<tab>RELATION], with\n"
"                       RELATION synonym, hypernym, hyponym, co-hyponym or\n"
"                       random (default random); '#' starts a comment line\n"
"  --eval-seed N        seed of the evaluation pairs (default 7)\n"
"  --device DEV         cpu, cuda, cuda:N or auto (default auto)\n"
"  --threads N          CPU threads, 0 = all (default 0)\n");
}

int main(int argc, char **argv)
{
    const char *model_dir = NULL, *preset = NULL, *ref_dir = NULL, *ref_preset = NULL;
    const char *tok_arg = NULL, *device = "auto", *pairs_file = NULL;
    unsigned long long init_seed = 0, ref_seed = 0, eval_seed = 7;
    long long eval_pairs = 3000;
    int threads = 0;
    example_data_options d;
    example_data_defaults(&d);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
#define TAKE(name) (strcmp(a, name) == 0 && v != NULL && (++i, 1))
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (TAKE("--model")) model_dir = v;
        else if (TAKE("--preset")) preset = v;
        else if (TAKE("--init-seed")) bad = example_parse_seed("eval", a, v, &init_seed);
        else if (TAKE("--reference")) ref_dir = v;
        else if (TAKE("--reference-preset")) ref_preset = v;
        else if (TAKE("--reference-seed")) bad = example_parse_seed("eval", a, v, &ref_seed);
        else if (TAKE("--tokenizer")) tok_arg = v;
        else if (TAKE("--wordnet")) d.wordnet_dir = v;
        else if (TAKE("--root")) d.root = v;
        else if (TAKE("--wnid-file")) d.wnid_file = v;
        else if (TAKE("--mix")) {
            if (example_parse_mix(v, d.weights) != 0) {
                fprintf(stderr, "eval: --mix needs five weights >= 0 separated by commas\n");
                return 2;
            }
        } else if (TAKE("--template")) d.template_text = v;
        else if (TAKE("--held-out")) bad = example_parse_double("eval", a, v, 0.0, 0.99, &d.held_out);
        else if (TAKE("--split-seed")) bad = example_parse_seed("eval", a, v, &d.split_seed);
        else if (!strcmp(a, "--textbook-wup")) d.textbook = 1;
        else if (TAKE("--eval-pairs")) bad = example_parse_int("eval", a, v, 10, 10000000, &eval_pairs);
        else if (TAKE("--eval-seed")) bad = example_parse_seed("eval", a, v, &eval_seed);
        else if (TAKE("--pairs-file")) pairs_file = v;
        else if (TAKE("--device")) device = v;
        else if (TAKE("--threads")) {
            long long n = 0;
            bad = example_parse_int("eval", a, v, 0, CLIPT_MAX_THREADS, &n);
            threads = (int)n;
        } else {
            fprintf(stderr, "eval: unknown or incomplete option \"%s\"; see --help\n", a);
            return 2;
        }
        if (bad) return 2;
#undef TAKE
    }
    if ((model_dir == NULL) == (preset == NULL)) {
        fprintf(stderr, "eval: give exactly one of --model and --preset; see --help\n");
        return 2;
    }
    if (ref_dir != NULL && ref_preset != NULL) {
        fprintf(stderr, "eval: give --reference or --reference-preset, not both\n");
        return 2;
    }
    if (d.root != NULL && d.wnid_file != NULL) {
        fprintf(stderr, "eval: give --root or --wnid-file, not both\n");
        return 2;
    }
    if (example_check_template("eval", d.template_text) != 0) return 2;

    clipt_context *ctx = NULL;
    clipt_model *model = NULL, *ref = NULL;
    clipt_tokenizer *tok = NULL;
    clipt_wordnet *wn = NULL;
    clipt_sampler *sampler = NULL;
    clipt_pair *pairs = NULL;
    char *pair_texts = NULL;
    if (pairs_file != NULL) {
        long n = read_pairs_file(pairs_file, &pairs, &pair_texts);
        if (n < 2) {
            if (n >= 0) fprintf(stderr, "eval: %s has %ld pairs; need at least 2\n", pairs_file, n);
            free(pairs);
            free(pair_texts);
            return 1;
        }
        eval_pairs = n;
    } else {
        pairs = calloc((size_t)eval_pairs, sizeof *pairs);
    }
    char tok_path[4096];
    int rc = 1;
    clipt_status st;
    if (pairs == NULL) {
        fprintf(stderr, "eval: out of memory for %lld pairs\n", eval_pairs);
        return 1;
    }
    if ((st = example_open_context(device, threads, &ctx)) != CLIPT_OK) {
        rc = example_fail("eval", "opening the device", st);
        goto done;
    }
    if ((st = example_open_model(ctx, model_dir, preset, init_seed, &model)) != CLIPT_OK) {
        rc = example_fail("eval", "loading the model", st);
        goto done;
    }
    if ((ref_dir != NULL || ref_preset != NULL) &&
        (st = example_open_model(ctx, ref_dir, ref_preset, ref_seed, &ref)) != CLIPT_OK) {
        rc = example_fail("eval", "loading the reference model", st);
        goto done;
    }
    if ((st = example_open_tokenizer(tok_arg, model_dir, &tok, tok_path, sizeof tok_path)) !=
        CLIPT_OK) {
        rc = example_fail("eval", "loading the tokenizer", st);
        goto done;
    }
    if (pairs_file == NULL) {
        if ((st = clipt_wordnet_load(d.wordnet_dir, &wn)) != CLIPT_OK) {
            rc = example_fail("eval", "loading WordNet", st);
            goto done;
        }
        if ((st = example_open_sampler(wn, &d, &sampler)) != CLIPT_OK) {
            rc = example_fail("eval", "preparing the pair sampler", st);
            goto done;
        }
        if ((st = clipt_sampler_eval_pairs(sampler, eval_seed, pairs, (size_t)eval_pairs)) !=
            CLIPT_OK) {
            rc = example_fail("eval", "drawing the evaluation pairs", st);
            goto done;
        }
    }
    clipt_eval_stats mine, theirs;
    if ((st = clipt_evaluate(model, ref, tok, pairs, (size_t)eval_pairs, &mine)) != CLIPT_OK) {
        rc = example_fail("eval", "evaluating the model", st);
        goto done;
    }
    const char *name = model_dir ? model_dir : preset;
    if (ref != NULL) {
        if ((st = clipt_evaluate(ref, NULL, tok, pairs, (size_t)eval_pairs, &theirs)) != CLIPT_OK) {
            rc = example_fail("eval", "evaluating the reference", st);
            goto done;
        }
        theirs.drift = 1.0; /* the reference against itself */
        example_print_eval(ref_dir ? ref_dir : ref_preset, &theirs, name, &mine);
    } else {
        example_print_eval(name, &mine, NULL, NULL);
    }
    rc = 0;
done:
    free(pairs);
    free(pair_texts);
    clipt_sampler_free(sampler);
    clipt_wordnet_free(wn);
    clipt_tokenizer_free(tok);
    clipt_model_free(ref);
    clipt_model_free(model);
    clipt_context_free(ctx);
    return rc;
}
