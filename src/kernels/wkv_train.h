#pragma once
// The WKV recurrences for training: forward passes that keep what the backward pass needs, and the hand-derived
// backward passes. Templated on the scalar so the same code runs in fp32 for training and in fp64 for the
// finite-difference gradient checks. One sequence per call, starting from the zero state; activations are
// row-major [T, C] with C = H·N. Gradients are written (not accumulated), except the per-channel parameters of
// v4 (dw, du), which are summed over the tokens into the caller's buffers.
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"

namespace rwkv::train {

// RWKV-7, per head with S [N(value), N(key)] starting at zero:
//   S_t = S_{t-1}·diag(w_t) + (S_{t-1}·a_t)·b_tᵀ + v_t·k_tᵀ,   y_t = S_t·r_t
// (the model passes a = −kk and b = kk⊙a; w is the multiplicative decay in (0, 1)).
// The forward keeps S after every `every`-th token in `tape` (H·N·N·ceil(T/every) values), so memory stays
// bounded; the backward recomputes the states inside each stretch from its checkpoint. Heads run in
// parallel on `pool`.
template <class F>
void wkv7_forward(int64_t T, int64_t H, int64_t N, const F* r, const F* w, const F* k, const F* v, const F* a,
                  const F* b, F* y, std::vector<F>& tape, int64_t every, ThreadPool& pool);

template <class F>
void wkv7_backward(int64_t T, int64_t H, int64_t N, const F* r, const F* w, const F* k, const F* v, const F* a,
                   const F* b, const F* dy, const std::vector<F>& tape, int64_t every, F* dr, F* dw, F* dk, F* dv,
                   F* da, F* db, ThreadPool& pool);

// RWKV-4, per channel, from the zero state (the engine's wkv4 with aa = bb = 0, pp = −1e30):
//   y_t = (Σ_{i<t} e^{(t−1−i)·w + k_i} v_i + e^{u + k_t} v_t) / (Σ_{i<t} e^{(t−1−i)·w + k_i} + e^{u + k_t})
// with w = −exp(time_decay) < 0 (log-space decay) and u = time_first, computed with the running maximum
// so that exp() never overflows. The forward keeps the running (aa, bb, pp) of every token in `tape`
// (3·T·C values). Channels run in parallel on `pool`. dw and du are [C] and accumulated (+=).
template <class F>
void wkv4_forward(int64_t T, int64_t C, const F* w, const F* u, const F* k, const F* v, F* y, std::vector<F>& tape,
                  ThreadPool& pool);

template <class F>
void wkv4_backward(int64_t T, int64_t C, const F* w, const F* u, const F* k, const F* v, const F* dy,
                   const std::vector<F>& tape, F* dw, F* du, F* dk, F* dv, ThreadPool& pool);

}  // namespace rwkv::train
