#include "train/ops.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/sgemm.h"
#include "rwkv/error.h"

namespace rwkv::train {

template <>
void gemm<float>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                 int64_t ldb, float beta, float* C, int64_t ldc, ThreadPool& pool) {
    sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc, pool);
}

// fp64 is only for gradient checks on tiny models: plain loops are fast enough and obviously right.
template <>
void gemm<double>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B,
                  int64_t ldb, double beta, double* C, int64_t ldc, ThreadPool&) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double s = 0;
            for (int64_t k = 0; k < K; ++k) s += (ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
            C[i * ldc + j] = beta == 0 ? s : s + beta * C[i * ldc + j];
        }
}

template <class F>
void linear_forward(const F* x, int64_t rows, int64_t in, const F* W, int64_t out, F* y, ThreadPool& pool) {
    gemm<F>(false, true, rows, out, in, x, in, W, in, F(0), y, out, pool);
}

template <class F>
void linear_backward(const F* x, const F* dy, int64_t rows, int64_t in, const F* W, int64_t out, F* dx, F* dW,
                     ThreadPool& pool) {
    if (dx) gemm<F>(false, false, rows, in, out, dy, out, W, in, F(1), dx, in, pool);
    gemm<F>(true, false, out, in, rows, dy, out, x, in, F(1), dW, in, pool);
}

template <class F>
void layer_norm_forward(const F* x, int64_t rows, int64_t C, const F* w, const F* b, F eps, F* y, F* mean, F* rstd) {
    group_norm_forward(x, rows, C, 1, w, b, eps, y, mean, rstd);
}

template <class F>
void layer_norm_backward(const F* x, const F* dy, int64_t rows, int64_t C, const F* w, const F* mean,
                         const F* rstd, F* dx, F* dw, F* db) {
    group_norm_backward(x, dy, rows, C, 1, w, mean, rstd, dx, dw, db);
}

template <class F>
void group_norm_forward(const F* x, int64_t rows, int64_t C, int64_t G, const F* w, const F* b, F eps, F* y, F* mean,
                        F* rstd) {
    const int64_t n = C / G;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t g = 0; g < G; ++g) {
            const F* xi = x + r * C + g * n;
            F* yi = y + r * C + g * n;
            double s = 0;
            for (int64_t j = 0; j < n; ++j) s += xi[j];
            const double mu = s / static_cast<double>(n);
            double ss = 0;
            for (int64_t j = 0; j < n; ++j) ss += (xi[j] - mu) * (xi[j] - mu);
            const F rs = static_cast<F>(1.0 / std::sqrt(ss / static_cast<double>(n) + static_cast<double>(eps)));
            const F m = static_cast<F>(mu);
            mean[r * G + g] = m;
            rstd[r * G + g] = rs;
            const F* wg = w + g * n;
            const F* bg = b + g * n;
            for (int64_t j = 0; j < n; ++j) yi[j] = (xi[j] - m) * rs * wg[j] + bg[j];
        }
}

// With x̂ = (x − μ)/σ and g = dy⊙w: dx = (g − mean(g) − x̂·mean(g⊙x̂)) / σ.
template <class F>
void group_norm_backward(const F* x, const F* dy, int64_t rows, int64_t C, int64_t G, const F* w, const F* mean,
                         const F* rstd, F* dx, F* dw, F* db) {
    const int64_t n = C / G;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t g = 0; g < G; ++g) {
            const int64_t o = r * C + g * n;
            const F m = mean[r * G + g], rs = rstd[r * G + g];
            double sg = 0, sgx = 0;
            for (int64_t j = 0; j < n; ++j) {
                const F xh = (x[o + j] - m) * rs;
                const F gj = dy[o + j] * w[g * n + j];
                sg += gj;
                sgx += gj * xh;
                dw[g * n + j] += dy[o + j] * xh;
                db[g * n + j] += dy[o + j];
            }
            const F mg = static_cast<F>(sg / static_cast<double>(n)), mgx = static_cast<F>(sgx / static_cast<double>(n));
            for (int64_t j = 0; j < n; ++j) {
                const F xh = (x[o + j] - m) * rs;
                dx[o + j] += (dy[o + j] * w[g * n + j] - mg - xh * mgx) * rs;
            }
        }
}

template <class F>
void token_shift(const F* x, int64_t B, int64_t T, int64_t C, F* prev) {
    for (int64_t b = 0; b < B; ++b) {
        F* p = prev + b * T * C;
        std::fill(p, p + C, F(0));
        std::copy(x + b * T * C, x + (b * T + T - 1) * C, p + C);
    }
}

template <class F>
void token_shift_backward(const F* dprev, int64_t B, int64_t T, int64_t C, F* dx) {
    for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t + 1 < T; ++t) {
            const F* s = dprev + (b * T + t + 1) * C;
            F* d = dx + (b * T + t) * C;
            for (int64_t c = 0; c < C; ++c) d[c] += s[c];
        }
}

template <class F>
void mix_forward(const F* x, const F* prev, const F* mu, int64_t rows, int64_t C, F* y) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < C; ++c) {
            const int64_t i = r * C + c;
            y[i] = x[i] + (prev[i] - x[i]) * mu[c];
        }
}

template <class F>
void mix_backward(const F* x, const F* prev, const F* mu, const F* dy, int64_t rows, int64_t C, F* dx, F* dprev,
                  F* dmu) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < C; ++c) {
            const int64_t i = r * C + c;
            dx[i] += dy[i] * (F(1) - mu[c]);
            dprev[i] += dy[i] * mu[c];
            dmu[c] += dy[i] * (prev[i] - x[i]);
        }
}

template <class F>
double cross_entropy(const F* logits, const int32_t* targets, int64_t rows, int64_t V, F* dlogits, F grad_scale,
                     bool l2wrap) {
    double total = 0;
    const F inv_rows = F(1) / static_cast<F>(rows);
    for (int64_t r = 0; r < rows; ++r) {
        const int32_t t = targets[r];
        if (t < 0 || t >= V)
            throw Error("target token " + std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
        const F* z = logits + r * V;
        const int64_t arg = std::max_element(z, z + V) - z;
        const F mx = z[arg];
        double s = 0;
        for (int64_t j = 0; j < V; ++j) s += std::exp(static_cast<double>(z[j] - mx));
        const double lse = static_cast<double>(mx) + std::log(s);
        total += lse - static_cast<double>(z[t]);
        if (!dlogits) continue;
        F* d = dlogits + r * V;
        const F scale = grad_scale * inv_rows;
        for (int64_t j = 0; j < V; ++j) d[j] = static_cast<F>(std::exp(static_cast<double>(z[j]) - lse)) * scale;
        d[t] -= scale;
        if (l2wrap) d[arg] += grad_scale * static_cast<F>(1e-4) * inv_rows * mx;
    }
    return total / static_cast<double>(rows);
}

#define RWKV_TRAIN_OPS(F)                                                                                          \
    template void linear_forward<F>(const F*, int64_t, int64_t, const F*, int64_t, F*, ThreadPool&);               \
    template void linear_backward<F>(const F*, const F*, int64_t, int64_t, const F*, int64_t, F*, F*, ThreadPool&); \
    template void layer_norm_forward<F>(const F*, int64_t, int64_t, const F*, const F*, F, F*, F*, F*);            \
    template void layer_norm_backward<F>(const F*, const F*, int64_t, int64_t, const F*, const F*, const F*, F*,   \
                                         F*, F*);                                                                  \
    template void group_norm_forward<F>(const F*, int64_t, int64_t, int64_t, const F*, const F*, F, F*, F*, F*);   \
    template void group_norm_backward<F>(const F*, const F*, int64_t, int64_t, int64_t, const F*, const F*,        \
                                         const F*, F*, F*, F*);                                                    \
    template void token_shift<F>(const F*, int64_t, int64_t, int64_t, F*);                                         \
    template void token_shift_backward<F>(const F*, int64_t, int64_t, int64_t, F*);                                \
    template void mix_forward<F>(const F*, const F*, const F*, int64_t, int64_t, F*);                              \
    template void mix_backward<F>(const F*, const F*, const F*, const F*, int64_t, int64_t, F*, F*, F*);           \
    template double cross_entropy<F>(const F*, const int32_t*, int64_t, int64_t, F*, F, bool);

RWKV_TRAIN_OPS(float)
RWKV_TRAIN_OPS(double)

}  // namespace rwkv::train
