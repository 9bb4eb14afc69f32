#include "kernels/elementwise.h"

#include <cmath>

namespace rwkv {

namespace kern {
// elementwise_avx2.cpp; only called when the CPU has AVX2 and FMA.
void exp_avx2(float* x, int64_t n);
void sigmoid_avx2(float* x, int64_t n);
}  // namespace kern

void exp_inplace(float* x, int64_t n, Isa isa) {
#ifdef RWKV_KERNELS_AVX2
    if (clamp_isa(isa) >= Isa::Avx2) return kern::exp_avx2(x, n);
#else
    (void)isa;
#endif
    for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
}

void sigmoid_inplace(float* x, int64_t n, Isa isa) {
#ifdef RWKV_KERNELS_AVX2
    if (clamp_isa(isa) >= Isa::Avx2) return kern::sigmoid_avx2(x, n);
#else
    (void)isa;
#endif
    for (int64_t i = 0; i < n; ++i) x[i] = 1.0f / (1.0f + std::exp(-x[i]));
}

}  // namespace rwkv
