#pragma once
// How the rows of one or more matrix-vector products are spread over the thread pool: cut into
// chunks of a few KiB, each thread first owning a contiguous share of equal bytes and taking the
// rest from the others when it is done (core/steal_ranges.h).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/thread_pool.h"

namespace rwkv {

class RowChunks {
public:
    // Matrix j has rows[j] rows of row_bytes[j] bytes; a matrix of zero-byte rows gets no chunks. A chunk is
    // about chunk_bytes, at least one row.
    RowChunks(const std::vector<size_t>& row_bytes, const std::vector<int64_t>& rows, size_t chunk_bytes);

    size_t size() const { return first_.back(); }
    size_t total_bytes() const { return start_.back(); }

    // The first chunk that starts at or after byte `at` of the matrices laid end to end.
    size_t chunk_at_byte(size_t at) const;

    // Chunk c is rows [r0, r1) of matrix `matrix`.
    void rows_of(size_t c, size_t& matrix, int64_t& r0, int64_t& r1) const;

private:
    std::vector<int64_t> rows_, per_chunk_;  // per matrix: rows, rows per chunk
    std::vector<size_t> row_bytes_;
    std::vector<size_t> first_, start_;  // per matrix and one past: first chunk, first byte
};

// Calls fn(matrix, r0, r1) exactly once for every chunk, on every thread of the pool.
void for_each_chunk(const RowChunks& chunks, ThreadPool& pool,
                    const std::function<void(size_t, int64_t, int64_t)>& fn);

}  // namespace rwkv
