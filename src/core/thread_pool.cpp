#include "core/thread_pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RWKV_CPU_RELAX() _mm_pause()
#else
#define RWKV_CPU_RELAX() std::this_thread::yield()
#endif

namespace rwkv {

namespace {
// How long an idle worker spins before sleeping: long enough to cover the gap between the loops
// of one token, short enough not to burn a core between tokens.
constexpr auto kSpin = std::chrono::microseconds(200);

void run_part(const std::function<void(size_t, size_t)>& fn, size_t n, int parts, int index) {
    const size_t begin = n * static_cast<size_t>(index) / static_cast<size_t>(parts);
    const size_t end = n * static_cast<size_t>(index + 1) / static_cast<size_t>(parts);
    if (begin < end) fn(begin, end);
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) {
    for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_.store(true);
        generation_.fetch_add(1);
    }
    start_cv_.notify_all();
    for (auto& t : workers_) t.join();
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn) {
    if (n == 0) return;
    const int parts = static_cast<int>(std::min<size_t>(n, static_cast<size_t>(size())));
    if (parts <= 1) {
        fn(0, n);
        return;
    }
    {
        // Under the lock so a worker that is about to sleep either sees the new generation or is
        // woken by the notify below.
        std::lock_guard<std::mutex> lock(mu_);
        job_ = &fn;
        job_n_ = n;
        parts_ = parts;
        pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
    }
    if (sleepers_.load() > 0) start_cv_.notify_all();
    run_part(fn, n, parts, 0);
    while (pending_.load(std::memory_order_acquire) != 0) RWKV_CPU_RELAX();
}

void ThreadPool::worker_loop(int index) {
    unsigned seen = 0;
    for (;;) {
        const auto spin_until = std::chrono::steady_clock::now() + kSpin;
        unsigned gen = generation_.load(std::memory_order_acquire);
        for (int i = 0; gen == seen; ++i) {
            RWKV_CPU_RELAX();
            gen = generation_.load(std::memory_order_acquire);
            if (gen == seen && (i & 63) == 0 && std::chrono::steady_clock::now() > spin_until) {
                std::unique_lock<std::mutex> lock(mu_);
                sleepers_.fetch_add(1);
                start_cv_.wait(lock, [&] { return generation_.load() != seen; });
                sleepers_.fetch_sub(1);
                gen = generation_.load();
            }
        }
        seen = gen;
        if (stop_.load()) return;
        const std::function<void(size_t, size_t)>* job;
        size_t n;
        int parts;
        {
            std::lock_guard<std::mutex> lock(mu_);
            job = job_;
            n = job_n_;
            parts = parts_;
        }
        if (index < parts) run_part(*job, n, parts, index);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

}  // namespace rwkv
