// StealRanges: every unit handed out exactly once, whether its owner or a thief takes it.
#include "core/steal_ranges.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

// Runs the loop each thread of the matvec split runs: its own range, then whatever it can steal.
template <class Fn>
void drain(StealRanges& ranges, int p, Fn fn) {
    size_t b, e;
    do {
        while (ranges.take(p, b, e)) fn(b, e);
    } while (ranges.steal(p));
}

TEST(StealRanges, OwnerTakesGrainsThenStealsBackHalves) {
    StealRanges r(2, 2);
    r.assign(0, 0, 5);
    r.assign(1, 5, 10);
    std::vector<std::pair<size_t, size_t>> got;
    size_t b, e;
    while (r.take(0, b, e)) got.push_back({b, e});
    EXPECT_EQ(got, (std::vector<std::pair<size_t, size_t>>{{0, 2}, {2, 4}, {4, 5}}));
    ASSERT_TRUE(r.steal(0));  // 5 left on part 1: it keeps [5, 7), part 0 gets [7, 10)
    got.clear();
    while (r.take(0, b, e)) got.push_back({b, e});
    EXPECT_EQ(got, (std::vector<std::pair<size_t, size_t>>{{7, 9}, {9, 10}}));
    ASSERT_TRUE(r.steal(0));  // 2 left, under two grains: all of it
    ASSERT_TRUE(r.take(0, b, e));
    EXPECT_EQ(b, 5u);
    EXPECT_EQ(e, 7u);
    EXPECT_FALSE(r.take(0, b, e));
    EXPECT_FALSE(r.steal(0));
    EXPECT_FALSE(r.take(1, b, e));
    EXPECT_FALSE(r.steal(1));
}

TEST(StealRanges, TakesHalveTheRestDownToTheGrain) {
    StealRanges r(1, 2);
    r.assign(0, 0, 20);
    std::vector<std::pair<size_t, size_t>> got;
    size_t b, e;
    while (r.take(0, b, e)) got.push_back({b, e});
    EXPECT_EQ(got, (std::vector<std::pair<size_t, size_t>>{{0, 10}, {10, 15}, {15, 17}, {17, 19}, {19, 20}}));
}

TEST(StealRanges, ThiefTakesTheBackHalfOfWhatTheOwnerHasNotTaken) {
    StealRanges r(2, 1);
    r.assign(0, 0, 0);
    r.assign(1, 0, 40);
    size_t b, e;
    ASSERT_TRUE(r.take(1, b, e));  // [0, 20): the owner's first run
    EXPECT_EQ(e, 20u);
    ASSERT_TRUE(r.steal(0));  // 20 untaken: the thief gets [30, 40)
    ASSERT_TRUE(r.take(0, b, e));
    EXPECT_EQ(b, 30u);
    EXPECT_EQ(e, 35u);
    ASSERT_TRUE(r.take(1, b, e));  // the owner goes on at 20 with half of its [20, 30)
    EXPECT_EQ(b, 20u);
    EXPECT_EQ(e, 25u);
}

TEST(StealRanges, EveryUnitExactlyOnceAcrossThreads) {
    std::mt19937 rng(5);
    for (int threads = 1; threads <= 4; ++threads) {
        ThreadPool pool(threads);
        for (int trial = 0; trial < 50; ++trial) {
            const size_t n = rng() % 3000;
            const size_t grain = 1 + rng() % 7;
            const int parts = threads;
            StealRanges ranges(parts, grain);
            // Uneven shares, some empty, so stealing has to happen.
            std::vector<size_t> cut{0};
            for (int p = 1; p < parts; ++p) cut.push_back(std::max(cut.back(), static_cast<size_t>(rng() % (n + 1))));
            cut.push_back(n);
            for (int p = 0; p < parts; ++p) ranges.assign(p, cut[p], std::max(cut[p], cut[p + 1]));
            std::vector<std::atomic<int>> hits(n);
            pool.parallel_for(static_cast<size_t>(parts), [&](size_t pb, size_t pe) {
                for (size_t p = pb; p < pe; ++p)
                    drain(ranges, static_cast<int>(p), [&](size_t b, size_t e) {
                        for (size_t i = b; i < e; ++i) hits[i].fetch_add(1);
                    });
            });
            for (size_t i = 0; i < n; ++i)
                ASSERT_EQ(hits[i].load(), 1) << "unit " << i << " of " << n << ", grain " << grain << ", " << threads
                                             << " threads";
        }
    }
}

TEST(StealRanges, IdleOwnersWorkIsTakenByTheOthers) {
    // Part 1 does not start until part 0 has run out of work everywhere: part 0 must have done all of it.
    ThreadPool pool(2);
    StealRanges ranges(2, 3);
    ranges.assign(0, 0, 100);
    ranges.assign(1, 100, 1000);
    std::atomic<bool> zero_done{false};
    std::atomic<size_t> by_zero{0}, by_one{0};
    pool.parallel_for(2, [&](size_t pb, size_t pe) {
        for (size_t p = pb; p < pe; ++p) {
            if (p == 1) {
                const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
                while (!zero_done.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
            }
            drain(ranges, static_cast<int>(p), [&](size_t b, size_t e) { (p == 0 ? by_zero : by_one) += e - b; });
            if (p == 0) zero_done.store(true);
        }
    });
    EXPECT_TRUE(zero_done.load());
    EXPECT_EQ(by_zero.load(), 1000u);
    EXPECT_EQ(by_one.load(), 0u);
}

TEST(StealRanges, RejectsBadShapes) {
    EXPECT_THROW(StealRanges(0, 1), Error);
    StealRanges r(1, 1);
    EXPECT_THROW(r.assign(0, 5, 4), Error);
    EXPECT_THROW(r.assign(0, 0, size_t{1} << 33), Error);
}

}  // namespace
}  // namespace rwkv
