// Every LAMBADA passage round-trips, and encoding is fast enough not to matter next to the model.
#include <chrono>

#include "tokenizer_test_util.h"

namespace rwkv::test {
namespace {

#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
constexpr bool kOptimizedBuild = false;
#else
constexpr bool kOptimizedBuild = true;
#endif

// Encodes every passage, checks the round trip, and returns microseconds per KB of text.
double encode_all(const Tokenizer& tok, const std::vector<std::string>& texts, size_t& tokens) {
    std::vector<std::vector<int32_t>> ids(texts.size());
    size_t bytes = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < texts.size(); ++i) ids[i] = tok.encode(texts[i]);
    const auto t1 = std::chrono::steady_clock::now();
    tokens = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
        bytes += texts[i].size();
        tokens += ids[i].size();
        EXPECT_EQ(tok.decode(ids[i]), texts[i]) << "passage " << i;
    }
    return std::chrono::duration<double, std::micro>(t1 - t0).count() / (static_cast<double>(bytes) / 1024.0);
}

TEST(Lambada, WorldRoundTripAndSpeed) {
    const auto texts = read_lambada();
    ASSERT_EQ(texts.size(), 5153u);
    size_t tokens = 0;
    const double us_per_kb = encode_all(world_tokenizer(), texts, tokens);
    RecordProperty("world_us_per_kb", std::to_string(us_per_kb));
    std::printf("[ world    ] %zu tokens, %.1f us per KB\n", tokens, us_per_kb);
    EXPECT_LT(us_per_kb, 1000.0);  // well under a millisecond per KB, even in debug/sanitizer builds
}

TEST(Lambada, NeoxRoundTripAndSpeed) {
    const auto texts = read_lambada();
    size_t tokens = 0;
    // A second pass finds the BPE word cache warm, as a long-running server would.
    const double cold = encode_all(neox_tokenizer(), texts, tokens);
    const double us_per_kb = encode_all(neox_tokenizer(), texts, tokens);
    RecordProperty("neox_us_per_kb", std::to_string(us_per_kb));
    std::printf("[ neox     ] %zu tokens, %.1f us per KB (first pass %.1f)\n", tokens, us_per_kb, cold);
    if (kOptimizedBuild) {
        EXPECT_LT(us_per_kb, 1000.0);
    }
}

}  // namespace
}  // namespace rwkv::test
