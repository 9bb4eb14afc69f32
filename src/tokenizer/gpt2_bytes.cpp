#include "tokenizer/gpt2_bytes.h"

#include <array>
#include <cstddef>

namespace rwkv::tok {

namespace {

// Printable Latin-1 bytes stand for themselves; the other 68 (controls, space, 0x7F-0xA0, soft
// hyphen) are given code points 256, 257, ... in byte order.
constexpr bool is_printable(uint32_t b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}
constexpr std::size_t kNonPrintable = 68;

struct Tables {
    std::array<uint32_t, 256> byte_to_char{};
    std::array<int, kNonPrintable> shifted_to_byte{};  // byte for code point 256 + k
};

Tables make_tables() {
    Tables t;
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
        if (is_printable(b)) {
            t.byte_to_char[b] = b;
        } else {
            t.shifted_to_byte[next - 256] = static_cast<int>(b);
            t.byte_to_char[b] = next++;
        }
    }
    return t;
}

const Tables& tables() {
    static const Tables t = make_tables();
    return t;
}

const std::array<uint32_t, 256>& byte_to_char_table() { return tables().byte_to_char; }
const std::array<int, kNonPrintable>& char_to_byte_table() { return tables().shifted_to_byte; }

}  // namespace

uint32_t gpt2_byte_to_char(unsigned char byte) { return byte_to_char_table()[byte]; }

int gpt2_char_to_byte(uint32_t cp) {
    if (cp < 256) return is_printable(cp) ? static_cast<int>(cp) : -1;
    const auto& table = char_to_byte_table();
    return cp - 256 < table.size() ? table[cp - 256] : -1;
}

}  // namespace rwkv::tok
