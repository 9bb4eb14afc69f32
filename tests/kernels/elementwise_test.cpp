// exp and sigmoid over arrays: every ISA against std::exp, on lengths that leave a partial vector, across the
// whole float range the functions see (and past it: underflow, overflow, infinities, NaN).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/elementwise.h"

namespace rwkv {
namespace {

std::vector<float> inputs() {
    std::vector<float> x = {0.0f, -0.0f, 1.0f, -1.0f, 1e-8f, -1e-8f, 0.5f, 88.0f, 88.3f, -87.0f, -87.2f,
                            -87.4f, -100.0f, 89.0f, 1000.0f, -1000.0f, std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity()};
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> wide(-87.0f, 88.0f), narrow(-4.0f, 4.0f);
    for (int i = 0; i < 2000; ++i) x.push_back(i % 2 ? wide(rng) : narrow(rng));
    x.push_back(1.5f);  // 2019 values: the last vector is partial
    return x;
}

// |a - b| in units of b's last place (b normal or zero).
double ulps(float a, float b) {
    if (a == b) return 0;
    const double spacing = std::max(std::abs(static_cast<double>(b)) * std::numeric_limits<float>::epsilon(),
                                    static_cast<double>(std::numeric_limits<float>::min()));
    return std::abs(static_cast<double>(a) - b) / spacing;
}

TEST(Elementwise, ExpWithinTwoUlpOfStdExpOnEveryIsa) {
    const std::vector<float> x = inputs();
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
        std::vector<float> y = x;
        exp_inplace(y.data(), static_cast<int64_t>(y.size()), isa);
        for (size_t i = 0; i < x.size(); ++i) {
            const float want = std::exp(x[i]);
            if (x[i] > 88.37f) {  // stated: +inf above 88.37
                EXPECT_TRUE(std::isinf(y[i]) || y[i] == want) << x[i];
                continue;
            }
            if (x[i] < -87.3f) {  // stated: 0 (or std::exp's denormal) below -87.3
                EXPECT_LE(y[i], 1.2e-38f) << x[i];
                EXPECT_GE(y[i], 0.0f) << x[i];
                continue;
            }
            EXPECT_LE(ulps(y[i], want), 2.0) << "exp(" << x[i] << ") = " << y[i] << ", want " << want << " "
                                             << isa_name(isa);
        }
        EXPECT_EQ(y[0], 1.0f) << "exp(0) must be exactly 1";
    }
    std::vector<float> nan = {std::numeric_limits<float>::quiet_NaN()};
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
        exp_inplace(nan.data(), 1, isa);
        EXPECT_TRUE(std::isnan(nan[0])) << isa_name(isa);
    }
}

TEST(Elementwise, SigmoidMatchesTheFormulaOnEveryIsa) {
    const std::vector<float> x = inputs();
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
        std::vector<float> y = x;
        sigmoid_inplace(y.data(), static_cast<int64_t>(y.size()), isa);
        for (size_t i = 0; i < x.size(); ++i) {
            const double want = 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])));
            // Absolute and relative: near 0 the result is tiny, near 1 the spacing is 6e-8.
            EXPECT_NEAR(y[i], want, 1e-7 + 4e-7 * want) << "sigmoid(" << x[i] << ") " << isa_name(isa);
            EXPECT_GE(y[i], 0.0f);
            EXPECT_LE(y[i], 1.0f);
        }
    }
}

TEST(Elementwise, EmptyAndShortArrays) {
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
        exp_inplace(nullptr, 0, isa);
        for (int64_t n = 1; n < 9; ++n) {
            std::vector<float> x(static_cast<size_t>(n) + 1, 0.0f);
            x[static_cast<size_t>(n)] = 7.0f;  // past the end: must stay untouched
            sigmoid_inplace(x.data(), n, isa);
            for (int64_t i = 0; i < n; ++i) EXPECT_EQ(x[static_cast<size_t>(i)], 0.5f) << n;
            EXPECT_EQ(x[static_cast<size_t>(n)], 7.0f) << n;
        }
    }
}

}  // namespace
}  // namespace rwkv
