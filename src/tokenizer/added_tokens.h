#pragma once
// Hugging Face "added tokens": strings (special tokens like <|endoftext|>, or GPT-NeoX's runs of
// spaces) that are cut out of the text whole, before pre-tokenization, wherever they occur —
// also when encoding "without special tokens". Matching is leftmost-longest.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/byte_trie.h"

namespace rwkv::tok {

struct AddedToken {
    std::string content;
    int32_t id = -1;
    bool single_word = false;  // only where no word character touches either end
    bool lstrip = false;       // swallows white space to its left
    bool rstrip = false;       // swallows white space to its right
};

class AddedTokenMatcher {
public:
    struct Piece {
        std::string_view text;
        int32_t id;  // the added token's id, or -1 for ordinary text between matches
    };

    AddedTokenMatcher() = default;
    explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

    bool empty() const { return tokens_.empty(); }
    // Appends the pieces of `text` — ordinary text and matched tokens, in order — to `out`.
    void split(std::string_view text, std::vector<Piece>& out) const;

private:
    std::vector<AddedToken> tokens_;
    ByteTrie trie_;  // content -> index into tokens_
};

}  // namespace rwkv::tok
