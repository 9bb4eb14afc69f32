// RWKV-7 WKV for training: forward with sparse state checkpoints, backward by recomputing each stretch.
//
// Per head, with M = S_{t-1} and S [N(value) i, N(key) j]:
//   S_t = M·diag(w) + (M·a)·bᵀ + v·kᵀ,   y = S_t·r.
// Backward at t, with G = dL/dS_t gathered from the later tokens:
//   G += dy·rᵀ;  dr = S_tᵀ·dy;  dv = G·k;  dk = Gᵀ·v;  dw_j = Σ_i G_ij M_ij;
//   q = G·b;  da = Mᵀ·q;  db = Gᵀ·(M·a);  and dL/dM = G·diag(w) + q·aᵀ becomes G for t−1.
// Every loop runs along a row (the contiguous key axis), so a head is a sequence of short vector loops.
//
// Tape layout: [ceil(T/every), H, N, N], block c is the state at the end of stretch c (tokens
// [c·every, min((c+1)·every, T))). Block c−1 is where stretch c restarts; the last block is the final state,
// laid out as the engine's v7 state.
#include <algorithm>
#include <cstring>
#include <string>

#include "rwkv/error.h"
#include "kernels/wkv_train.h"

namespace rwkv::train {
namespace {

// Eight independent partial sums: the compiler may keep them in vector lanes without reassociating a
// single chain of additions (which it only does under -ffast-math).
template <class F>
inline F dot(const F* __restrict x, const F* __restrict y, int64_t n) {
    F acc[8] = {};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; ++l) acc[l] += x[j + l] * y[j + l];
    F s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; j < n; ++j) s += x[j] * y[j];
    return s;
}

// One token of one head, src -> dst (distinct buffers); y = dst·r unless y is null. The forward and the
// backward's recomputation both go through here, so the recomputed states are the forward's states.
template <class F>
void step(int64_t N, const F* __restrict src, F* __restrict dst, const F* r, const F* __restrict w,
          const F* __restrict k, const F* v, const F* __restrict a, const F* __restrict b, F* y) {
    for (int64_t i = 0; i < N; ++i) {
        const F* __restrict m = src + i * N;
        F* __restrict s = dst + i * N;
        const F sa = dot(m, a, N), vi = v[i];
        for (int64_t j = 0; j < N; ++j) s[j] = m[j] * w[j] + sa * b[j] + vi * k[j];
        if (y) y[i] = dot(s, r, N);
    }
}

// Per-token gradients of one head, gathered in scratch (so the row loops see no possible aliasing) and then
// copied to the caller's [T, C] rows.
template <class F>
struct HeadGrads {
    F* dr;
    F* dw;
    F* dk;
    F* dv;
    F* da;
    F* db;
};

// One token of one head backwards: on entry G = dL/dS_t (without this token's dy), on exit G = dL/dS_{t-1}.
template <class F>
void step_back(int64_t N, const F* __restrict M, const F* __restrict S, const F* __restrict r,
               const F* __restrict w, const F* __restrict k, const F* __restrict v, const F* __restrict a,
               const F* __restrict b, const F* __restrict dy, F* __restrict G, const HeadGrads<F>& out) {
    F* __restrict dr = out.dr;
    F* __restrict dw = out.dw;
    F* __restrict dk = out.dk;
    F* __restrict dv = out.dv;
    F* __restrict da = out.da;
    F* __restrict db = out.db;
    std::fill(dr, dr + N, F(0));
    std::fill(dw, dw + N, F(0));
    std::fill(dk, dk + N, F(0));
    std::fill(da, da + N, F(0));
    std::fill(db, db + N, F(0));
    for (int64_t i = 0; i < N; ++i) {
        F* __restrict g = G + i * N;
        const F* __restrict m = M + i * N;
        const F* __restrict s = S + i * N;
        const F dyi = dy[i], vi = v[i];
        for (int64_t j = 0; j < N; ++j) g[j] += dyi * r[j];
        dv[i] = dot(g, k, N);
        const F q = dot(g, b, N), sa = dot(m, a, N);
        for (int64_t j = 0; j < N; ++j) {
            const F gj = g[j];
            dr[j] += dyi * s[j];
            dk[j] += vi * gj;
            dw[j] += gj * m[j];
            da[j] += q * m[j];
            db[j] += sa * gj;
            g[j] = gj * w[j] + q * a[j];
        }
    }
}

void check_every(int64_t every) {
    if (every < 1) throw Error("wkv7: checkpoint interval must be at least 1, got " + std::to_string(every));
}

}  // namespace

template <class F>
void wkv7_forward(int64_t T, int64_t H, int64_t N, const F* r, const F* w, const F* k, const F* v, const F* a,
                  const F* b, F* y, std::vector<F>& tape, int64_t every, ThreadPool& pool) {
    check_every(every);
    const int64_t C = H * N, NN = N * N, stretches = (T + every - 1) / every;
    tape.resize(static_cast<size_t>(stretches * H * NN));
    if (T == 0 || H == 0) return;
    F* tp = tape.data();
    pool.parallel_for(static_cast<size_t>(H), [&](size_t h0, size_t h1) {
        std::vector<F> buf(static_cast<size_t>(2 * NN));
        for (int64_t h = static_cast<int64_t>(h0); h < static_cast<int64_t>(h1); ++h) {
            // Two state buffers in turn: step() reads one and writes the other.
            F* cur = buf.data();
            F* nxt = cur + NN;
            std::fill(cur, cur + NN, F(0));
            for (int64_t t = 0; t < T; ++t) {
                const int64_t o = t * C + h * N;
                step(N, cur, nxt, r + o, w + o, k + o, v + o, a + o, b + o, y + o);
                std::swap(cur, nxt);
                if ((t + 1) % every == 0 || t + 1 == T)
                    std::copy(cur, cur + NN, tp + ((t / every) * H + h) * NN);
            }
        }
    });
}

template <class F>
void wkv7_backward(int64_t T, int64_t H, int64_t N, const F* r, const F* w, const F* k, const F* v, const F* a,
                   const F* b, const F* dy, const std::vector<F>& tape, int64_t every, F* dr, F* dw, F* dk, F* dv,
                   F* da, F* db, ThreadPool& pool) {
    check_every(every);
    const int64_t C = H * N, NN = N * N, stretches = (T + every - 1) / every;
    if (static_cast<int64_t>(tape.size()) < stretches * H * NN)
        throw Error("wkv7_backward: the tape holds " + std::to_string(tape.size()) + " values, expected " +
                    std::to_string(stretches * H * NN) + " (forward run with other sizes?)");
    if (T == 0 || H == 0) return;
    const int64_t len = std::min(every, T);
    pool.parallel_for(static_cast<size_t>(H), [&](size_t h0, size_t h1) {
        // The stretch's states, a zero start state, dL/dS, and one token's six gradient rows.
        std::vector<F> work(static_cast<size_t>(len * NN + 2 * NN + 6 * N));
        F* states = work.data();
        F* zero = states + len * NN;
        F* G = zero + NN;
        F* rows = G + NN;
        const HeadGrads<F> g{rows, rows + N, rows + 2 * N, rows + 3 * N, rows + 4 * N, rows + 5 * N};
        for (int64_t h = static_cast<int64_t>(h0); h < static_cast<int64_t>(h1); ++h) {
            std::fill(zero, zero + NN, F(0));
            std::fill(G, G + NN, F(0));
            for (int64_t c = stretches - 1; c >= 0; --c) {
                const int64_t t0 = c * every, t1 = std::min(t0 + every, T);
                const F* start = c == 0 ? zero : tape.data() + ((c - 1) * H + h) * NN;
                const F* prev = start;
                for (int64_t t = t0; t < t1; ++t) {
                    const int64_t o = t * C + h * N;
                    F* dst = states + (t - t0) * NN;
                    step(N, prev, dst, r + o, w + o, k + o, v + o, a + o, b + o, static_cast<F*>(nullptr));
                    prev = dst;
                }
                for (int64_t t = t1 - 1; t >= t0; --t) {
                    const int64_t o = t * C + h * N;
                    const F* S = states + (t - t0) * NN;
                    const F* M = t == t0 ? start : S - NN;
                    step_back(N, M, S, r + o, w + o, k + o, v + o, a + o, b + o, dy + o, G, g);
                    std::copy(g.dr, g.dr + N, dr + o);
                    std::copy(g.dw, g.dw + N, dw + o);
                    std::copy(g.dk, g.dk + N, dk + o);
                    std::copy(g.dv, g.dv + N, dv + o);
                    std::copy(g.da, g.da + N, da + o);
                    std::copy(g.db, g.db + N, db + o);
                }
            }
        }
    });
}

#define RWKV_WKV7_INSTANTIATE(F)                                                                                  \
    template void wkv7_forward<F>(int64_t, int64_t, int64_t, const F*, const F*, const F*, const F*, const F*,   \
                                  const F*, F*, std::vector<F>&, int64_t, ThreadPool&);                           \
    template void wkv7_backward<F>(int64_t, int64_t, int64_t, const F*, const F*, const F*, const F*, const F*,  \
                                   const F*, const F*, const std::vector<F>&, int64_t, F*, F*, F*, F*, F*, F*,    \
                                   ThreadPool&);
RWKV_WKV7_INSTANTIATE(float)
RWKV_WKV7_INSTANTIATE(double)
#undef RWKV_WKV7_INSTANTIATE

}  // namespace rwkv::train
