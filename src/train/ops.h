#pragma once
// The building blocks of the training forward and backward passes, each forward beside its hand-derived
// backward. Templated on the scalar: fp32 for training, fp64 for the finite-difference gradient checks.
// Activations are row-major [rows, C]; a batch of B sequences of T tokens is rows = B·T, sequence-major.
// Backward functions accumulate (+=) into parameter gradients and into dx, so several paths can feed one input.
#include <cstdint>

#include "core/thread_pool.h"

namespace rwkv::train {

// C[M, N] = op(A)·op(B) + beta·C: sgemm for fp32 (threaded AVX2), plain loops for fp64.
template <class F>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const F* A, int64_t lda, const F* B,
          int64_t ldb, F beta, F* C, int64_t ldc, ThreadPool& pool);

// A Linear layer W [out, in] (PyTorch layout): y = x·Wᵀ.
template <class F>
void linear_forward(const F* x, int64_t rows, int64_t in, const F* W, int64_t out, F* y, ThreadPool& pool);
// dx += dy·W (skipped when dx is null); dW += dyᵀ·x.
template <class F>
void linear_backward(const F* x, const F* dy, int64_t rows, int64_t in, const F* W, int64_t out, F* dx, F* dW,
                     ThreadPool& pool);

// LayerNorm over each row of C (eps as given); keeps mean and 1/σ per row for the backward.
template <class F>
void layer_norm_forward(const F* x, int64_t rows, int64_t C, const F* w, const F* b, F eps, F* y, F* mean, F* rstd);
template <class F>
void layer_norm_backward(const F* x, const F* dy, int64_t rows, int64_t C, const F* w, const F* mean,
                         const F* rstd, F* dx, F* dw, F* db);

// GroupNorm with G groups of C/G channels per row (per token), the affine weight and bias per channel.
template <class F>
void group_norm_forward(const F* x, int64_t rows, int64_t C, int64_t G, const F* w, const F* b, F eps, F* y, F* mean,
                        F* rstd);
template <class F>
void group_norm_backward(const F* x, const F* dy, int64_t rows, int64_t C, int64_t G, const F* w, const F* mean,
                         const F* rstd, F* dx, F* dw, F* db);

// Token shift within each sequence of T tokens: prev[t] = x[t−1], zero at t = 0.
template <class F>
void token_shift(const F* x, int64_t B, int64_t T, int64_t C, F* prev);
// dx[t−1] += dprev[t] within each sequence.
template <class F>
void token_shift_backward(const F* dprev, int64_t B, int64_t T, int64_t C, F* dx);

// The mix y = x + (prev − x)·mu (mu per channel).
template <class F>
void mix_forward(const F* x, const F* prev, const F* mu, int64_t rows, int64_t C, F* y);
// dx += dy·(1 − mu); dprev += dy·mu; dmu += Σ dy·(prev − x).
template <class F>
void mix_backward(const F* x, const F* prev, const F* mu, const F* dy, int64_t rows, int64_t C, F* dx, F* dprev,
                  F* dmu);

// Mean cross-entropy of logits [rows, V] against targets. Returns the mean loss; writes its gradient scaled by
// `grad_scale` into dlogits when that is not null. With `l2wrap`, as the official trainer, the gradient of each
// row's largest logit gets an extra 1e-4/rows·max (not a gradient of the loss: it pulls logits towards zero).
// Targets out of range throw rwkv::Error.
template <class F>
double cross_entropy(const F* logits, const int32_t* targets, int64_t rows, int64_t V, F* dlogits, F grad_scale,
                     bool l2wrap);

}  // namespace rwkv::train
