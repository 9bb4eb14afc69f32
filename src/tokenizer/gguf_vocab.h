#pragma once
// The World vocabulary in GGUF metadata, as llama.cpp's converter writes it, so the project's converted
// files carry their tokenizer and llama.cpp's RWKV files are read with theirs.
#include <string>
#include <utility>
#include <vector>

#include "rwkv/gguf.h"
#include "rwkv/tokenizer.h"

namespace rwkv::tok {

// tokenizer.ggml.model "rwkv", tokenizer.ggml.tokens (each token as the body of its Python bytes repr; id 0
// "<s>"; ids without a token "[PADn]") and tokenizer.ggml.token_type. Throws rwkv::Error for a non-World
// tokenizer.
std::vector<std::pair<std::string, GgufValue>> world_vocab_gguf_metadata(const Tokenizer& world);

}  // namespace rwkv::tok
