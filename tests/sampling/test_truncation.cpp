// top_k, top_p and min_p: which tokens survive, checked on hand-made distributions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <vector>

#include "rwkv/sampler.h"
#include "sampling/sampling_test_util.h"

namespace rwkv {
namespace {

using test::distribution;
using test::logits_of;
using test::support;
using Ids = std::vector<int32_t>;

// Probabilities deliberately not in id order: sorted, the ids are 1, 3, 4, 0, 2.
const std::vector<double> kProbs = {0.1, 0.5, 0.05, 0.2, 0.15};

SamplerParams with_top_p(float top_p) {
    SamplerParams p;
    p.top_p = top_p;
    return p;
}

SamplerParams with_min_p(float min_p) {
    SamplerParams p;
    p.min_p = min_p;
    return p;
}

TEST(TopK, DrawsStayInsideTheTopThree) {
    std::vector<float> logits;
    for (int i = 0; i < 20; ++i) logits.push_back(static_cast<float>(2.0 * std::sin(1.7 * i)));
    std::vector<int32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    const std::set<int32_t> top3(ids.begin(), ids.begin() + 3);

    SamplerParams p;
    p.top_k = 3;
    p.temperature = 1.5f;  // flatter, so tokens outside the top 3 would show up if let through
    p.seed = 3;
    Sampler s(p);
    std::set<int32_t> seen;
    for (int i = 0; i < 5000; ++i) {
        const int32_t t = s.sample(logits.data(), logits.size());
        ASSERT_TRUE(top3.count(t)) << "token " << t << " is outside the top 3";
        seen.insert(t);
    }
    EXPECT_EQ(seen, top3);
}

TEST(TopK, KeptProbabilitiesAreRenormalisedSoftmax) {
    SamplerParams p;
    p.top_k = 2;
    const auto probs = distribution(p, logits_of(kProbs));
    EXPECT_EQ(support(probs), (Ids{1, 3}));
    EXPECT_NEAR(probs[1], 0.5 / 0.7, 1e-6);
    EXPECT_NEAR(probs[3], 0.2 / 0.7, 1e-6);
}

TEST(TopK, TiesKeepTheLowestIds) {
    SamplerParams p;
    p.top_k = 2;
    EXPECT_EQ(support(distribution(p, std::vector<float>(5, 1.0f))), (Ids{0, 1}));
}

TEST(TopK, LargerThanVocabularyKeepsAll) {
    SamplerParams p;
    p.top_k = 1000;
    EXPECT_EQ(support(distribution(p, logits_of(kProbs))), (Ids{0, 1, 2, 3, 4}));
}

TEST(TopP, KeepsSmallestSetReachingTopP) {
    const auto logits = logits_of(kProbs);
    EXPECT_EQ(support(distribution(with_top_p(0.49f), logits)), (Ids{1}));
    EXPECT_EQ(support(distribution(with_top_p(0.69f), logits)), (Ids{1, 3}));
    EXPECT_EQ(support(distribution(with_top_p(0.71f), logits)), (Ids{1, 3, 4}));
    EXPECT_EQ(support(distribution(with_top_p(0.84f), logits)), (Ids{1, 3, 4}));
    EXPECT_EQ(support(distribution(with_top_p(0.86f), logits)), (Ids{0, 1, 3, 4}));
    EXPECT_EQ(support(distribution(with_top_p(1.0f), logits)), (Ids{0, 1, 2, 3, 4}));

    const auto probs = distribution(with_top_p(0.69f), logits);
    EXPECT_NEAR(probs[1], 0.5 / 0.7, 1e-6);
    EXPECT_NEAR(probs[3], 0.2 / 0.7, 1e-6);
}

// Equal logits give exactly equal probabilities (1/8), so a cumulative sum can equal top_p
// exactly: ">= top_p" stops there, "> top_p" would take one more.
TEST(TopP, BoundaryIsInclusive) {
    const std::vector<float> flat(8, 0.0f);
    EXPECT_EQ(support(distribution(with_top_p(0.25f), flat)), (Ids{0, 1}));
    EXPECT_EQ(support(distribution(with_top_p(0.375f), flat)), (Ids{0, 1, 2}));
    EXPECT_EQ(support(distribution(with_top_p(0.2500001f), flat)), (Ids{0, 1, 2}));
    EXPECT_EQ(support(distribution(with_top_p(0.125f), flat)), (Ids{0}));
    const auto probs = distribution(with_top_p(0.25f), flat);
    EXPECT_FLOAT_EQ(probs[0], 0.5f);
    EXPECT_FLOAT_EQ(probs[1], 0.5f);
}

TEST(TopP, AlwaysKeepsAtLeastOne) {
    const auto probs = distribution(with_top_p(1e-6f), logits_of(kProbs));
    EXPECT_EQ(support(probs), (Ids{1}));
    EXPECT_FLOAT_EQ(probs[1], 1.0f);
}

// Large vocabularies go through the incremental partial sort; the result must equal a full sort.
TEST(TopP, LargeVocabularyMatchesFullSort) {
    std::vector<float> logits;
    for (int i = 0; i < 5000; ++i) logits.push_back(static_cast<float>(3.0 * std::sin(0.37 * i * i)));
    for (const float top_p : {0.05f, 0.5f, 0.9f, 0.999f}) {
        const auto ref = test::softmax(logits, 1.0);
        std::vector<int32_t> ids(logits.size());
        std::iota(ids.begin(), ids.end(), 0);
        std::sort(ids.begin(), ids.end(),
                  [&](int32_t a, int32_t b) { return ref[a] != ref[b] ? ref[a] > ref[b] : a < b; });
        double cum = 0;
        Ids expected;
        for (int32_t id : ids) {
            expected.push_back(id);
            cum += ref[id];
            if (cum >= top_p) break;
        }
        std::sort(expected.begin(), expected.end());
        EXPECT_EQ(support(distribution(with_top_p(top_p), logits)), expected) << top_p;
    }
}

// Documented order: top_p measures mass among the top_k survivors, renormalised.
TEST(TopP, AppliesAfterTopKRenormalised) {
    const auto logits = logits_of({0.5, 0.3, 0.2});
    SamplerParams p = with_top_p(0.6f);
    EXPECT_EQ(support(distribution(p, logits)), (Ids{0, 1}));  // 0.5 < 0.6 <= 0.8
    p.top_k = 2;
    EXPECT_EQ(support(distribution(p, logits)), (Ids{0}));  // 0.5 / 0.8 = 0.625 >= 0.6
}

// Documented order: temperature first, so top_p sees the sharpened distribution.
TEST(TopP, SeesTheTemperatureScaledDistribution) {
    const auto logits = logits_of({0.5, 0.3, 0.2});
    SamplerParams p = with_top_p(0.6f);
    p.temperature = 0.5f;  // probabilities become 0.25, 0.09, 0.04 over 0.38: 0.658 first
    EXPECT_EQ(support(distribution(p, logits)), (Ids{0}));
}

TEST(TopP, DrawsStayInsideTheNucleus) {
    SamplerParams p = with_top_p(0.69f);
    p.seed = 11;
    Sampler s(p);
    const auto logits = logits_of(kProbs);
    for (int i = 0; i < 3000; ++i) {
        const int32_t t = s.sample(logits.data(), logits.size());
        ASSERT_TRUE(t == 1 || t == 3) << t;
    }
}

TEST(MinP, KeepsTokensAboveFractionOfMax) {
    // p / p_max: 0.2, 1, 0.1, 0.4, 0.3
    const auto logits = logits_of(kProbs);
    EXPECT_EQ(support(distribution(with_min_p(0.19f), logits)), (Ids{0, 1, 3, 4}));
    EXPECT_EQ(support(distribution(with_min_p(0.21f), logits)), (Ids{1, 3, 4}));
    EXPECT_EQ(support(distribution(with_min_p(0.39f), logits)), (Ids{1, 3}));
    EXPECT_EQ(support(distribution(with_min_p(0.41f), logits)), (Ids{1}));
    EXPECT_EQ(support(distribution(with_min_p(0.09f), logits)), (Ids{0, 1, 2, 3, 4}));
    const auto probs = distribution(with_min_p(0.39f), logits);
    EXPECT_NEAR(probs[1], 0.5 / 0.7, 1e-6);
    EXPECT_NEAR(probs[3], 0.2 / 0.7, 1e-6);
}

// p == min_p * p_max is kept. float(-ln 2) gives a weight of exactly 0.5 relative to the maximum
// (see WalkOrderIsCanonical), and tokens tied with the maximum survive any min_p < 1.
TEST(MinP, BoundaryIsInclusive) {
    const std::vector<float> halves = {0.0f, -0.693147182f, -0.7f};
    EXPECT_EQ(support(distribution(with_min_p(0.5f), halves)), (Ids{0, 1}));
    EXPECT_EQ(support(distribution(with_min_p(0.50001f), halves)), (Ids{0}));
    const std::vector<float> logits = {0.0f, 2.0f, 2.0f, 1.99f};
    EXPECT_EQ(support(distribution(with_min_p(0.999f), logits)), (Ids{1, 2}));
    EXPECT_EQ(support(distribution(with_min_p(0.98f), logits)), (Ids{1, 2, 3}));
}

TEST(MinP, CombinesWithTopPAsIntersection) {
    const auto logits = logits_of(kProbs);
    SamplerParams p = with_min_p(0.21f);  // alone: 1, 3, 4
    p.top_p = 0.69f;                      // alone: 1, 3
    EXPECT_EQ(support(distribution(p, logits)), (Ids{1, 3}));
    p.min_p = 0.41f;  // alone: 1
    EXPECT_EQ(support(distribution(p, logits)), (Ids{1}));
}

TEST(Distribution, GreedyIsOneHot) {
    SamplerParams p;
    p.temperature = 0.0f;
    const auto probs = distribution(p, logits_of(kProbs));
    EXPECT_EQ(support(probs), (Ids{1}));
    EXPECT_EQ(probs[1], 1.0f);
}

TEST(Distribution, NoTruncationIsSoftmaxAtTemperature) {
    const auto logits = logits_of(kProbs);
    for (const float t : {1.0f, 0.5f, 2.0f}) {
        SamplerParams p;
        p.temperature = t;
        const auto probs = distribution(p, logits);
        const auto ref = test::softmax(logits, t);
        for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(probs[i], ref[i], 1e-6) << t << " " << i;
    }
}

}  // namespace
}  // namespace rwkv
