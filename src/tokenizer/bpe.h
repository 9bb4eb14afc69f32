#pragma once
// Byte-pair encoding of one pre-tokenized word: start from one token per byte, then repeatedly
// merge the adjacent pair whose merge rule ranks first (leftmost on ties) until none applies.
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rwkv::tok {

class BpeMerger {
public:
    struct Merge {
        int32_t rank;    // position in the merges list; lower merges first
        int32_t result;  // id of the merged token
    };

    // byte_ids[b]: the token of the single byte b; every byte of the words encoded needs one.
    BpeMerger(const std::array<int32_t, 256>& byte_ids, std::unordered_map<uint64_t, Merge> merges);

    static uint64_t pair_key(int32_t left, int32_t right) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
    }

    // Appends the tokens of `word` to `out`. Thread-safe; remembers recent words, since natural
    // text repeats them constantly and merging is the expensive part.
    void encode(std::string_view word, std::vector<int32_t>& out) const;

private:
    void merge_word(std::string_view word, std::vector<int32_t>& out) const;

    std::array<int32_t, 256> byte_ids_;
    std::unordered_map<uint64_t, Merge> merges_;

    mutable std::mutex cache_mutex_;
    mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace rwkv::tok
