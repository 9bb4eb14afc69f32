#include "kernels/matrix.h"

#include <algorithm>
#include <vector>

#include "core/quant.h"
#include "kernels/rows8.h"
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

Matrix Matrix::with_rows8(HugeArena& arena, const std::function<void(const uint8_t*, size_t)>& done_with) const {
    if (!has_rows8_layout(type_) || layout_ == RowLayout::rows8) return *this;
    HugeArena::Span span = arena.allocate(rows8_bytes(type_, rows_, cols_));
    // A few MiB of groups at a time, each handed to done_with once copied.
    const size_t group_bytes = rows8_bytes(type_, kRowsPerGroup, cols_);
    const int64_t slab = std::max<int64_t>(1, static_cast<int64_t>((size_t{4} << 20) / std::max<size_t>(group_bytes, 1)));
    for (int64_t g = 0; g < rows8_groups(rows_); g += slab) {
        const int64_t r0 = g * kRowsPerGroup, n = std::min(slab * kRowsPerGroup, rows_ - r0);
        const uint8_t* src = data_ + static_cast<size_t>(r0) * row_bytes_;
        interleave_rows8(type_, src, n, cols_, span.data + static_cast<size_t>(g) * group_bytes);
        if (done_with) done_with(src, static_cast<size_t>(n) * row_bytes_);
    }
    Matrix m(rows_, cols_, type_, span.data, std::move(span.keep_alive));
    m.layout_ = RowLayout::rows8;
    return m;
}

void Matrix::row_to_float(int64_t r, float* out) const {
    if (layout_ == RowLayout::plain) return dequantize_row(type_, data_ + r * row_bytes_, out, cols_);
    std::vector<uint8_t> row(row_bytes_);
    gather_row8(type_, data_, cols_, r, 0, cols_ / weight_block_size(type_), row.data());
    dequantize_row(type_, row.data(), out, cols_);
}

// Both products run the dispatched kernels of kernels/dot.h (AVX2 where the CPU has it, else scalar).
// Generation against quantized weights rounds x to 8-bit blocks first, as ggml does (dot.h states the bound);
// sequence mode decodes weight tiles to fp32 and keeps x exact, except for q8_0 and the eight-row layout, which
// round x as generation does (in the eight-row layout the same products, bit for bit).
void Matrix::matvec(const float* x, float* y, ThreadPool& pool, MatvecScratch* scratch) const {
    matvec_batch({{type_, data_, rows_, cols_, x, y, layout_}}, pool, default_isa(), scratch);
}

void Matrix::matmul(const float* x, int64_t T, float* y, ThreadPool& pool, MatvecScratch* scratch) const {
    // One token is a matrix-vector product: decoding weight panels for a GEMM would only cost time.
    if (T == 1) return matvec(x, y, pool, scratch);
    rwkv::matmul(type_, data_, rows_, cols_, x, T, y, pool, default_isa(), layout_);
}

void multiply_all(const std::vector<Product>& products, int64_t T, ThreadPool& pool, MatvecScratch* scratch) {
    if (T != 1) {
        for (const Product& p : products) p.w->matmul(p.x, T, p.y, pool);
        return;
    }
    std::vector<MatvecJob> jobs;
    jobs.reserve(products.size());
    for (const Product& p : products)
        jobs.push_back({p.w->type(), p.w->data(), p.w->rows(), p.w->cols(), p.x, p.y, p.w->layout()});
    matvec_batch(jobs, pool, default_isa(), scratch);
}

}  // namespace rwkv
