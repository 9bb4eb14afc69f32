#pragma once
// Writes a model as the project's own GGUF: official tensor names and layouts, each tensor in its
// chosen storage type, produced a slice at a time so models larger than memory can be written.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/architecture.h"
#include "rwkv/gguf.h"
#include "rwkv/model.h"
#include "rwkv/tensor.h"

namespace rwkv {

struct OutputTensor {
    std::string name;
    std::vector<int64_t> shape;  // PyTorch order
    DType type = DType::F32;     // stored type
    // Fills rows [row_begin, row_begin + rows) (a row = the last axis) as fp32.
    std::function<void(int64_t row_begin, int64_t rows, float* out)> rows;
};

struct OutputModel {
    int version = 0;                 // generation, recorded as rwkv.version
    std::string layout = "official"; // rwkv.layout: how the tensors' values were transformed
    std::string name;                // general.name
    std::vector<OutputTensor> tensors;
    std::vector<std::pair<std::string, GgufValue>> metadata;  // written after the rwkv.* keys (e.g. a vocabulary)
};

void write_model_gguf(const std::string& path, const OutputModel& model);

// Any model file the engine loads, written as what out_path's name says: GGUF with its projections in `requested`
// (storage_type() decides what stays in higher precision; tensors are widened one at a time, so memory stays near
// the largest tensor), or an official-layout .pth or .safetensors with every tensor in `requested` (f32, f16 or
// bf16). Returns what was detected in the input; throws rwkv::Error for a file that is not a model, a name with
// none of those endings, or a quantized type for .pth/.safetensors.
ModelInfo convert_model_file(const std::string& in_path, const std::string& out_path, DType requested,
                             std::vector<std::pair<std::string, GgufValue>> extra_metadata = {});

// The role of a tensor of an existing file, from its name and shape, for storage_type().
TensorSpec spec_of(const std::string& name, const std::vector<int64_t>& shape);

}  // namespace rwkv
