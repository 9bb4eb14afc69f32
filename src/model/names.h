#pragma once
#include "rwkv/tensor.h"

namespace rwkv {

// Renames the tensors of a Hugging Face transformers conversion (rwkv.embeddings.weight,
// rwkv.blocks.N.attention.time_mix_key, …) to the official checkpoint names the model binders use.
// The conversion only renames and reshapes, so the values need no change. Official names pass through.
void normalize_tensor_names(TensorFile& file);

}  // namespace rwkv
