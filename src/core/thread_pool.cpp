#include "core/thread_pool.h"

namespace rwkv {

ThreadPool::ThreadPool(int n_threads) {
    for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    start_cv_.notify_all();
    for (auto& t : workers_) t.join();
}

static void run_part(const std::function<void(size_t, size_t)>& fn, size_t n, int parts, int index) {
    const size_t begin = n * static_cast<size_t>(index) / static_cast<size_t>(parts);
    const size_t end = n * static_cast<size_t>(index + 1) / static_cast<size_t>(parts);
    if (begin < end) fn(begin, end);
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn) {
    if (n == 0) return;
    const int parts = static_cast<int>(std::min<size_t>(n, static_cast<size_t>(size())));
    if (parts <= 1) {
        fn(0, n);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        job_ = &fn;
        job_n_ = n;
        parts_ = parts;
        pending_ = parts - 1;
        ++generation_;
    }
    start_cv_.notify_all();
    run_part(fn, n, parts, 0);
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
}

void ThreadPool::worker_loop(int index) {
    unsigned seen = 0;
    for (;;) {
        const std::function<void(size_t, size_t)>* job;
        size_t n;
        int parts;
        {
            std::unique_lock<std::mutex> lock(mu_);
            start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
            job = job_;
            n = job_n_;
            parts = parts_;
        }
        if (index >= parts) continue;  // this job has fewer parts than workers
        run_part(*job, n, parts, index);
        std::lock_guard<std::mutex> lock(mu_);
        if (--pending_ == 0) done_cv_.notify_one();
    }
}

}  // namespace rwkv
