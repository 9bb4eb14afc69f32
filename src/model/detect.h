#pragma once
#include <cstdint>
#include <string>

#include "rwkv/model.h"
#include "rwkv/tensor.h"

namespace rwkv {

// The generation and sizes of the model a file holds, read from its tensor names and shapes.
// Throws rwkv::Error naming the file when it is not an RWKV model.
// Whether any of layers 0..n_layer-1 holds "blocks.L.<suffix>". The choices a model makes once for all its
// layers (its generation, which form a tensor takes) are read from every layer, so that a tensor missing
// from layer 0 is reported as missing rather than read as another choice.
bool any_layer_has(const TensorFile& f, int64_t n_layer, const std::string& suffix);

ModelInfo detect_model(const TensorFile& file);

}  // namespace rwkv
