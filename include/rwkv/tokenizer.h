#pragma once
// Text <-> token ids. Tokenizer files travel with the model: a World vocab (.txt), a Hugging Face
// tokenizer.json (GPT-NeoX byte-level BPE), or "bytes" (token id = byte value).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rwkv {

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    virtual std::vector<int32_t> encode(std::string_view text) const = 0;
    // The raw bytes of the tokens, concatenated; may be invalid UTF-8 (a token can end mid-character).
    // Throws rwkv::Error for an id the vocabulary does not have.
    virtual std::string decode_bytes(const std::vector<int32_t>& ids) const = 0;
    // Number of ids the tokenizer can produce or decode (largest id + 1).
    virtual size_t vocab_size() const = 0;
    // "world", "neox" or "bytes".
    virtual std::string kind() const = 0;
    // The end-of-text id (0 for World and bytes-level RWKV models, "<|endoftext|>" for NeoX).
    virtual int32_t eos_id() const = 0;

    // decode_bytes with every invalid UTF-8 sequence replaced by U+FFFD.
    std::string decode(const std::vector<int32_t>& ids) const;
};

// "bytes" gives the byte tokenizer; a path ending in .json a NeoX BPE; anything else a World vocab.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& spec);

// The tokenizer for a model: `explicit_spec` when not empty, else a known tokenizer file in the
// model's directory (rwkv_vocab_v20230424.txt, tokenizer.json, 20B_tokenizer.json), else throws an
// rwkv::Error saying what to pass.
std::unique_ptr<Tokenizer> find_tokenizer(const std::string& model_path, const std::string& explicit_spec);

// rwkv::Error unless `tok` can decode every id a model with `n_vocab` outputs can produce: a truncated
// vocabulary, or one made for another model, is refused when it is loaded rather than at the first token it
// cannot decode.
void check_covers(const Tokenizer& tok, int64_t n_vocab);

// Length of the longest prefix of `s` that does not end inside an incomplete UTF-8 sequence;
// streaming output prints that much and keeps the rest for the next token.
size_t utf8_complete_prefix(std::string_view s);

// `s` with each invalid UTF-8 sequence replaced by U+FFFD.
std::string utf8_sanitize(std::string_view s);

}  // namespace rwkv
