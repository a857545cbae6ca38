#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void clipt_rng_seed(clipt_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t clipt_rng_next(clipt_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double clipt_rng_uniform(clipt_rng *rng)
{
    return (double)(clipt_rng_next(rng) >> 11) * 0x1.0p-53;
}

uint64_t clipt_rng_below(clipt_rng *rng, uint64_t n)
{
    /* Reject the top partial range so every residue is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = clipt_rng_next(rng);
    } while (x >= limit);
    return x % n;
}

void clipt_rng_fill_normal(clipt_rng *rng, float *dst, size_t n, float std)
{
    const double two_pi = 6.283185307179586;
    for (size_t i = 0; i < n; i += 2) {
        /* u1 in (0, 1] keeps the logarithm finite */
        double u1 = 1.0 - clipt_rng_uniform(rng);
        double u2 = clipt_rng_uniform(rng);
        double r = sqrt(-2.0 * log(u1));
        dst[i] = (float)(std * r * cos(two_pi * u2));
        if (i + 1 < n) dst[i + 1] = (float)(std * r * sin(two_pi * u2));
    }
}
