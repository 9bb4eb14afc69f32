#include "rwkv/tokenizer.h"
#include "tokenizer/utf8_internal.h"

namespace rwkv {
namespace tok {

namespace {
bool is_cont(unsigned char b) { return (b & 0xC0) == 0x80; }
}  // namespace

size_t utf8_next(std::string_view s, size_t i, int32_t& cp) {
    const size_t n = s.size();
    const auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b0 = at(i);
    cp = -1;
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    }
    if (b0 < 0xC2 || b0 > 0xF4) return 1;  // continuation byte, overlong 2-byte lead, or never-valid byte
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 < 0xE0) {
        len = 2;
    } else if (b0 < 0xF0) {
        len = 3;
        if (b0 == 0xE0) lo = 0xA0;  // below would be overlong
        if (b0 == 0xED) hi = 0x9F;  // above would be a surrogate
    } else {
        len = 4;
        if (b0 == 0xF0) lo = 0x90;  // below would be overlong
        if (b0 == 0xF4) hi = 0x8F;  // above would pass U+10FFFF
    }
    if (i + 1 >= n || at(i + 1) < lo || at(i + 1) > hi) return 1;
    for (size_t k = 2; k < len; ++k)
        if (i + k >= n || !is_cont(at(i + k))) return k;
    uint32_t v = b0 & (0xFF >> (len + 1));
    for (size_t k = 1; k < len; ++k) v = (v << 6) | (at(i + k) & 0x3F);
    cp = static_cast<int32_t>(v);
    return len;
}

void utf8_append(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

bool is_unicode_space(int32_t cp) {
    if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20;
    switch (cp) {
        case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200A;
    }
}

}  // namespace tok

size_t utf8_complete_prefix(std::string_view s) {
    // Only the last character can be cut short, and a character is at most 4 bytes: find the
    // last non-continuation byte among the final 3 and ask whether what follows it could still
    // grow into a valid character. Bytes that can never become valid are returned, not held.
    const size_t n = s.size();
    for (size_t k = 1; k <= 3 && k <= n; ++k) {
        const size_t p = n - k;
        const auto b = static_cast<unsigned char>(s[p]);
        if ((b & 0xC0) == 0x80) continue;
        int32_t cp;
        const size_t len = tok::utf8_next(s, p, cp);
        const bool lead = b >= 0xC2 && b <= 0xF4;
        return (cp < 0 && lead && p + len == n) ? p : n;
    }
    return n;
}

std::string utf8_sanitize(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        int32_t cp;
        const size_t len = tok::utf8_next(s, i, cp);
        if (cp < 0)
            out += "\xEF\xBF\xBD";
        else
            out.append(s.data() + i, len);
        i += len;
    }
    return out;
}

}  // namespace rwkv
