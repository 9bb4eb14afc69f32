#pragma once
// Checks the .pth and safetensors writers share before a tensor reaches the file.
#include <string>

#include "rwkv/tensor.h"

namespace rwkv {

// rwkv::Error naming `path` and `name` unless t's shape is valid (non-negative, no overflow) and matches
// the number of values it holds.
void check_tensor_for_writing(const std::string& path, const std::string& name, const Tensor& t);

}  // namespace rwkv
