#include "kernels/matrix.h"

#include "core/quant.h"
#include "kernels/dot.h"
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

// Both products run the dispatched kernels of kernels/dot.h (AVX2 where the CPU has it, else scalar).
// Generation against quantized weights rounds x to 8-bit blocks first, as ggml does (dot.h states the bound);
// sequence mode decodes weight tiles to fp32 and keeps x exact.
void Matrix::matvec(const float* x, float* y, ThreadPool& pool) const {
    rwkv::matvec(type_, data_, rows_, cols_, x, y, pool);
}

void Matrix::matmul(const float* x, int64_t T, float* y, ThreadPool& pool) const {
    // One token is a matrix-vector product: decoding weight panels for a GEMM would only cost time.
    if (T == 1) return matvec(x, y, pool);
    rwkv::matmul(type_, data_, rows_, cols_, x, T, y, pool);
}

void multiply_all(const std::vector<Product>& products, int64_t T, ThreadPool& pool) {
    if (T != 1) {
        for (const Product& p : products) p.w->matmul(p.x, T, p.y, pool);
        return;
    }
    std::vector<MatvecJob> jobs;
    jobs.reserve(products.size());
    for (const Product& p : products)
        jobs.push_back({p.w->type(), p.w->data(), p.w->rows(), p.w->cols(), p.x, p.y});
    matvec_batch(jobs, pool);
}

}  // namespace rwkv
