#pragma once
// Model states by the tokens that led to them, so that a conversation's next turn resumes where an earlier one
// stopped reading instead of reading its history again. An entry keeps the state after its tokens and the logits
// after the last of them, so a prompt the cache covers whole needs no model call before sampling. Bounded in
// bytes; the least recently used entries go first.
#include <cstdint>
#include <list>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "rwkv/state.h"

namespace rwkv::serve {

class StateCache {
public:
    explicit StateCache(size_t max_bytes) : max_bytes_(max_bytes) {}

    // Keeps the state reached from `origin` (0: the fresh state; else an uploaded state's id) by reading
    // `tokens`, with the logits after the last token. An entry too large for the whole cache is not kept.
    void put(uint64_t origin, std::span<const int32_t> tokens, const State& state, std::span<const float> logits);
    // The longest cached prefix of `tokens` from `origin`: its state and logits copied out and its length returned
    // (0 when there is none, and then state and logits are untouched).
    size_t lookup(uint64_t origin, std::span<const int32_t> tokens, State& state, std::vector<float>& logits);

    struct Stats {
        uint64_t hits = 0, misses = 0;
        size_t bytes = 0, entries = 0;
    };
    Stats stats() const;

private:
    struct Entry {
        uint64_t origin, key;
        std::vector<int32_t> tokens;
        std::vector<float> state, logits;
        size_t bytes() const;
    };
    static uint64_t key_of(uint64_t origin, std::span<const int32_t> tokens);
    void evict_to(size_t limit);

    size_t max_bytes_;
    mutable std::mutex mu_;
    std::list<Entry> lru_;  // most recently used first
    std::unordered_multimap<uint64_t, std::list<Entry>::iterator> index_;
    Stats stats_;
};

}  // namespace rwkv::serve
