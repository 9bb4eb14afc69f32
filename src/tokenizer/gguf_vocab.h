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
// A model's tokenizer as GGUF metadata: a World vocabulary as above; a byte-level one as "rwkv.tokenizer" =
// "bytes" (its ids are the bytes), so byte models run without --tokenizer. Throws rwkv::Error for a NeoX BPE,
// which GGUF here does not carry.
std::vector<std::pair<std::string, GgufValue>> tokenizer_gguf_metadata(const Tokenizer& tok);
// The key that marks a byte-level model.
inline constexpr const char* kBytesTokenizerKey = "rwkv.tokenizer";

}  // namespace rwkv::tok
