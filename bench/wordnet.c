/* WordNet benchmark: time to load the noun database, Wu-Palmer pairs per
 * second (batch and single calls, both conventions), sampler pairs per
 * second, and the ratio to NLTK's pairs per second measured by
 * tests/oracle/wordnet_nltk.py on the same machine.
 *
 *   build/bench/wordnet [--dict DIR] [--nltk-speed FILE] [--runs N]
 *
 * Every figure is the median of N runs (default 5). The pairs are uniform
 * random noun synset pairs from a fixed seed, the case NLTK was timed on.
 * They defeat the cache, so they are the slow case for this library too. */
#include <clipt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAIRS 2000000
#define SAMPLER_PAIRS 500000
#define MAX_RUNS 51

/* Goals this program checks. */
#define GOAL_LOAD_SECONDS 0.5
#define GOAL_PAIRS_PER_SECOND 1e6
#define GOAL_RATIO_TO_NLTK 1000.0

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *values, int n)
{
    qsort(values, (size_t)n, sizeof *values, compare_doubles);
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

static void check(clipt_status status, const char *what)
{
    if (status != CLIPT_OK) {
        fprintf(stderr, "bench/wordnet: %s failed: %s: %s\n", what,
                clipt_status_name(status), clipt_last_error());
        exit(1);
    }
}

/* Reads "nltk_pairs_per_second X" from the oracle's speed file; 0 when the
 * file or the line is missing. */
static double read_nltk_speed(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) return 0.0;
    char line[256];
    double speed = 0.0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "nltk_pairs_per_second %lf", &speed) == 1) break;
    }
    fclose(f);
    return speed;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    const char *speed_path = "tests/fixtures/wordnet_nltk_speed.txt";
    int runs = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dict") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--nltk-speed") == 0 && i + 1 < argc) {
            speed_path = argv[++i];
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--dict DIR] [--nltk-speed FILE] "
                            "[--runs N]\n", argv[0]);
            return 2;
        }
    }
    if (runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "--runs must be in [1, %d]\n", MAX_RUNS);
        return 2;
    }
    double times[MAX_RUNS];

    /* Load time: read and parse data.noun and index.noun, build the graph. */
    clipt_wordnet *wn = NULL;
    for (int r = 0; r < runs; r++) {
        clipt_wordnet_free(wn);
        double t0 = now_seconds();
        check(clipt_wordnet_load(dir, &wn), "clipt_wordnet_load");
        times[r] = now_seconds() - t0;
    }
    double load = median(times, runs);
    int32_t n = clipt_wordnet_synset_count(wn);
    printf("dict %s: %d noun synsets\n", clipt_wordnet_dir(wn), n);
    printf("load                       %8.3f s\n", load);

    /* Random pairs from a fixed 64-bit LCG. */
    int32_t *a = malloc(PAIRS * sizeof *a), *b = malloc(PAIRS * sizeof *b);
    double *out = malloc(PAIRS * sizeof *out);
    if (a == NULL || b == NULL || out == NULL) {
        fprintf(stderr, "bench/wordnet: out of memory\n");
        return 1;
    }
    uint64_t x = 20240917;
    for (int i = 0; i < PAIRS; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        a[i] = (int32_t)((x >> 33) % (uint64_t)n);
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        b[i] = (int32_t)((x >> 33) % (uint64_t)n);
    }

    double rate[2][2]; /* [convention][batch, single] */
    static const char *const names[2] = {"nltk", "textbook"};
    for (int c = 0; c < 2; c++) {
        clipt_wup_convention convention = (clipt_wup_convention)c;
        for (int r = 0; r < runs; r++) {
            double t0 = now_seconds();
            check(clipt_wordnet_wup_batch(wn, convention, a, b, PAIRS, out),
                  "clipt_wordnet_wup_batch");
            times[r] = PAIRS / (now_seconds() - t0);
        }
        rate[c][0] = median(times, runs);
        for (int r = 0; r < runs; r++) {
            double t0 = now_seconds();
            for (int i = 0; i < PAIRS; i++)
                clipt_wordnet_wup(wn, a[i], b[i], convention, &out[i]);
            times[r] = PAIRS / (now_seconds() - t0);
        }
        rate[c][1] = median(times, runs);
        printf("wup %-8s batch        %8.2f M pairs/s\n", names[c],
               rate[c][0] / 1e6);
        printf("wup %-8s single calls %8.2f M pairs/s\n", names[c],
               rate[c][1] / 1e6);
    }

    /* The sampler: default options, targets included. */
    clipt_sampler *sampler = NULL;
    check(clipt_sampler_create(wn, NULL, &sampler), "clipt_sampler_create");
    clipt_pair *pairs = malloc(SAMPLER_PAIRS * sizeof *pairs);
    if (pairs == NULL) {
        fprintf(stderr, "bench/wordnet: out of memory\n");
        return 1;
    }
    for (int r = 0; r < runs; r++) {
        double t0 = now_seconds();
        check(clipt_sampler_draw(sampler, pairs, SAMPLER_PAIRS),
              "clipt_sampler_draw");
        times[r] = SAMPLER_PAIRS / (now_seconds() - t0);
    }
    printf("sampler draw               %8.2f M pairs/s\n",
           median(times, runs) / 1e6);

    /* Goals, against NLTK's figure from the oracle script. */
    double nltk = read_nltk_speed(speed_path);
    double best = rate[0][0];
    printf("goal load <= %.1f s: %s\n", GOAL_LOAD_SECONDS,
           load <= GOAL_LOAD_SECONDS ? "met" : "MISSED");
    printf("goal >= %.0e pairs/s (nltk, batch): %s\n", GOAL_PAIRS_PER_SECOND,
           best >= GOAL_PAIRS_PER_SECOND ? "met" : "MISSED");
    if (nltk > 0.0) {
        printf("NLTK wup_similarity        %8.0f pairs/s (%s)\n", nltk,
               speed_path);
        printf("ratio to NLTK: batch %.0fx, single calls %.0fx; goal >= "
               "%.0fx: %s\n", best / nltk, rate[0][1] / nltk,
               GOAL_RATIO_TO_NLTK,
               best / nltk >= GOAL_RATIO_TO_NLTK ? "met" : "MISSED");
    } else {
        printf("NLTK figure not found in %s; run "
               "tests/oracle/wordnet_nltk.py\n", speed_path);
    }
    free(pairs);
    free(a);
    free(b);
    free(out);
    clipt_sampler_free(sampler);
    clipt_wordnet_free(wn);
    return 0;
}
