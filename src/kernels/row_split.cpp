#include "kernels/row_split.h"

#include <algorithm>

#include "core/steal_ranges.h"

namespace rwkv {

RowChunks::RowChunks(const std::vector<size_t>& row_bytes, const std::vector<int64_t>& rows, size_t chunk_bytes)
    : rows_(rows), row_bytes_(row_bytes), first_(rows.size() + 1, 0), start_(rows.size() + 1, 0) {
    per_chunk_.resize(rows.size());
    for (size_t j = 0; j < rows.size(); ++j) {
        const int64_t n = row_bytes[j] == 0 ? 0 : rows[j];
        per_chunk_[j] = std::max<int64_t>(1, static_cast<int64_t>(chunk_bytes / std::max<size_t>(row_bytes[j], 1)));
        first_[j + 1] = first_[j] + static_cast<size_t>((n + per_chunk_[j] - 1) / per_chunk_[j]);
        start_[j + 1] = start_[j] + row_bytes[j] * static_cast<size_t>(n);
    }
}

size_t RowChunks::chunk_at_byte(size_t at) const {
    for (size_t j = 0; j + 1 < start_.size(); ++j) {
        if (at >= start_[j + 1]) continue;
        const size_t off = at > start_[j] ? at - start_[j] : 0;
        const size_t bytes = static_cast<size_t>(per_chunk_[j]) * row_bytes_[j];
        return std::min(first_[j] + (off + bytes - 1) / bytes, first_[j + 1]);
    }
    return size();
}

void RowChunks::rows_of(size_t c, size_t& matrix, int64_t& r0, int64_t& r1) const {
    size_t j = 0;
    while (c >= first_[j + 1]) ++j;  // a handful of matrices at most
    matrix = j;
    r0 = static_cast<int64_t>(c - first_[j]) * per_chunk_[j];
    r1 = std::min(r0 + per_chunk_[j], rows_[j]);
}

void for_each_chunk(const RowChunks& chunks, ThreadPool& pool,
                    const std::function<void(size_t, int64_t, int64_t)>& fn) {
    const auto run = [&](size_t b, size_t e) {
        for (size_t c = b; c < e; ++c) {
            size_t j;
            int64_t r0, r1;
            chunks.rows_of(c, j, r0, r1);
            fn(j, r0, r1);
        }
    };
    const int parts = static_cast<int>(std::min<size_t>(static_cast<size_t>(pool.size()), chunks.size()));
    if (parts <= 1) {
        run(0, chunks.size());
        return;
    }
    // Two chunks per take: one atomic operation per ~16 KiB keeps its cost under a percent of the stream.
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
