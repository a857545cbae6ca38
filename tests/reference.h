/* Double-precision reference implementations, written independently of
 * lib/cpu/ in the most direct form (explicit softmax matrix, full-length
 * sequences, LayerNorm on every row). Tests compare the library's fp32 ops
 * with these and take central finite differences of them. */
#ifndef CLIPT_TEST_REFERENCE_H
#define CLIPT_TEST_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#include "clipt.h"

void ref_embedding(double *out, const int32_t *ids, const double *wte,
                   const double *wpe, int B, int T, int C);
void ref_layernorm(double *out, const double *inp, const double *weight,
                   const double *bias, int N, int C, double eps);
void ref_matmul(double *out, const double *inp, const double *weight,
                const double *bias, int N, int C, int OC);
void ref_attention(double *out, const double *qkv, int B, int T, int C, int NH);
void ref_activation(double *out, const double *inp, size_t n,
                    clipt_activation kind);
/* losses: total, distance, regulariser (E0 may be NULL). */
void ref_cosine_loss(double losses[3], const double *E, const double *E0,
                     const int32_t *pair_a, const int32_t *pair_b,
                     const double *target, int N, int U, int P, double lambda);

/* The whole encoder on full-length rows: E (B,P) from params laid out as
 * the model's tensor table says (offsets read through the public API). */
void ref_encode(double *E, const clipt_model *model, const double *params,
                const int32_t *ids, const int32_t *eot, int B, int T);

#endif /* CLIPT_TEST_REFERENCE_H */
