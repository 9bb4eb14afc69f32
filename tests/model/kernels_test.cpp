// The plain kernels against direct formulas in double, on awkward sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/thread_pool.h"
#include "kernels/matrix.h"
#include "kernels/norm.h"
#include "kernels/wkv.h"

namespace rwkv {
namespace {

std::vector<float> random_vec(size_t n, std::mt19937& rng, float lo = -1, float hi = 1) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
    for (int threads : {1, 2, 3, 5}) {
        ThreadPool pool(threads);
        for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{7}, size_t{1000}}) {
            std::vector<int> hits(n, 0);
            pool.parallel_for(n, [&](size_t b, size_t e) {
                for (size_t i = b; i < e; ++i) ++hits[i];
            });
            for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i], 1) << threads << " " << n << " " << i;
        }
    }
}

TEST(Matrix, MatvecAndMatmulMatchDoubleReference) {
    std::mt19937 rng(1);
    ThreadPool pool(3);
    for (auto [rows, cols, T] : {std::tuple{1, 1, 1}, {7, 13, 3}, {33, 65, 5}, {130, 67, 17}}) {
        Matrix m(rows, cols, random_vec(static_cast<size_t>(rows * cols), rng));
        const std::vector<float> x = random_vec(static_cast<size_t>(T * cols), rng);
        std::vector<float> y(static_cast<size_t>(T * rows)), yv(static_cast<size_t>(rows));
        m.matmul(x.data(), T, y.data(), pool);
        for (int t = 0; t < T; ++t) {
            m.matvec(&x[t * cols], yv.data(), pool);
            std::vector<float> row(cols);
            for (int r = 0; r < rows; ++r) {
                m.row_to_float(r, row.data());
                double want = 0;
                for (int c = 0; c < cols; ++c) want += double(row[c]) * x[t * cols + c];
                ASSERT_NEAR(y[t * rows + r], want, 1e-5 * std::sqrt(double(cols)));
                // Summation orders differ (register tiles vs one row), so the two agree to rounding only.
                ASSERT_NEAR(yv[r], want, 1e-5 * std::sqrt(double(cols)));
            }
        }
    }
}

TEST(Norm, LayerNormAndGroupNormMatchDefinition) {
    std::mt19937 rng(2);
    const int groups = 3, size = 37, n = groups * size;
    const auto x = random_vec(n, rng, -3, 5), w = random_vec(n, rng), b = random_vec(n, rng);
    std::vector<float> y(n);
    group_norm(x.data(), y.data(), w.data(), b.data(), groups, size, 64e-5f);
    for (int g = 0; g < groups; ++g) {
        double mean = 0, var = 0;
        for (int i = 0; i < size; ++i) mean += x[g * size + i];
        mean /= size;
        for (int i = 0; i < size; ++i) var += (x[g * size + i] - mean) * (x[g * size + i] - mean);
        var /= size;
        for (int i = 0; i < size; ++i) {
            const int k = g * size + i;
            ASSERT_NEAR(y[k], (x[k] - mean) / std::sqrt(var + 64e-5) * w[k] + b[k], 1e-5);
        }
    }
    layer_norm(x.data(), y.data(), w.data(), b.data(), n, 1e-5f);
    double mean = 0, var = 0;
    for (float v : x) mean += v;
    mean /= n;
    for (float v : x) var += (v - mean) * (v - mean);
    var /= n;
    for (int k = 0; k < n; ++k) ASSERT_NEAR(y[k], (x[k] - mean) / std::sqrt(var + 1e-5) * w[k] + b[k], 1e-5);
}

// v4 without the running maximum: wkv_t = (Σ_{i<t} e^{(t−1−i)w + k_i} v_i + e^{u+k_t} v_t) / (same with v = 1)
TEST(Wkv, V4MatchesUnstabilisedFormula) {
    std::mt19937 rng(3);
    const int T = 9, C = 11;
    const auto w = random_vec(C, rng, -2, -0.01f), u = random_vec(C, rng), k = random_vec(T * C, rng),
               v = random_vec(T * C, rng);
    std::vector<float> aa(C, 0), bb(C, 0), pp(C, -1e30f), y(T * C);
    // in two calls, to exercise the state hand-over
    wkv4_reference(4, C, w.data(), u.data(), k.data(), v.data(), aa.data(), bb.data(), pp.data(), y.data());
    wkv4_reference(T - 4, C, w.data(), u.data(), k.data() + 4 * C, v.data() + 4 * C, aa.data(), bb.data(), pp.data(),
         y.data() + 4 * C);
    for (int t = 0; t < T; ++t)
        for (int c = 0; c < C; ++c) {
            double num = std::exp(double(u[c]) + k[t * C + c]) * v[t * C + c];
            double den = std::exp(double(u[c]) + k[t * C + c]);
            for (int i = 0; i < t; ++i) {
                const double e = std::exp((t - 1 - i) * double(w[c]) + k[i * C + c]);
                num += e * v[i * C + c];
                den += e;
            }
            ASSERT_NEAR(y[t * C + c], num / den, 1e-5) << t << " " << c;
        }
}

// v5/v6: y_t = r_t · (diag(u) k_tᵀv_t + S_t), S_{t+1} = k_tᵀv_t + diag(w_t) S_t, per head.
TEST(Wkv, V5AndV6MatchMatrixFormula) {
    std::mt19937 rng(4);
    const int T = 5, H = 3, N = 7, C = H * N;
    const auto r = random_vec(T * C, rng), k = random_vec(T * C, rng), v = random_vec(T * C, rng),
               u = random_vec(C, rng), w = random_vec(T * C, rng, 0.1f, 0.99f);
    for (int64_t stride : {0, C}) {
        std::vector<float> s(H * N * N, 0), y(T * C);
        std::vector<double> S(H * N * N, 0);
        wkv5_reference(T, H, N, r.data(), k.data(), v.data(), w.data(), stride, u.data(), s.data(), y.data());
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < H; ++h) {
                const int o = t * C + h * N;
                for (int j = 0; j < N; ++j) {
                    double want = 0;
                    for (int i = 0; i < N; ++i)
                        want += r[o + i] * (double(u[h * N + i]) * k[o + i] * v[o + j] + S[(h * N + i) * N + j]);
                    ASSERT_NEAR(y[o + j], want, 1e-5);
                }
                for (int i = 0; i < N; ++i)
                    for (int j = 0; j < N; ++j) {
                        double& sij = S[(h * N + i) * N + j];
                        sij = double(k[o + i]) * v[o + j] + w[t * stride + h * N + i] * sij;
                    }
            }
        for (size_t i = 0; i < s.size(); ++i) ASSERT_NEAR(s[i], S[i], 1e-5);
    }
}

// v7: S ← S·diag(w) + S·(−kk)(kk⊙a)ᵀ + v·kᵀ ; y = S·r, per head.
TEST(Wkv, V7MatchesDeltaRuleMatrixFormula) {
    std::mt19937 rng(5);
    const int T = 6, H = 2, N = 9, C = H * N;
    const auto r = random_vec(T * C, rng), k = random_vec(T * C, rng), v = random_vec(T * C, rng),
               kk = random_vec(T * C, rng, -0.3f, 0.3f), a = random_vec(T * C, rng, 0, 1),
               w = random_vec(T * C, rng, 0.5f, 1);
    std::vector<float> s = random_vec(H * N * N, rng), y(T * C);
    std::vector<double> S(s.begin(), s.end());
    wkv7_reference(T, H, N, r.data(), w.data(), k.data(), v.data(), kk.data(), a.data(), s.data(), y.data());
    for (int t = 0; t < T; ++t)
        for (int h = 0; h < H; ++h) {
            const int o = t * C + h * N;
            double* Sh = &S[h * N * N];
            std::vector<double> next(N * N);
            for (int i = 0; i < N; ++i)
                for (int j = 0; j < N; ++j) {
                    double sab = 0;
                    for (int l = 0; l < N; ++l) sab += Sh[i * N + l] * (-double(kk[o + l])) * kk[o + j] * a[o + j];
                    next[i * N + j] = Sh[i * N + j] * w[o + j] + sab + double(v[o + i]) * k[o + j];
                }
            std::copy(next.begin(), next.end(), Sh);
            for (int i = 0; i < N; ++i) {
                double want = 0;
                for (int j = 0; j < N; ++j) want += Sh[i * N + j] * r[o + j];
                ASSERT_NEAR(y[o + i], want, 1e-4);
            }
        }
    for (size_t i = 0; i < s.size(); ++i) ASSERT_NEAR(s[i], S[i], 1e-4);
}

}  // namespace
}  // namespace rwkv

#include "core/half.h"
#include "model/legacy_bf16_layer_norm.h"

namespace rwkv {
namespace {

// The emulation is pinned bit-exactly by the v5 reference case (n = 128, one Welford chunk); here
// the multi-chunk cascade and the scalar tail (n not a multiple of 16) must stay a LayerNorm.
TEST(LegacyBf16LayerNorm, IsALayerNormOnTheBf16GridForAwkwardSizes) {
    std::mt19937 rng(6);
    for (int n : {16, 100, 257, 1000, 4099}) {
        auto x = random_vec(n, rng, -2, 3), w = random_vec(n, rng), b = random_vec(n, rng);
        for (auto* v : {&x, &w, &b})
            for (float& f : *v) f = bf16_to_f32(f32_to_bf16(f));
        std::vector<float> got(n), want(n);
        legacy_bf16_layer_norm(x.data(), got.data(), w.data(), b.data(), n, 1e-5f);
        layer_norm(x.data(), want.data(), w.data(), b.data(), n, 1e-5f);
        for (int i = 0; i < n; ++i) {
            ASSERT_EQ(got[i], bf16_to_f32(f32_to_bf16(got[i]))) << n;
            ASSERT_NEAR(got[i], want[i], 0.02 * (std::fabs(want[i]) + 1)) << n << " " << i;
        }
    }
}

}  // namespace
}  // namespace rwkv
