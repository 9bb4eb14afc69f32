#pragma once
// A fixed set of worker threads reused for every parallel loop, so a token step creates no threads.
//
// A loop's parts are claimed, not assigned: the caller and every worker that is awake take the next
// unclaimed part until none is left, and the caller then waits only for parts already being run. A worker
// that has lost its core to another process therefore holds up nothing it has not started, and on a busy
// machine the caller simply does more of the parts itself. Waiting is a short spin, then sleep: a spinning
// waiter would keep the core that a descheduled thread needs to finish its part. And when the caller did wait
// long for a part (its thread lost its core mid-part), the pool backs off: loops run on the caller alone for a
// while, growing while such waits repeat, since on a machine that busy more threads cost more than they add.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rwkv {

class ThreadPool {
public:
    // 1 <= n_threads <= max_threads(), else rwkv::Error; with 1 everything runs on the caller. If the
    // system cannot start all the threads, those started are stopped and rwkv::Error says how many could be.
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return static_cast<int>(workers_.size()) + 1; }

    // Splits [0, n) into at most size() contiguous ranges and calls fn(begin, end) on each, the caller
    // taking its share; returns when all are done. Not reentrant: one loop at a time.
    void parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn);

    // The cores this process may run on (its CPU affinity), at least 1.
    static int available_cores();
    // The most threads a pool accepts: a few per available core. More only multiplies the waiting.
    static int max_threads();

private:
    // The claim word: the loop's number (32 bits), its part count (16) and the next unclaimed part (16), so
    // a claim is one compare-and-swap that fails for a loop that has already ended.
    static uint64_t pack(uint32_t loop, uint32_t parts, uint32_t next) {
        return static_cast<uint64_t>(loop) << 32 | static_cast<uint64_t>(parts) << 16 | next;
    }
    void worker_loop();
    // Claims and runs parts of the loop that `claim` belongs to until none is left.
    void run_parts(uint64_t claim);
    void stop_workers() noexcept;

    std::vector<std::thread> workers_;
    const std::function<void(size_t, size_t)>* job_ = nullptr;
    size_t job_n_ = 0;
    uint32_t loop_ = 0;  // the caller's count of loops started
    std::atomic<uint64_t> claim_{0};
    // The caller's back-off (it alone reads and writes these).
    std::chrono::steady_clock::time_point solo_until_;
    std::chrono::steady_clock::duration solo_for_{};
    uint32_t clean_loops_ = 0;
    std::atomic<uint32_t> done_{0};  // parts of the current loop finished
    std::exception_ptr error_;       // the first exception a part threw, rethrown by the caller

    std::mutex mu_;
    std::condition_variable work_cv_;  // idle workers sleep here
    std::condition_variable done_cv_;  // the caller sleeps here when parts run long
    std::atomic<int> sleepers_{0};
    std::atomic<bool> caller_waiting_{false};
    std::atomic<bool> stop_{false};
};

}  // namespace rwkv
