#pragma once
// The GPT-2 pre-tokenizer: cuts text into the pieces BPE works on, exactly as the pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// does (leftmost-first alternation, greedy). Written by hand over Unicode categories instead of
// pulling in a regex library; \s is Unicode White_Space, as in Oniguruma and Rust's regex.
#include <string_view>
#include <vector>

namespace rwkv::tok {

// Appends the pieces of `text` to `pieces`; together they cover `text` exactly. Bytes that are
// not valid UTF-8 count as punctuation (neither letter, digit nor space).
void gpt2_split(std::string_view text, std::vector<std::string_view>& pieces);

}  // namespace rwkv::tok
