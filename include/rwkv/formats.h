#pragma once
// Readers for the model file formats people already have. Each throws rwkv::Error with a message
// naming the file and the offending field on truncated, corrupted or hostile input.
#include <string>
#include <utility>
#include <vector>

#include "rwkv/tensor.h"

namespace rwkv {

// PyTorch torch.save zip archive; the pickle is read by a restricted unpickler that only accepts
// what a tensor state dict needs and rejects every other global.
TensorFile load_pth(const std::string& path);

// Hugging Face safetensors.
TensorFile load_safetensors(const std::string& path);

// rwkv.cpp .bin (magic 0x67676d66): tensors keep the names and the transformed values rwkv.cpp's
// converter wrote; shapes are given back in PyTorch order. metadata: "file_version", "n_vocab",
// "n_embed", "n_layer", "data_type".
TensorFile load_rwkvcpp(const std::string& path);

// GGUF: tensors are left in the file mapping (Tensor::raw) in their stored types. A file written by
// llama.cpp's converter (RWKV-6/7 names) is renamed and re-laid-out to the official checkpoint form,
// which needs its values as fp32. Scalar metadata is copied as text into TensorFile::metadata.
TensorFile load_gguf_in_place(const std::string& path);

// Picks the reader from the file's leading bytes (zip, rwkv.cpp magic, safetensors header).
TensorFile load_tensor_file(const std::string& path);

}  // namespace rwkv

namespace rwkv {

// Writes a flat name -> tensor state dict as torch.save does (zip archive, protocol-2 pickle of an
// OrderedDict of _rebuild_tensor_v2 over storages), so PyTorch and the official code load it.
// `storage` is F32, F16 or BF16. Written atomically.
void save_pth(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors, DType storage);

// Writes a safetensors file (F32, F16 or BF16 storage). Written atomically.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      DType storage);

}  // namespace rwkv
