// HugeArena: spans that are aligned, zeroed and disjoint, packed into shared chunks, that outlive the arena, and a
// request bigger than a chunk served on its own.
#include "core/huge_arena.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace rwkv {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

uintptr_t addr(const uint8_t* p) { return reinterpret_cast<uintptr_t>(p); }

TEST(HugeArena, SpansAreAlignedZeroedAndDisjoint) {
    HugeArena arena(2 * kMiB);
    // Awkward sizes, zero among them, enough of them to need several chunks.
    const size_t sizes[] = {1, 0, 63, 64, 65, 4097, 331776, 0, 700001, 1000, 2 * kMiB - 64, 3, 1};
    std::vector<std::pair<HugeArena::Span, size_t>> spans;
    for (size_t bytes : sizes) {
        HugeArena::Span s = arena.allocate(bytes);
        ASSERT_NE(s.data, nullptr);
        EXPECT_EQ(addr(s.data) % 64, 0u) << bytes;
        EXPECT_TRUE(std::all_of(s.data, s.data + bytes, [](uint8_t v) { return v == 0; })) << bytes;
        std::memset(s.data, 0xab, bytes);  // writes to one span must not show in another
        spans.emplace_back(std::move(s), bytes);
    }
    for (size_t i = 0; i < spans.size(); ++i)
        for (size_t j = i + 1; j < spans.size(); ++j) {
            const uintptr_t a0 = addr(spans[i].first.data), a1 = a0 + std::max<size_t>(spans[i].second, 1);
            const uintptr_t b0 = addr(spans[j].first.data), b1 = b0 + std::max<size_t>(spans[j].second, 1);
            EXPECT_TRUE(a1 <= b0 || b1 <= a0) << "spans " << i << " and " << j << " overlap";
        }
}

TEST(HugeArena, SmallSpansShareAChunkBackToBack) {
    HugeArena arena(4 * kMiB);
    const HugeArena::Span a = arena.allocate(100), b = arena.allocate(5000);
    EXPECT_EQ(addr(b.data), addr(a.data) + 128) << "the second span should follow the first, rounded to 64 bytes";
    EXPECT_EQ(a.keep_alive, b.keep_alive);
    // The first span of a chunk starts it, on a 2 MiB boundary.
    EXPECT_EQ(addr(a.data) % (2 * kMiB), 0u);
}

TEST(HugeArena, ARequestLargerThanAChunkGetsItsOwnBufferAndLeavesTheChunk) {
    HugeArena arena(2 * kMiB);
    const HugeArena::Span a = arena.allocate(1000);
    const HugeArena::Span big = arena.allocate(5 * kMiB);
    EXPECT_NE(big.keep_alive, a.keep_alive);
    EXPECT_EQ(addr(big.data) % (2 * kMiB), 0u);
    big.data[5 * kMiB - 1] = 1;  // writable to its last byte
    const HugeArena::Span c = arena.allocate(1000);
    EXPECT_EQ(addr(c.data), addr(a.data) + 1024) << "the chunk in use should continue after the big request";
}

TEST(HugeArena, ANewChunkWhenTheRestDoesNotFit) {
    HugeArena arena(2 * kMiB);
    const HugeArena::Span a = arena.allocate(kMiB + 64);
    const HugeArena::Span b = arena.allocate(kMiB);
    EXPECT_NE(a.keep_alive, b.keep_alive);
    EXPECT_EQ(addr(b.data) % (2 * kMiB), 0u);
}

TEST(HugeArena, SpansOutliveTheArena) {
    HugeArena::Span s{nullptr, nullptr};
    {
        HugeArena arena;
        s = arena.allocate(4096);
        std::memset(s.data, 7, 4096);
    }
    EXPECT_TRUE(std::all_of(s.data, s.data + 4096, [](uint8_t v) { return v == 7; }));
}

}  // namespace
}  // namespace rwkv
