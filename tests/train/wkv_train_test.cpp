// The training WKV recurrences: forwards against the engine's inference kernels, hand-derived backwards
// against central finite differences in double, float against double, and independence from the thread
// count and the checkpoint interval.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/wkv.h"
#include "rwkv/error.h"
#include "kernels/wkv_train.h"

namespace rwkv::train {
namespace {

using Vec = std::vector<double>;

Vec uniform(size_t n, std::mt19937& rng, double lo, double hi) {
    std::uniform_real_distribution<double> d(lo, hi);
    Vec v(n);
    for (double& x : v) x = d(rng);
    return v;
}

template <class F>
std::vector<F> cast(const Vec& v) {
    return std::vector<F>(v.begin(), v.end());
}

// The same values after a trip through float, so a float run and a double run see identical inputs.
Vec through_float(const Vec& v) {
    Vec o(v.size());
    for (size_t i = 0; i < v.size(); ++i) o[i] = static_cast<float>(v[i]);
    return o;
}

template <class A, class B>
double max_abs_diff(const std::vector<A>& a, const std::vector<B>& b) {
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - double(b[i])));
    return m;
}

template <class A>
double max_abs(const std::vector<A>& a) {
    double m = 0;
    for (const A& x : a) m = std::max(m, std::fabs(double(x)));
    return m;
}

// Largest difference relative to the reference's largest entry: gradients have entries near zero, where an
// elementwise relative error means nothing.
template <class A, class B>
double rel_err(const std::vector<A>& got, const std::vector<B>& ref) {
    return max_abs_diff(got, ref) / std::max(max_abs(ref), 1e-300);
}

template <class F>
bool all_finite(const std::vector<F>& v) {
    return std::all_of(v.begin(), v.end(), [](F x) { return std::isfinite(x); });
}

// ---------------------------------------------------------------------------------------------------- v7

struct V7Case {
    int64_t T, H, N;
    Vec r, w, k, v, kk, acoef, a, b, dy;  // a = −kk, b = kk⊙acoef, as the model passes them
};

// Realistic ranges: decay in (0.3, 0.99), kk a unit vector per head and token (the model normalises it), so
// the transition diag(w) − kk·(kk⊙acoef)ᵀ does not grow the state.
V7Case make_v7(int64_t T, int64_t H, int64_t N, unsigned seed) {
    std::mt19937 rng(seed);
    const size_t n = static_cast<size_t>(T * H * N);
    V7Case c{T, H, N, uniform(n, rng, -1, 1), uniform(n, rng, 0.3, 0.99), uniform(n, rng, -1, 1),
             uniform(n, rng, -1, 1), uniform(n, rng, -1, 1), uniform(n, rng, 0, 1), Vec(n), Vec(n),
             uniform(n, rng, -1, 1)};
    for (size_t g = 0; g < n; g += static_cast<size_t>(N)) {
        double norm = 0;
        for (int64_t j = 0; j < N; ++j) norm += c.kk[g + j] * c.kk[g + j];
        norm = std::sqrt(norm);
        for (int64_t j = 0; j < N; ++j) c.kk[g + j] /= norm;
    }
    for (size_t i = 0; i < n; ++i) {
        c.a[i] = -c.kk[i];
        c.b[i] = c.kk[i] * c.acoef[i];
    }
    return c;
}

template <class F>
struct V7Result {
    std::vector<F> y, tape, dr, dw, dk, dv, da, db;
};

template <class F>
V7Result<F> run_v7(const V7Case& c, int64_t every, int threads) {
    ThreadPool pool(threads);
    const auto r = cast<F>(c.r), w = cast<F>(c.w), k = cast<F>(c.k), v = cast<F>(c.v), a = cast<F>(c.a),
               b = cast<F>(c.b), dy = cast<F>(c.dy);
    const size_t n = r.size();
    // NaN-filled outputs: the backward must write every gradient, not accumulate into it.
    const F nan = std::numeric_limits<F>::quiet_NaN();
    V7Result<F> o{std::vector<F>(n, nan), {}, std::vector<F>(n, nan), std::vector<F>(n, nan),
                  std::vector<F>(n, nan), std::vector<F>(n, nan), std::vector<F>(n, nan), std::vector<F>(n, nan)};
    wkv7_forward<F>(c.T, c.H, c.N, r.data(), w.data(), k.data(), v.data(), a.data(), b.data(), o.y.data(), o.tape,
                    every, pool);
    wkv7_backward<F>(c.T, c.H, c.N, r.data(), w.data(), k.data(), v.data(), a.data(), b.data(), dy.data(), o.tape,
                     every, o.dr.data(), o.dw.data(), o.dk.data(), o.dv.data(), o.da.data(), o.db.data(), pool);
    return o;
}

double v7_loss(const V7Case& c) {
    ThreadPool pool(1);
    Vec y(c.r.size()), tape;
    wkv7_forward<double>(c.T, c.H, c.N, c.r.data(), c.w.data(), c.k.data(), c.v.data(), c.a.data(), c.b.data(),
                         y.data(), tape, 1, pool);
    double L = 0;
    for (size_t i = 0; i < y.size(); ++i) L += c.dy[i] * y[i];
    return L;
}

// Central differences of L = Σ dy⊙y with respect to every entry of one input.
Vec finite_diff(const V7Case& base, Vec V7Case::*input) {
    const double h = 1e-5;
    V7Case c = base;
    Vec& x = c.*input;
    Vec g(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
        const double x0 = x[i];
        x[i] = x0 + h;
        const double lp = v7_loss(c);
        x[i] = x0 - h;
        const double lm = v7_loss(c);
        x[i] = x0;
        g[i] = (lp - lm) / (2 * h);
    }
    return g;
}

TEST(TrainWkv7, ForwardMatchesEngineKernel) {
    struct Shape {
        int64_t T, H, N;
    };
    for (const Shape sh : {Shape{17, 2, 64}, Shape{7, 3, 5}, Shape{9, 1, 11}}) {
        const V7Case c = make_v7(sh.T, sh.H, sh.N, 11);
        const auto r = cast<float>(c.r), w = cast<float>(c.w), k = cast<float>(c.k), v = cast<float>(c.v),
                   kk = cast<float>(c.kk), acoef = cast<float>(c.acoef);
        std::vector<float> s_ref(static_cast<size_t>(sh.H * sh.N * sh.N), 0.f), y_ref(r.size());
        wkv7_reference(sh.T, sh.H, sh.N, r.data(), w.data(), k.data(), v.data(), kk.data(), acoef.data(),
                       s_ref.data(), y_ref.data());
        for (int64_t every : {int64_t{1}, int64_t{4}, sh.T, int64_t{100}}) {
            const auto o = run_v7<float>(c, every, 2);
            const int64_t stretches = (sh.T + every - 1) / every;
            ASSERT_EQ(o.tape.size(), static_cast<size_t>(stretches * sh.H * sh.N * sh.N));
            // The a, b of the training form are rounded to float separately: rounding-level agreement.
            EXPECT_LE(max_abs_diff(o.y, y_ref), 1e-5 * std::max(1.0, max_abs(y_ref)))
                << sh.T << "x" << sh.H << "x" << sh.N << " every " << every;
            // The tape's last block is the final state, in the engine's layout.
            const std::vector<float> last(o.tape.end() - static_cast<int64_t>(s_ref.size()), o.tape.end());
            EXPECT_LE(max_abs_diff(last, s_ref), 1e-5 * std::max(1.0, max_abs(s_ref)));
        }
    }
}

TEST(TrainWkv7, BackwardMatchesFiniteDifferences) {
    struct Shape {
        int64_t T, H, N;
    };
    // N = 5 stays below the 8-wide partial sums, N = 11 goes through them and a tail.
    for (const Shape sh : {Shape{7, 2, 5}, Shape{6, 1, 11}}) {
        const V7Case c = make_v7(sh.T, sh.H, sh.N, 3);
        const Vec fr = finite_diff(c, &V7Case::r), fw = finite_diff(c, &V7Case::w), fk = finite_diff(c, &V7Case::k),
                  fv = finite_diff(c, &V7Case::v), fa = finite_diff(c, &V7Case::a), fb = finite_diff(c, &V7Case::b);
        for (int64_t every : {1, 3, 7, 10}) {
            const auto o = run_v7<double>(c, every, 1);
            const std::string at = std::to_string(sh.N) + " every " + std::to_string(every);
            // Central differences with h = 1e-5 agree to ≤ 3e-10 here; 1e-6 leaves room and still catches any
            // wrong term (those are off by O(1)).
            EXPECT_LE(rel_err(o.dr, fr), 1e-6) << "dr N=" << at;
            EXPECT_LE(rel_err(o.dw, fw), 1e-6) << "dw N=" << at;
            EXPECT_LE(rel_err(o.dk, fk), 1e-6) << "dk N=" << at;
            EXPECT_LE(rel_err(o.dv, fv), 1e-6) << "dv N=" << at;
            EXPECT_LE(rel_err(o.da, fa), 1e-6) << "da N=" << at;
            EXPECT_LE(rel_err(o.db, fb), 1e-6) << "db N=" << at;
        }
    }
}

TEST(TrainWkv7, FloatAgreesWithDoubleAtFullHeadSize) {
    V7Case c = make_v7(64, 2, 64, 5);
    for (Vec* x : {&c.r, &c.w, &c.k, &c.v, &c.a, &c.b, &c.dy}) *x = through_float(*x);
    const auto f = run_v7<float>(c, 16, 1);
    const auto d = run_v7<double>(c, 16, 1);
    // fp32 rounding carried through 64 tokens of 64×64 state: measured ≤ 5e-7, held to 5e-6.
    EXPECT_LE(rel_err(f.y, d.y), 5e-6);
    EXPECT_LE(rel_err(f.dr, d.dr), 5e-6);
    EXPECT_LE(rel_err(f.dw, d.dw), 5e-6);
    EXPECT_LE(rel_err(f.dk, d.dk), 5e-6);
    EXPECT_LE(rel_err(f.dv, d.dv), 5e-6);
    EXPECT_LE(rel_err(f.da, d.da), 5e-6);
    EXPECT_LE(rel_err(f.db, d.db), 5e-6);
}

TEST(TrainWkv7, SameResultsForAnyThreadCountAndCheckpointInterval) {
    const V7Case c = make_v7(23, 3, 16, 9);
    const auto base = run_v7<float>(c, 5, 1);
    // Heads are independent and each head's arithmetic is fixed: bit-identical across thread counts.
    const auto two = run_v7<float>(c, 5, 2);
    EXPECT_EQ(two.y, base.y);
    EXPECT_EQ(two.tape, base.tape);
    EXPECT_EQ(two.dr, base.dr);
    EXPECT_EQ(two.dw, base.dw);
    EXPECT_EQ(two.dk, base.dk);
    EXPECT_EQ(two.dv, base.dv);
    EXPECT_EQ(two.da, base.da);
    EXPECT_EQ(two.db, base.db);
    // The backward recomputes states with the forward's own step, so the interval changes nothing but memory
    // (held to rounding, not to the bit, so a different inlining by the compiler may not fail it).
    for (int64_t every : {1, 2, 23, 64}) {
        const auto o = run_v7<float>(c, every, 2);
        EXPECT_LE(rel_err(o.y, base.y), 1e-6) << every;
        EXPECT_LE(rel_err(o.dr, base.dr), 1e-6) << every;
        EXPECT_LE(rel_err(o.dw, base.dw), 1e-6) << every;
        EXPECT_LE(rel_err(o.dk, base.dk), 1e-6) << every;
        EXPECT_LE(rel_err(o.dv, base.dv), 1e-6) << every;
        EXPECT_LE(rel_err(o.da, base.da), 1e-6) << every;
        EXPECT_LE(rel_err(o.db, base.db), 1e-6) << every;
    }
}

TEST(TrainWkv7, RejectsBadIntervalAndShortTape) {
    ThreadPool pool(1);
    const V7Case c = make_v7(4, 1, 3, 1);
    Vec y(c.r.size()), g(c.r.size()), tape;
    EXPECT_THROW(wkv7_forward<double>(4, 1, 3, c.r.data(), c.w.data(), c.k.data(), c.v.data(), c.a.data(),
                                      c.b.data(), y.data(), tape, 0, pool),
                 Error);
    tape.assign(9, 0.0);  // one block, where every = 2 needs two
    EXPECT_THROW(wkv7_backward<double>(4, 1, 3, c.r.data(), c.w.data(), c.k.data(), c.v.data(), c.a.data(),
                                       c.b.data(), c.dy.data(), tape, 2, g.data(), g.data(), g.data(), g.data(),
                                       g.data(), g.data(), pool),
                 Error);
}

// ---------------------------------------------------------------------------------------------------- v4

struct V4Case {
    int64_t T, C;
    Vec w, u, k, v, dy;
};

// w = −exp(time_decay) with time_decay in (−4, 1); u = time_first.
V4Case make_v4(int64_t T, int64_t C, double kmax, unsigned seed) {
    std::mt19937 rng(seed);
    const size_t n = static_cast<size_t>(T * C), c = static_cast<size_t>(C);
    V4Case x{T, C, uniform(c, rng, -4, 1), uniform(c, rng, -1, 1), uniform(n, rng, -kmax, kmax),
             uniform(n, rng, -1, 1), uniform(n, rng, -1, 1)};
    for (double& w : x.w) w = -std::exp(w);
    return x;
}

template <class F>
struct V4Result {
    std::vector<F> y, tape, dw, du, dk, dv;
};

// dw and du start from `acc0` to check that they are accumulated; the result has acc0 taken off again.
template <class F>
V4Result<F> run_v4(const V4Case& c, int threads, double acc0 = 0.5) {
    ThreadPool pool(threads);
    const auto w = cast<F>(c.w), u = cast<F>(c.u), k = cast<F>(c.k), v = cast<F>(c.v), dy = cast<F>(c.dy);
    const size_t n = k.size();
    const F nan = std::numeric_limits<F>::quiet_NaN();
    V4Result<F> o{std::vector<F>(n, nan), {}, std::vector<F>(w.size(), F(acc0)), std::vector<F>(w.size(), F(acc0)),
                  std::vector<F>(n, nan), std::vector<F>(n, nan)};
    wkv4_forward<F>(c.T, c.C, w.data(), u.data(), k.data(), v.data(), o.y.data(), o.tape, pool);
    wkv4_backward<F>(c.T, c.C, w.data(), u.data(), k.data(), v.data(), dy.data(), o.tape, o.dw.data(), o.du.data(),
                     o.dk.data(), o.dv.data(), pool);
    for (F& x : o.dw) x -= F(acc0);
    for (F& x : o.du) x -= F(acc0);
    return o;
}

double v4_loss(const V4Case& c) {
    ThreadPool pool(1);
    Vec y(c.k.size()), tape;
    wkv4_forward<double>(c.T, c.C, c.w.data(), c.u.data(), c.k.data(), c.v.data(), y.data(), tape, pool);
    double L = 0;
    for (size_t i = 0; i < y.size(); ++i) L += c.dy[i] * y[i];
    return L;
}

Vec finite_diff(const V4Case& base, Vec V4Case::*input) {
    const double h = 1e-5;
    V4Case c = base;
    Vec& x = c.*input;
    Vec g(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
        const double x0 = x[i];
        x[i] = x0 + h;
        const double lp = v4_loss(c);
        x[i] = x0 - h;
        const double lm = v4_loss(c);
        x[i] = x0;
        g[i] = (lp - lm) / (2 * h);
    }
    return g;
}

TEST(TrainWkv4, ForwardMatchesEngineKernel) {
    for (double kmax : {3.0, 40.0}) {
        const V4Case c = make_v4(33, 37, kmax, 4);
        const auto w = cast<float>(c.w), u = cast<float>(c.u), k = cast<float>(c.k), v = cast<float>(c.v);
        const size_t C = static_cast<size_t>(c.C);
        std::vector<float> aa(C, 0.f), bb(C, 0.f), pp(C, -1e30f), y_ref(k.size());
        wkv4_reference(c.T, c.C, w.data(), u.data(), k.data(), v.data(), aa.data(), bb.data(), pp.data(), y_ref.data());
        const auto o = run_v4<float>(c, 2);
        ASSERT_EQ(o.tape.size(), 3 * k.size());
        EXPECT_LE(max_abs_diff(o.y, y_ref), 1e-5) << kmax;
        // The tape at the last token is the engine's state after T−1 tokens.
        std::fill(aa.begin(), aa.end(), 0.f);
        std::fill(bb.begin(), bb.end(), 0.f);
        std::fill(pp.begin(), pp.end(), -1e30f);
        std::vector<float> y_part(k.size());
        wkv4_reference(c.T - 1, c.C, w.data(), u.data(), k.data(), v.data(), aa.data(), bb.data(), pp.data(), y_part.data());
        const size_t n = k.size(), last = n - C;
        for (size_t i = 0; i < C; ++i) {
            EXPECT_NEAR(o.tape[last + i], aa[i], 1e-5 * std::max(1.f, std::fabs(aa[i])));
            EXPECT_NEAR(o.tape[n + last + i], bb[i], 1e-5 * std::max(1.f, bb[i]));
            EXPECT_NEAR(o.tape[2 * n + last + i], pp[i], 1e-5 * std::max(1.f, std::fabs(pp[i])));
        }
    }
}

TEST(TrainWkv4, BackwardMatchesFiniteDifferences) {
    // Moderate keys, and keys of ±40 where e^k alone would overflow float (double copes, so the differences
    // are still a fair reference there).
    for (double kmax : {3.0, 40.0}) {
        const V4Case c = make_v4(7, 6, kmax, 8);
        const auto o = run_v4<double>(c, 1);
        // Same central differences as for v7, same bound.
        EXPECT_LE(rel_err(o.dw, finite_diff(c, &V4Case::w)), 1e-6) << kmax;
        EXPECT_LE(rel_err(o.du, finite_diff(c, &V4Case::u)), 1e-6) << kmax;
        EXPECT_LE(rel_err(o.dk, finite_diff(c, &V4Case::k)), 1e-6) << kmax;
        EXPECT_LE(rel_err(o.dv, finite_diff(c, &V4Case::v)), 1e-6) << kmax;
    }
}

TEST(TrainWkv4, LargeKeysStayFiniteInFloat) {
    // ±40, the far end of what trained models produce, and ±60, where differences of keys (~120) would
    // overflow exp() in float (limit ~88) if any exponent were not kept ≤ 0.
    for (double kmax : {40.0, 60.0}) {
        V4Case c = make_v4(200, 64, kmax, 12);
        for (Vec* x : {&c.w, &c.u, &c.k, &c.v, &c.dy}) *x = through_float(*x);
        const auto f = run_v4<float>(c, 2);
        const auto d = run_v4<double>(c, 2);
        EXPECT_TRUE(all_finite(f.y)) << kmax;
        EXPECT_TRUE(all_finite(f.tape)) << kmax;
        EXPECT_TRUE(all_finite(f.dw)) << kmax;
        EXPECT_TRUE(all_finite(f.du)) << kmax;
        EXPECT_TRUE(all_finite(f.dk)) << kmax;
        EXPECT_TRUE(all_finite(f.dv)) << kmax;
        // Exponents of magnitude ~kmax carry an absolute rounding of ~4e-6 in float (and pp accumulates w over
        // the tokens), which becomes relative error in every weight e^{…}: the engine's forward has it too.
        // Measured ≤ 3.3e-5 (dw, a sum over 200 tokens), held to 1e-4.
        EXPECT_LE(rel_err(f.y, d.y), 1e-4) << kmax;
        EXPECT_LE(rel_err(f.dk, d.dk), 1e-4) << kmax;
        EXPECT_LE(rel_err(f.dv, d.dv), 1e-4) << kmax;
        EXPECT_LE(rel_err(f.du, d.du), 1e-4) << kmax;
        EXPECT_LE(rel_err(f.dw, d.dw), 1e-4) << kmax;
    }
}

TEST(TrainWkv4, SameResultsForAnyThreadCount) {
    const V4Case c = make_v4(19, 13, 3.0, 6);
    const auto one = run_v4<float>(c, 1), two = run_v4<float>(c, 2);
    EXPECT_EQ(one.y, two.y);
    EXPECT_EQ(one.tape, two.tape);
    EXPECT_EQ(one.dw, two.dw);
    EXPECT_EQ(one.du, two.du);
    EXPECT_EQ(one.dk, two.dk);
    EXPECT_EQ(one.dv, two.dv);
}

TEST(TrainWkv4, RejectsShortTape) {
    ThreadPool pool(1);
    const V4Case c = make_v4(4, 2, 3.0, 1);
    Vec g(c.k.size()), p(2), tape(5);
    EXPECT_THROW(wkv4_backward<double>(4, 2, c.w.data(), c.u.data(), c.k.data(), c.v.data(), c.dy.data(), tape,
                                       p.data(), p.data(), g.data(), g.data(), pool),
                 Error);
}

}  // namespace
}  // namespace rwkv::train
