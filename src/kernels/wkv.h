#pragma once
// The WKV recurrences: the only part of RWKV that walks the time axis. Each takes T tokens of
// projected activations, row-major [T, C], advances the state in place and writes y [T, C].
#include <cstdint>
#include <functional>
#include <span>

#include "core/thread_pool.h"
#include "kernels/cpu_features.h"

namespace rwkv {

// Several sequences' rows run as one step: rows [row, row + T) of the activations are one sequence's tokens,
// in order, and `s` its state for the layer (as the single-sequence form below takes it).
struct WkvSpan {
    int64_t row = 0, T = 0;
    float* s = nullptr;
};

// v4: per channel, with the running maximum pp that keeps exp() in range.
// w = -exp(time_decay) (log-space decay), u = time_first.
void wkv4_reference(int64_t T, int64_t C, const float* w, const float* u, const float* k, const float* v, float* aa,
                    float* bb, float* pp, float* y);
// The same, channels split across the pool, 8 channels at a time with AVX2/FMA where `isa` allows (a vector
// exp within 2 ulp of std::exp on the arguments, all <= 0, that the running maximum leaves). The state s is
// aa, bb and pp, C each, back to back (State's layout).
void wkv4(int64_t T, int64_t C, const float* w, const float* u, const float* k, const float* v, float* s, float* y,
          ThreadPool& pool, Isa isa = default_isa());
// Each span's rows from its own state, (span, run of 8 channels) pairs split across the pool.
void wkv4(std::span<const WkvSpan> spans, int64_t C, const float* w, const float* u, const float* k, const float* v,
          float* y, ThreadPool& pool, Isa isa = default_isa());

// v5/v6: H heads of size N, state s [H, N(key), N(value)]:
//   y_j = Σ_i r_i (u_i k_i v_j + s_ij);  s_ij = k_i v_j + w_i s_ij.
// w is the multiplicative decay exp(-exp(.)); w_row_stride is C for v6 (per token), 0 for v5.
void wkv5_reference(int64_t T, int64_t H, int64_t N, const float* r, const float* k, const float* v, const float* w,
                    int64_t w_row_stride, const float* u, float* s, float* y);
// The same, heads split across the pool, 8 value columns at a time with AVX2 where `isa` allows; bit-identical
// to the reference on every path (the same products and sums in the same order, none fused).
void wkv5(int64_t T, int64_t H, int64_t N, const float* r, const float* k, const float* v, const float* w,
          int64_t w_row_stride, const float* u, float* s, float* y, ThreadPool& pool, Isa isa = default_isa());
// Each span's rows from its own state, (span, head) pairs split across the pool.
void wkv5(std::span<const WkvSpan> spans, int64_t H, int64_t N, const float* r, const float* k, const float* v,
          const float* w, int64_t w_row_stride, const float* u, float* y, ThreadPool& pool, Isa isa = default_isa());

// v7 (generalised delta rule): state s [H, N(value), N(key)]:
//   sa_i = Σ_j s_ij (−kk_j);  s_ij = s_ij w_j + sa_i kk_j a_j + v_i k_j;  y_i = Σ_j s_ij r_j.
void wkv7_reference(int64_t T, int64_t H, int64_t N, const float* r, const float* w, const float* k, const float* v,
                    const float* kk, const float* a, float* s, float* y);
// The same, heads split across the pool, AVX2/FMA where `isa` allows (the per-row sums in 8 lanes, so the
// results differ from the reference by rounding only).
void wkv7(int64_t T, int64_t H, int64_t N, const float* r, const float* w, const float* k, const float* v,
          const float* kk, const float* a, float* s, float* y, ThreadPool& pool, Isa isa = default_isa());
// Each span's rows from its own state, with a model's own per-head work on either side of each head's
// recurrence in the same parallel loop: before(span, h) and after(span, h) run on the thread that runs head h of
// that span, just before and just after it. A token step then has one parallel loop where it had the
// recurrence's alone between two stretches of serial work.
using HeadWork = std::function<void(const WkvSpan&, int64_t head)>;
void wkv7(std::span<const WkvSpan> spans, int64_t H, int64_t N, const float* r, const float* w, const float* k,
          const float* v, const float* kk, const float* a, float* y, ThreadPool& pool, const HeadWork& before,
          const HeadWork& after, Isa isa = default_isa());

}  // namespace rwkv
