#pragma once
// What -m names, as one TensorFile: a file of any format (formats/), a Hugging Face sharded safetensors index
// (model.safetensors.index.json, its shards beside it), or a directory holding one of those, as a Hugging Face
// download is.
#include <string>

#include "rwkv/tensor.h"

namespace rwkv {

TensorFile load_model_files(const std::string& path);
// The same in the official checkpoint layout: Hugging Face (transformers RWKV-4/5/6, fla-hub and transformers-rwkv
// RWKV-7) names and shapes made the official ones. What Model::load, convert and train --init read.
TensorFile load_official_layout(const std::string& path);

}  // namespace rwkv
