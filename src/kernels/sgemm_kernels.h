#pragma once
// Internal to sgemm: the register-tile kernels that the portable driver (sgemm.cpp) runs on packed panels.
// sgemm_avx2.cpp is built with -mavx2 -mfma and includes this, so it holds declarations and constants only
// (see dot_kernels.h: an inline function compiled there could replace the portable copy at link time).
#include <cstdint>

namespace rwkv::kern {

// One output tile from packed panels of depth kc: a[k * mr + i] holds op(A)[i, k], b[k * nr + j] holds
// op(B)[k, j], both zero past the matrix edge. Writes C[i, j] = alpha · Σ_k a·b + beta · C[i, j] for i < m,
// j < n (m <= mr, n <= nr) and nothing else; beta == 0 does not read C. Every element goes through the same
// arithmetic whether or not its tile is partial, which is what keeps results independent of the thread split.
using SgemmTileFn = void (*)(int64_t kc, const float* a, const float* b, float alpha, float beta, float* c,
                             int64_t ldc, int m, int n);

// 6 rows × 16 columns: 12 ymm accumulators, 2 for B and 1 broadcast of A, 15 of the 16 registers.
inline constexpr int kSgemmAvx2Mr = 6;
inline constexpr int kSgemmAvx2Nr = 16;

// Only call on a CPU with AVX2 and FMA.
void sgemm_tile_avx2(int64_t kc, const float* a, const float* b, float alpha, float beta, float* c, int64_t ldc,
                     int m, int n);

}  // namespace rwkv::kern
