// Every training op's backward against central finite differences in fp64 on small random inputs of awkward
// sizes: the loss is a fixed random projection L = Σ g⊙y of the op's output, so dL/dy = g.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "rwkv/error.h"
#include "train/ops.h"

namespace rwkv::train {
namespace {

using Vec = std::vector<double>;

Vec random_vec(size_t n, uint64_t seed, double lo = -1, double hi = 1) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(lo, hi);
    Vec v(n);
    for (double& x : v) x = u(rng);
    return v;
}

// Checks `analytic` (the backward's gradient for input `x`) against (L(x+h) − L(x−h))/2h for every element.
void expect_gradient(Vec& x, const Vec& analytic, const std::function<double()>& loss, const char* what) {
    ASSERT_EQ(x.size(), analytic.size()) << what;
    for (size_t i = 0; i < x.size(); ++i) {
        const double keep = x[i], h = 1e-6;
        x[i] = keep + h;
        const double up = loss();
        x[i] = keep - h;
        const double down = loss();
        x[i] = keep;
        const double fd = (up - down) / (2 * h);
        EXPECT_NEAR(analytic[i], fd, 1e-7 + 1e-6 * std::fabs(fd)) << what << "[" << i << "]";
    }
}

double dot(const Vec& a, const Vec& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
    return s;
}

TEST(OpsGradient, Linear) {
    ThreadPool pool(1);
    const int64_t rows = 5, in = 7, out = 3;
    Vec x = random_vec(rows * in, 1), W = random_vec(out * in, 2), g = random_vec(rows * out, 3);
    auto loss = [&] {
        Vec y(rows * out);
        linear_forward<double>(x.data(), rows, in, W.data(), out, y.data(), pool);
        return dot(y, g);
    };
    Vec dx(x.size(), 0.0), dW(W.size(), 0.0);
    linear_backward<double>(x.data(), g.data(), rows, in, W.data(), out, dx.data(), dW.data(), pool);
    expect_gradient(x, dx, loss, "dx");
    expect_gradient(W, dW, loss, "dW");
}

class NormGradient : public ::testing::TestWithParam<int64_t> {};  // groups

TEST_P(NormGradient, GroupNormAndLayerNorm) {
    const int64_t rows = 3, C = 12, G = GetParam();
    Vec x = random_vec(rows * C, 4, -2, 3), w = random_vec(C, 5), b = random_vec(C, 6), g = random_vec(rows * C, 7);
    const double eps = G == 1 ? 1e-5 : 64e-5;
    auto loss = [&] {
        Vec y(rows * C), mean(rows * G), rstd(rows * G);
        group_norm_forward<double>(x.data(), rows, C, G, w.data(), b.data(), eps, y.data(), mean.data(), rstd.data());
        return dot(y, g);
    };
    Vec y(rows * C), mean(rows * G), rstd(rows * G), dx(x.size(), 0.0), dw(C, 0.0), db(C, 0.0);
    group_norm_forward<double>(x.data(), rows, C, G, w.data(), b.data(), eps, y.data(), mean.data(), rstd.data());
    group_norm_backward<double>(x.data(), g.data(), rows, C, G, w.data(), mean.data(), rstd.data(), dx.data(),
                                dw.data(), db.data());
    expect_gradient(x, dx, loss, "dx");
    expect_gradient(w, dw, loss, "dw");
    expect_gradient(b, db, loss, "db");
    if (G == 1) {  // layer_norm is the one-group case
        Vec y2(rows * C), m2(rows), r2(rows);
        layer_norm_forward<double>(x.data(), rows, C, w.data(), b.data(), eps, y2.data(), m2.data(), r2.data());
        EXPECT_EQ(y, y2);
    }
}

INSTANTIATE_TEST_SUITE_P(Groups, NormGradient, ::testing::Values(1, 3, 4));

TEST(OpsGradient, TokenShiftAndMix) {
    const int64_t B = 2, T = 5, C = 3, rows = B * T;
    Vec x = random_vec(rows * C, 8), mu = random_vec(C, 9, 0, 1), g = random_vec(rows * C, 10);
    // y = mix(x, shift(x), mu): x reaches y directly and through the previous token
    auto loss = [&] {
        Vec prev(rows * C), y(rows * C);
        token_shift<double>(x.data(), B, T, C, prev.data());
        mix_forward<double>(x.data(), prev.data(), mu.data(), rows, C, y.data());
        return dot(y, g);
    };
    Vec prev(rows * C), dx(x.size(), 0.0), dprev(x.size(), 0.0), dmu(C, 0.0);
    token_shift<double>(x.data(), B, T, C, prev.data());
    for (int64_t c = 0; c < C; ++c) EXPECT_EQ(prev[T * C + c], 0.0) << "each sequence starts from zero";
    mix_backward<double>(x.data(), prev.data(), mu.data(), g.data(), rows, C, dx.data(), dprev.data(), dmu.data());
    token_shift_backward<double>(dprev.data(), B, T, C, dx.data());
    expect_gradient(x, dx, loss, "dx");
    expect_gradient(mu, dmu, loss, "dmu");
}

TEST(OpsGradient, CrossEntropy) {
    const int64_t rows = 4, V = 9;
    Vec z = random_vec(rows * V, 11, -3, 3);
    const std::vector<int32_t> targets = {0, 8, 3, 3};
    auto loss = [&] { return cross_entropy<double>(z.data(), targets.data(), rows, V, nullptr, 0.0, false); };
    Vec dz(z.size());
    const double l = cross_entropy<double>(z.data(), targets.data(), rows, V, dz.data(), 1.0, false);
    EXPECT_DOUBLE_EQ(l, loss());
    expect_gradient(z, dz, loss, "dlogits");
    // L2Wrap adds 1e-4/rows · max to each row's largest logit, and nothing else
    Vec dz2(z.size());
    cross_entropy<double>(z.data(), targets.data(), rows, V, dz2.data(), 1.0, true);
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t arg = std::max_element(&z[r * V], &z[r * V] + V) - &z[r * V];
        for (int64_t j = 0; j < V; ++j)
            EXPECT_NEAR(dz2[r * V + j] - dz[r * V + j], j == arg ? 1e-4 / rows * z[r * V + j] : 0.0, 1e-15);
    }
    const std::vector<int32_t> bad = {0, 9, 1, 1};
    EXPECT_THROW(cross_entropy<double>(z.data(), bad.data(), rows, V, nullptr, 0.0, false), Error);
}

}  // namespace
}  // namespace rwkv::train
