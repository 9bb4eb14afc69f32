#include "core/bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "rwkv/error.h"

namespace rwkv {

namespace {

// Independent accumulators so the additions do not chain: the loop is then bound by loads alone,
// and the compiler vectorises it.
uint64_t sum_words(const uint64_t* p, size_t n) {
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        a0 += p[i];
        a1 += p[i + 1];
        a2 += p[i + 2];
        a3 += p[i + 3];
    }
    for (; i < n; ++i) a0 += p[i];
    return a0 + a1 + a2 + a3;
}

// The same, asking for each line 4 KB before it is read. Some cores' hardware prefetchers keep one stream
// per core at the memory's rate and some do not (one Emerald Rapids VM: 8.6 GB/s a core plain, 10.5 so,
// 2 threads 16.7 against 22.0): the memory's ceiling is the better of the two reads, and the kernels that
// stream weights use whichever the CPU wants (kernels/cpu_features.h, StreamPrefetch).
uint64_t sum_words_ahead(const uint64_t* p, size_t n) {
    constexpr size_t kAheadWords = 4096 / sizeof(uint64_t);
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __builtin_prefetch(p + i + kAheadWords, 0, 3);  // a hint: past the end it is dropped, never faults
        a0 += p[i] + p[i + 4];
        a1 += p[i + 1] + p[i + 5];
        a2 += p[i + 2] + p[i + 6];
        a3 += p[i + 3] + p[i + 7];
    }
    for (; i < n; ++i) a0 += p[i];
    return a0 + a1 + a2 + a3;
}

// The sum of 0..n-1, modulo 2^64 as the probe's sums wrap.
uint64_t sum_of_indices(uint64_t n) { return n % 2 == 0 ? (n / 2) * (n - 1) : n * ((n - 1) / 2); }

// "480M", "2048K", "32768" (bytes) as sysfs writes cache sizes.
size_t parse_size(const std::string& s) {
    size_t used = 0;
    unsigned long long v = 0;
    try {
        v = std::stoull(s, &used);
    } catch (const std::exception&) {
        return 0;
    }
    const char unit = used < s.size() ? s[used] : ' ';
    if (unit == 'K') v <<= 10;
    if (unit == 'M') v <<= 20;
    if (unit == 'G') v <<= 30;
    return static_cast<size_t>(v);
}


size_t available_memory_bytes() {
    std::ifstream in("/proc/meminfo");
    std::string key, unit;
    unsigned long long kib = 0;
    while (in >> key >> kib >> unit)
        if (key == "MemAvailable:") return static_cast<size_t>(kib) << 10;
    return 0;
}

}  // namespace

BandwidthProbe::BandwidthProbe(ThreadPool& pool, size_t bytes, ProbePages pages)
    : pool_(pool),
      n_(bytes / sizeof(uint64_t)),
      buffer_(n_ * sizeof(uint64_t), pages == ProbePages::huge ? HugeBuffer::Pages::huge : HugeBuffer::Pages::small),
      data_(reinterpret_cast<uint64_t*>(buffer_.data())) {
    if (n_ == 0) throw Error("bandwidth probe needs a non-empty buffer");
    // Each thread touches the range it will read, so its pages land near it.
    const size_t parts = static_cast<size_t>(pool_.size());
    pool_.parallel_for(parts, [&](size_t begin, size_t end) {
        for (size_t k = begin; k < end; ++k)
            for (size_t i = n_ * k / parts; i < n_ * (k + 1) / parts; ++i) data_[i] = i;
    });
}

double BandwidthProbe::measure(int passes) {
    if (passes < 1) throw Error("bandwidth probe needs at least one pass");
    const size_t parts = static_cast<size_t>(pool_.size());
    std::vector<uint64_t> sums(parts);
    double best = 0;
    // Each pass reads the buffer twice, plainly and with software prefetch (see sum_words_ahead).
    for (int read = 0; read < 2 * passes; ++read) {
        const auto sum = read % 2 ? sum_words_ahead : sum_words;
        const auto t0 = std::chrono::steady_clock::now();
        pool_.parallel_for(parts, [&](size_t begin, size_t end) {
            for (size_t k = begin; k < end; ++k) {
                const size_t lo = n_ * k / parts, hi = n_ * (k + 1) / parts;
                sums[k] = sum(data_ + lo, hi - lo);
            }
        });
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        // Checking the sum uses every load, so none can be optimised away.
        uint64_t total = 0;
        for (uint64_t v : sums) total += v;
        if (total != sum_of_indices(n_)) throw Error("bandwidth probe read back wrong data");
        if (s > 0) best = std::max(best, static_cast<double>(n_ * sizeof(uint64_t)) / s);
    }
    return best;
}

double measure_read_bandwidth(ThreadPool& pool, size_t bytes, int passes, ProbePages pages) {
    if (passes < 1) throw Error("bandwidth probe needs at least one pass");
    return BandwidthProbe(pool, bytes, pages).measure(passes);
}

size_t largest_cache_bytes() {
    size_t best = 0;
    std::error_code ec;
    const std::filesystem::path dir = "/sys/devices/system/cpu/cpu0/cache";
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        std::ifstream in(entry.path() / "size");
        std::string s;
        if (in >> s) best = std::max(best, parse_size(s));
    }
    return best;
}

size_t bandwidth_probe_bytes() {
    size_t bytes = std::max<size_t>(size_t{512} << 20, 4 * largest_cache_bytes());
    const size_t avail = available_memory_bytes();
    if (avail > 0) bytes = std::min(bytes, avail / 2);
    return bytes;
}

}  // namespace rwkv
