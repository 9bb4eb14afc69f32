#pragma once
// Tensors as read from a model file, before they are bound to a model.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rwkv {

// Element types a file can hold. Quantized types are ggml's block formats (32 weights a block;
// the k-quants Q4_K and Q6_K 256).
enum class DType : uint8_t { F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q6_K };

const char* dtype_name(DType t);

// A tensor read from a file. Either its values are held as fp32 in `data` (f16/bf16 widen exactly,
// quantized blocks are dequantized; `source` records what the file stored), or — for formats read
// in place, such as GGUF — `raw` points at the stored bytes of type `source` inside a mapping that
// `storage` keeps alive, and `data` is empty: large weights are then used where they lie, not copied.
struct Tensor {
    std::vector<int64_t> shape;  // PyTorch order: outermost dimension first
    DType source = DType::F32;
    std::vector<float> data;     // row-major, product(shape) elements (empty when raw is set)
    const void* raw = nullptr;
    size_t raw_bytes = 0;
    std::shared_ptr<const void> storage;

    bool in_place() const { return raw != nullptr; }
    // The values as fp32, whichever way they are held.
    std::vector<float> to_float() const;
    // Element i (row-major, 0 <= i < numel()) as fp32, whichever way it is held: a quantized one is decoded
    // from its block alone.
    float element(int64_t i) const;

    int64_t numel() const;
    std::string shape_string() const;  // "[512, 128]"
};

// Everything a model file holds: its tensors by name, plus facts about the container.
struct TensorFile {
    std::string path;
    std::string format;  // "pth", "safetensors", "rwkvcpp"
    std::map<std::string, Tensor> tensors;
    std::map<std::string, std::string> metadata;  // format-specific (e.g. rwkv.cpp header fields)

    bool has(const std::string& name) const { return tensors.count(name) != 0; }
    // Throws rwkv::Error naming the file and the tensor when absent.
    const Tensor& get(const std::string& name) const;
};

}  // namespace rwkv
