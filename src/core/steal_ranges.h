#pragma once
// Work split for the parallel matrix-vector products: each thread owns one contiguous range of
// work units and takes them from its front, so it streams its weights in order as a static split
// would; a thread that runs out takes the back half of another's range. A static split left one
// thread waiting for the other at the end of most products (their rates differ from moment to
// moment on a shared machine, and the worker starts later than the caller).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace rwkv {

class StealRanges {
public:
    // parts ranges over [0, n); part p first owns [bound(p), bound(p + 1)) where bound(0) = 0 and
    // bound(parts) = n. Units are taken from the front of a range, half of the rest at a time, never
    // fewer than `grain`.
    StealRanges(int parts, size_t grain);

    // Sets part p's range; call for every part before any take() or steal().
    void assign(int p, size_t begin, size_t end);

    // Takes half of what is left of p's own range, at least grain units (or the rest), from its front into
    // [b, e); false when it is empty. Halving keeps the takes few (each is an atomic read-modify-write,
    // which waits for the thread's loads in flight) and lets the caller stream long runs in one call, while
    // the takes near the end stay small enough for a thief to even out the finish.
    bool take(int p, size_t& b, size_t& e);

    // Moves the back half of another part's range (all of it if it is shorter than two grains)
    // into p's own, which must be empty; false when every range is empty.
    bool steal(int p);

private:
    struct alignas(64) Range {
        std::atomic<uint64_t> v{0};  // next in the low 32 bits, end in the high 32
    };
    static uint64_t pack(size_t next, size_t end) { return static_cast<uint64_t>(end) << 32 | next; }
    static size_t next_of(uint64_t v) { return static_cast<size_t>(v & 0xffffffffu); }
    static size_t end_of(uint64_t v) { return static_cast<size_t>(v >> 32); }

    int parts_;
    size_t grain_;
    std::unique_ptr<Range[]> ranges_;
};

}  // namespace rwkv
