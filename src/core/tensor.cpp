#include "rwkv/tensor.h"

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
