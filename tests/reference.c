#include "reference.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

void ref_embedding(double *out, const int32_t *ids, const double *wte,
                   const double *wpe, int B, int T, int C)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++)
                out[((size_t)b * T + t) * C + c] =
                    wte[(size_t)ids[b * T + t] * C + c] + wpe[(size_t)t * C + c];
}

void ref_layernorm(double *out, const double *inp, const double *weight,
                   const double *bias, int N, int C, double eps)
{
    for (int n = 0; n < N; n++) {
        const double *x = inp + (size_t)n * C;
        double mean = 0, var = 0;
        for (int c = 0; c < C; c++) mean += x[c];
        mean /= C;
        for (int c = 0; c < C; c++) var += (x[c] - mean) * (x[c] - mean);
        var /= C;
        for (int c = 0; c < C; c++)
            out[(size_t)n * C + c] = (x[c] - mean) / sqrt(var + eps) * weight[c] + bias[c];
    }
}

void ref_matmul(double *out, const double *inp, const double *weight,
                const double *bias, int N, int C, int OC)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = bias != NULL ? bias[o] : 0.0;
            for (int c = 0; c < C; c++) s += inp[(size_t)n * C + c] * weight[(size_t)o * C + c];
            out[(size_t)n * OC + o] = s;
        }
}

void ref_attention(double *out, const double *qkv, int B, int T, int C, int NH)
{
    int HS = C / NH;
    double *att = calloc((size_t)T * T, sizeof(double));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            /* full score matrix with the causal mask as -infinity */
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++) {
                    if (j > i) {
                        att[i * T + j] = -INFINITY;
                        continue;
                    }
                    double s = 0;
                    for (int k = 0; k < HS; k++)
                        s += qkv[((size_t)b * T + i) * 3 * C + h * HS + k] *
                             qkv[((size_t)b * T + j) * 3 * C + C + h * HS + k];
                    att[i * T + j] = s / sqrt((double)HS);
                }
            /* softmax over each row */
            for (int i = 0; i < T; i++) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) mx = fmax(mx, att[i * T + j]);
                for (int j = 0; j < T; j++) sum += exp(att[i * T + j] - mx);
                for (int j = 0; j < T; j++) att[i * T + j] = exp(att[i * T + j] - mx) / sum;
            }
            for (int i = 0; i < T; i++)
                for (int k = 0; k < HS; k++) {
                    double s = 0;
                    for (int j = 0; j < T; j++)
                        s += att[i * T + j] * qkv[((size_t)b * T + j) * 3 * C + 2 * C + h * HS + k];
                    out[((size_t)b * T + i) * C + h * HS + k] = s;
                }
        }
    free(att);
}

void ref_activation(double *out, const double *inp, size_t n,
                    clipt_activation kind)
{
    for (size_t i = 0; i < n; i++) {
        double x = inp[i];
        if (kind == CLIPT_ACTIVATION_QUICK_GELU) out[i] = x / (1.0 + exp(-1.702 * x));
        else out[i] = 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    }
}

void ref_cosine_loss(double losses[3], const double *E, const double *E0,
                     const int32_t *pair_a, const int32_t *pair_b,
                     const double *target, int N, int U, int P, double lambda)
{
    double dist = 0;
    for (int n = 0; n < N; n++) {
        const double *a = E + (size_t)pair_a[n] * P, *b = E + (size_t)pair_b[n] * P;
        double dot = 0, na = 0, nb = 0;
        for (int k = 0; k < P; k++) {
            dot += a[k] * b[k];
            na += a[k] * a[k];
            nb += b[k] * b[k];
        }
        double cos = dot / (fmax(sqrt(na), 1e-8) * fmax(sqrt(nb), 1e-8));
        dist += (target[n] - cos) * (target[n] - cos);
    }
    dist /= N;
    double reg = 0;
    if (E0 != NULL) {
        for (size_t i = 0; i < (size_t)U * P; i++) reg += (E[i] - E0[i]) * (E[i] - E0[i]);
        reg /= (double)U * P;
    }
    losses[0] = dist + lambda * reg;
    losses[1] = dist;
    losses[2] = reg;
}

static const double *tensor(const clipt_model *m, const double *params,
                            const char *name)
{
    clipt_tensor_info info;
    clipt_status st = clipt_model_find_tensor(m, name, &info);
    if (st != CLIPT_OK) {
        fprintf(stderr, "reference: %s\n", clipt_last_error());
        abort();
    }
    return params + info.offset;
}

void ref_encode(double *E, const clipt_model *m, const double *params,
                const int32_t *ids, const int32_t *eot, int B, int T)
{
    clipt_model_config c;
    clipt_model_get_config(m, &c);
    int C = c.width, F = c.mlp_width, P = c.projection_dim;
    size_t BT = (size_t)B * T;
    double *x = calloc(BT * C, sizeof(double));
    double *ln = calloc(BT * C, sizeof(double));
    double *qkv = calloc(BT * 3 * C, sizeof(double));
    double *att = calloc(BT * C, sizeof(double));
    double *proj = calloc(BT * C, sizeof(double));
    double *h = calloc(BT * F, sizeof(double));
    double *hact = calloc(BT * F, sizeof(double));
    double *wqkv = calloc((size_t)3 * C * C, sizeof(double));
    double *bqkv = calloc((size_t)3 * C, sizeof(double));
    char name[128];

    ref_embedding(x, ids, tensor(m, params, "text_model.embeddings.token_embedding.weight"),
                  tensor(m, params, "text_model.embeddings.position_embedding.weight"),
                  B, T, C);
#define T_(fmt) (snprintf(name, sizeof name, "text_model.encoder.layers.%d." fmt, l), \
                 tensor(m, params, name))
    for (int l = 0; l < c.layers; l++) {
        /* assemble the (3C, C) q/k/v matrix from the three named tensors */
        memcpy(wqkv, T_("self_attn.q_proj.weight"), (size_t)C * C * sizeof(double));
        memcpy(wqkv + (size_t)C * C, T_("self_attn.k_proj.weight"), (size_t)C * C * sizeof(double));
        memcpy(wqkv + (size_t)2 * C * C, T_("self_attn.v_proj.weight"), (size_t)C * C * sizeof(double));
        memcpy(bqkv, T_("self_attn.q_proj.bias"), (size_t)C * sizeof(double));
        memcpy(bqkv + C, T_("self_attn.k_proj.bias"), (size_t)C * sizeof(double));
        memcpy(bqkv + 2 * C, T_("self_attn.v_proj.bias"), (size_t)C * sizeof(double));

        ref_layernorm(ln, x, T_("layer_norm1.weight"), T_("layer_norm1.bias"), (int)BT, C, c.layer_norm_eps);
        ref_matmul(qkv, ln, wqkv, bqkv, (int)BT, C, 3 * C);
        ref_attention(att, qkv, B, T, C, c.heads);
        ref_matmul(proj, att, T_("self_attn.out_proj.weight"), T_("self_attn.out_proj.bias"), (int)BT, C, C);
        for (size_t i = 0; i < BT * C; i++) x[i] += proj[i];

        ref_layernorm(ln, x, T_("layer_norm2.weight"), T_("layer_norm2.bias"), (int)BT, C, c.layer_norm_eps);
        ref_matmul(h, ln, T_("mlp.fc1.weight"), T_("mlp.fc1.bias"), (int)BT, C, F);
        ref_activation(hact, h, BT * F, c.activation);
        ref_matmul(proj, hact, T_("mlp.fc2.weight"), T_("mlp.fc2.bias"), (int)BT, F, C);
        for (size_t i = 0; i < BT * C; i++) x[i] += proj[i];
    }
#undef T_
    /* final LayerNorm on every row, then pick the end-of-text rows */
    ref_layernorm(ln, x, tensor(m, params, "text_model.final_layer_norm.weight"),
                  tensor(m, params, "text_model.final_layer_norm.bias"), (int)BT, C,
                  c.layer_norm_eps);
    double *pooled = calloc((size_t)B * C, sizeof(double));
    for (int b = 0; b < B; b++)
        memcpy(pooled + (size_t)b * C, ln + ((size_t)b * T + eot[b]) * C, (size_t)C * sizeof(double));
    ref_matmul(E, pooled, tensor(m, params, "text_projection.weight"), NULL, B, C, P);

    free(pooled);
    free(x);
    free(ln);
    free(qkv);
    free(att);
    free(proj);
    free(h);
    free(hact);
    free(wqkv);
    free(bqkv);
}
