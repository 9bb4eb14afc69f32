// ThreadPool: its size limits, every index run once however the parts are claimed, a part's exception
// reaching the caller, and a clean error when the system cannot start the threads asked for.
#include "core/thread_pool.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "rwkv/error.h"

namespace rwkv {
namespace {

std::string error_of(int threads) {
    try {
        ThreadPool pool(threads);
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

TEST(ThreadPool, RefusesCountsOutsideItsRange) {
    const int most = ThreadPool::max_threads();
    EXPECT_GE(most, ThreadPool::available_cores());
    for (int bad : {0, -1, -200, most + 1, 100000}) {
        const std::string msg = error_of(bad);
        EXPECT_NE(msg.find("outside 1.." + std::to_string(most)), std::string::npos) << bad << ": " << msg;
    }
    EXPECT_EQ(error_of(1), "");
    EXPECT_EQ(error_of(most), "");
}

// More threads than cores, loops of every size, parts of uneven length: late workers must never run a part
// of a loop that has ended, and no part may be lost or run twice.
TEST(ThreadPool, EveryIndexOnceAcrossManyLoops) {
    std::mt19937 rng(3);
    for (int threads : {2, 3, 5}) {
        ThreadPool pool(threads);
        for (int loop = 0; loop < 3000; ++loop) {
            const size_t n = rng() % 12;
            std::vector<std::atomic<int>> hits(n);
            const unsigned spin = rng() % 4 == 0 ? 2000 : 0;
            std::atomic<unsigned> busy{0};
            pool.parallel_for(n, [&](size_t b, size_t e) {
                for (unsigned i = 0; i < spin; ++i) busy.fetch_add(1, std::memory_order_relaxed);
                for (size_t i = b; i < e; ++i) hits[i].fetch_add(1);
            });
            for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << threads << " threads, loop " << loop;
        }
    }
}

TEST(ThreadPool, APartsExceptionReachesTheCallerAndThePoolGoesOn) {
    ThreadPool pool(3);
    for (size_t bad = 0; bad < 3; ++bad) {
        std::atomic<int> ran{0};
        try {
            pool.parallel_for(3, [&](size_t b, size_t) {
                ran.fetch_add(1);
                if (b == bad) throw std::runtime_error("part " + std::to_string(b));
            });
            FAIL() << "no exception";
        } catch (const std::runtime_error& e) {
            EXPECT_EQ(std::string(e.what()), "part " + std::to_string(bad));
        }
        EXPECT_EQ(ran.load(), 3);  // the other parts still ran: nothing is left running against a dead loop
        std::atomic<int> sum{0};
        pool.parallel_for(100, [&](size_t b, size_t e) { sum.fetch_add(static_cast<int>(e - b)); });
        EXPECT_EQ(sum.load(), 100);
    }
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RWKV_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RWKV_UNDER_SANITIZER 1
#endif
#endif

// Thread stacks are address space: a child process whose address space is capped just above what it uses
// can start a thread or two, not seven. The pool must stop those it started and say so; before, the
// exception left joinable threads behind and the process aborted.
TEST(ThreadPool, StartingFewerThreadsThanAskedIsAnErrorNotACrash) {
#ifdef RWKV_UNDER_SANITIZER
    GTEST_SKIP() << "the sanitizers' shadow memory needs address space of its own";
#else
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        alarm(20);  // a deadlock ends the child with SIGALRM
        long vm_kb = 0;
        std::ifstream status("/proc/self/status");
        for (std::string key; status >> key;) {
            if (key == "VmSize:") {
                status >> vm_kb;
                break;
            }
            status.ignore(1 << 20, '\n');
        }
        const rlim_t cap = static_cast<rlim_t>(vm_kb) * 1024 + (rlim_t{20} << 20);  // under three 8 MiB stacks
        const rlimit lim{cap, cap};
        if (vm_kb == 0 || setrlimit(RLIMIT_AS, &lim) != 0) _exit(3);
        try {
            ThreadPool pool(8);
        } catch (const Error& e) {
            _exit(std::string(e.what()).find("could start only") != std::string::npos ? 0 : 4);
        } catch (...) {
            _exit(5);
        }
        _exit(6);  // all eight started: the cap did not bite
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << "child ended by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
#endif
}

}  // namespace
}  // namespace rwkv
