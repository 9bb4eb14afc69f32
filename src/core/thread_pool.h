#pragma once
// A fixed set of worker threads reused for every parallel loop, so a token step creates no threads.
// Generating one token runs a hundred or more short parallel loops, so workers first spin briefly
// on an atomic job counter (waking takes well under a microsecond) and only then sleep on a
// condition variable (which costs tens of microseconds to wake).
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rwkv {

class ThreadPool {
public:
    explicit ThreadPool(int n_threads);  // n_threads <= 1: everything runs on the caller
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return static_cast<int>(workers_.size()) + 1; }

    // Splits [0, n) into at most size() contiguous ranges and calls fn(begin, end) on each,
    // the caller taking one; returns when all are done. Not reentrant: one loop at a time.
    void parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn);

private:
    void worker_loop(int index);

    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable start_cv_;
    const std::function<void(size_t, size_t)>* job_ = nullptr;
    size_t job_n_ = 0;
    int parts_ = 0;
    std::atomic<unsigned> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<int> sleepers_{0};
    std::atomic<bool> stop_{false};
};

}  // namespace rwkv
