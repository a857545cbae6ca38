/* A small seeded random generator (xoshiro256** seeded through splitmix64).
 * Its state is a plain value owned by the caller, so there is no hidden
 * global state and a saved state resumes the same sequence. */
#ifndef CLIPT_RNG_H
#define CLIPT_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct clipt_rng {
    uint64_t s[4];
} clipt_rng;

void clipt_rng_seed(clipt_rng *rng, uint64_t seed);
uint64_t clipt_rng_next(clipt_rng *rng);
/* Uniform double in [0, 1) with 53 random bits. */
double clipt_rng_uniform(clipt_rng *rng);
/* Uniform integer in [0, n) without modulo bias; n > 0. */
uint64_t clipt_rng_below(clipt_rng *rng, uint64_t n);
/* Fills dst with n draws of N(0, std^2) (Box-Muller, both values used). */
void clipt_rng_fill_normal(clipt_rng *rng, float *dst, size_t n, float std);

#endif /* CLIPT_RNG_H */
