#include "core/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <string>
#include <system_error>
#include <utility>

#include "rwkv/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RWKV_CPU_RELAX() _mm_pause()
#else
#define RWKV_CPU_RELAX() std::this_thread::yield()
#endif

namespace rwkv {

namespace {

using Clock = std::chrono::steady_clock;

// A waiter first spins (the next loop of a token, or a part's end, is usually microseconds away), then
// spins yielding its core to any other runnable thread, then sleeps. Idle workers wait long enough to
// cover the gaps between the loops of one token; the caller waits for parts already running, which on a
// quiet machine end within microseconds of its own.
constexpr auto kPureSpin = std::chrono::microseconds(10);
constexpr auto kWorkerWait = std::chrono::microseconds(200);
constexpr auto kCallerWait = std::chrono::microseconds(50);
constexpr int kThreadsPerCore = 4;
// After a loop that waited at least kStall for another thread's part (and longer than the caller's own
// share), loops run on the caller alone for kMinSolo, doubling on each repeat up to kMaxSolo; kCleanLoops
// loops in a row without such a wait end the backing off.
constexpr auto kStall = std::chrono::milliseconds(1);
constexpr auto kMinSolo = std::chrono::milliseconds(1);
constexpr auto kMaxSolo = std::chrono::milliseconds(64);
constexpr uint32_t kCleanLoops = 256;

uint32_t loop_of(uint64_t c) { return static_cast<uint32_t>(c >> 32); }
uint32_t parts_of(uint64_t c) { return static_cast<uint32_t>(c >> 16) & 0xffffu; }
uint32_t next_of(uint64_t c) { return static_cast<uint32_t>(c) & 0xffffu; }

// Spins until done() or the deadline; true when done() became true.
template <class Done>
bool spin_until(Done done, Clock::duration limit) {
    const auto start = Clock::now();
    for (int i = 1;; ++i) {
        if (done()) return true;
        if ((i & 31) != 0) {
            RWKV_CPU_RELAX();
            continue;
        }
        const auto waited = Clock::now() - start;
        if (waited > limit) return false;
        if (waited > kPureSpin) std::this_thread::yield();
    }
}

}  // namespace

int ThreadPool::available_cores() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int ThreadPool::max_threads() { return std::max(8, kThreadsPerCore * available_cores()); }

ThreadPool::ThreadPool(int n_threads) {
    if (n_threads < 1 || n_threads > max_threads())
        throw Error("thread count " + std::to_string(n_threads) + " is outside 1.." + std::to_string(max_threads()) +
                    " (" + std::to_string(kThreadsPerCore) + " per core this process may use, " +
                    std::to_string(available_cores()) + ")");
    workers_.reserve(static_cast<size_t>(n_threads - 1));
    try {
        for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
    } catch (const std::system_error& e) {
        const size_t started = workers_.size();
        stop_workers();
        throw Error("could start only " + std::to_string(started + 1) + " of " + std::to_string(n_threads) +
                    " threads (" + e.what() + "); use fewer threads (-t)");
    }
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::stop_workers() noexcept {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_.store(true);
    }
    work_cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn) {
    if (n == 0) return;
    const auto parts = static_cast<uint32_t>(std::min<size_t>(n, static_cast<size_t>(size())));
    if (parts <= 1 || (solo_for_ > Clock::duration::zero() && Clock::now() < solo_until_)) {
        fn(0, n);
        return;
    }
    job_ = &fn;
    job_n_ = n;
    error_ = nullptr;
    done_.store(0, std::memory_order_relaxed);
    if (++loop_ == 0) ++loop_;  // 0 is the loop workers start out having seen
    const uint64_t claim = pack(loop_, parts, 0);
    // seq_cst against a worker that registers as a sleeper and then checks for work: one sees the other.
    claim_.store(claim);
    if (sleepers_.load() > 0) {
        { std::lock_guard<std::mutex> lock(mu_); }  // a worker between its check and its wait is now waiting
        work_cv_.notify_all();
    }
    const auto begun = Clock::now();
    run_parts(claim);
    const auto all_done = [&] { return done_.load(std::memory_order_acquire) == parts; };
    bool stalled = false;
    if (!spin_until(all_done, kCallerWait)) {
        const auto ran = Clock::now();
        {
            std::unique_lock<std::mutex> lock(mu_);
            caller_waiting_.store(true);
            done_cv_.wait(lock, [&] { return done_.load() == parts; });
            caller_waiting_.store(false);
        }
        // Another thread's part outlasting the caller's whole share by this much means it lost its core (an
        // uneven finish costs at most a part's last take, which is shorter than the caller's share).
        stalled = Clock::now() - ran > std::max<Clock::duration>(kStall, ran - begun);
    }
    if (stalled) {  // until the machine is quieter, loops run on the caller
        solo_for_ = std::clamp(2 * solo_for_, Clock::duration(kMinSolo), Clock::duration(kMaxSolo));
        solo_until_ = Clock::now() + solo_for_;
        clean_loops_ = 0;
    } else if (++clean_loops_ >= kCleanLoops) {
        solo_for_ = Clock::duration::zero();
    }
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void ThreadPool::run_parts(uint64_t c) {
    const uint32_t loop = loop_of(c);
    for (;;) {
        if (loop_of(c) != loop || next_of(c) >= parts_of(c)) return;
        // On failure c is reloaded: another thread claimed a part, or the loop ended and a new one began.
        if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
        const size_t parts = parts_of(c), index = next_of(c);
        const size_t begin = job_n_ * index / parts, end = job_n_ * (index + 1) / parts;
        try {
            if (begin < end) (*job_)(begin, end);
        } catch (...) {
            std::lock_guard<std::mutex> lock(mu_);
            if (!error_) error_ = std::current_exception();
        }
        if (done_.fetch_add(1) + 1 == parts && caller_waiting_.load()) {
            { std::lock_guard<std::mutex> lock(mu_); }
            done_cv_.notify_one();
        }
        c = claim_.load(std::memory_order_acquire);
    }
}

void ThreadPool::worker_loop() {
    uint32_t seen = 0;  // the last loop this worker took part in (or found ended)
    for (;;) {
        uint64_t c = 0;
        const auto fresh = [&] {
            c = claim_.load(std::memory_order_acquire);
            return loop_of(c) != seen || stop_.load(std::memory_order_relaxed);
        };
        if (!spin_until(fresh, kWorkerWait)) {
            std::unique_lock<std::mutex> lock(mu_);
            sleepers_.fetch_add(1);
            work_cv_.wait(lock, fresh);
            sleepers_.fetch_sub(1);
        }
        if (stop_.load()) return;
        seen = loop_of(c);
        run_parts(c);
    }
}

}  // namespace rwkv
