#pragma once
#include "rwkv/model.h"
#include "rwkv/tensor.h"

namespace rwkv {

// The generation and sizes of the model a file holds, read from its tensor names and shapes.
// Throws rwkv::Error naming the file when it is not an RWKV model.
ModelInfo detect_model(const TensorFile& file);

}  // namespace rwkv
