#pragma once
// Constructors of the concrete tokenizers; load_tokenizer picks among them.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rwkv/tokenizer.h"

namespace rwkv::tok {

std::unique_ptr<Tokenizer> make_bytes_tokenizer();
// A World vocabulary: lines of `id <python str/bytes literal> <byte length>`.
std::unique_ptr<Tokenizer> load_world_tokenizer(const std::string& path);
// A World vocabulary from (bytes, id) entries, ids from 1; `source` names it in encode/decode errors and
// where(i) names entry i's origin in the errors about that entry.
std::unique_ptr<Tokenizer> make_world_tokenizer(const std::string& source,
                                                std::vector<std::pair<std::string, int32_t>> entries,
                                                const std::function<std::string(size_t)>& where);
// The tokenizer a GGUF model file carries (llama.cpp's "rwkv" World vocabulary), or null when it has
// none. Throws rwkv::Error for a vocabulary it carries but that is malformed or of another kind.
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path);
// A Hugging Face tokenizer.json with a byte-level BPE model (GPT-NeoX, GPT-2 style).
std::unique_ptr<Tokenizer> load_neox_tokenizer(const std::string& path);

}  // namespace rwkv::tok
