#pragma once
// General fp32 matrix–matrix product for training, where both operands are activations or gradients
// and either may be transposed:
//   C[M, N] = alpha · op(A)[M, K] · op(B)[K, N] + beta · C
// All matrices row-major with leading dimensions (elements between consecutive rows as stored).
// op(A) = A (A stored [M, K]) or Aᵀ (A stored [K, M]); likewise B ([K, N] or [N, K]).
// The three products of a linear layer Y = X·Wᵀ are
//   forward  Y  = X · Wᵀ        sgemm(false, true,  T, out, in, ...)
//   input    dX += dY · W       sgemm(false, false, T, in, out, ..., beta = 1)
//   weight   dW += dYᵀ · X      sgemm(true,  false, out, in, T, ..., beta = 1)
#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/cpu_features.h"

namespace rwkv {

// beta == 0 overwrites C without reading it (C may hold NaN). M, N or K of 0 is allowed (K == 0 scales C by beta).
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, ThreadPool& pool, Isa isa = default_isa());

// The plain triple loop (accumulating in double) the fast kernel is tested against.
void sgemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace rwkv
