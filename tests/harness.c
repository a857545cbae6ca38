#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int skipped_count;

void clipt_test_skip(const char *name, const char *reason)
{
    printf("skipped: %s: %s\n", name, reason);
    fflush(stdout);
    skipped_count++;
}

int clipt_test_run(Suite *suite, const char *name)
{
    /* Line buffering keeps a test's printed lines when its forked child
     * stops at a failed check. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int run = srunner_ntests_run(runner);
    int failed = srunner_ntests_failed(runner);
    printf("SUMMARY %s passed=%d failed=%d skipped=%d\n",
           name, run - failed, failed, skipped_count);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}

clipt_compare clipt_compare_arrays(const float *got, const double *want,
                                   size_t n, double atol, double rtol)
{
    clipt_compare c;
    memset(&c, 0, sizeof c);
    c.n = n;
    double worst_excess = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - want[i]);
        double bound = atol + rtol * fabs(want[i]);
        /* NaN in got or want fails: the comparison below is false for it */
        int ok = diff <= bound;
        if (!ok) c.failures++;
        double excess = isnan(diff) ? INFINITY : diff - bound;
        if (excess > worst_excess) {
            worst_excess = excess;
            c.worst = i;
            c.got = got[i];
            c.want = want[i];
        }
        if (isnan(diff) || diff > c.max_abs) c.max_abs = diff;
        if (fabs(want[i]) > c.max_want) c.max_want = fabs(want[i]);
    }
    return c;
}

double clipt_max_abs(const double *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(x[i]) > m) m = fabs(x[i]);
    }
    return m;
}

void clipt_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double u = (double)(s >> 11) * 0x1.0p-53;
        x[i] = (float)(lo + (hi - lo) * u);
    }
}

double *clipt_to_double(const float *x, size_t n)
{
    double *d = clipt_test_calloc(n ? n : 1, sizeof(double));
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

void *clipt_test_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size);
    ck_assert_msg(p != NULL, "test allocation of %zu x %zu bytes failed",
                  count, size);
    return p;
}

void clipt_finite_differences(double *grad, double *x, size_t n,
                              const double *w, size_t nout,
                              void (*forward)(void *user, double *out),
                              void *user, double h)
{
    double *out = clipt_test_calloc(nout, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        double saved = x[i];
        double jp = 0.0, jm = 0.0;
        x[i] = saved + h;
        forward(user, out);
        for (size_t k = 0; k < nout; k++) jp += w[k] * out[k];
        x[i] = saved - h;
        forward(user, out);
        for (size_t k = 0; k < nout; k++) jm += w[k] * out[k];
        x[i] = saved;
        grad[i] = (jp - jm) / (2.0 * h);
    }
    free(out);
}


clipt_context *clipt_test_cpu_context(void)
{
    clipt_context_options opts;
    clipt_context_options_init(&opts);
    opts.device = "cpu";
    opts.num_threads = 2;
    clipt_context *ctx = NULL;
    clipt_status st = clipt_context_create(&opts, &ctx);
    ck_assert_msg(st == CLIPT_OK, "creating a CPU context failed: %s",
                  clipt_last_error());
    return ctx;
}

struct clipt_fixture {
    FILE *f;
    char path[512];
    char *line;
    size_t cap;
    long lineno;
};

clipt_fixture *clipt_fixture_open(const char *path, const char *name, int version)
{
    clipt_fixture *fx = clipt_test_calloc(1, sizeof *fx);
    snprintf(fx->path, sizeof fx->path, "%s", path);
    fx->f = fopen(path, "r");
    ck_assert_msg(fx->f != NULL, "cannot open fixture %s (run the suites from the "
                  "repository root)", path);
    char want[256];
    snprintf(want, sizeof want, "clipt-fixture %s %d", name, version);
    ssize_t len = getline(&fx->line, &fx->cap, fx->f);
    fx->lineno = 1;
    ck_assert_msg(len > 0 && strncmp(fx->line, want, strlen(want)) == 0,
                  "%s: first line is not \"%s\"", path, want);
    return fx;
}

void clipt_fixture_next(clipt_fixture *fx, const char *key, double *out, size_t n)
{
    size_t klen = strlen(key);
    for (;;) {
        ssize_t len = getline(&fx->line, &fx->cap, fx->f);
        ck_assert_msg(len > 0, "%s: no line \"%s\" after line %ld", fx->path, key,
                      fx->lineno);
        fx->lineno++;
        if (strncmp(fx->line, key, klen) == 0 && fx->line[klen] == ' ') break;
    }
    char *p = fx->line + klen, *end = NULL;
    for (size_t i = 0; i < n; i++) {
        out[i] = strtod(p, &end);
        ck_assert_msg(end != p, "%s:%ld: \"%s\" has %zu numbers, expected %zu",
                      fx->path, fx->lineno, key, i, n);
        p = end;
    }
    while (*p == ' ' || *p == '\n') p++;
    ck_assert_msg(*p == '\0', "%s:%ld: \"%s\" has more than %zu numbers", fx->path,
                  fx->lineno, key, n);
}

void clipt_fixture_close(clipt_fixture *fx)
{
    if (fx == NULL) return;
    if (fx->f != NULL) fclose(fx->f);
    free(fx->line);
    free(fx);
}
