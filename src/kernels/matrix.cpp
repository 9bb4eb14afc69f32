#include "kernels/matrix.h"

#include "core/quant.h"
#include "rwkv/error.h"

namespace rwkv {

Matrix::Matrix(int64_t rows, int64_t cols, std::vector<float> data) {
    if (static_cast<int64_t>(data.size()) != rows * cols) throw Error("Matrix: data size does not match shape");
    auto owned = std::make_shared<std::vector<float>>(std::move(data));
    *this = Matrix(rows, cols, DType::F32, owned->data(), owned);
}

Matrix::Matrix(int64_t rows, int64_t cols, DType type, const void* data, std::shared_ptr<const void> keep_alive)
    : rows_(rows),
      cols_(cols),
      type_(type),
      row_bytes_(dtype_row_bytes(type, cols)),
      data_(static_cast<const uint8_t*>(data)),
      keep_alive_(std::move(keep_alive)) {}

void Matrix::row_to_float(int64_t r, float* out) const { dequantize_row(type_, data_ + r * row_bytes_, out, cols_); }

static float dot(const float* a, const float* b, int64_t n) {
    // Four partial sums: the order official BLAS uses is unknown anyway, and this keeps the plain
    // reference fast enough for tests on real-size models.
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; ++i) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

void Matrix::matvec(const float* x, float* y, ThreadPool& pool) const { matmul(x, 1, y, pool); }

void Matrix::matmul(const float* x, int64_t T, float* y, ThreadPool& pool) const {
    // Rows outermost so each weight row is read (and widened) once per call and reused across all
    // T tokens.
    pool.parallel_for(static_cast<size_t>(rows_), [&](size_t begin, size_t end) {
        std::vector<float> wide(type_ == DType::F32 ? 0 : static_cast<size_t>(cols_));
        for (size_t r = begin; r < end; ++r) {
            const float* w = reinterpret_cast<const float*>(data_ + r * row_bytes_);
            if (type_ != DType::F32) {
                row_to_float(static_cast<int64_t>(r), wide.data());
                w = wide.data();
            }
            for (int64_t t = 0; t < T; ++t) y[t * rows_ + static_cast<int64_t>(r)] = dot(w, x + t * cols_, cols_);
        }
    });
}

}  // namespace rwkv
