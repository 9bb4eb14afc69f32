// The sgemm register tile with AVX2/FMA. This file alone is built with -mavx2 -mfma and is entered only through
// sgemm.cpp after the CPU check; everything it defines besides sgemm_tile_avx2 has internal linkage and it uses
// no library templates, so no AVX2-compiled copy of shared inline code can reach the portable paths.
#include <immintrin.h>

#include <cstdint>

#include "kernels/sgemm_kernels.h"

namespace rwkv::kern {

void sgemm_tile_avx2(int64_t kc, const float* a, const float* b, float alpha, float beta, float* c, int64_t ldc,
                     int m, int n) {
    constexpr int MR = kSgemmAvx2Mr, NR = kSgemmAvx2Nr;
    const bool full = m == MR && n == NR;
    // Fetch the C rows now (first and last float: a row may straddle two lines) so their misses, for the
    // stores as much as for the loads, overlap the k loop.
    if (full)
        for (int i = 0; i < MR; ++i) {
            _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
        }

    // Every loop over acc is fully unrolled: a runtime index would force the accumulators into memory.
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; ++k) {
        const __m256 b0 = _mm256_loadu_ps(b + k * NR);
        const __m256 b1 = _mm256_loadu_ps(b + k * NR + 8);
        const float* ak = a + k * MR;
#pragma GCC unroll 6
        for (int i = 0; i < MR; ++i) {
            const __m256 av = _mm256_broadcast_ss(ak + i);
            acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
        }
    }

    // A partial tile goes through a full-size buffer so its elements see exactly the arithmetic of a full one.
    float tmp[MR * NR];
    float* dst = c;
    int64_t ld = ldc;
    if (!full) {
        for (int i = 0; i < MR * NR; ++i) tmp[i] = 0.0f;
        if (beta != 0.0f)
            for (int i = 0; i < m; ++i)
                for (int j = 0; j < n; ++j) tmp[i * NR + j] = c[i * ldc + j];
        dst = tmp;
        ld = NR;
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    if (beta == 0.0f) {
#pragma GCC unroll 6
        for (int i = 0; i < MR; ++i) {
            _mm256_storeu_ps(dst + i * ld, _mm256_mul_ps(va, acc[i][0]));
            _mm256_storeu_ps(dst + i * ld + 8, _mm256_mul_ps(va, acc[i][1]));
        }
    } else {
#pragma GCC unroll 6
        for (int i = 0; i < MR; ++i) {
            float* row = dst + i * ld;
            _mm256_storeu_ps(row, _mm256_fmadd_ps(va, acc[i][0], _mm256_mul_ps(vb, _mm256_loadu_ps(row))));
            _mm256_storeu_ps(row + 8, _mm256_fmadd_ps(va, acc[i][1], _mm256_mul_ps(vb, _mm256_loadu_ps(row + 8))));
        }
    }
    if (!full)
        for (int i = 0; i < m; ++i)
            for (int j = 0; j < n; ++j) c[i * ldc + j] = tmp[i * NR + j];
}

}  // namespace rwkv::kern
