/* probe: compares an original and a tuned model on word triples and on
 * nearest neighbours among a word list. Run with --help. */
#include <clipt.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define MAX_WORDS 256
#define MAX_TRIPLES 32

/* The two failures the method targets: a synonym should be closer than an
 * antonym, and a hyponym closer than an unrelated noun. */
static const char *default_triples[] = {"glad,happy,angry", "lycaenid,butterfly,bed"};

static const char *default_words =
    "dog,puppy,wolf,cat,kitten,tiger,horse,cow,butterfly,moth,lycaenid,bee,"
    "car,truck,bicycle,bed,chair,table,apple,banana,oak,rose,happy,glad,angry,sad";

static void usage(FILE *f)
{
    fprintf(f,
"usage: probe [options]\n"
"Prints cosine similarities for word triples and nearest neighbours among a\n"
"word list, for an original and a tuned model side by side.\n"
"\n"
"  --original DIR        the original model (Hugging Face directory)\n"
"  --original-preset NAME, --original-seed N\n"
"                        or a randomly initialised preset as the original\n"
"                        (default: preset small, seed 0, as finetune's demo)\n"
"  --tuned DIR           the tuned model (default out/demo/model, where make\n"
"                        demo saves it)\n"
"  --tokenizer PATH      merges .gz or vocab.json + merges.txt directory\n"
"                        (default: the tuned model's, else\n"
"                        " EXAMPLE_DEFAULT_MERGES ")\n"
"  --triple A,B,C        compare cos(A, B) with cos(C, B); repeatable\n"
"                        (default: glad,happy,angry and lycaenid,butterfly,bed)\n"
"  --words W1,W2,...     the word list for nearest neighbours, 2 to 256\n"
"                        words (default: 26 nouns and adjectives, from dog to\n"
"                        sad)\n"
"  --neighbours K        neighbours shown per word, 1 to 16 (default 3)\n"
"  --template TEXT       text template with one {} (default \"{}\")\n"
"  --device DEV          cpu, cuda, cuda:N or auto (default auto)\n"
"  --threads N           CPU threads, 0 = all (default 0)\n");
}

/* Splits a comma-separated list in place into at most max items. */
static int split_list(char *s, char **items, int max)
{
    int n = 0;
    for (char *tok = strtok(s, ","); tok != NULL && n < max; tok = strtok(NULL, ",")) {
        while (*tok == ' ') tok++;
        if (*tok) items[n++] = tok;
    }
    return n;
}

static double cosine(const float *x, const float *y, int P)
{
    double dot = 0.0, xx = 0.0, yy = 0.0;
    for (int k = 0; k < P; k++) {
        dot += (double)x[k] * y[k];
        xx += (double)x[k] * x[k];
        yy += (double)y[k] * y[k];
    }
    return dot / (fmax(sqrt(xx), 1e-8) * fmax(sqrt(yy), 1e-8));
}

/* Encodes n words (through the template) with model into E (n, P). */
static clipt_status embed(clipt_model *model, clipt_tokenizer *tok, const char *template_text,
                          char **words, int n, float *E)
{
    clipt_model_config cfg;
    clipt_model_get_config(model, &cfg);
    int T = cfg.context_length;
    char **texts = calloc((size_t)n, sizeof *texts);
    int32_t *ids = calloc((size_t)n * T, sizeof *ids), *eot = calloc((size_t)n, sizeof *eot);
    clipt_status st = CLIPT_ERR_OUT_OF_MEMORY;
    if (texts != NULL && ids != NULL && eot != NULL) {
        st = CLIPT_OK;
        const char *hole = strstr(template_text, "{}");
        for (int i = 0; i < n && st == CLIPT_OK; i++) {
            size_t len = strlen(template_text) + strlen(words[i]) + 1;
            texts[i] = malloc(len);
            if (texts[i] == NULL) {
                st = CLIPT_ERR_OUT_OF_MEMORY;
                break;
            }
            if (hole != NULL) {
                snprintf(texts[i], len, "%.*s%s%s", (int)(hole - template_text), template_text,
                         words[i], hole + 2);
            } else {
                snprintf(texts[i], len, "%s", words[i]);
            }
            /* WordNet lemmas use '_' between words */
            for (char *p = texts[i]; *p; p++) {
                if (*p == '_') *p = ' ';
            }
        }
        if (st == CLIPT_OK) st = clipt_tokenizer_encode_batch(tok, (const char *const *)texts, n, T, ids, eot);
        if (st == CLIPT_OK) st = clipt_model_encode(model, ids, eot, n, T, E);
    }
    for (int i = 0; texts != NULL && i < n; i++) free(texts[i]);
    free(texts);
    free(ids);
    free(eot);
    return st;
}

int main(int argc, char **argv)
{
    const char *orig_dir = NULL, *orig_preset = "small", *tuned_dir = "out/demo/model";
    const char *tok_arg = NULL, *device = "auto", *template_text = "{}";
    unsigned long long orig_seed = 0;
    int threads = 0, K = 3, ntriples = 0;
    char words_buf[8192];
    char triple_buf[MAX_TRIPLES][512];
    snprintf(words_buf, sizeof words_buf, "%s", default_words);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
#define TAKE(name) (strcmp(a, name) == 0 && v != NULL && (++i, 1))
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (TAKE("--original")) orig_dir = v;
        else if (TAKE("--original-preset")) orig_preset = v;
        else if (TAKE("--original-seed")) bad = example_parse_seed("probe", a, v, &orig_seed);
        else if (TAKE("--tuned")) tuned_dir = v;
        else if (TAKE("--tokenizer")) tok_arg = v;
        else if (TAKE("--triple")) {
            if (ntriples == MAX_TRIPLES) {
                fprintf(stderr, "probe: at most %d triples\n", MAX_TRIPLES);
                return 2;
            }
            if (strlen(v) >= sizeof triple_buf[0]) {
                fprintf(stderr, "probe: --triple is longer than %zu bytes\n", sizeof triple_buf[0] - 1);
                return 2;
            }
            bad = example_check_utf8("probe", a, v);
            snprintf(triple_buf[ntriples++], sizeof triple_buf[0], "%s", v);
        } else if (TAKE("--words")) {
            if (strlen(v) >= sizeof words_buf) {
                fprintf(stderr, "probe: --words is longer than %zu bytes\n", sizeof words_buf - 1);
                return 2;
            }
            bad = example_check_utf8("probe", a, v);
            snprintf(words_buf, sizeof words_buf, "%s", v);
        } else if (TAKE("--neighbours")) {
            long long n = 0;
            bad = example_parse_int("probe", a, v, 1, 16, &n);
            K = (int)n;
        } else if (TAKE("--template")) {
            template_text = v;
            bad = example_check_template("probe", v);
        } else if (TAKE("--device")) device = v;
        else if (TAKE("--threads")) {
            long long n = 0;
            bad = example_parse_int("probe", a, v, 0, CLIPT_MAX_THREADS, &n);
            threads = (int)n;
        } else {
            fprintf(stderr, "probe: unknown or incomplete option \"%s\"; see --help\n", a);
            return 2;
        }
        if (bad) return 2;
#undef TAKE
    }
    if (ntriples == 0) {
        for (size_t t = 0; t < sizeof default_triples / sizeof default_triples[0]; t++) {
            snprintf(triple_buf[ntriples++], sizeof triple_buf[0], "%s", default_triples[t]);
        }
    }
    char *triples[MAX_TRIPLES][3];
    for (int t = 0; t < ntriples; t++) {
        char *extra[4];
        char copy[512];
        memcpy(copy, triple_buf[t], sizeof copy);
        if (split_list(copy, extra, 4) != 3 || split_list(triple_buf[t], triples[t], 3) != 3) {
            fprintf(stderr, "probe: --triple needs exactly three comma-separated words\n");
            return 2;
        }
    }
    char *words[MAX_WORDS];
    int nwords = split_list(words_buf, words, MAX_WORDS);
    if (nwords < 2) {
        fprintf(stderr, "probe: --words needs at least two words\n");
        return 2;
    }
    if (K > nwords - 1) K = nwords - 1;
    if (K > 16) K = 16;

    clipt_context *ctx = NULL;
    clipt_model *models[2] = {NULL, NULL};
    clipt_tokenizer *tok = NULL;
    float *E[2] = {NULL, NULL}, *TE[2] = {NULL, NULL};
    char tok_path[4096];
    int rc = 1;
    clipt_status st;
    const char *labels[2] = {orig_dir ? orig_dir : "original (random init)", tuned_dir};
    if ((st = example_open_context(device, threads, &ctx)) != CLIPT_OK) {
        rc = example_fail("probe", "opening the device", st);
        goto done;
    }
    if ((st = example_open_model(ctx, orig_dir, orig_preset, orig_seed, &models[0])) != CLIPT_OK) {
        rc = example_fail("probe", "loading the original model", st);
        goto done;
    }
    if ((st = clipt_model_load(ctx, tuned_dir, &models[1])) != CLIPT_OK) {
        rc = example_fail("probe", "loading the tuned model (pass --tuned DIR)", st);
        goto done;
    }
    if ((st = example_open_tokenizer(tok_arg, tuned_dir, &tok, tok_path, sizeof tok_path)) !=
        CLIPT_OK) {
        rc = example_fail("probe", "loading the tokenizer", st);
        goto done;
    }
    clipt_model_config cfg;
    clipt_model_get_config(models[1], &cfg);
    int P = cfg.projection_dim;
    for (int m = 0; m < 2; m++) {
        E[m] = malloc((size_t)nwords * P * sizeof(float));
        TE[m] = malloc((size_t)ntriples * 3 * P * sizeof(float));
        if (E[m] == NULL || TE[m] == NULL) {
            fprintf(stderr, "probe: out of memory\n");
            goto done;
        }
        if ((st = embed(models[m], tok, template_text, words, nwords, E[m])) != CLIPT_OK ||
            (st = embed(models[m], tok, template_text, &triples[0][0], ntriples * 3, TE[m])) !=
                CLIPT_OK) {
            rc = example_fail("probe", labels[m], st);
            goto done;
        }
    }

    printf("== triples: is cos(A, B) > cos(C, B)? ==\n");
    printf("%-40s %-12s %-12s\n", "", "original", "tuned");
    for (int t = 0; t < ntriples; t++) {
        double ab[2], cb[2];
        for (int m = 0; m < 2; m++) {
            const float *a = TE[m] + (size_t)(3 * t) * P, *b = a + P, *c = b + P;
            ab[m] = cosine(a, b, P);
            cb[m] = cosine(c, b, P);
        }
        char l1[128], l2[128], l3[160];
        snprintf(l1, sizeof l1, "cos(%s, %s)", triples[t][0], triples[t][1]);
        snprintf(l2, sizeof l2, "cos(%s, %s)", triples[t][2], triples[t][1]);
        snprintf(l3, sizeof l3, "%s closer to %s than %s", triples[t][0], triples[t][1], triples[t][2]);
        printf("%-40s %-12.4f %-12.4f\n", l1, ab[0], ab[1]);
        printf("%-40s %-12.4f %-12.4f\n", l2, cb[0], cb[1]);
        printf("%-40s %-12s %-12s\n", l3, ab[0] > cb[0] ? "yes" : "no", ab[1] > cb[1] ? "yes" : "no");
    }

    printf("\n== nearest neighbours among %d words ==\n", nwords);
    printf("%-14s %-44s %s\n", "word", labels[0], labels[1]);
    for (int i = 0; i < nwords; i++) {
        char cell[2][512];
        for (int m = 0; m < 2; m++) {
            /* top K by cosine, excluding the word itself */
            int best[16];
            double bestc[16];
            int nb = 0;
            for (int j = 0; j < nwords; j++) {
                if (j == i) continue;
                double c = cosine(E[m] + (size_t)i * P, E[m] + (size_t)j * P, P);
                int pos = nb < K ? nb++ : K;
                if (pos == K && c <= bestc[K - 1]) continue;
                if (pos == K) pos = K - 1;
                while (pos > 0 && bestc[pos - 1] < c) {
                    best[pos] = best[pos - 1];
                    bestc[pos] = bestc[pos - 1];
                    pos--;
                }
                best[pos] = j;
                bestc[pos] = c;
            }
            size_t used = 0;
            cell[m][0] = '\0';
            for (int k = 0; k < nb && k < 16; k++) {
                used += (size_t)snprintf(cell[m] + used, sizeof cell[m] - used, "%s%s %.2f",
                                         k ? ", " : "", words[best[k]], bestc[k]);
                if (used >= sizeof cell[m]) break;
            }
        }
        printf("%-14s %-44s %s\n", words[i], cell[0], cell[1]);
    }
    rc = 0;
done:
    for (int m = 0; m < 2; m++) {
        free(E[m]);
        free(TE[m]);
        clipt_model_free(models[m]);
    }
    clipt_tokenizer_free(tok);
    clipt_context_free(ctx);
    return rc;
}
