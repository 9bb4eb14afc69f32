// Property: any text survives encode -> decode (NeoX gives it back in NFC, its normal form).
#include <utf8proc.h>

#include <cstdlib>
#include <random>

#include "tokenizer_test_util.h"

namespace rwkv::test {
namespace {

std::string utf8(uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else if (cp < 0x800) {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        s += static_cast<char>(0xE0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        s += static_cast<char>(0xF0 | (cp >> 18));
        s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
}

std::string nfc(const std::string& s) {
    utf8proc_uint8_t* out = nullptr;
    const auto len = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                  static_cast<utf8proc_ssize_t>(s.size()), &out,
                                  static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    EXPECT_GE(len, 0) << "test generated invalid UTF-8";
    std::string r = len >= 0 ? std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(len)) : s;
    std::free(out);
    return r;
}

// Random text from ranges chosen to stress the pre-tokenizer and the vocabularies: scripts,
// digits, punctuation, emoji, combining marks, every kind of white space, rare planes.
std::string random_text(std::mt19937& rng) {
    struct Range {
        uint32_t lo, hi;
    };
    static const Range kRanges[] = {
        {'a', 'z'},        {'A', 'Z'},        {'0', '9'},        {'!', '/'},        {' ', ' '},
        {'\n', '\n'},      {'\t', '\r'},      {'\'', '\''},      {0xA0, 0xFF},      {0x300, 0x36F},
        {0x391, 0x3C9},    {0x400, 0x44F},    {0x5D0, 0x5EA},    {0x620, 0x64A},    {0x900, 0x97F},
        {0xE00, 0xE5B},    {0x1100, 0x11FF},  {0x2000, 0x206F},  {0x3000, 0x303F},  {0x3040, 0x30FF},
        {0x4E00, 0x9FFF},  {0xAC00, 0xD7A3},  {0xFF00, 0xFFEF},  {0x1F300, 0x1F64F}, {0x1F900, 0x1F9FF},
        {0x10000, 0x1007F}, {0x20000, 0x2A6DF}, {0xE000, 0xE0FF}, {0x1, 0x1F},       {0x7F, 0x9F},
    };
    const size_t n_ranges = sizeof kRanges / sizeof kRanges[0];
    std::string s;
    const int len = static_cast<int>(rng() % 60);
    for (int i = 0; i < len; ++i) {
        const Range r = kRanges[rng() % n_ranges];
        const int repeat = rng() % 8 == 0 ? static_cast<int>(rng() % 6) + 1 : 1;  // runs, e.g. of spaces
        const uint32_t cp = r.lo + rng() % (r.hi - r.lo + 1);
        for (int k = 0; k < repeat; ++k) s += utf8(cp);
    }
    return s;
}

TEST(RandomRoundTrip, World) {
    const Tokenizer& tok = world_tokenizer();
    std::mt19937 rng(12345);
    for (int i = 0; i < 3000; ++i) {
        const std::string s = random_text(rng);
        ASSERT_EQ(tok.decode(tok.encode(s)), s) << "iteration " << i;
    }
}

TEST(RandomRoundTrip, WorldArbitraryBytes) {
    const Tokenizer& tok = world_tokenizer();
    std::mt19937 rng(99);
    for (int i = 0; i < 1000; ++i) {
        std::string s(rng() % 100, '\0');
        for (char& c : s) c = static_cast<char>(rng() & 0xFF);
        ASSERT_EQ(tok.decode_bytes(tok.encode(s)), s) << "iteration " << i;
    }
}

TEST(RandomRoundTrip, Neox) {
    const Tokenizer& tok = neox_tokenizer();
    std::mt19937 rng(54321);
    for (int i = 0; i < 3000; ++i) {
        const std::string s = random_text(rng);
        ASSERT_EQ(tok.decode(tok.encode(s)), nfc(s)) << "iteration " << i;
    }
}

TEST(RandomRoundTrip, NeoxArbitraryBytesNeverFail) {
    const Tokenizer& tok = neox_tokenizer();
    std::mt19937 rng(77);
    for (int i = 0; i < 1000; ++i) {
        std::string s(rng() % 100, '\0');
        for (char& c : s) c = static_cast<char>(rng() & 0xFF);
        ASSERT_EQ(tok.decode(tok.encode(s)), nfc(utf8_sanitize(s))) << "iteration " << i;
    }
}

}  // namespace
}  // namespace rwkv::test
