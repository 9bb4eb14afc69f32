#pragma once
// Everything a byte-level BPE tokenizer needs, as read from a Hugging Face tokenizer.json.
#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/unicode_norm.h"

namespace rwkv::tok {

struct NeoxConfig {
    NormForm normalizer = NormForm::None;
    bool add_prefix_space = false;  // ByteLevel: put a space before text that lacks one
    bool use_regex = true;          // ByteLevel: split with the GPT-2 pattern
    bool ignore_merges = false;     // BPE: a word that is itself a token skips merging

    std::vector<std::string> id_bytes;  // by id: the bytes it decodes to; empty where no token
    std::array<int32_t, 256> byte_ids{};
    std::unordered_map<uint64_t, BpeMerger::Merge> merges;
    std::unordered_map<std::string, int32_t> word_ids;  // raw bytes -> id; filled only for ignore_merges
    std::vector<AddedToken> added_raw;         // matched in the text as given
    std::vector<AddedToken> added_normalized;  // matched after normalization
    int32_t eos_id = -1;
};

// Reads and checks a tokenizer.json; throws rwkv::Error naming the file and the field at fault.
NeoxConfig load_neox_config(const std::string& path);

}  // namespace rwkv::tok
