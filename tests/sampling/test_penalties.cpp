// Repetition, presence and frequency penalties with decayed occurrence counts.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "rwkv/sampler.h"

namespace rwkv {
namespace {

TEST(Penalties, OccurrenceCountsDecayThenIncrement) {
    SamplerParams p;
    p.penalty_decay = 0.9f;
    Sampler s(p);
    s.accept(2);  // {2: 1}
    s.accept(5);  // {2: 0.9, 5: 1}
    s.accept(2);  // {2: 0.81 + 1, 5: 0.9}
    s.accept(7);  // {2: 1.629, 5: 0.81, 7: 1}
    EXPECT_NEAR(s.occurrence(2), 1.629, 1e-6);
    EXPECT_NEAR(s.occurrence(5), 0.81, 1e-6);
    EXPECT_FLOAT_EQ(s.occurrence(7), 1.0f);
    EXPECT_EQ(s.occurrence(3), 0.0f);
}

TEST(Penalties, PresenceAndFrequencyFollowChatRWKV) {
    SamplerParams p;
    p.presence_penalty = 0.5f;
    p.frequency_penalty = 0.3f;
    p.penalty_decay = 0.9f;
    Sampler s(p);
    for (int32_t t : {2, 5, 2, 7}) s.accept(t);

    const std::vector<float> base = {1.0f, -1.0f, 2.0f, 0.5f, 0.0f, -3.0f, 4.0f, 0.25f};
    std::vector<float> logits = base;
    s.apply_penalties(logits);
    // logit -= presence + count * frequency, counts as in the test above.
    const double count[8] = {0, 0, 1.629, 0, 0, 0.81, 0, 1.0};
    for (size_t i = 0; i < base.size(); ++i) {
        const double expected = count[i] > 0 ? base[i] - (0.5 + count[i] * 0.3) : base[i];
        if (count[i] > 0)
            EXPECT_NEAR(logits[i], expected, 1e-5) << i;
        else
            EXPECT_EQ(logits[i], base[i]) << "unseen token " << i << " must be untouched";
    }
}

TEST(Penalties, NoDecayCountsWholeOccurrences) {
    SamplerParams p;
    p.frequency_penalty = 0.25f;
    p.penalty_decay = 1.0f;
    Sampler s(p);
    for (int i = 0; i < 4; ++i) s.accept(1);
    std::vector<float> logits = {0.0f, 0.0f};
    s.apply_penalties(logits);
    EXPECT_FLOAT_EQ(logits[1], -1.0f);
    EXPECT_EQ(logits[0], 0.0f);
}

TEST(Penalties, RepetitionDividesPositiveAndMultipliesNegative) {
    SamplerParams p;
    p.repetition_penalty = 2.0f;
    Sampler s(p);
    for (int32_t t : {0, 1, 2, 0, 0}) s.accept(t);  // repeats do not compound
    std::vector<float> logits = {3.0f, -3.0f, 0.0f, 5.0f};
    s.apply_penalties(logits);
    EXPECT_FLOAT_EQ(logits[0], 1.5f);
    EXPECT_FLOAT_EQ(logits[1], -6.0f);
    EXPECT_EQ(logits[2], 0.0f);
    EXPECT_EQ(logits[3], 5.0f);
}

// llama.cpp's order: repetition first, then presence/frequency (2 / 2 - 1 = 0, not (2 - 1) / 2).
TEST(Penalties, RepetitionBeforePresence) {
    SamplerParams p;
    p.repetition_penalty = 2.0f;
    p.presence_penalty = 1.0f;
    Sampler s(p);
    s.accept(0);
    std::vector<float> logits = {2.0f};
    s.apply_penalties(logits);
    EXPECT_FLOAT_EQ(logits[0], 0.0f);
}

TEST(Penalties, TokensBeyondVocabularyAreIgnored) {
    SamplerParams p;
    p.presence_penalty = 1.0f;
    Sampler s(p);
    s.accept(100);
    std::vector<float> logits = {1.0f, 2.0f};
    s.apply_penalties(logits);
    EXPECT_EQ(logits, (std::vector<float>{1.0f, 2.0f}));
    EXPECT_EQ(s.sample(logits.data(), logits.size()) >= 0, true);
}

TEST(Penalties, SteerGreedyChoiceAndLeaveInputUntouched) {
    SamplerParams p;
    p.temperature = 0.0f;
    p.presence_penalty = 0.5f;
    Sampler s(p);
    const std::vector<float> logits = {1.0f, 0.9f};
    EXPECT_EQ(s.sample(logits.data(), logits.size()), 0);
    s.accept(0);
    EXPECT_EQ(s.sample(logits.data(), logits.size()), 1);
    EXPECT_EQ(logits, (std::vector<float>{1.0f, 0.9f}));  // penalties work on a copy
}

TEST(Penalties, ResetForgetsOccurrences) {
    SamplerParams p;
    p.presence_penalty = 1.0f;
    Sampler s(p);
    s.accept(0);
    s.reset();
    EXPECT_EQ(s.occurrence(0), 0.0f);
    std::vector<float> logits = {1.0f};
    s.apply_penalties(logits);
    EXPECT_EQ(logits[0], 1.0f);
}

TEST(Penalties, ReachTheDistribution) {
    SamplerParams p;
    p.presence_penalty = static_cast<float>(std::log(4.0));  // token 0 becomes 4x less likely
    Sampler s(p);
    s.accept(0);
    const std::vector<float> logits = {0.0f, 0.0f};
    const auto probs = s.distribution(logits.data(), logits.size());
    EXPECT_NEAR(probs[0], 0.2, 1e-6);
    EXPECT_NEAR(probs[1], 0.8, 1e-6);
}

}  // namespace
}  // namespace rwkv
