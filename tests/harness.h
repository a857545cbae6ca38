/* Shared helpers of the Check suites: running a suite with skips counted
 * separately, comparing arrays with stated tolerances, seeded random data. */
#ifndef CLIPT_TEST_HARNESS_H
#define CLIPT_TEST_HARNESS_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "clipt.h"

/* Records that a test case is skipped and why; prints
 * "skipped: <name>: <reason>". Call before clipt_test_run(). */
void clipt_test_skip(const char *name, const char *reason);

/* Runs every test of the suite (forking each test, so a crash fails that
 * test only), prints one line
 *   SUMMARY <suite> passed=P failed=F skipped=S
 * and returns the process exit status: 0 when nothing failed. */
int clipt_test_run(Suite *suite, const char *name);

/* Result of an elementwise comparison |got - want| <= atol + rtol |want|. */
typedef struct clipt_compare {
    size_t n;
    size_t worst;       /* index with the largest excess over the bound */
    double got, want;   /* values at worst */
    double max_abs;     /* largest |got - want| */
    double max_want;    /* largest |want|, for scale */
    size_t failures;    /* elements outside the bound */
} clipt_compare;

clipt_compare clipt_compare_arrays(const float *got, const double *want,
                                   size_t n, double atol, double rtol);

/* Asserts the comparison passed; on failure the message names what was
 * compared, the worst index, both values, the max difference and the count
 * of elements out of bounds. Always prints the max difference. */
#define CLIPT_CHECK_CLOSE(what_, got_, want_, n_, atol_, rtol_)               \
    do {                                                                      \
        clipt_compare cmp_ = clipt_compare_arrays((got_), (want_), (n_),      \
                                                  (atol_), (rtol_));          \
        printf("  %-40s n=%-6zu max |diff| %-9.3g max |want| %.3g\n",     \
               (what_), cmp_.n, cmp_.max_abs, cmp_.max_want);                 \
        ck_assert_msg(cmp_.failures == 0,                                     \
                      "%s: %zu of %zu values out of tolerance (atol %g, "     \
                      "rtol %g); worst at [%zu]: got %.9g want %.9g; max "    \
                      "|diff| %.3g",                                          \
                      (what_), cmp_.failures, cmp_.n, (double)(atol_),        \
                      (double)(rtol_), cmp_.worst, cmp_.got, cmp_.want,       \
                      cmp_.max_abs);                                          \
    } while (0)

/* Largest |x| of a double array (for scale-relative tolerances). */
double clipt_max_abs(const double *x, size_t n);

/* Fills x with uniform values in [lo, hi) from a small seeded generator. */
void clipt_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);

/* Widens a float array into a new double array (caller frees). */
double *clipt_to_double(const float *x, size_t n);

/* Allocates zeroed memory or fails the current test. */
void *clipt_test_calloc(size_t count, size_t size);

#endif /* CLIPT_TEST_HARNESS_H */

/* Central finite differences of J = sum_k w[k] out[k] with respect to each
 * of the n doubles in x, where forward(user, out) recomputes out (nout
 * values) from the current contents of x:
 *   grad[i] = (J(x + h e_i) - J(x - h e_i)) / (2 h).
 * x is restored afterwards. */
void clipt_finite_differences(double *grad, double *x, size_t n,
                              const double *w, size_t nout,
                              void (*forward)(void *user, double *out),
                              void *user, double h);

/* Creates a CPU context with 2 threads or fails the current test. */
clipt_context *clipt_test_cpu_context(void);

/* A text fixture written by a script in tests/oracle/: one record per
 * line, "key v1 v2 ...". Paths are relative to the repository root, where
 * tests/run_suites.sh runs the suites. */
typedef struct clipt_fixture clipt_fixture;

/* Opens a fixture and checks its first line is "clipt-fixture NAME VERSION";
 * fails the current test otherwise. */
clipt_fixture *clipt_fixture_open(const char *path, const char *name, int version);

/* Moves to the next line whose first word is key and parses exactly n
 * numbers after it into out (more or fewer numbers fail the test). */
void clipt_fixture_next(clipt_fixture *fx, const char *key, double *out, size_t n);

void clipt_fixture_close(clipt_fixture *fx);
