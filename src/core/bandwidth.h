#pragma once
// How fast this machine streams memory into the cores, measured now: the ceiling on generation
// speed, since generating a token reads every weight matrix once.
#include <cstddef>
#include <cstdint>

#include "core/huge_buffer.h"

namespace rwkv {

class ThreadPool;

// Which pages back the probe's buffer. Where transparent huge pages are opt-in (madvise mode),
// 4 KiB pages can cost a third of the bandwidth on a virtual machine (TLB misses under nested
// paging), so memory read through them has a lower ceiling than the hardware's.
enum class ProbePages {
    huge,   // 2 MiB-aligned, madvise(MADV_HUGEPAGE): the hardware's ceiling
    small,  // madvise(MADV_NOHUGEPAGE): what a plain allocation (a std::vector) gets in madvise mode
};

// Read bandwidth in bytes per second: a buffer of `bytes` is allocated and touched once (each
// thread touching the part it will read, so pages land near it), then summed by every thread of
// `pool` over contiguous ranges, `passes` times, each pass reading it once plainly and once asking
// for each line ahead (some cores' hardware prefetchers fall short on one stream per core); the best
// read counts, as the others were slowed by something other than memory. `bytes` should be well beyond the caches (see
// bandwidth_probe_bytes), else this measures the cache. Throws rwkv::Error if the memory cannot be
// had.
double measure_read_bandwidth(ThreadPool& pool, size_t bytes, int passes = 5, ProbePages pages = ProbePages::huge);

// The same probe kept allocated and touched, to measure again and again: between the timed runs of
// something else, so that each run can be set against the bandwidth of its own moment. On a shared
// virtual machine the bandwidth a core gets can change twofold from one second to the next.
class BandwidthProbe {
public:
    BandwidthProbe(ThreadPool& pool, size_t bytes, ProbePages pages = ProbePages::huge);
    BandwidthProbe(const BandwidthProbe&) = delete;
    BandwidthProbe& operator=(const BandwidthProbe&) = delete;

    // Bytes per second, the best of `passes` passes (two reads each, as above) of the whole buffer.
    double measure(int passes = 1);

private:
    ThreadPool& pool_;
    size_t n_ = 0;  // 64-bit words
    HugeBuffer buffer_;
    uint64_t* data_ = nullptr;
};

// The size of the largest cache of CPU 0 as sysfs gives it (the last level), or 0 where it is not known.
// Weights that fit in it can be read faster than the memory allows.
size_t largest_cache_bytes();

// A probe size the caches cannot hold: 4x the largest cache, at least 512 MiB, at most half the
// memory now available (some virtual machines report last-level caches of hundreds of MiB).
size_t bandwidth_probe_bytes();

}  // namespace rwkv
