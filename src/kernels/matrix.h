#pragma once
// A weight matrix W [rows = out, cols = in] and its products, y = W·x. Every projection of every
// generation goes through this one type, so faster storage types and kernels slot in behind it.
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"

namespace rwkv {

class Matrix {
public:
    Matrix() = default;
    // `data` is row-major [rows, cols] (PyTorch Linear layout).
    Matrix(int64_t rows, int64_t cols, std::vector<float> data);

    int64_t rows() const { return rows_; }
    int64_t cols() const { return cols_; }
    bool empty() const { return rows_ == 0; }
    const float* row(int64_t r) const { return w_.data() + r * cols_; }

    // y[rows] = W · x[cols]
    void matvec(const float* x, float* y, ThreadPool& pool) const;
    // Y[T, rows] = X[T, cols] · Wᵀ: the sequence-mode product, every token against each row once.
    void matmul(const float* x, int64_t T, float* y, ThreadPool& pool) const;

private:
    int64_t rows_ = 0, cols_ = 0;
    std::vector<float> w_;
};

}  // namespace rwkv
