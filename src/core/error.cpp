#include "rwkv/error.h"

#include <cstdint>

namespace rwkv {

namespace {

constexpr size_t kMaxMessage = 4096;
constexpr size_t kKeepHead = 2560, kKeepTail = 1024;

// Length of the well-formed UTF-8 sequence at s[i] (Unicode's table: no overlongs, surrogates or values past
// U+10FFFF), or 0.
size_t utf8_length(std::string_view s, size_t i) {
    const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
    const auto cont = [&](size_t k, uint8_t lo = 0x80, uint8_t hi = 0xBF) {
        return i + k < s.size() && b(k) >= lo && b(k) <= hi;
    };
    const uint8_t c = b(0);
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        const uint8_t lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return cont(1, lo, hi) && cont(2) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        const uint8_t lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
    }
    return 0;
}

void escape(std::string& out, uint8_t byte) {
    static const char* hex = "0123456789abcdef";
    out += "\\x";
    out += hex[byte >> 4];
    out += hex[byte & 15];
}

}  // namespace

std::string printable(std::string_view text) {
    if (text.size() > kMaxMessage)
        return printable(text.substr(0, kKeepHead)) + " ... " + printable(text.substr(text.size() - kKeepTail));
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        const size_t n = utf8_length(text, i);
        const auto c = static_cast<uint8_t>(text[i]);
        // C1 controls (U+0080..U+009F, encoded C2 80..C2 9F) are escapes to some terminals too.
        const bool control = n == 1 ? (c < 0x20 || c == 0x7F) : (n == 2 && c == 0xC2 && static_cast<uint8_t>(text[i + 1]) < 0xA0);
        if (n == 0 || control) {
            for (size_t k = 0; k < (n == 0 ? 1 : n); ++k) escape(out, static_cast<uint8_t>(text[i + k]));
            i += n == 0 ? 1 : n;
            continue;
        }
        out.append(text.substr(i, n));
        i += n;
    }
    return out;
}

}  // namespace rwkv
