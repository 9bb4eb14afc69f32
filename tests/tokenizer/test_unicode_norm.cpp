// normalize(): the same text as utf8proc_map (the plain reference) for every form, on random mixes of the
// characters normalization moves — combining marks of many classes, precomposed letters, Hangul, compatibility
// forms, invalid bytes — and in linear time on a long run of combining marks, which utf8proc's own canonical
// ordering sorts in quadratic time.
#include <gtest/gtest.h>
#include <utf8proc.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>

#include "tokenizer/unicode_norm.h"
#include "tokenizer/utf8_internal.h"

namespace rwkv::tok {
namespace {

std::string reference(const std::string& text, int options) {
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                            static_cast<utf8proc_ssize_t>(text.size()), &out,
                                            static_cast<utf8proc_option_t>(options));
    std::string s = n >= 0 ? std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(n)) : "<error>";
    std::free(out);
    return s;
}

// Characters from the blocks where decomposition, reordering and composition happen.
constexpr int32_t kPool[] = {
    'a',    'e',    'o',    'A',    ' ',    0x00E9, 0x00C5, 0x1E69, 0x1EA5, 0x0301, 0x0300, 0x0323, 0x0327,
    0x0328, 0x031B, 0x0345, 0x05B0, 0x05BC, 0x0591, 0x0F71, 0x0F72, 0x0F80, 0x302A, 0x302B, 0x3099, 0x309A,
    0x304B, 0x30AB, 0xAC00, 0xAC01, 0x1100, 0x1161, 0x11A8, 0xFB01, 0x2460, 0xFF21, 0x00BD, 0x1D15E, 0x0B47,
    0x0B3E, 0x0B57, 0x212B, 0x2126, 0x0344, 0x0F73, 0xFDFA, 0x03D3, 0x1F80, 0x0399, 0x0308,
};

std::string random_text(std::mt19937& rng, size_t chars) {
    std::string s;
    for (size_t i = 0; i < chars; ++i) {
        if (rng() % 40 == 0) {
            s += static_cast<char>(0x80 + rng() % 64);  // a stray continuation byte: invalid UTF-8
            continue;
        }
        utf8_append(s, static_cast<uint32_t>(kPool[rng() % std::size(kPool)]));
    }
    return s;
}

TEST(UnicodeNorm, MatchesUtf8procOnRandomMixes) {
    const std::pair<NormForm, int> forms[] = {
        {NormForm::NFC, UTF8PROC_STABLE | UTF8PROC_COMPOSE},
        {NormForm::NFD, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE},
        {NormForm::NFKC, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT},
        {NormForm::NFKD, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT},
    };
    std::mt19937 rng(5);
    for (int i = 0; i < 3000; ++i) {
        const std::string text = random_text(rng, 1 + rng() % 40);
        // utf8proc_map refuses invalid UTF-8, so the reference works stretch by stretch, as normalize() keeps
        // invalid bytes where they are.
        for (const auto& [form, options] : forms) {
            std::string want;
            size_t start = 0;
            for (size_t at = 0; at <= text.size();) {
                int32_t cp = 0;
                const size_t len = at < text.size() ? utf8_next(text, at, cp) : 0;
                if (at == text.size() || cp < 0) {
                    want += reference(text.substr(start, at - start), options);
                    want += text.substr(at, len);
                    start = at + len;
                    if (at == text.size()) break;
                }
                at += len;
            }
            ASSERT_EQ(normalize(text, form), want) << "case " << i;
        }
    }
}

// One base letter and then a million bytes of combining marks of alternating classes: every mark must move,
// which utf8proc's bubble sort did a step at a time (minutes at this size). The limit only catches that: the
// linear version takes a fraction of a second even under the sanitizers.
TEST(UnicodeNorm, LongRunsOfMarksTakeLinearTime) {
    std::string text = "a";
    while (text.size() < (1u << 20)) {
        utf8_append(text, 0x0301);  // class 230
        utf8_append(text, 0x0323);  // class 220
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::string out = normalize(text, NormForm::NFC);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(seconds, 20.0);
    // NFC: the dot below (220) first, composed with the a (U+1EA1), then the other marks, the 220s before the 230s.
    const size_t marks = (text.size() - 1) / 4;
    std::string want;
    utf8_append(want, 0x1EA1);
    for (size_t i = 1; i < marks; ++i) utf8_append(want, 0x0323);
    for (size_t i = 0; i < marks; ++i) utf8_append(want, 0x0301);
    EXPECT_EQ(out, want);
}

}  // namespace
}  // namespace rwkv::tok
