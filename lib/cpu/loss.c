/* CPU reference: the training loss and its gradient.
 * Shapes: E, E0, dE (U,P); pair_a, pair_b, target, cos (N); losses (3).
 *   cos_n = <E_a, E_b> / (max(|E_a|, eps) max(|E_b|, eps)), eps = 1e-8,
 *   distance = (1/N) sum_n (target_n - cos_n)^2
 *   regulariser = (1/(U P)) sum_{u,k} (E_uk - E0_uk)^2
 *   total = distance + lambda regulariser
 * This is F.cosine_similarity followed by F.mse_loss in PyTorch. Sums run in
 * double, in index order. */
#include <math.h>

#include "../ops/loss.h"

#define COSINE_EPS 1e-8

clipt_status clipt_cpu_cosine_loss(clipt_context *ctx, float *losses,
                                   float *cos, float *dE, const float *E,
                                   const float *E0, const int32_t *pair_a,
                                   const int32_t *pair_b, const float *target,
                                   int N, int U, int P, float lambda)
{
    (void)ctx;
    double distance = 0.0;
    for (int n = 0; n < N; n++) {
        const float *ea = E + (size_t)pair_a[n] * P;
        const float *eb = E + (size_t)pair_b[n] * P;
        double dot = 0.0, saa = 0.0, sbb = 0.0;
        for (int k = 0; k < P; k++) {
            dot += (double)ea[k] * eb[k];
            saa += (double)ea[k] * ea[k];
            sbb += (double)eb[k] * eb[k];
        }
        double norm_a = sqrt(saa), norm_b = sqrt(sbb);
        double na = norm_a > COSINE_EPS ? norm_a : COSINE_EPS;
        double nb = norm_b > COSINE_EPS ? norm_b : COSINE_EPS;
        double c = dot / (na * nb);
        double diff = (double)target[n] - c;
        distance += diff * diff;
        if (cos != NULL) cos[n] = (float)c;

        if (dE != NULL) {
            /* dL/dc = -2 (target - c) / N
             * dc/dE_a = E_b / (na nb) - c E_a / na^2, where the second term
             * exists only while |E_a| > eps (the clamp is constant below) */
            double dc = -2.0 * diff / N;
            double ga = norm_a > COSINE_EPS ? c / (na * na) : 0.0;
            double gb = norm_b > COSINE_EPS ? c / (nb * nb) : 0.0;
            float *da = dE + (size_t)pair_a[n] * P;
            float *db = dE + (size_t)pair_b[n] * P;
            for (int k = 0; k < P; k++) {
                double ak = ea[k], bk = eb[k];
                da[k] += (float)(dc * (bk / (na * nb) - ga * ak));
                db[k] += (float)(dc * (ak / (na * nb) - gb * bk));
            }
        }
    }
    distance /= N;

    double reg = 0.0;
    if (E0 != NULL) {
        size_t count = (size_t)U * P;
        for (size_t i = 0; i < count; i++) {
            double d = (double)E[i] - E0[i];
            reg += d * d;
        }
        reg /= (double)count;
        if (dE != NULL && lambda != 0.0f) {
            /* d(lambda reg)/dE = 2 lambda (E - E0) / (U P) */
            double g = 2.0 * lambda / (double)count;
            for (size_t i = 0; i < count; i++) {
                dE[i] += (float)(g * ((double)E[i] - E0[i]));
            }
        }
    }
    losses[0] = (float)(distance + lambda * reg);
    losses[1] = (float)distance;
    losses[2] = (float)reg;
    return CLIPT_OK;
}
