#include "rwkv/tensor.h"

#include "core/quant.h"
#include "rwkv/error.h"

namespace rwkv {

const char* dtype_name(DType t) {
    switch (t) {
        case DType::F32: return "f32";
        case DType::F16: return "f16";
        case DType::BF16: return "bf16";
        case DType::Q4_0: return "q4_0";
        case DType::Q4_1: return "q4_1";
        case DType::Q5_0: return "q5_0";
        case DType::Q5_1: return "q5_1";
        case DType::Q8_0: return "q8_0";
        case DType::Q4_K: return "q4_k";
        case DType::Q6_K: return "q6_k";
    }
    return "unknown";
}

int64_t Tensor::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::vector<float> Tensor::to_float() const {
    if (!in_place()) return data;
    std::vector<float> out(static_cast<size_t>(numel()));
    const int64_t cols = shape.empty() ? 1 : shape.back();
    const size_t row_bytes = dtype_row_bytes(source, cols);
    if (row_bytes * static_cast<size_t>(cols == 0 ? 0 : numel() / cols) != raw_bytes)
        throw Error("tensor of shape " + shape_string() + " does not match its " + std::to_string(raw_bytes) + " bytes");
    const auto* p = static_cast<const uint8_t*>(raw);
    for (int64_t r = 0; cols > 0 && r < numel() / cols; ++r) dequantize_row(source, p + r * row_bytes, &out[r * cols], cols);
    return out;
}

float Tensor::element(int64_t i) const {
    if (i < 0 || i >= numel()) throw Error("element " + std::to_string(i) + " outside a tensor of shape " + shape_string());
    if (!in_place()) return data[static_cast<size_t>(i)];
    // Rows hold whole blocks, so a block never spans two rows: find i's row, then its block in the row.
    const int64_t cols = shape.empty() ? 1 : shape.back(), block = dtype_block_size(source);
    const int64_t row = i / cols, col = i % cols;
    const auto* p = static_cast<const uint8_t*>(raw) + static_cast<size_t>(row) * dtype_row_bytes(source, cols) +
                    static_cast<size_t>(col / block) * dtype_block_bytes(source);
    float values[256];  // the largest block (the k-quants)
    dequantize_row(source, p, values, block);
    return values[col % block];
}

std::string Tensor::shape_string() const {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

const Tensor& TensorFile::get(const std::string& name) const {
    auto it = tensors.find(name);
    if (it == tensors.end()) throw Error(path + ": tensor '" + name + "' is missing");
    return it->second;
}

}  // namespace rwkv
