// RWKV-4 WKV for training: the engine's stabilised forward, keeping the running state, and its backward.
//
// The true state before token t is A_t = aa_t·e^{pp_t}, B_t = bb_t·e^{pp_t}; the running maximum pp only
// rescales it. With P = max(pp, u+k), e1 = e^{pp−P}, e2 = e^{u+k−P}, d = e1·bb + e2:
//   y_t = (e1·aa + e2·v) / d,   A_{t+1} = e^w·A_t + e^k·v,   B_{t+1} = e^w·B_t + e^k.
// The backward carries dL/dA_t and dL/dB_t scaled by e^{pp_t}: ga_t = e^{pp_t}·dL/dA_t (same for gb). These
// stay of the order of dy (bb ≥ 1 after the first token, so d ≥ e1), and every factor that links them is an
// exponential of a non-positive number because pp_{t+1} = max(w + pp_t, k_t) ≥ both arguments:
//   ga_t = e^{w+pp_t−pp_{t+1}}·ga_{t+1} + dy·e1/d,    gb_t = e^{w+pp_t−pp_{t+1}}·gb_{t+1} − dy·y·e1/d,
//   dv_t = e^{k−pp_{t+1}}·ga_{t+1} + dy·e2/d,         dk_t = e^{k−pp_{t+1}}·(ga_{t+1}·v + gb_{t+1}) + dy·e2·(v−y)/d,
//   du  += dy·e2·(v−y)/d,                              dw  += e^{w+pp_t−pp_{t+1}}·(ga_{t+1}·aa_t + gb_{t+1}·bb_t).
// So k of ±40 never overflows, in float as in double.
//
// Tape layout: three planes [3][T][C] — aa, bb, pp before each token.
#include <algorithm>
#include <cmath>
#include <string>

#include "rwkv/error.h"
#include "kernels/wkv_train.h"

namespace rwkv::train {
namespace {

// The zero state's running maximum, as in the engine: below any real exponent, so its terms vanish in exp(),
// yet finite in float so that pp − max(...) is never −inf − (−inf).
template <class F>
constexpr F kEmptyMax = F(-1e30);

}  // namespace

template <class F>
void wkv4_forward(int64_t T, int64_t C, const F* w, const F* u, const F* k, const F* v, F* y, std::vector<F>& tape,
                  ThreadPool& pool) {
    tape.resize(static_cast<size_t>(3 * T * C));
    if (T == 0 || C == 0) return;
    F* taa = tape.data();
    F* tbb = taa + T * C;
    F* tpp = tbb + T * C;
    pool.parallel_for(static_cast<size_t>(C), [&](size_t c0, size_t c1) {
        const int64_t n = static_cast<int64_t>(c1 - c0), base = static_cast<int64_t>(c0);
        // The state of this thread's channels, walked token by token so every row access is contiguous.
        std::vector<F> state(static_cast<size_t>(3 * n));
        F* aa = state.data();
        F* bb = aa + n;
        F* pp = bb + n;
        std::fill(aa, aa + 2 * n, F(0));
        std::fill(pp, pp + n, kEmptyMax<F>);
        for (int64_t t = 0; t < T; ++t) {
            const int64_t o = t * C + base;
            for (int64_t c = 0; c < n; ++c) {
                const F kt = k[o + c], vt = v[o + c];
                taa[o + c] = aa[c];
                tbb[o + c] = bb[c];
                tpp[o + c] = pp[c];
                // The same operations as the engine's wkv4, so training sees the inference numbers.
                const F ww = u[base + c] + kt;
                F p = std::max(pp[c], ww);
                F e1 = std::exp(pp[c] - p);
                F e2 = std::exp(ww - p);
                y[o + c] = (e1 * aa[c] + e2 * vt) / (e1 * bb[c] + e2);
                const F wd = w[base + c] + pp[c];
                p = std::max(wd, kt);
                e1 = std::exp(wd - p);
                e2 = std::exp(kt - p);
                aa[c] = e1 * aa[c] + e2 * vt;
                bb[c] = e1 * bb[c] + e2;
                pp[c] = p;
            }
        }
    });
}

template <class F>
void wkv4_backward(int64_t T, int64_t C, const F* w, const F* u, const F* k, const F* v, const F* dy,
                   const std::vector<F>& tape, F* dw, F* du, F* dk, F* dv, ThreadPool& pool) {
    if (static_cast<int64_t>(tape.size()) < 3 * T * C)
        throw Error("wkv4_backward: the tape holds " + std::to_string(tape.size()) + " values, expected " +
                    std::to_string(3 * T * C) + " (forward run with other sizes?)");
    if (T == 0 || C == 0) return;
    const F* taa = tape.data();
    const F* tbb = taa + T * C;
    const F* tpp = tbb + T * C;
    pool.parallel_for(static_cast<size_t>(C), [&](size_t c0, size_t c1) {
        const int64_t n = static_cast<int64_t>(c1 - c0), base = static_cast<int64_t>(c0);
        // ga, gb of the token after the current one (zero after the last), and the summed dw, du.
        std::vector<F> carry(static_cast<size_t>(4 * n), F(0));
        F* ga = carry.data();
        F* gb = ga + n;
        F* sw = gb + n;
        F* su = sw + n;
        for (int64_t t = T - 1; t >= 0; --t) {
            const int64_t o = t * C + base;
            for (int64_t c = 0; c < n; ++c) {
                const F aa = taa[o + c], bb = tbb[o + c], pp = tpp[o + c];
                const F kt = k[o + c], vt = v[o + c], wc = w[base + c], g = dy[o + c];
                // Through the state update into A_{t+1}, B_{t+1}.
                const F wd = wc + pp;
                const F pn = std::max(wd, kt);
                const F ew = std::exp(wd - pn), ek = std::exp(kt - pn);
                F dvt = ek * ga[c];
                F dkt = ek * (ga[c] * vt + gb[c]);
                sw[c] += ew * (ga[c] * aa + gb[c] * bb);
                // Through this token's output.
                const F uk = u[base + c] + kt;
                const F P = std::max(pp, uk);
                const F e1 = std::exp(pp - P), e2 = std::exp(uk - P);
                const F inv_d = F(1) / (e1 * bb + e2);
                const F yt = (e1 * aa + e2 * vt) * inv_d;
                const F gd = g * inv_d;
                const F duk = gd * e2 * (vt - yt);
                dvt += gd * e2;
                dkt += duk;
                su[c] += duk;
                dv[o + c] = dvt;
                dk[o + c] = dkt;
                // Carried to token t−1, rescaled from e^{pp_{t+1}} to e^{pp_t}.
                ga[c] = ew * ga[c] + gd * e1;
                gb[c] = ew * gb[c] - gd * e1 * yt;
            }
        }
        for (int64_t c = 0; c < n; ++c) {
            dw[base + c] += sw[c];
            du[base + c] += su[c];
        }
    });
}

#define RWKV_WKV4_INSTANTIATE(F)                                                                                  \
    template void wkv4_forward<F>(int64_t, int64_t, const F*, const F*, const F*, const F*, F*, std::vector<F>&, \
                                  ThreadPool&);                                                                   \
    template void wkv4_backward<F>(int64_t, int64_t, const F*, const F*, const F*, const F*, const F*,           \
                                   const std::vector<F>&, F*, F*, F*, F*, ThreadPool&);
RWKV_WKV4_INSTANTIATE(float)
RWKV_WKV4_INSTANTIATE(double)
#undef RWKV_WKV4_INSTANTIATE

}  // namespace rwkv::train
