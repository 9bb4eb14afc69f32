// StateCache: the longest cached prefix of a token sequence, per origin, and eviction of the least recently used
// entries when a byte budget is exceeded.
#include "serve/state_cache.h"

#include <gtest/gtest.h>

#include <vector>

namespace rwkv::serve {
namespace {

State state_of(float v) {
    StateShape shape;
    shape.version = 7;
    shape.n_layer = 1;
    shape.n_embd = 4;
    shape.n_head = 1;
    shape.head_size = 4;
    State s(shape, 42);
    std::fill(s.data().begin(), s.data().end(), v);
    return s;
}

TEST(StateCache, FindsTheLongestCachedPrefix) {
    StateCache cache(1 << 20);
    const std::vector<int32_t> a = {1, 2, 3}, ab = {1, 2, 3, 4, 5}, other = {1, 2, 9};
    cache.put(0, a, state_of(3), std::vector<float>{0.3f});
    cache.put(0, ab, state_of(5), std::vector<float>{0.5f});
    State s = state_of(0);
    std::vector<float> logits;
    EXPECT_EQ(cache.lookup(0, std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7}, s, logits), 5u);
    EXPECT_EQ(s.data()[0], 5.0f);
    EXPECT_EQ(logits, std::vector<float>{0.5f});
    EXPECT_EQ(cache.lookup(0, std::vector<int32_t>{1, 2, 3, 4}, s, logits), 3u);
    EXPECT_EQ(s.data()[0], 3.0f);
    s = state_of(-1);
    EXPECT_EQ(cache.lookup(0, other, s, logits), 0u);  // no prefix of it is cached
    EXPECT_EQ(s.data()[0], -1.0f);                     // untouched
    EXPECT_EQ(cache.lookup(7, ab, s, logits), 0u);     // from another starting state: not the same
    const StateCache::Stats st = cache.stats();
    EXPECT_EQ(st.hits, 2u);
    EXPECT_EQ(st.misses, 2u);
    EXPECT_EQ(st.entries, 2u);
}

TEST(StateCache, EvictsTheLeastRecentlyUsedToStayInItsBudget) {
    const size_t one = [] {
        StateCache probe(1 << 20);
        probe.put(0, std::vector<int32_t>{1}, state_of(1), std::vector<float>{0});
        return probe.stats().bytes;
    }();
    StateCache cache(2 * one + one / 2);  // room for two
    State s = state_of(0);
    std::vector<float> logits;
    cache.put(0, std::vector<int32_t>{1}, state_of(1), std::vector<float>{0});
    cache.put(0, std::vector<int32_t>{2}, state_of(2), std::vector<float>{0});
    EXPECT_EQ(cache.lookup(0, std::vector<int32_t>{1}, s, logits), 1u);  // 1 is now the most recent
    cache.put(0, std::vector<int32_t>{3}, state_of(3), std::vector<float>{0});  // evicts 2
    EXPECT_EQ(cache.lookup(0, std::vector<int32_t>{2}, s, logits), 0u);
    EXPECT_EQ(cache.lookup(0, std::vector<int32_t>{1}, s, logits), 1u);
    EXPECT_EQ(cache.lookup(0, std::vector<int32_t>{3}, s, logits), 1u);
    EXPECT_LE(cache.stats().bytes, 2 * one + one / 2);
    StateCache tiny(one / 2);
    tiny.put(0, std::vector<int32_t>{1}, state_of(1), std::vector<float>{0});  // larger than the whole budget
    EXPECT_EQ(tiny.stats().entries, 0u);
}

}  // namespace
}  // namespace rwkv::serve
