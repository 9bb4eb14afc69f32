#include "serve/state_cache.h"

#include <algorithm>

namespace rwkv::serve {

namespace {

// FNV-1a over the origin and the tokens, one step per token so that every prefix's key comes out on the way.
constexpr uint64_t kPrime = 0x100000001b3ull;
uint64_t start(uint64_t origin) { return (0xcbf29ce484222325ull ^ origin) * kPrime; }
uint64_t next(uint64_t h, int32_t token) {
    for (int i = 0; i < 4; ++i) h = (h ^ ((static_cast<uint32_t>(token) >> (8 * i)) & 0xffu)) * kPrime;
    return h;
}

}  // namespace

size_t StateCache::Entry::bytes() const {
    return sizeof(Entry) + 4 * (tokens.size() + state.size() + logits.size());
}

uint64_t StateCache::key_of(uint64_t origin, std::span<const int32_t> tokens) {
    uint64_t h = start(origin);
    for (int32_t t : tokens) h = next(h, t);
    return h;
}

void StateCache::put(uint64_t origin, std::span<const int32_t> tokens, const State& state,
                     std::span<const float> logits) {
    Entry e{origin, key_of(origin, tokens), {tokens.begin(), tokens.end()}, state.data(), {logits.begin(), logits.end()}};
    const size_t size = e.bytes();
    std::lock_guard<std::mutex> lock(mu_);
    const auto [first, last] = index_.equal_range(e.key);
    for (auto it = first; it != last; ++it)
        if (it->second->origin == origin && it->second->tokens == e.tokens) {  // already kept: refresh it
            lru_.splice(lru_.begin(), lru_, it->second);
            return;
        }
    if (size > max_bytes_) return;
    evict_to(max_bytes_ - size);
    lru_.push_front(std::move(e));
    index_.emplace(lru_.front().key, lru_.begin());
    stats_.bytes += size;
    stats_.entries = lru_.size();
}

size_t StateCache::lookup(uint64_t origin, std::span<const int32_t> tokens, State& state,
                          std::vector<float>& logits) {
    std::vector<uint64_t> keys(tokens.size() + 1);
    keys[0] = start(origin);
    for (size_t i = 0; i < tokens.size(); ++i) keys[i + 1] = next(keys[i], tokens[i]);
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t n = tokens.size(); n > 0; --n) {
        const auto [first, last] = index_.equal_range(keys[n]);
        for (auto it = first; it != last; ++it) {
            Entry& e = *it->second;
            if (e.origin != origin || e.tokens.size() != n || !std::equal(e.tokens.begin(), e.tokens.end(), tokens.begin()))
                continue;
            if (e.state.size() != state.data().size()) continue;  // another model's shape: never ours
            state.data() = e.state;
            logits = e.logits;
            lru_.splice(lru_.begin(), lru_, it->second);
            ++stats_.hits;
            return n;
        }
    }
    ++stats_.misses;
    return 0;
}

void StateCache::evict_to(size_t limit) {
    while (stats_.bytes > limit && !lru_.empty()) {
        const Entry& e = lru_.back();
        const auto [first, last] = index_.equal_range(e.key);
        for (auto it = first; it != last; ++it)
            if (&*it->second == &e) {
                index_.erase(it);
                break;
            }
        stats_.bytes -= e.bytes();
        lru_.pop_back();
    }
    stats_.entries = lru_.size();
}

StateCache::Stats StateCache::stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
}

}  // namespace rwkv::serve
