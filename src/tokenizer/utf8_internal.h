#pragma once
// UTF-8 helpers shared by the tokenizers. Validity follows Unicode's well-formed byte table
// (no overlongs, no surrogates, nothing past U+10FFFF); an invalid stretch is measured as the
// "maximal subpart" so that one bad sequence becomes exactly one U+FFFD, as Python and browsers do.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rwkv::tok {

// Reads the character starting at s[i]. Returns its length in bytes and its code point in `cp`;
// for an invalid sequence returns the length of its maximal subpart (>= 1) and sets cp = -1.
size_t utf8_next(std::string_view s, size_t i, int32_t& cp);

// Appends the UTF-8 encoding of a valid scalar value (not a surrogate, <= U+10FFFF).
void utf8_append(std::string& out, uint32_t cp);

// Unicode White_Space: what \s matches in the regex engines Hugging Face uses.
bool is_unicode_space(int32_t cp);

}  // namespace rwkv::tok
