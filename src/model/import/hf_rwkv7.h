#pragma once
// The Hugging Face RWKV-7 layouts, made the official checkpoint layout before detection: fla-hub's
// (RWKV7ForCausalLM: model.layers.N.attn.r_proj.weight, LoRAs as nn.Linear pairs) and transformers-rwkv's
// (RwkvForCausalLM: the official names under "model."). ../shared/testdata/reference/README.md states both.
#include "rwkv/tensor.h"

namespace rwkv {

// Renames (and for fla-hub transposes and reshapes) the tensors of either layout; a file in neither passes
// through. A tensor of the layout that has no official counterpart is an error naming it.
void import_hf_rwkv7(TensorFile& file);

}  // namespace rwkv
