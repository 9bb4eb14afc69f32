#pragma once
// A fixed set of worker threads reused for every parallel loop, so a token step creates no threads.
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
    // the caller taking one; returns when all are done.
    void parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn);

private:
    void worker_loop(int index);

    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable start_cv_, done_cv_;
    const std::function<void(size_t, size_t)>* job_ = nullptr;
    size_t job_n_ = 0;
    int parts_ = 0;
    unsigned generation_ = 0;
    int pending_ = 0;
    bool stop_ = false;
};

}  // namespace rwkv
