#include "core/steal_ranges.h"

#include <algorithm>
#include <string>

#include "rwkv/error.h"

namespace rwkv {

StealRanges::StealRanges(int parts, size_t grain)
    : parts_(parts), grain_(std::max<size_t>(grain, 1)), ranges_(std::make_unique<Range[]>(std::max(parts, 1))) {
    if (parts < 1) throw Error("StealRanges: " + std::to_string(parts) + " parts");
}

void StealRanges::assign(int p, size_t begin, size_t end) {
    // Units are counted in 32 bits so next and end change together in one atomic word.
    if (end > 0xffffffffu || begin > end)
        throw Error("StealRanges: range [" + std::to_string(begin) + ", " + std::to_string(end) + ") out of bounds");
    ranges_[p].v.store(pack(begin, end), std::memory_order_relaxed);
}

bool StealRanges::take(int p, size_t& b, size_t& e) {
    std::atomic<uint64_t>& r = ranges_[p].v;
    uint64_t v = r.load(std::memory_order_relaxed);
    for (;;) {
        const size_t next = next_of(v), end = end_of(v);
        if (next >= end) return false;
        const size_t to = std::min(end, next + std::max(grain_, (end - next) / 2));
        // On failure v is reloaded: a thief moved the end, so the grain is recomputed against it.
        if (r.compare_exchange_weak(v, pack(to, end), std::memory_order_acq_rel, std::memory_order_relaxed)) {
            b = next;
            e = to;
            return true;
        }
    }
}

bool StealRanges::steal(int p) {
    for (int i = 1; i < parts_; ++i) {
        std::atomic<uint64_t>& victim = ranges_[(p + i) % parts_].v;
        uint64_t v = victim.load(std::memory_order_relaxed);
        for (;;) {
            const size_t next = next_of(v), end = end_of(v);
            if (next >= end) break;
            const size_t left = end - next;
            const size_t mid = left < 2 * grain_ ? next : next + left / 2;
            if (victim.compare_exchange_weak(v, pack(next, mid), std::memory_order_acq_rel,
                                             std::memory_order_relaxed)) {
                // p's range is empty, so no other thread can change it: a thief only writes a range it
                // found non-empty, and the value it compares against is this one or a later one.
                ranges_[p].v.store(pack(mid, end), std::memory_order_release);
                return true;
            }
        }
    }
    return false;
}

}  // namespace rwkv
