#pragma once
// Constructors of the concrete tokenizers; load_tokenizer picks among them.
#include <memory>
#include <string>

#include "rwkv/tokenizer.h"

namespace rwkv::tok {

std::unique_ptr<Tokenizer> make_bytes_tokenizer();
// A World vocabulary: lines of `id <python str/bytes literal> <byte length>`.
std::unique_ptr<Tokenizer> load_world_tokenizer(const std::string& path);
// A Hugging Face tokenizer.json with a byte-level BPE model (GPT-NeoX, GPT-2 style).
std::unique_ptr<Tokenizer> load_neox_tokenizer(const std::string& path);

}  // namespace rwkv::tok
