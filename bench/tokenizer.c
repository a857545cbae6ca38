/* tokenizer: encoding throughput on the WordNet 3.0 noun lemmas, one
 * thread. bench/tokenizer_hf.py runs Hugging Face's Rust tokenizer on the
 * same list and prints the ratio.
 *
 *   tokenizer [--merges FILE] [--index FILE] [--repeat N]
 *
 * Each repetition loads a fresh tokenizer (not timed), then encodes every
 * lemma once with clipt_tokenizer_encode ("cold": the word cache starts
 * empty and fills as it goes) and once more on the same handle ("warm").
 * Ids are counted with the start and end ids, as the Python side counts
 * them. The best repetition is reported. */
#include <clipt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Reads the first field of every index.noun line outside the license header,
 * with '_' replaced by ' ', as the tokenizer oracle does. */
static char **read_lemmas(const char *path, size_t *count, char **storage)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    size_t got = fread(text, 1, (size_t)size, f);
    fclose(f);
    text[got] = '\0';
    size_t n = 0, capacity = 1024;
    char **lemmas = malloc(capacity * sizeof *lemmas);
    for (char *line = text; *line;) {
        char *eol = strchr(line, '\n');
        char *next = eol ? eol + 1 : line + strlen(line);
        if (*line != ' ') {
            char *space = strchr(line, ' ');
            if (space) *space = '\0';
            for (char *c = line; *c; c++)
                if (*c == '_') *c = ' ';
            if (n == capacity) lemmas = realloc(lemmas, (capacity *= 2) * sizeof *lemmas);
            lemmas[n++] = line;
        }
        line = next;
    }
    *count = n;
    *storage = text;
    return lemmas;
}

/* Encodes every lemma once; returns the seconds taken and adds the ids. */
static double encode_all(clipt_tokenizer *tok, char **lemmas, size_t count, long *ids_total)
{
    int32_t ids[77];
    long total = 0;
    double start = now_seconds();
    for (size_t i = 0; i < count; i++) {
        int n;
        if (clipt_tokenizer_encode(tok, lemmas[i], ids, 77, &n) != CLIPT_OK) {
            fprintf(stderr, "tokenizer: encoding \"%s\" failed: %s\n", lemmas[i],
                    clipt_last_error());
            exit(1);
        }
        total += n;
    }
    double seconds = now_seconds() - start;
    *ids_total = total;
    return seconds;
}

int main(int argc, char **argv)
{
    const char *merges = "data/bpe_simple_vocab_16e6.txt.gz";
    const char *index = "/usr/share/wordnet/index.noun";
    int repeat = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--merges") == 0 && i + 1 < argc) {
            merges = argv[++i];
        } else if (strcmp(argv[i], "--index") == 0 && i + 1 < argc) {
            index = argv[++i];
        } else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
            repeat = atoi(argv[++i]);
        } else {
            fprintf(stderr,
                    "usage: tokenizer [--merges FILE] [--index FILE] [--repeat N]\n"
                    "  --merges FILE  CLIP's merges .gz or a vocab.json + merges.txt directory\n"
                    "                 (default data/bpe_simple_vocab_16e6.txt.gz)\n"
                    "  --index FILE   WordNet index.noun (default /usr/share/wordnet/index.noun)\n"
                    "  --repeat N     repetitions, the best is reported (default 5)\n");
            return 2;
        }
    }
    size_t count;
    char *storage;
    char **lemmas = read_lemmas(index, &count, &storage);
    if (!lemmas) {
        fprintf(stderr, "tokenizer: cannot read %s\n", index);
        return 1;
    }

    double best_cold = 1e30, best_warm = 1e30;
    long ids_cold = 0, ids_warm = 0;
    for (int r = 0; r < repeat; r++) {
        clipt_tokenizer *tok;
        if (clipt_tokenizer_load(merges, &tok) != CLIPT_OK) {
            fprintf(stderr, "tokenizer: %s\n", clipt_last_error());
            return 1;
        }
        double cold = encode_all(tok, lemmas, count, &ids_cold);
        double warm = encode_all(tok, lemmas, count, &ids_warm);
        if (cold < best_cold) best_cold = cold;
        if (warm < best_warm) best_warm = warm;
        clipt_tokenizer_free(tok);
    }
    printf("libclipt cold: %zu texts, %ld ids, %.4f s, %.0f ids/s\n", count, ids_cold, best_cold,
           (double)ids_cold / best_cold);
    printf("libclipt warm: %zu texts, %ld ids, %.4f s, %.0f ids/s\n", count, ids_warm, best_warm,
           (double)ids_warm / best_warm);
    free(lemmas);
    free(storage);
    return 0;
}
