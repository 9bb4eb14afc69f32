#pragma once
// Internal to the kernels: the per-head (v4: per-channel-run) WKV kernels the threaded entry points of wkv.h split work into.
// Arguments point at the head's first element; activations advance by C per token, the state is [N, N].
#include <cstdint>

namespace rwkv::kern {

// v4 channels [0, n) of rows C wide: w, u, aa, bb, pp per channel; k, v, y advance by C per token.
void wkv4_channels_scalar(int64_t T, int64_t C, int64_t n, const float* w, const float* u, const float* k,
                          const float* v, float* aa, float* bb, float* pp, float* y);
// Only call when the CPU has AVX2 and FMA.
void wkv4_channels_avx2(int64_t T, int64_t C, int64_t n, const float* w, const float* u, const float* k,
                        const float* v, float* aa, float* bb, float* pp, float* y);

// v5/v6, one head: u and the state at the head's own offsets, w advancing by w_row_stride per token.
void wkv5_head_scalar(int64_t T, int64_t C, int64_t N, const float* r, const float* k, const float* v,
                      const float* w, int64_t w_row_stride, const float* u, float* s, float* y);
// Only call when the CPU has AVX2 and FMA.
void wkv5_head_avx2(int64_t T, int64_t C, int64_t N, const float* r, const float* k, const float* v,
                    const float* w, int64_t w_row_stride, const float* u, float* s, float* y);

void wkv7_head_scalar(int64_t T, int64_t C, int64_t N, const float* r, const float* w, const float* k,
                      const float* v, const float* kk, const float* a, float* s, float* y);
// Only call when the CPU has AVX2 and FMA.
void wkv7_head_avx2(int64_t T, int64_t C, int64_t N, const float* r, const float* w, const float* k, const float* v,
                    const float* kk, const float* a, float* s, float* y);

}  // namespace rwkv::kern
