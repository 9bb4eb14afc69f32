#pragma once
// A read-only trie over byte strings, answering "which entry is the longest prefix of this
// text?" — the single question greedy longest-match tokenizers ask, once per token produced.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rwkv::tok {

class ByteTrie {
public:
    ByteTrie() = default;
    // Ids are returned as given; empty entries are dropped, and of equal ones the smallest id
    // is kept.
    explicit ByteTrie(std::vector<std::pair<std::string, int32_t>> entries);

    // Length of the longest entry that is a prefix of s[0, n), or 0 when none is; its id in *id.
    size_t longest_prefix(const unsigned char* s, size_t n, int32_t* id) const;

private:
    // Flattened so that a lookup touches few cache lines: a node's edges are contiguous and
    // sorted by byte. Nodes with many children (the root, and short prefixes such as " " that
    // most lookups pass through) get a dense 256-entry table instead of a search.
    struct Node {
        int32_t id = -1;           // entry ending here, or -1
        uint32_t first_edge = 0;   // into edge_byte_/edge_child_, or into dense_ (times 256)
        uint32_t edge_count = 0;
        bool dense = false;
    };
    uint32_t child(uint32_t node, unsigned char byte) const;  // 0 when absent (the root is no one's child)

    std::vector<Node> nodes_;
    std::vector<unsigned char> edge_byte_;
    std::vector<uint32_t> edge_child_;
    std::vector<uint32_t> dense_;  // 256 children per dense node
};

}  // namespace rwkv::tok
