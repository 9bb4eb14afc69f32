#pragma once
// Internal to the kernels: the per-head WKV kernels the threaded entry points of wkv.h split work into.
// Arguments point at the head's first element; activations advance by C per token, the state is [N, N].
#include <cstdint>

namespace rwkv::kern {

void wkv7_head_scalar(int64_t T, int64_t C, int64_t N, const float* r, const float* w, const float* k,
                      const float* v, const float* kk, const float* a, float* s, float* y);
// Only call when the CPU has AVX2 and FMA.
void wkv7_head_avx2(int64_t T, int64_t C, int64_t N, const float* r, const float* w, const float* k, const float* v,
                    const float* kk, const float* a, float* s, float* y);

}  // namespace rwkv::kern
