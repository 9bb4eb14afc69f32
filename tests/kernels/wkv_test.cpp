// The threaded, vectorised WKV entry points against the plain single-threaded references, on random inputs
// whose head sizes are not multiples of the vector width, for every instruction-set level.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/wkv.h"

namespace rwkv {
namespace {

std::vector<float> uniform(size_t n, std::mt19937& rng, float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    float m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

struct Shape {
    int64_t T, H, N;
};
// The last two are above wkv.cpp's threshold for splitting heads over threads (T·H·N² >= 32768), the rest below.
const Shape kShapes[] = {{1, 1, 1}, {3, 2, 7}, {5, 3, 13}, {2, 5, 20}, {9, 1, 33}, {17, 2, 64}, {4, 7, 37}};

// Random v7 inputs of one shape: decays in [0.5, 1), in-context rates in [0, 1), small normalised keys.
struct V7Inputs {
    int64_t C;
    size_t n;
    std::vector<float> r, w, k, v, kk, a, s0;
};
V7Inputs v7_inputs(const Shape& sh, std::mt19937& rng) {
    V7Inputs in;
    in.C = sh.H * sh.N;
    in.n = static_cast<size_t>(sh.T * in.C);
    const size_t n = in.n;
    in.r = uniform(n, rng, -1, 1);
    in.w = uniform(n, rng, 0.5f, 1);
    in.k = uniform(n, rng, -1, 1);
    in.v = uniform(n, rng, -1, 1);
    in.kk = uniform(n, rng, -0.3f, 0.3f);
    in.a = uniform(n, rng, 0, 1);
    in.s0 = uniform(static_cast<size_t>(sh.H * sh.N * sh.N), rng, -1, 1);
    return in;
}

TEST(Wkv, V7MatchesReferenceAtEveryIsaAndThreadCount) {
    std::mt19937 rng(7);
    for (const Shape& sh : kShapes) {
        const auto [C, n, r, w, k, v, kk, a, s0] = v7_inputs(sh, rng);
        std::vector<float> s_ref = s0, y_ref(n);
        wkv7_reference(sh.T, sh.H, sh.N, r.data(), w.data(), k.data(), v.data(), kk.data(), a.data(), s_ref.data(),
                       y_ref.data());
        for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
            for (int threads : {1, 2, 3}) {
                ThreadPool pool(threads);
                std::vector<float> s = s0, y(n);
                wkv7(sh.T, sh.H, sh.N, r.data(), w.data(), k.data(), v.data(), kk.data(), a.data(), s.data(), y.data(),
                     pool, isa);
                // Only the order of the two per-row sums differs: rounding-level agreement.
                EXPECT_LE(max_abs_diff(y, y_ref), 1e-5f * sh.N) << sh.T << "x" << sh.H << "x" << sh.N << " " << isa_name(isa);
                EXPECT_LE(max_abs_diff(s, s_ref), 1e-5f * sh.N) << sh.T << "x" << sh.H << "x" << sh.N << " " << isa_name(isa);
            }
        }
    }
}

// before(h) and after(h) run once per head, on the thread of its recurrence, just around it: before may write the
// head's inputs (here: its decay, scaled) and after reads the head's output and state as the recurrence left them.
// The result must equal doing the same writes for every head first and the reads after, bit for bit.
TEST(Wkv, V7RunsEachHeadsOwnWorkAroundItsRecurrence) {
    std::mt19937 rng(8);
    for (const Shape& sh : kShapes) {
        const auto [C, n, r, w0, k, v, kk, a, s0] = v7_inputs(sh, rng);
        const auto scale_decay = [&](std::vector<float>& w, int64_t h) {
            for (int64_t t = 0; t < sh.T; ++t)
                for (int64_t j = 0; j < sh.N; ++j) w[t * C + h * sh.N + j] *= 0.5f + 0.1f * static_cast<float>(h);
        };
        // What after(h) records: the head's outputs summed, and its state's first value.
        const auto summary = [&](const std::vector<float>& y, const std::vector<float>& s, int64_t h) {
            float sum = 0;
            for (int64_t t = 0; t < sh.T; ++t)
                for (int64_t j = 0; j < sh.N; ++j) sum += y[t * C + h * sh.N + j];
            return std::vector<float>{sum, s[h * sh.N * sh.N]};
        };
        for (Isa isa : {Isa::Scalar, Isa::Avx2}) {
            ThreadPool one(1);
            std::vector<float> w_want = w0, s_want = s0, y_want(n);
            for (int64_t h = 0; h < sh.H; ++h) scale_decay(w_want, h);
            wkv7(sh.T, sh.H, sh.N, r.data(), w_want.data(), k.data(), v.data(), kk.data(), a.data(), s_want.data(),
                 y_want.data(), one, isa);
            for (int threads : {1, 2, 3}) {
                ThreadPool pool(threads);
                std::vector<float> w = w0, s = s0, y(n, -7.0f);
                std::vector<int> calls_before(sh.H), calls_after(sh.H);
                std::vector<std::vector<float>> seen(sh.H);
                const WkvSpan span{0, sh.T, s.data()};
                wkv7(
                    {&span, 1}, sh.H, sh.N, r.data(), w.data(), k.data(), v.data(), kk.data(), a.data(), y.data(), pool,
                    [&](const WkvSpan&, int64_t h) {
                        ++calls_before[h];
                        scale_decay(w, h);
                    },
                    [&](const WkvSpan&, int64_t h) {
                        ++calls_after[h];
                        seen[h] = summary(y, s, h);
                    },
                    isa);
                EXPECT_EQ(y, y_want) << sh.T << "x" << sh.H << "x" << sh.N << " threads " << threads;
                EXPECT_EQ(s, s_want) << sh.T << "x" << sh.H << "x" << sh.N << " threads " << threads;
                for (int64_t h = 0; h < sh.H; ++h) {
                    EXPECT_EQ(calls_before[h], 1) << "head " << h;
                    EXPECT_EQ(calls_after[h], 1) << "head " << h;
                    EXPECT_EQ(seen[h], summary(y_want, s_want, h)) << "after(" << h << ") ran before its recurrence";
                }
            }
        }
    }
}

// v4 on channel counts that are not multiples of 8, from the empty state (pp = -1e30, so the first exps
// underflow to 0) and from a random one, with keys up to 40 (large exponent differences) and enough tokens
// times channels that the threaded split is taken.
TEST(Wkv, V4MatchesReferenceAtEveryIsaAndThreadCount) {
    std::mt19937 rng(4);
    struct V4Shape {
        int64_t T, C;
    };
    for (const V4Shape sh : {V4Shape{1, 1}, V4Shape{3, 7}, V4Shape{5, 37}, V4Shape{17, 203}, V4Shape{64, 520}}) {
        const size_t n = static_cast<size_t>(sh.T * sh.C), C = static_cast<size_t>(sh.C);
        const auto w = uniform(C, rng, -3, -0.01f), u = uniform(C, rng, -1, 1), k = uniform(n, rng, -40, 40),
                   v = uniform(n, rng, -2, 2);
        for (bool empty : {true, false}) {
            std::vector<float> aa0 = uniform(C, rng, -1, 1), bb0 = uniform(C, rng, 0.1f, 2), pp0 = uniform(C, rng, -5, 5);
            if (empty) {
                std::fill(aa0.begin(), aa0.end(), 0.0f);
                std::fill(bb0.begin(), bb0.end(), 0.0f);
                std::fill(pp0.begin(), pp0.end(), -1e30f);
            }
            std::vector<float> aa_ref = aa0, bb_ref = bb0, pp_ref = pp0, y_ref(n);
            wkv4_reference(sh.T, sh.C, w.data(), u.data(), k.data(), v.data(), aa_ref.data(), bb_ref.data(),
                           pp_ref.data(), y_ref.data());
            for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
                for (int threads : {1, 2, 3}) {
                    ThreadPool pool(threads);
                    std::vector<float> s = aa0, y(n);  // aa, bb, pp back to back
                    s.insert(s.end(), bb0.begin(), bb0.end());
                    s.insert(s.end(), pp0.begin(), pp0.end());
                    wkv4(sh.T, sh.C, w.data(), u.data(), k.data(), v.data(), s.data(), y.data(), pool, isa);
                    const std::vector<float> aa(s.begin(), s.begin() + sh.C), bb(s.begin() + sh.C, s.begin() + 2 * sh.C),
                        pp(s.begin() + 2 * sh.C, s.end());
                    const auto near = [](const std::vector<float>& a, const std::vector<float>& b) {
                        float worst = 0;  // relative to the value, the aa/bb sums reach e^40-scale ratios
                        for (size_t i = 0; i < a.size(); ++i)
                            worst = std::max(worst, std::fabs(a[i] - b[i]) / std::max(1.0f, std::fabs(b[i])));
                        return worst;
                    };
                    const std::string where = std::to_string(sh.T) + "x" + std::to_string(sh.C) +
                                              (empty ? " empty " : " random ") + isa_name(isa) + " threads " +
                                              std::to_string(threads);
                    EXPECT_LE(near(y, y_ref), 1e-6f) << where;  // measured 2.1e-7
                    EXPECT_LE(near(aa, aa_ref), 1e-6f) << where;
                    EXPECT_LE(near(bb, bb_ref), 1e-6f) << where;
                    EXPECT_EQ(pp, pp_ref) << where;  // maxima and sums only: no exp on this path
                }
            }
        }
    }
}

TEST(Wkv, V5MatchesReferenceWithPerTokenAndSharedDecay) {
    std::mt19937 rng(5);
    for (const Shape& sh : kShapes) {
        const int64_t C = sh.H * sh.N;
        const size_t n = static_cast<size_t>(sh.T * C), ns = static_cast<size_t>(sh.H * sh.N * sh.N);
        const auto r = uniform(n, rng, -1, 1), k = uniform(n, rng, -1, 1), v = uniform(n, rng, -1, 1),
                   w = uniform(n, rng, 0.5f, 1), u = uniform(static_cast<size_t>(C), rng, -1, 1),
                   s0 = uniform(ns, rng, -1, 1);
        for (int64_t stride : {int64_t{0}, C}) {
            std::vector<float> s_ref = s0, y_ref(n);
            wkv5_reference(sh.T, sh.H, sh.N, r.data(), k.data(), v.data(), w.data(), stride, u.data(), s_ref.data(),
                           y_ref.data());
            for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
                for (int threads : {1, 2, 3}) {
                    ThreadPool pool(threads);
                    std::vector<float> s = s0, y(n);
                    wkv5(sh.T, sh.H, sh.N, r.data(), k.data(), v.data(), w.data(), stride, u.data(), s.data(),
                         y.data(), pool, isa);
                    // Same operations in the same order per head, on every path: identical results.
                    EXPECT_EQ(y, y_ref) << isa_name(isa) << " threads " << threads;
                    EXPECT_EQ(s, s_ref) << isa_name(isa) << " threads " << threads;
                }
            }
        }
    }
}

// Several sequences in one call (a batched step): each span's rows and state give exactly what the span run
// alone gives, since each (span, head) is the same kernel on the same numbers, whatever thread takes it.
TEST(Wkv, SpansEqualEachSequenceAlone) {
    std::mt19937 rng(9);
    const int64_t H = 3, N = 20, C = H * N;
    const int64_t lengths[] = {1, 4, 1, 7, 2};  // rows 0, 1-4, 5, 6-12, 13-14
    const int64_t R = 15;
    const size_t n = static_cast<size_t>(R * C);
    const auto r = uniform(n, rng, -1, 1), k = uniform(n, rng, -1, 1), v = uniform(n, rng, -1, 1),
               w = uniform(n, rng, 0.5f, 1), kk = uniform(n, rng, -0.3f, 0.3f), a = uniform(n, rng, 0, 1),
               u = uniform(static_cast<size_t>(C), rng, -1, 1), w4 = uniform(static_cast<size_t>(C), rng, -3, -0.01f);
    const auto s0 = uniform(static_cast<size_t>(5 * H * N * N), rng, -1, 1);  // big enough for v4's 3·C per span too
    const auto rows = [&](const std::vector<float>& x, int64_t row, int64_t T) {
        return std::vector<float>(x.begin() + row * C, x.begin() + (row + T) * C);
    };
    const size_t per = static_cast<size_t>(H * N * N);
    for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        // Together.
        std::vector<float> s7 = s0, s5 = s0, s4 = s0, y7(n), y5(n), y4(n);
        std::vector<WkvSpan> sp7, sp5, sp4;
        int64_t row = 0;
        for (size_t i = 0; i < std::size(lengths); ++i) {
            sp7.push_back({row, lengths[i], s7.data() + i * per});
            sp5.push_back({row, lengths[i], s5.data() + i * per});
            sp4.push_back({row, lengths[i], s4.data() + i * per});
            row += lengths[i];
        }
        wkv7(sp7, H, N, r.data(), w.data(), k.data(), v.data(), kk.data(), a.data(), y7.data(), pool, {}, {});
        wkv5(sp5, H, N, r.data(), k.data(), v.data(), w.data(), C, u.data(), y5.data(), pool);
        wkv4(sp4, C, w4.data(), u.data(), k.data(), v.data(), y4.data(), pool);
        // Alone, each on its own rows.
        row = 0;
        for (size_t i = 0; i < std::size(lengths); ++i) {
            const int64_t T = lengths[i];
            const std::string where = "span " + std::to_string(i) + ", threads " + std::to_string(threads);
            std::vector<float> s(s0.begin() + static_cast<std::ptrdiff_t>(i * per),
                                 s0.begin() + static_cast<std::ptrdiff_t>((i + 1) * per));
            std::vector<float> y(static_cast<size_t>(T * C));
            std::vector<float> st = s;
            wkv7(T, H, N, rows(r, row, T).data(), rows(w, row, T).data(), rows(k, row, T).data(), rows(v, row, T).data(),
                 rows(kk, row, T).data(), rows(a, row, T).data(), st.data(), y.data(), pool);
            EXPECT_EQ(y, rows(y7, row, T)) << "v7 " << where;
            EXPECT_TRUE(std::equal(st.begin(), st.end(), s7.begin() + static_cast<std::ptrdiff_t>(i * per))) << where;
            st = s;
            wkv5(T, H, N, rows(r, row, T).data(), rows(k, row, T).data(), rows(v, row, T).data(), rows(w, row, T).data(),
                 C, u.data(), st.data(), y.data(), pool);
            EXPECT_EQ(y, rows(y5, row, T)) << "v5 " << where;
            EXPECT_TRUE(std::equal(st.begin(), st.end(), s5.begin() + static_cast<std::ptrdiff_t>(i * per))) << where;
            st = s;
            wkv4(T, C, w4.data(), u.data(), rows(k, row, T).data(), rows(v, row, T).data(), st.data(), y.data(), pool);
            EXPECT_EQ(y, rows(y4, row, T)) << "v4 " << where;
            EXPECT_TRUE(std::equal(st.begin(), st.begin() + 3 * C, s4.begin() + static_cast<std::ptrdiff_t>(i * per)))
                << where;
            row += T;
        }
    }
}

}  // namespace
}  // namespace rwkv
