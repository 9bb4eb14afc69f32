#include "tokenizer/byte_trie.h"

#include <algorithm>

namespace rwkv::tok {

namespace {
// Above this many children a node's dense table (1 KB) pays for itself in search time.
constexpr uint32_t kDenseFrom = 16;
}  // namespace

ByteTrie::ByteTrie(std::vector<std::pair<std::string, int32_t>> entries) {
    std::sort(entries.begin(), entries.end());
    // The walk below needs distinct strings; of equal ones the smallest id is kept.
    entries.erase(std::unique(entries.begin(), entries.end(),
                              [](const auto& a, const auto& b) { return a.first == b.first; }),
                  entries.end());
    entries.erase(std::remove_if(entries.begin(), entries.end(), [](const auto& e) { return e.first.empty(); }),
                  entries.end());
    // Breadth-first over ranges of the sorted entries: every entry in [lo, hi) shares its first
    // `depth` bytes, so a node's children are the runs of equal byte at position `depth`, and
    // all edges of a node are appended together.
    struct Work {
        uint32_t node;
        size_t lo, hi, depth;
    };
    std::vector<Work> queue;
    nodes_.emplace_back();
    queue.push_back({0, 0, entries.size(), 0});
    for (size_t q = 0; q < queue.size(); ++q) {
        const Work w = queue[q];
        size_t i = w.lo;
        if (i < w.hi && entries[i].first.size() == w.depth) {
            nodes_[w.node].id = entries[i].second;
            ++i;
        }
        nodes_[w.node].first_edge = static_cast<uint32_t>(edge_byte_.size());
        while (i < w.hi) {
            const unsigned char b = static_cast<unsigned char>(entries[i].first[w.depth]);
            size_t j = i + 1;
            while (j < w.hi && static_cast<unsigned char>(entries[j].first[w.depth]) == b) ++j;
            const auto child_index = static_cast<uint32_t>(nodes_.size());
            nodes_.emplace_back();
            edge_byte_.push_back(b);
            edge_child_.push_back(child_index);
            ++nodes_[w.node].edge_count;
            queue.push_back({child_index, i, j, w.depth + 1});
            i = j;
        }
    }
    for (Node& nd : nodes_) {
        if (nd.edge_count < kDenseFrom && &nd != &nodes_[0]) continue;
        const auto base = static_cast<uint32_t>(dense_.size());
        dense_.resize(dense_.size() + 256, 0);
        for (uint32_t e = nd.first_edge; e < nd.first_edge + nd.edge_count; ++e)
            dense_[base + edge_byte_[e]] = edge_child_[e];
        nd.first_edge = base;
        nd.dense = true;
    }
}

uint32_t ByteTrie::child(uint32_t node, unsigned char byte) const {
    const Node& nd = nodes_[node];
    if (nd.dense) return dense_[nd.first_edge + byte];
    const unsigned char* first = edge_byte_.data() + nd.first_edge;
    const unsigned char* last = first + nd.edge_count;
    if (nd.edge_count <= 8) {
        for (const unsigned char* p = first; p != last; ++p)
            if (*p == byte) return edge_child_[nd.first_edge + (p - first)];
        return 0;
    }
    const unsigned char* p = std::lower_bound(first, last, byte);
    return (p != last && *p == byte) ? edge_child_[nd.first_edge + (p - first)] : 0;
}

size_t ByteTrie::longest_prefix(const unsigned char* s, size_t n, int32_t* id) const {
    if (n == 0 || nodes_.empty()) return 0;
    size_t best = 0;
    uint32_t node = child(0, s[0]);
    for (size_t k = 1; node != 0; ++k) {
        if (nodes_[node].id >= 0) {
            best = k;
            *id = nodes_[node].id;
        }
        if (k == n) break;
        node = child(node, s[k]);
    }
    return best;
}

}  // namespace rwkv::tok
