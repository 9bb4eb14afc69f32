#pragma once
#include <cstdint>

namespace rwkv {

// y = (x - mean) / sqrt(var + eps) * weight + bias over n elements (biased variance, as PyTorch).
void layer_norm(const float* x, float* y, const float* weight, const float* bias, int64_t n, float eps);

// GroupNorm of one token's n = groups * group_size channels: each group normalised on its own,
// then the per-channel affine.
void group_norm(const float* x, float* y, const float* weight, const float* bias, int64_t groups, int64_t group_size,
                float eps);

}  // namespace rwkv
