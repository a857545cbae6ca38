/* Spearman and Pearson correlations against scipy.stats (fixture from
 * tests/oracle/scipy_stats.py), including ties and constant input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "stats.h"

/* Both sides compute in double; sums of up to 500 terms agree to ~1e-14. */
#define STATS_TOL 1e-12

START_TEST(stats_match_scipy)
{
    clipt_fixture *fx = clipt_fixture_open("tests/fixtures/stats_scipy.txt", "stats", 1);
    for (int c = 0; c < 4; c++) {
        double n_d;
        clipt_fixture_next(fx, "n", &n_d, 1);
        size_t n = (size_t)n_d;
        double *x = clipt_test_calloc(n, sizeof(double)), *y = clipt_test_calloc(n, sizeof(double));
        double want_s, want_p;
        clipt_fixture_next(fx, "x", x, n);
        clipt_fixture_next(fx, "y", y, n);
        clipt_fixture_next(fx, "spearman", &want_s, 1);
        clipt_fixture_next(fx, "pearson", &want_p, 1);
        double s = clipt_spearman(x, y, n), p = clipt_pearson(x, y, n);
        printf("  n=%zu spearman %.15f (scipy %.15f) pearson %.15f (scipy %.15f)\n", n, s, want_s, p,
               want_p);
        if (isnan(want_s)) {
            ck_assert_msg(isnan(s), "n=%zu: spearman %g, scipy gives NaN", n, s);
        } else {
            ck_assert_msg(fabs(s - want_s) <= STATS_TOL, "n=%zu: spearman %.17g, scipy %.17g", n, s, want_s);
        }
        if (isnan(want_p)) {
            ck_assert_msg(isnan(p), "n=%zu: pearson %g, scipy gives NaN", n, p);
        } else {
            ck_assert_msg(fabs(p - want_p) <= STATS_TOL, "n=%zu: pearson %.17g, scipy %.17g", n, p, want_p);
        }
        free(x);
        free(y);
    }
    clipt_fixture_close(fx);
}
END_TEST

START_TEST(stats_short_input_is_nan)
{
    double x[1] = {1.0}, y[1] = {2.0};
    ck_assert(isnan(clipt_spearman(x, y, 1)));
    ck_assert(isnan(clipt_pearson(x, y, 0)));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, stats_match_scipy);
    tcase_add_test(tc, stats_short_input_is_nan);
    suite_add_tcase(s, tc);
    return clipt_test_run(s, "stats");
}
