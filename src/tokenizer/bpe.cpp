#include "tokenizer/bpe.h"

#include <queue>

namespace rwkv::tok {

namespace {

// Bounds on the word cache: long words are rare and would bloat it; past the entry limit it
// is simply emptied, which is cheap and keeps memory flat on endless streams of new words.
constexpr size_t kCacheMaxWordBytes = 64;
constexpr size_t kCacheMaxEntries = 1 << 16;

}  // namespace

BpeMerger::BpeMerger(const std::array<int32_t, 256>& byte_ids, std::unordered_map<uint64_t, Merge> merges)
    : byte_ids_(byte_ids), merges_(std::move(merges)) {}

void BpeMerger::encode(std::string_view word, std::vector<int32_t>& out) const {
    if (word.size() <= 1) {
        if (!word.empty()) out.push_back(byte_ids_[static_cast<unsigned char>(word[0])]);
        return;
    }
    if (word.size() > kCacheMaxWordBytes) {
        merge_word(word, out);
        return;
    }
    std::string key(word);
    {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        const auto it = cache_.find(key);
        if (it != cache_.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    std::vector<int32_t> tokens;
    merge_word(word, tokens);
    out.insert(out.end(), tokens.begin(), tokens.end());
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kCacheMaxEntries) cache_.clear();
    cache_.emplace(std::move(key), std::move(tokens));
}

void BpeMerger::merge_word(std::string_view word, std::vector<int32_t>& out) const {
    // Symbols form a linked list over the word's bytes; a merge folds the right symbol into the
    // left one. Candidate merges wait in a heap ordered by (rank, position) and are checked
    // when popped, since earlier merges may have consumed either side: O(n log n) per word,
    // so a pathological megabyte-long "word" stays tractable.
    const int n = static_cast<int>(word.size());
    struct Sym {
        int32_t id;  // -1 once merged into its left neighbour
        int prev, next;
    };
    struct Cand {
        int32_t rank;
        int pos;
        int32_t left, right, result;
        bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::vector<Sym> sym(n);
    for (int i = 0; i < n; ++i)
        sym[i] = {byte_ids_[static_cast<unsigned char>(word[i])], i - 1, i + 1 < n ? i + 1 : -1};

    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
    const auto consider = [&](int left) {
        if (left < 0) return;
        const int right = sym[left].next;
        if (right < 0) return;
        const auto it = merges_.find(pair_key(sym[left].id, sym[right].id));
        if (it != merges_.end()) heap.push({it->second.rank, left, sym[left].id, sym[right].id, it->second.result});
    };
    for (int i = 0; i + 1 < n; ++i) consider(i);

    while (!heap.empty()) {
        const Cand c = heap.top();
        heap.pop();
        Sym& l = sym[c.pos];
        if (l.id != c.left || l.next < 0 || sym[l.next].id != c.right) continue;  // stale
        Sym& r = sym[l.next];
        l.id = c.result;
        r.id = -1;
        l.next = r.next;
        if (r.next >= 0) sym[r.next].prev = c.pos;
        consider(l.prev);
        consider(c.pos);
    }
    for (int i = 0; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

}  // namespace rwkv::tok
