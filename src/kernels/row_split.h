#pragma once
// How the rows of one or more matrix-vector products are spread over the thread pool: cut into
// chunks of a few KiB, each thread first owning a contiguous share of equal bytes, taking it in
// halving runs of chunks, and taking the rest from the others when it is done (core/steal_ranges.h).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/thread_pool.h"

namespace rwkv {

class RowChunks {
public:
    // Matrix j < n has rows[j] rows of row_bytes[j] bytes; a matrix of zero-byte rows gets no chunks. A chunk
    // is about chunk_bytes, at least one row.
    RowChunks(const size_t* row_bytes, const int64_t* rows, size_t n, size_t chunk_bytes);

    size_t size() const { return m_.back().first; }
    size_t total_bytes() const { return m_.back().start; }

    // The first chunk that starts at or after byte `at` of the matrices laid end to end.
    size_t chunk_at_byte(size_t at) const;

    // Chunk c is rows [r0, r1) of matrix `matrix`.
    void rows_of(size_t c, size_t& matrix, int64_t& r0, int64_t& r1) const;

private:
    struct Matrix {
        int64_t rows = 0, per_chunk = 1;  // rows, rows per chunk
        size_t row_bytes = 0;
        size_t first = 0, start = 0;  // its first chunk, its first byte
    };
    std::vector<Matrix> m_;  // one per matrix and one past the last (first, start: the totals)
};

// Calls fn(matrix, r0, r1) on every thread of the pool for disjoint row ranges that together cover every
// chunk exactly once; consecutive chunks of one matrix that a thread takes at once come as one range.
void for_each_chunk(const RowChunks& chunks, ThreadPool& pool,
                    const std::function<void(size_t, int64_t, int64_t)>& fn);

}  // namespace rwkv
