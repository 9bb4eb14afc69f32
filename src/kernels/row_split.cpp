#include "kernels/row_split.h"

#include <algorithm>

#include "core/steal_ranges.h"

namespace rwkv {

RowChunks::RowChunks(const size_t* row_bytes, const int64_t* rows, size_t n, size_t chunk_bytes) : m_(n + 1) {
    for (size_t j = 0; j < n; ++j) {
        Matrix& m = m_[j];
        m.rows = row_bytes[j] == 0 ? 0 : rows[j];
        m.row_bytes = row_bytes[j];
        m.per_chunk = std::max<int64_t>(1, static_cast<int64_t>(chunk_bytes / std::max<size_t>(row_bytes[j], 1)));
        m_[j + 1].first = m.first + static_cast<size_t>((m.rows + m.per_chunk - 1) / m.per_chunk);
        m_[j + 1].start = m.start + m.row_bytes * static_cast<size_t>(m.rows);
    }
}

size_t RowChunks::chunk_at_byte(size_t at) const {
    for (size_t j = 0; j + 1 < m_.size(); ++j) {
        const Matrix& m = m_[j];
        if (at >= m_[j + 1].start) continue;
        const size_t off = at > m.start ? at - m.start : 0;
        const size_t bytes = static_cast<size_t>(m.per_chunk) * m.row_bytes;
        return std::min(m.first + (off + bytes - 1) / bytes, m_[j + 1].first);
    }
    return size();
}

void RowChunks::rows_of(size_t c, size_t& matrix, int64_t& r0, int64_t& r1) const {
    size_t j = 0;
    while (c >= m_[j + 1].first) ++j;  // a handful of matrices at most
    matrix = j;
    r0 = static_cast<int64_t>(c - m_[j].first) * m_[j].per_chunk;
    r1 = std::min(r0 + m_[j].per_chunk, m_[j].rows);
}

void for_each_chunk(const RowChunks& chunks, ThreadPool& pool,
                    const std::function<void(size_t, int64_t, int64_t)>& fn) {
    // The chunks of one take that belong to one matrix are contiguous rows: they go to fn in one call, so
    // the kernel streams them in one loop. (Called chunk by chunk, the 2048 x 8192 q4_0 product of a 1.5B
    // model ran a third slower per byte than as one range per thread.)
    const auto run = [&](size_t b, size_t e) {
        size_t j, next_j;
        int64_t r0, r1, next_r0, next_r1;
        for (size_t c = b; c < e;) {
            chunks.rows_of(c, j, r0, r1);
            for (++c; c < e; ++c) {
                chunks.rows_of(c, next_j, next_r0, next_r1);
                if (next_j != j) break;
                r1 = next_r1;
            }
            fn(j, r0, r1);
        }
    };
    const int parts = static_cast<int>(std::min<size_t>(static_cast<size_t>(pool.size()), chunks.size()));
    if (parts <= 1) {
        run(0, chunks.size());
        return;
    }
    // Takes halve what is left of a thread's share, down to two chunks (~16 KiB) at the end.
    StealRanges ranges(parts, 2);
    const size_t total = chunks.total_bytes();
    for (int p = 0; p < parts; ++p)
        ranges.assign(p, chunks.chunk_at_byte(total * static_cast<size_t>(p) / static_cast<size_t>(parts)),
                      chunks.chunk_at_byte(total * static_cast<size_t>(p + 1) / static_cast<size_t>(parts)));
    pool.parallel_for(static_cast<size_t>(parts), [&](size_t pb, size_t pe) {
        for (size_t p = pb; p < pe; ++p) {
            const int me = static_cast<int>(p);
            size_t b, e;
            do {
                while (ranges.take(me, b, e)) run(b, e);
            } while (ranges.steal(me));
        }
    });
}

}  // namespace rwkv
