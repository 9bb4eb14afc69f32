// elementwise.h with AVX2/FMA: 8 lanes of exp8, the last partial vector through a masked load and store.
#include <immintrin.h>

#include <cstdint>

#include "kernels/exp_avx2.h"

namespace rwkv::kern {

namespace {

template <class F>
void map8(float* x, int64_t n, F f) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, f(_mm256_loadu_ps(x + i)));
    if (i < n) {
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n - i)),
                                                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        _mm256_maskstore_ps(x + i, mask, f(_mm256_maskload_ps(x + i, mask)));
    }
}

}  // namespace

void exp_avx2(float* x, int64_t n) {
    map8(x, n, [](__m256 v) { return exp8(v); });
}

void sigmoid_avx2(float* x, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    map8(x, n, [&](__m256 v) {
        return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), v))));
    });
}

}  // namespace rwkv::kern
