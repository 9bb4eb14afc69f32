// RowChunks and for_each_chunk: every row of every matrix visited exactly once, on any number of threads.
#include "kernels/row_split.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <tuple>
#include <vector>

namespace rwkv {
namespace {

TEST(RowChunks, ChunksFollowRowBytesAndSkipEmptyRows) {
    // 432-byte rows (q4_0, 768 columns): 18 per 8 KB chunk; zero-byte rows: none; 16 KB rows: one each.
    const size_t row_bytes[] = {432, 0, 4096, 16384};
    const int64_t rows[] = {100, 5, 7, 3};
    const RowChunks c(row_bytes, rows, 4, 8192);
    EXPECT_EQ(c.size(), 6u + 0u + 4u + 3u);
    EXPECT_EQ(c.total_bytes(), 432u * 100 + 4096u * 7 + 16384u * 3);
    size_t m;
    int64_t r0, r1;
    c.rows_of(5, m, r0, r1);  // the last chunk of the first matrix is short
    EXPECT_EQ(m, 0u);
    EXPECT_EQ(r0, 90);
    EXPECT_EQ(r1, 100);
    c.rows_of(6, m, r0, r1);
    EXPECT_EQ(m, 2u);
    EXPECT_EQ(r0, 0);
    EXPECT_EQ(r1, 2);
    EXPECT_EQ(c.chunk_at_byte(0), 0u);
    EXPECT_EQ(c.chunk_at_byte(1), 1u);
    EXPECT_EQ(c.chunk_at_byte(432 * 100), 6u);
    EXPECT_EQ(c.chunk_at_byte(432 * 100 + 1), 7u);
    EXPECT_EQ(c.chunk_at_byte(c.total_bytes()), c.size());
}

TEST(RowChunks, EveryRowOnceOnAnyThreadCount) {
    const std::vector<size_t> row_bytes{432, 0, 4096, 16384, 34, 1};
    const std::vector<int64_t> rows{100, 5, 7, 3, 1001, 0};
    for (size_t chunk : {size_t{1}, size_t{500}, size_t{8192}, size_t{1} << 20}) {
        const RowChunks c(row_bytes.data(), rows.data(), rows.size(), chunk);
        for (int threads = 1; threads <= 3; ++threads) {
            ThreadPool pool(threads);
            std::vector<std::unique_ptr<std::atomic<int>[]>> hits;
            for (int64_t n : rows) hits.push_back(std::make_unique<std::atomic<int>[]>(static_cast<size_t>(n)));
            for_each_chunk(c, pool, [&](size_t m, int64_t r0, int64_t r1) {
                for (int64_t r = r0; r < r1; ++r) hits[m][r].fetch_add(1);
            });
            for (size_t m = 0; m < rows.size(); ++m)
                for (int64_t r = 0; r < rows[m]; ++r)
                    ASSERT_EQ(hits[m][r].load(), row_bytes[m] == 0 ? 0 : 1)
                        << "matrix " << m << " row " << r << ", chunk " << chunk << ", " << threads << " threads";
        }
    }
}

// On one thread all the chunks go at once, so each matrix comes as one range (the kernels then stream it in
// one loop), in order.
TEST(RowChunks, OneThreadGetsEachMatrixAsOneRange) {
    const std::vector<size_t> row_bytes{432, 0, 4096, 34};
    const std::vector<int64_t> rows{100, 5, 7, 1001};
    const RowChunks c(row_bytes.data(), rows.data(), rows.size(), 1024);
    ThreadPool pool(1);
    std::vector<std::tuple<size_t, int64_t, int64_t>> calls;
    for_each_chunk(c, pool, [&](size_t m, int64_t r0, int64_t r1) { calls.push_back({m, r0, r1}); });
    EXPECT_EQ(calls, (std::vector<std::tuple<size_t, int64_t, int64_t>>{{0, 0, 100}, {2, 0, 7}, {3, 0, 1001}}));
}

}  // namespace
}  // namespace rwkv
