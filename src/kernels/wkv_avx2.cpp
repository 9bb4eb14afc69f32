// The v7 recurrence for one head with AVX2/FMA, built with -mavx2 -mfma and entered only on a CPU that has
// them (wkv.cpp dispatches). The two reductions per state row (s·(−kk) and s·r) are what keep the plain loop
// scalar: without reassociation the compiler cannot vectorise them, so here they run in 8-lane partial sums.
#include <immintrin.h>

#include <cstdint>

#include "kernels/wkv_head.h"

namespace rwkv::kern {

namespace {

float hsum(__m256 v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

}  // namespace

void wkv7_head_avx2(int64_t T, int64_t C, int64_t N, const float* r, const float* w, const float* k, const float* v,
                    const float* kk, const float* a, float* s, float* y) {
    const int64_t nv = N - N % 8;
    for (int64_t t = 0; t < T; ++t) {
        const int64_t o = t * C;
        for (int64_t i = 0; i < N; ++i) {
            float* si = s + i * N;
            __m256 acc = _mm256_setzero_ps();
            int64_t j = 0;
            for (; j < nv; j += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(si + j), _mm256_loadu_ps(kk + o + j), acc);
            float sa = -hsum(acc);
            for (; j < N; ++j) sa -= si[j] * kk[o + j];
            const float vi = v[o + i];
            const __m256 sav = _mm256_set1_ps(sa), viv = _mm256_set1_ps(vi);
            __m256 yacc = _mm256_setzero_ps();
            for (j = 0; j < nv; j += 8) {
                const __m256 b = _mm256_mul_ps(_mm256_loadu_ps(kk + o + j), _mm256_loadu_ps(a + o + j));
                __m256 sj = _mm256_mul_ps(_mm256_loadu_ps(si + j), _mm256_loadu_ps(w + o + j));
                sj = _mm256_fmadd_ps(sav, b, sj);
                sj = _mm256_fmadd_ps(viv, _mm256_loadu_ps(k + o + j), sj);
                _mm256_storeu_ps(si + j, sj);
                yacc = _mm256_fmadd_ps(sj, _mm256_loadu_ps(r + o + j), yacc);
            }
            float yi = hsum(yacc);
            for (; j < N; ++j) {
                si[j] = si[j] * w[o + j] + sa * kk[o + j] * a[o + j] + vi * k[o + j];
                yi += si[j] * r[o + j];
            }
            y[o + i] = yi;
        }
    }
}

}  // namespace rwkv::kern
