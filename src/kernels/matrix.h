#pragma once
// A weight matrix W [rows = out, cols = in] and its products, y = W·x. Every projection of every
// generation goes through this one type. The weights stay in their stored type (f32, f16, bf16 or
// a quantized block format), either owned or lying in a file mapping, so that generation reads
// each weight once per token in its compact form.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/huge_arena.h"
#include "core/thread_pool.h"
#include "kernels/dot.h"
#include "rwkv/tensor.h"

namespace rwkv {

class Matrix {
public:
    Matrix() = default;
    // Owned fp32 weights, row-major [rows, cols] (PyTorch Linear layout).
    Matrix(int64_t rows, int64_t cols, std::vector<float> data);
    // Weights of `type` stored row-major at `data` (each row dtype_row_bytes(type, cols) bytes),
    // valid while `keep_alive` lives.
    Matrix(int64_t rows, int64_t cols, DType type, const void* data, std::shared_ptr<const void> keep_alive);

    int64_t rows() const { return rows_; }
    int64_t cols() const { return cols_; }
    bool empty() const { return rows_ == 0; }
    DType type() const { return type_; }
    size_t row_bytes() const { return row_bytes_; }
    size_t bytes() const { return row_bytes_ * static_cast<size_t>(rows_); }
    // The weights: rows one after another, or eight-row groups where layout() is RowLayout::rows8.
    const uint8_t* data() const { return data_; }
    RowLayout layout() const { return layout_; }

    // This matrix with its rows in the eight-row layout (kernels/rows8.h: q4_0 and q8_0, which generation reads
    // faster so), copied into memory from `arena`; done_with(p, n) is called on each piece of the stored rows once
    // it is copied (the loader drops those pages, so the peak memory holds one piece twice, not the matrix). The
    // same matrix where its type has no such layout.
    Matrix with_rows8(HugeArena& arena, const std::function<void(const uint8_t*, size_t)>& done_with = {}) const;

    // The row's weights as fp32.
    void row_to_float(int64_t r, float* out) const;

    // y[rows] = W · x[cols]; `scratch`, where given, holds the quantized input between calls.
    void matvec(const float* x, float* y, ThreadPool& pool, MatvecScratch* scratch = nullptr) const;
    // Y[T, rows] = X[T, cols] · Wᵀ: the sequence-mode product, every token against each row once.
    void matmul(const float* x, int64_t T, float* y, ThreadPool& pool, MatvecScratch* scratch = nullptr) const;

private:
    int64_t rows_ = 0, cols_ = 0;
    DType type_ = DType::F32;
    size_t row_bytes_ = 0;
    RowLayout layout_ = RowLayout::plain;
    const uint8_t* data_ = nullptr;
    std::shared_ptr<const void> keep_alive_;
};

// One product of a batch: y[T, w.rows()] = x[T, w.cols()] · wᵀ.
struct Product {
    const Matrix* w;
    const float* x;
    float* y;
};

// Independent products of the same T tokens. For one token they run as one parallel loop (rwkv::matvec_batch),
// which is how generation avoids a pool wake-up per small matrix; for more, one matmul each.
void multiply_all(const std::vector<Product>& products, int64_t T, ThreadPool& pool, MatvecScratch* scratch = nullptr);

}  // namespace rwkv
