#pragma once
#include <cstdint>

namespace rwkv {

// LayerNorm of one row exactly as PyTorch's CPU kernel computed it for bfloat16 tensors before
// PyTorch 2.0 (aten/src/ATen/native/cpu/layer_norm_kernel.cpp with moments_utils.h): a 16-lane
// Welford whose every step is rounded to bf16, mean and rstd kept in bf16, the output rounded once.
//
// Why it exists: the official loader folds ln0 into the embedding with F.layer_norm on the stored
// tensors, so for a bf16 v4/v5/v6 checkpoint the official embedding is this function's output, not
// the fp32 LayerNorm's. The difference (~0.3%) moves logits by ~0.02; emulating it brings the
// reference match back to float rounding. All values are bf16-representable floats.
void legacy_bf16_layer_norm(const float* x, float* y, const float* weight, const float* bias, int64_t n, float eps);

}  // namespace rwkv
