#pragma once
// The World vocabulary spells each token as a Python literal, because that is how the RWKV team
// dumped it (repr of a str, or of bytes where the token is not valid UTF-8 on its own).
#include <string>
#include <string_view>

namespace rwkv::tok {

// Parses one single-line Python string literal: '...' or "..." (a str, returned UTF-8 encoded) or
// b'...' / b"..." (bytes, returned as is). On failure returns false and says why in `error`.
bool parse_python_literal(std::string_view literal, std::string& bytes, std::string& error);

}  // namespace rwkv::tok
