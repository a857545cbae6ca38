/* Correlation statistics for evaluation: Pearson and Spearman. */
#ifndef CLIPT_STATS_H
#define CLIPT_STATS_H

#include <stddef.h>

/* Pearson correlation of x and y (n values). Returns NaN when n < 2 or
 * either side is constant. */
double clipt_pearson(const double *x, const double *y, size_t n);

/* Spearman rank correlation: the Pearson correlation of the ranks, with
 * tied values sharing their average rank (as scipy.stats.spearmanr does).
 * Returns NaN when n < 2 or either side is constant; -2 when out of memory
 * for the rank arrays. */
double clipt_spearman(const double *x, const double *y, size_t n);

#endif /* CLIPT_STATS_H */
