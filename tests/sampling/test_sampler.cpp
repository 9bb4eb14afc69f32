// Greedy choice, reproducibility, error handling and parameter validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "rwkv/error.h"
#include "rwkv/sampler.h"
#include "sampling/sampling_test_util.h"

namespace rwkv {
namespace {

std::vector<float> wavy_logits(size_t n) {
    std::vector<float> l;
    for (size_t i = 0; i < n; ++i) l.push_back(static_cast<float>(2.0 * std::sin(1.3 * i)));
    return l;
}

std::vector<int32_t> draw(Sampler& s, const std::vector<float>& logits, int n) {
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) out.push_back(s.sample(logits.data(), logits.size()));
    return out;
}

// Runs `f` and returns the rwkv::Error message, or fails the test if nothing was thrown.
template <class F>
std::string error_of(F f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected rwkv::Error";
    return {};
}

TEST(SamplerGreedy, TemperatureZeroPicksArgmax) {
    SamplerParams p;
    p.temperature = 0.0f;
    Sampler s(p);
    const std::vector<float> logits = {0.1f, -2.0f, 3.5f, 3.4f, -INFINITY};
    for (int i = 0; i < 5; ++i) EXPECT_EQ(s.sample(logits.data(), logits.size()), 2);
}

TEST(SamplerGreedy, TopKOnePicksArgmaxAtAnyTemperature) {
    SamplerParams p;
    p.temperature = 5.0f;
    p.top_k = 1;
    Sampler s(p);
    const std::vector<float> logits = wavy_logits(100);
    const auto expected = std::max_element(logits.begin(), logits.end()) - logits.begin();
    for (int i = 0; i < 20; ++i) EXPECT_EQ(s.sample(logits.data(), logits.size()), expected);
}

TEST(SamplerGreedy, TiesGoToLowestId) {
    SamplerParams p;
    p.temperature = 0.0f;
    Sampler s(p);
    const std::vector<float> logits = {-INFINITY, 1.0f, 7.0f, 0.0f, 7.0f, 7.0f};
    EXPECT_EQ(s.sample(logits.data(), logits.size()), 2);
    const std::vector<float> all_equal(10, 0.25f);
    EXPECT_EQ(s.sample(all_equal.data(), all_equal.size()), 0);
}

TEST(SamplerSeed, SameSeedSameSequence) {
    SamplerParams p;
    p.seed = 42;
    p.top_p = 0.9f;
    Sampler a(p), b(p);
    const auto logits = wavy_logits(50);
    EXPECT_EQ(draw(a, logits, 500), draw(b, logits, 500));
}

TEST(SamplerSeed, DifferentSeedDifferentSequence) {
    SamplerParams p;
    p.seed = 42;
    Sampler a(p);
    p.seed = 43;
    Sampler b(p);
    const auto logits = wavy_logits(50);
    const auto sa = draw(a, logits, 200), sb = draw(b, logits, 200);
    EXPECT_NE(sa, sb);
    // Not just one differing token: the two streams are unrelated.
    int same = 0;
    for (size_t i = 0; i < sa.size(); ++i) same += sa[i] == sb[i];
    EXPECT_LT(same, 100);
}

TEST(SamplerSeed, ResetRestartsTheSequence) {
    SamplerParams p;
    p.seed = 7;
    Sampler s(p);
    const auto logits = wavy_logits(30);
    const auto first = draw(s, logits, 100);
    s.reset();
    EXPECT_EQ(draw(s, logits, 100), first);
}

// Pins the uniform -> index conversion to its documented definition, independently of the
// sampler's code: with n equal weights (n a power of two) the cumulative sums are exact, so the
// token is floor(n * u) with u = (x >> 11) * 2^-53, i.e. the top log2(n) bits of the raw output.
TEST(SamplerSeed, DrawIsTopBitsOfMt19937_64) {
    for (const uint64_t seed : {0ull, 1ull, 123456789ull}) {
        SamplerParams p;
        p.seed = seed;
        Sampler s4(p), s8(p);
        std::mt19937_64 ref4(seed), ref8(seed);
        const std::vector<float> four(4, 0.0f), eight(8, 1.5f);
        for (int i = 0; i < 1000; ++i) {
            ASSERT_EQ(s4.sample(four.data(), 4), static_cast<int32_t>(ref4() >> 62));
            ASSERT_EQ(s8.sample(eight.data(), 8), static_cast<int32_t>(ref8() >> 61));
        }
    }
}

// Pins the order in which survivors are walked. float(-ln 2) is within 2e-9 of -ln 2, so its
// weight exp(-ln 2) rounds to exactly 0.5 and the weights below (total 4) sum exactly.
// Without sorting the walk is in id order; once top_p sorts, it is (weight desc, id asc).
TEST(SamplerSeed, WalkOrderIsCanonical) {
    const float h = -0.693147182f;
    const std::vector<float> logits = {h, 0.0f, h, h, 0.0f, h};
    // Token for each eighth of [0, 1) that u falls into (u * 4 against cumulative weights).
    const int32_t id_order[8] = {0, 1, 1, 2, 3, 4, 4, 5};
    const int32_t sorted_order[8] = {1, 1, 4, 4, 0, 2, 3, 5};
    SamplerParams p;
    p.seed = 99;
    ASSERT_EQ(Sampler(p).distribution(logits.data(), logits.size())[0], 0.125f);
    Sampler plain(p);
    p.top_p = 0.9999f;  // keeps all six, but sorts them
    Sampler sorted(p);
    std::mt19937_64 ref_plain(99), ref_sorted(99);
    for (int i = 0; i < 1000; ++i) {
        ASSERT_EQ(plain.sample(logits.data(), logits.size()), id_order[ref_plain() >> 61]);
        ASSERT_EQ(sorted.sample(logits.data(), logits.size()), sorted_order[ref_sorted() >> 61]);
    }
}

TEST(SamplerLogits, NegativeInfinityIsNeverChosen) {
    SamplerParams p;
    p.temperature = 3.0f;
    Sampler s(p);
    const std::vector<float> logits = {-INFINITY, 0.0f, -INFINITY, -50.0f, -INFINITY};
    for (int32_t t : draw(s, logits, 2000)) EXPECT_TRUE(t == 1 || t == 3) << t;
}

TEST(SamplerLogits, NaNThrows) {
    Sampler s(SamplerParams{});
    const std::vector<float> logits = {0.0f, NAN, 1.0f};
    EXPECT_NE(error_of([&] { s.sample(logits.data(), logits.size()); }).find("NaN"), std::string::npos);
    SamplerParams greedy;
    greedy.temperature = 0.0f;
    Sampler g(greedy);
    EXPECT_THROW(g.sample(logits.data(), logits.size()), Error);
    EXPECT_THROW(s.distribution(logits.data(), logits.size()), Error);
}

TEST(SamplerLogits, PositiveInfinityThrows) {
    Sampler s(SamplerParams{});
    const std::vector<float> logits = {0.0f, INFINITY};
    EXPECT_NE(error_of([&] { s.sample(logits.data(), logits.size()); }).find("+inf"), std::string::npos);
}

TEST(SamplerLogits, AllNegativeInfinityThrows) {
    Sampler s(SamplerParams{});
    const std::vector<float> logits(3, -INFINITY);
    EXPECT_THROW(s.sample(logits.data(), logits.size()), Error);
}

TEST(SamplerLogits, EmptyVocabularyThrows) {
    Sampler s(SamplerParams{});
    const float one = 0.0f;
    EXPECT_NE(error_of([&] { s.sample(&one, 0); }).find("empty"), std::string::npos);
    EXPECT_THROW(s.sample(nullptr, 0), Error);
}

TEST(SamplerLogits, SingleTokenVocabulary) {
    Sampler s(SamplerParams{});
    const float one = -3.0f;
    EXPECT_EQ(s.sample(&one, 1), 0);
}

TEST(SamplerParamsValidation, BadValuesThrowNamingTheParameter) {
    struct Case {
        const char* name;
        void (*set)(SamplerParams&);
    };
    const Case cases[] = {
        {"temperature", [](SamplerParams& p) { p.temperature = -0.5f; }},
        {"temperature", [](SamplerParams& p) { p.temperature = NAN; }},
        {"top_k", [](SamplerParams& p) { p.top_k = -1; }},
        {"top_p", [](SamplerParams& p) { p.top_p = 0.0f; }},
        {"top_p", [](SamplerParams& p) { p.top_p = 1.01f; }},
        {"top_p", [](SamplerParams& p) { p.top_p = NAN; }},
        {"min_p", [](SamplerParams& p) { p.min_p = -0.01f; }},
        {"min_p", [](SamplerParams& p) { p.min_p = 1.0f; }},
        {"repetition_penalty", [](SamplerParams& p) { p.repetition_penalty = 0.0f; }},
        {"repetition_penalty", [](SamplerParams& p) { p.repetition_penalty = -1.2f; }},
        {"presence_penalty", [](SamplerParams& p) { p.presence_penalty = INFINITY; }},
        {"frequency_penalty", [](SamplerParams& p) { p.frequency_penalty = NAN; }},
        {"penalty_decay", [](SamplerParams& p) { p.penalty_decay = 1.5f; }},
    };
    for (const Case& c : cases) {
        SamplerParams p;
        c.set(p);
        const std::string msg = error_of([&] { Sampler s(p); });
        EXPECT_NE(msg.find(c.name), std::string::npos) << c.name << ": " << msg;
    }
}

TEST(SamplerParamsValidation, EdgeValuesAreAccepted) {
    SamplerParams p;
    p.temperature = 0.0f;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.top_k = 0;
    p.penalty_decay = 0.0f;
    p.presence_penalty = -1.0f;  // negative penalties (rewards) are allowed, as in OpenAI's API
    EXPECT_NO_THROW(Sampler{p});
    p.penalty_decay = 1.0f;
    p.top_p = 1e-6f;
    p.min_p = 0.999f;
    EXPECT_NO_THROW(Sampler{p});
}

TEST(SamplerAccept, NegativeTokenThrows) {
    Sampler s(SamplerParams{});
    EXPECT_THROW(s.accept(-1), Error);
}

}  // namespace
}  // namespace rwkv
