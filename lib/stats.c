#include "stats.h"

#include <math.h>
#include <stdlib.h>

double clipt_pearson(const double *x, const double *y, size_t n)
{
    if (n < 2) return NAN;
    double mx = 0.0, my = 0.0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0.0, sxx = 0.0, syy = 0.0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (sxx == 0.0 || syy == 0.0) return NAN;
    return sxy / sqrt(sxx * syy);
}

typedef struct {
    double value;
    size_t index;
} ranked;

static int compare_ranked(const void *a, const void *b)
{
    const ranked *p = a, *q = b;
    if (p->value < q->value) return -1;
    if (p->value > q->value) return 1;
    return (p->index > q->index) - (p->index < q->index);
}

/* Writes 1-based ranks of x into rank, ties sharing their average rank. */
static int rank_values(const double *x, size_t n, double *rank)
{
    ranked *r = malloc(n * sizeof *r);
    if (r == NULL) return -1;
    for (size_t i = 0; i < n; i++) {
        r[i].value = x[i];
        r[i].index = i;
    }
    qsort(r, n, sizeof *r, compare_ranked);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && r[j].value == r[i].value) j++;
        /* positions i..j-1 share the mean of ranks i+1..j */
        double avg = 0.5 * (double)(i + 1 + j);
        for (size_t k = i; k < j; k++) rank[r[k].index] = avg;
        i = j;
    }
    free(r);
    return 0;
}

double clipt_spearman(const double *x, const double *y, size_t n)
{
    if (n < 2) return NAN;
    double *rx = malloc(n * sizeof(double));
    double *ry = malloc(n * sizeof(double));
    double result = -2.0;
    if (rx != NULL && ry != NULL && rank_values(x, n, rx) == 0 && rank_values(y, n, ry) == 0) {
        result = clipt_pearson(rx, ry, n);
    }
    free(rx);
    free(ry);
    return result;
}
