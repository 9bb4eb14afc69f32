#pragma once
// exp for 8 floats, for the files built with -mavx2 -mfma only (static: each such file gets its own copy, so
// the linker never merges it into code that runs on a CPU without AVX2).
#include <immintrin.h>

namespace rwkv::kern {

// Within 2 ulp of std::exp on [-87.3, 88.37]: x = n ln2 + r with |r| <= ln2 / 2, exp(r) by Cephes'
// degree-6 polynomial, 2^n into the exponent bits. exp(0) is exactly 1. Below -87.3 (true value under
// FLT_MIN) the result is 0, where std::exp gives a denormal at most 1.2e-38 away; above 88.37 (true value
// over 2.4e38, within a factor 1.4 of FLT_MAX) it is +inf; NaN stays NaN.
static inline __m256 exp8(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.3f), hi = _mm256_set1_ps(88.37f);
    const __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    const __m256 overflow = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
    const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    const __m256 c = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(c, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    // r = x - n ln2 with ln2 split in two so n·ln2_hi is exact.
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), c);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    // n is in [-126, 127] after the clamp, so 2^n is a normal float.
    const __m256i pow2n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 y = _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(pow2n)));
    y = _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_inff()), overflow);
    return _mm256_blendv_ps(y, x, nan);
}

}  // namespace rwkv::kern
