#include "rwkv/grammar.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "rwkv/error.h"
#include "rwkv/tokenizer.h"

namespace rwkv {

// ---------------------------------------------------------------------------------------------------------------
// Building

uint32_t Grammar::add_rule() {
    rules_.emplace_back();
    return static_cast<uint32_t>(rules_.size() - 1);
}

void Grammar::add_alternative(uint32_t rule, const std::vector<Element>& elements) {
    if (rule >= rules_.size()) throw Error("grammar: alternative for rule " + std::to_string(rule) + ", which does not exist");
    rules_[rule].push_back(static_cast<uint32_t>(elements_.size()));
    for (const Element& e : elements)
        if (e.kind != Element::End) elements_.push_back(e);
    elements_.push_back({Element::End, 0});
}

Grammar::Element Grammar::bytes(const ByteSet& set) {
    for (size_t i = 0; i < sets_.size(); ++i)
        if (sets_[i] == set) return {Element::Bytes, static_cast<uint32_t>(i)};
    sets_.push_back(set);
    return {Element::Bytes, static_cast<uint32_t>(sets_.size() - 1)};
}

Grammar::Element Grammar::byte(uint8_t b) {
    ByteSet s;
    s.add(b);
    return bytes(s);
}

void Grammar::append_literal(std::vector<Element>& seq, std::string_view text) {
    for (char c : text) seq.push_back(byte(static_cast<uint8_t>(c)));
}

void Grammar::build(uint32_t start) {
    const size_t R = rules_.size();
    if (start >= R) throw Error("grammar: the start rule does not exist");
    for (size_t r = 0; r < R; ++r)
        if (rules_[r].empty()) throw Error("grammar: rule " + std::to_string(r) + " has no alternative");
    for (const Element& e : elements_)
        if (e.kind == Element::Rule && e.index >= R) throw Error("grammar: a reference to a rule that does not exist");

    // Rules that can match the empty string, to a fixed point.
    std::vector<char> nullable(R, 0);
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t r = 0; r < R; ++r) {
            if (nullable[r]) continue;
            for (uint32_t at : rules_[r]) {
                bool all = true;
                for (uint32_t i = at; elements_[i].kind != Element::End && all; ++i)
                    all = elements_[i].kind == Element::Rule && nullable[elements_[i].index];
                if (all) {
                    nullable[r] = changed = true;
                    break;
                }
            }
        }
    }
    // r -> s when s can be entered from r before any byte is read; a cycle is left recursion, which would make the
    // matcher expand forever.
    std::vector<std::vector<uint32_t>> first(R);
    for (size_t r = 0; r < R; ++r)
        for (uint32_t at : rules_[r])
            for (uint32_t i = at; elements_[i].kind == Element::Rule; ++i) {
                first[r].push_back(elements_[i].index);
                if (!nullable[elements_[i].index]) break;
            }
    std::vector<uint8_t> mark(R, 0);  // 0 unseen, 1 on the path, 2 done
    std::vector<std::pair<uint32_t, size_t>> path;
    for (uint32_t root = 0; root < R; ++root) {
        if (mark[root]) continue;
        path.push_back({root, 0});
        mark[root] = 1;
        while (!path.empty()) {
            auto& [r, next] = path.back();
            if (next == first[r].size()) {
                mark[r] = 2;
                path.pop_back();
                continue;
            }
            const uint32_t s = first[r][next++];
            if (mark[s] == 1) throw Error("grammar: rule " + std::to_string(s) + " is left-recursive");
            if (mark[s] == 0) {
                mark[s] = 1;
                path.push_back({s, 0});
            }
        }
    }
    start_ = start;
    built_ = true;
}

// ---------------------------------------------------------------------------------------------------------------
// The vocabulary as a trie

TokenTrie::TokenTrie(const Tokenizer& tokenizer) : vocab_size_(tokenizer.vocab_size()) {
    std::vector<std::pair<std::string, int32_t>> tokens;
    tokens.reserve(vocab_size_);
    for (size_t id = 0; id < vocab_size_; ++id) {
        std::string b;
        try {
            b = tokenizer.decode_bytes({static_cast<int32_t>(id)});
        } catch (const Error&) {
            continue;  // an id the vocabulary skips
        }
        if (!b.empty()) tokens.emplace_back(std::move(b), static_cast<int32_t>(id));
    }
    std::sort(tokens.begin(), tokens.end());
    nodes_.push_back({});
    // Children of a node are made together, so they sit side by side; then each child's subtree in turn.
    struct Todo {
        uint32_t node;
        size_t lo, hi, depth;  // the sorted tokens under this node, all longer than depth... or equal at lo
    };
    std::vector<Todo> todo{{0, 0, tokens.size(), 0}};
    while (!todo.empty()) {
        const Todo t = todo.back();
        todo.pop_back();
        size_t i = t.lo;
        // Tokens that end exactly here come first in sorted order.
        while (i < t.hi && tokens[i].first.size() == t.depth) {
            Node& n = nodes_[t.node];
            if (n.token < 0) {
                n.token = tokens[i].second;
                n.more_tokens = static_cast<uint32_t>(extra_.size());
            } else {
                extra_.push_back(tokens[i].second);
                ++n.more_count;
            }
            ++i;
        }
        const uint32_t first = static_cast<uint32_t>(nodes_.size());
        std::vector<Todo> children;
        while (i < t.hi) {
            const uint8_t b = static_cast<uint8_t>(tokens[i].first[t.depth]);
            size_t j = i;
            while (j < t.hi && static_cast<uint8_t>(tokens[j].first[t.depth]) == b) ++j;
            Node child;
            child.byte = b;
            nodes_.push_back(child);
            children.push_back({static_cast<uint32_t>(nodes_.size() - 1), i, j, t.depth + 1});
            i = j;
        }
        nodes_[t.node].first_child = first;
        nodes_[t.node].child_count = static_cast<uint32_t>(children.size());
        todo.insert(todo.end(), children.rbegin(), children.rend());
    }
    // Keep each token's bytes for accept().
    bytes_.resize(vocab_size_);
    for (auto& [b, id] : tokens) bytes_[static_cast<size_t>(id)] = std::move(b);
}

// ---------------------------------------------------------------------------------------------------------------
// Matching

namespace {

// A stack of positions, as a linked list in an arena: pos is the next element to read in an alternative, parent
// the stack below (what follows once this alternative ends); -1 is the bottom.
struct StackNode {
    uint32_t pos;
    int32_t parent;
};

constexpr int32_t kComplete = -1;  // a "stack" with nothing left: the text so far is a whole sentence

class Stacks {
public:
    explicit Stacks(const Grammar& g) : g_(g) {}
    std::vector<StackNode> arena;

    // Every way to stand at `pos` above `parent`, moved forward until each one's next element is a byte set;
    // appended to out[from..] without repeats.
    void expand(uint32_t pos, int32_t parent, std::vector<int32_t>& out, size_t from) {
        const Grammar::Element& e = g_.elements()[pos];
        if (e.kind == Grammar::Element::End) {
            if (parent == kComplete) {
                add(kComplete, out, from);
            } else {
                const StackNode p = arena[static_cast<size_t>(parent)];
                expand(p.pos, p.parent, out, from);
            }
        } else if (e.kind == Grammar::Element::Bytes) {
            for (size_t i = from; i < out.size(); ++i)
                if (out[i] != kComplete && arena[static_cast<size_t>(out[i])].pos == pos &&
                    arena[static_cast<size_t>(out[i])].parent == parent)
                    return;
            arena.push_back({pos, parent});
            out.push_back(static_cast<int32_t>(arena.size() - 1));
        } else {
            // A rule at the end of an alternative returns straight to the parent (no frame), so repetition written
            // as right recursion keeps the stack flat.
            int32_t cont = parent;
            if (g_.elements()[pos + 1].kind != Grammar::Element::End) {
                arena.push_back({pos + 1, parent});
                cont = static_cast<int32_t>(arena.size() - 1);
            }
            for (uint32_t alt : g_.alternatives(e.index)) expand(alt, cont, out, from);
        }
    }

    // The stacks tops[lo..hi) after reading byte b, appended to out.
    void advance(const std::vector<int32_t>& tops, size_t lo, size_t hi, uint8_t b, std::vector<int32_t>& out) {
        const size_t from = out.size();
        for (size_t i = lo; i < hi; ++i) {
            const int32_t top = tops[i];
            if (top == kComplete) continue;
            const StackNode n = arena[static_cast<size_t>(top)];
            if (g_.sets()[g_.elements()[n.pos].index].has(b)) expand(n.pos + 1, n.parent, out, from);
        }
    }

    static void add(int32_t top, std::vector<int32_t>& out, size_t from) {
        for (size_t i = from; i < out.size(); ++i)
            if (out[i] == top) return;
        out.push_back(top);
    }

private:
    const Grammar& g_;
};

}  // namespace

struct GrammarMatcher::Impl {
    Impl(std::shared_ptr<const Grammar> g, std::shared_ptr<const TokenTrie> t, int32_t eos)
        : grammar(std::move(g)), trie(std::move(t)), eos(eos), stacks(*grammar) {
        // The start: every alternative of the start rule.
        for (uint32_t alt : grammar->alternatives(grammar->start())) stacks.expand(alt, kComplete, tops, 0);
    }

    std::shared_ptr<const Grammar> grammar;
    std::shared_ptr<const TokenTrie> trie;
    int32_t eos;
    Stacks stacks;
    std::vector<int32_t> tops;
    bool ended = false;

    // Masks already worked out, by the stacks they were worked out for (a string's body repeats one set of
    // stacks for as long as it runs).
    struct Cached {
        uint64_t key;
        std::vector<uint64_t> allowed;
    };
    std::vector<Cached> cache;
    uint64_t clock = 0;
    std::vector<uint64_t> used;

    bool can_end() const { return std::find(tops.begin(), tops.end(), kComplete) != tops.end(); }

    uint64_t key() const {
        std::vector<uint64_t> hs;
        for (int32_t top : tops) {
            uint64_t h = 1469598103934665603ull;
            for (int32_t at = top; at != kComplete; at = stacks.arena[static_cast<size_t>(at)].parent)
                h = (h ^ stacks.arena[static_cast<size_t>(at)].pos) * 1099511628211ull;
            hs.push_back(h ^ (top == kComplete ? 0x9e3779b97f4a7c15ull : 0));
        }
        std::sort(hs.begin(), hs.end());
        uint64_t k = 0xcbf29ce484222325ull;
        for (uint64_t h : hs) k = (k ^ h) * 0x100000001b3ull + (k >> 29);
        return k;
    }

    void walk(uint32_t node, std::vector<int32_t>& work, size_t lo, size_t hi, std::vector<uint64_t>& allowed) {
        const TokenTrie::Node& n = trie->nodes()[node];
        for (uint32_t c = n.first_child; c < n.first_child + n.child_count; ++c) {
            const TokenTrie::Node& child = trie->nodes()[c];
            const size_t arena_mark = stacks.arena.size(), mark = work.size();
            stacks.advance(work, lo, hi, child.byte, work);
            if (work.size() > mark) {
                auto allow = [&](int32_t t) { allowed[static_cast<size_t>(t) >> 6] |= uint64_t{1} << (t & 63); };
                if (child.token >= 0) {
                    allow(child.token);
                    for (uint32_t k = 0; k < child.more_count; ++k) allow(trie->extra_tokens()[child.more_tokens + k]);
                }
                walk(c, work, mark, work.size(), allowed);
            }
            stacks.arena.resize(arena_mark);
            work.resize(mark);
        }
    }

    const std::vector<uint64_t>& allowed() {
        const uint64_t k = key();
        ++clock;
        for (size_t i = 0; i < cache.size(); ++i)
            if (cache[i].key == k) {
                used[i] = clock;
                return cache[i].allowed;
            }
        std::vector<uint64_t> bits((trie->vocab_size() + 64) / 64, 0);
        std::vector<int32_t> work = tops;
        walk(0, work, 0, work.size(), bits);
        if (can_end() && eos >= 0 && static_cast<size_t>(eos) < trie->vocab_size())
            bits[static_cast<size_t>(eos) >> 6] |= uint64_t{1} << (eos & 63);
        constexpr size_t kCacheEntries = 16;
        size_t slot = cache.size();
        if (cache.size() == kCacheEntries) {
            slot = static_cast<size_t>(std::min_element(used.begin(), used.end()) - used.begin());
        } else {
            cache.emplace_back();
            used.push_back(0);
        }
        cache[slot] = {k, std::move(bits)};
        used[slot] = clock;
        return cache[slot].allowed;
    }

    // Keeps only the nodes the current stacks use, so the arena does not grow with the text.
    void compact() {
        std::vector<StackNode> fresh;
        std::vector<int32_t> remap(stacks.arena.size(), -2);
        auto copy = [&](auto&& self, int32_t at) -> int32_t {
            if (at == kComplete) return kComplete;
            int32_t& m = remap[static_cast<size_t>(at)];
            if (m != -2) return m;
            const StackNode n = stacks.arena[static_cast<size_t>(at)];
            const int32_t parent = self(self, n.parent);
            fresh.push_back({n.pos, parent});
            m = static_cast<int32_t>(fresh.size() - 1);
            return m;
        };
        for (int32_t& top : tops) top = copy(copy, top);
        stacks.arena = std::move(fresh);
    }
};

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie,
                               int32_t eos_id)
    : impl_(std::make_unique<Impl>(std::move(grammar), std::move(trie), eos_id)) {}
GrammarMatcher::~GrammarMatcher() = default;
GrammarMatcher::GrammarMatcher(GrammarMatcher&&) noexcept = default;
GrammarMatcher& GrammarMatcher::operator=(GrammarMatcher&&) noexcept = default;

void GrammarMatcher::mask(float* logits, size_t n_vocab) {
    const float ninf = -std::numeric_limits<float>::infinity();
    if (impl_->ended) {
        std::fill(logits, logits + n_vocab, ninf);
        return;
    }
    const std::vector<uint64_t>& bits = impl_->allowed();
    for (size_t t = 0; t < n_vocab; ++t)
        if (t >= impl_->trie->vocab_size() || !((bits[t >> 6] >> (t & 63)) & 1)) logits[t] = ninf;
}

bool GrammarMatcher::allows(int32_t token) const {
    if (impl_->ended || token < 0 || static_cast<size_t>(token) >= impl_->trie->vocab_size()) return false;
    if (token == impl_->eos) return impl_->can_end();
    const std::string& b = impl_->trie->bytes(token);
    if (b.empty()) return false;
    std::vector<int32_t> work = impl_->tops;
    const size_t arena_mark = impl_->stacks.arena.size();
    size_t lo = 0, hi = work.size();
    for (char c : b) {
        impl_->stacks.advance(work, lo, hi, static_cast<uint8_t>(c), work);
        lo = hi;
        hi = work.size();
        if (lo == hi) break;
    }
    impl_->stacks.arena.resize(arena_mark);
    return hi > lo;
}

void GrammarMatcher::accept(int32_t token) {
    if (!allows(token))
        throw Error("grammar: token " + std::to_string(token) + " cannot come next");
    if (token == impl_->eos) {
        impl_->ended = true;
        impl_->tops.clear();
        return;
    }
    for (char c : impl_->trie->bytes(token)) {
        std::vector<int32_t> next;
        impl_->stacks.advance(impl_->tops, 0, impl_->tops.size(), static_cast<uint8_t>(c), next);
        impl_->tops = std::move(next);
    }
    impl_->compact();
}

bool GrammarMatcher::can_end() const { return !impl_->ended && impl_->can_end(); }

bool GrammarMatcher::must_end() const {
    return impl_->ended || (impl_->tops.size() == 1 && impl_->tops[0] == kComplete);
}

bool grammar_accepts(const Grammar& grammar, std::string_view text) {
    Stacks stacks(grammar);
    std::vector<int32_t> tops;
    for (uint32_t alt : grammar.alternatives(grammar.start())) stacks.expand(alt, kComplete, tops, 0);
    for (char c : text) {
        std::vector<int32_t> next;
        stacks.advance(tops, 0, tops.size(), static_cast<uint8_t>(c), next);
        if (next.empty()) return false;
        tops = std::move(next);
    }
    return std::find(tops.begin(), tops.end(), kComplete) != tops.end();
}

}  // namespace rwkv
