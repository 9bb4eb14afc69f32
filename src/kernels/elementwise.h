#pragma once
// Element-wise transcendental functions over arrays. Generation evaluates thousands of exp() per layer (RWKV-7
// decays and gates) between the matrix products, on one thread while the others wait; libm's scalar expf made
// that a visible share of a small model's token time. Vectorised where `isa` allows, within 2 ulp of std::exp
// (details at exp8 in exp_avx2.h); scalar otherwise, std::exp itself.
#include <cstdint>

#include "kernels/cpu_features.h"

namespace rwkv {

// x[i] = exp(x[i])
void exp_inplace(float* x, int64_t n, Isa isa = default_isa());

// x[i] = 1 / (1 + exp(-x[i]))
void sigmoid_inplace(float* x, int64_t n, Isa isa = default_isa());

}  // namespace rwkv
