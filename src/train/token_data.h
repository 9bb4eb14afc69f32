#pragma once
// Training data: text tokenized once into a binary token file (`rwkv data`), then read by mapping it and
// sampling random windows of ctx_len + 1 tokens (inputs and next-token targets). The last part of the file,
// a stated fraction, is held out for validation and never sampled for training.
//
// Token file: a 64-byte little-endian header — magic "RWKVTOK1", u32 version (1), u32 bytes per token (2 or 4),
// u64 token count, u32 vocab size, char[32] tokenizer kind ("bytes", "world", "neox"; NUL-padded) — followed by
// the tokens. Written atomically.
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/mapped_file.h"

namespace rwkv::train {

struct TokenFileInfo {
    uint64_t n_tokens = 0;
    uint32_t vocab_size = 0;
    uint32_t token_bytes = 0;  // 2 when vocab_size <= 65536, else 4
    std::string tokenizer;     // kind()
};

// Writes `tokens` (each < vocab_size; checked) with the narrowest width that holds vocab_size ids.
void write_token_file(const std::string& path, const std::vector<int32_t>& tokens, uint32_t vocab_size,
                      const std::string& tokenizer_kind);

// A token file mapped for reading. Throws rwkv::Error naming the file and the field on a bad magic, version,
// width, a size that disagrees with the count, or a token >= vocab_size (all checked at open).
class TokenFile {
public:
    explicit TokenFile(const std::string& path);
    const TokenFileInfo& info() const { return info_; }
    uint64_t size() const { return info_.n_tokens; }
    int32_t operator[](uint64_t i) const;
    // tokens [begin, begin + n) into out
    void read(uint64_t begin, uint64_t n, int32_t* out) const;

private:
    MappedFile file_;
    TokenFileInfo info_;
    const uint8_t* tokens_ = nullptr;
};

// The split: training windows start in [0, train_end − (ctx_len + 1)]; validation covers [train_end, size).
// `val_fraction` in [0, 1); train_end = size − floor(size · val_fraction).
class TokenDataset {
public:
    TokenDataset(std::shared_ptr<const TokenFile> file, double val_fraction, int64_t ctx_len);
    int64_t ctx_len() const { return ctx_len_; }
    uint64_t train_tokens() const { return train_end_; }
    uint64_t val_tokens() const;

    // B random training windows of ctx_len + 1 tokens, [B, ctx_len + 1] row-major, drawn from rng.
    // Throws rwkv::Error when the training part is shorter than one window.
    std::vector<int32_t> sample(int64_t B, std::mt19937_64& rng) const;
    // The validation part cut into windows of ctx_len + 1 tokens starting every ctx_len tokens (the first
    // `max_windows` of them when > 0), so each validation token after the first is a target exactly once,
    // in a fixed order. A shorter final remainder (at least 2 tokens) is a last, shorter window.
    std::vector<std::vector<int32_t>> validation_windows(int64_t max_windows = 0) const;

private:
    std::shared_ptr<const TokenFile> file_;
    uint64_t train_end_ = 0;
    int64_t ctx_len_ = 0;
};

}  // namespace rwkv::train
