// Empirical token frequencies against softmax(logits / T).
//
// Tolerance: Pearson's chi-square over 200000 draws must stay below the 0.999 quantile of the
// chi-square distribution with (categories - 1) degrees of freedom, and every frequency must be
// within 0.005 of its probability. The seeds are fixed, so the outcome is deterministic; the
// critical value only says how unlikely a correct sampler is to fail for an arbitrary seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "rwkv/sampler.h"
#include "sampling/sampling_test_util.h"

namespace rwkv {
namespace {

const std::vector<float> kLogits = {2.0f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, -2.0f};
constexpr double kChi2Critical6Dof = 22.458;  // chi-square 0.999 quantile, 6 degrees of freedom
constexpr int kDraws = 200000;

std::vector<int> counts(float temperature, uint64_t seed) {
    SamplerParams p;
    p.temperature = temperature;
    p.seed = seed;
    Sampler s(p);
    std::vector<int> c(kLogits.size(), 0);
    for (int i = 0; i < kDraws; ++i) ++c[static_cast<size_t>(s.sample(kLogits.data(), kLogits.size()))];
    return c;
}

double chi_square(const std::vector<int>& observed, const std::vector<double>& probs) {
    double chi2 = 0;
    for (size_t i = 0; i < probs.size(); ++i) {
        const double expected = probs[i] * kDraws;
        chi2 += (observed[i] - expected) * (observed[i] - expected) / expected;
    }
    return chi2;
}

double max_deviation(const std::vector<int>& observed, const std::vector<double>& probs) {
    double worst = 0;
    for (size_t i = 0; i < probs.size(); ++i)
        worst = std::max(worst, std::abs(static_cast<double>(observed[i]) / kDraws - probs[i]));
    return worst;
}

class Frequencies : public ::testing::TestWithParam<float> {};

TEST_P(Frequencies, MatchSoftmaxAtTemperature) {
    const float t = GetParam();
    const auto probs = test::softmax(kLogits, t);
    for (const uint64_t seed : {1ull, 2024ull}) {
        const auto c = counts(t, seed);
        EXPECT_LT(chi_square(c, probs), kChi2Critical6Dof) << "T=" << t << " seed=" << seed;
        EXPECT_LT(max_deviation(c, probs), 0.005) << "T=" << t << " seed=" << seed;
    }
}

INSTANTIATE_TEST_SUITE_P(Temperatures, Frequencies, ::testing::Values(1.0f, 0.5f));

// The statistic has teeth: draws at T=0.5 are far from softmax at T=1.
TEST(FrequenciesCheck, RejectsTheWrongTemperature) {
    const auto c = counts(0.5f, 1);
    EXPECT_GT(chi_square(c, test::softmax(kLogits, 1.0)), 100 * kChi2Critical6Dof);
    EXPECT_GT(max_deviation(c, test::softmax(kLogits, 1.0)), 0.05);
}

}  // namespace
}  // namespace rwkv
