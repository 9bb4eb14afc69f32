// Streaming output and repair of byte strings that are not valid UTF-8.
#include "tokenizer_test_util.h"

namespace rwkv::test {
namespace {

const std::string kFFFD = "\xEF\xBF\xBD";

TEST(Utf8, CompletePrefixHoldsBackACutCharacterAtEveryCut) {
    // 2-, 3- and 4-byte characters, including the edges of the ranges with special second bytes.
    for (const std::string ch : {"\xC3\xA9", "\xDF\xBF", "\xE2\x82\xAC", "\xE0\xA0\x80", "\xED\x9F\xBF",
                                 "\xEF\xBF\xBF", "\xF0\x9F\x98\x80", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF"}) {
        for (size_t cut = 1; cut < ch.size(); ++cut) {
            const std::string s = "ab" + ch.substr(0, cut);
            EXPECT_EQ(utf8_complete_prefix(s), 2u) << "char of " << ch.size() << " bytes cut after " << cut;
        }
        EXPECT_EQ(utf8_complete_prefix("ab" + ch), ch.size() + 2);
        EXPECT_EQ(utf8_complete_prefix(ch + ch.substr(0, 1)), ch.size());
    }
}

TEST(Utf8, CompletePrefixPassesBytesThatCanNeverComplete) {
    EXPECT_EQ(utf8_complete_prefix(""), 0u);
    EXPECT_EQ(utf8_complete_prefix("abc"), 3u);
    EXPECT_EQ(utf8_complete_prefix("a\xFF"), 2u);          // never valid
    EXPECT_EQ(utf8_complete_prefix("a\x80"), 2u);          // lone continuation
    EXPECT_EQ(utf8_complete_prefix("a\xC0"), 2u);          // overlong lead
    EXPECT_EQ(utf8_complete_prefix("a\xE0\x80"), 3u);      // overlong 3-byte form
    EXPECT_EQ(utf8_complete_prefix("a\xED\xA0"), 3u);      // would be a surrogate
    EXPECT_EQ(utf8_complete_prefix("a\xF4\x90"), 3u);      // past U+10FFFF
    EXPECT_EQ(utf8_complete_prefix("a\xE2\x82" "b"), 4u);  // broken, but not at the end
}

TEST(Utf8, SanitizeReplacesEachInvalidSequence) {
    EXPECT_EQ(utf8_sanitize(""), "");
    const std::string valid = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF" + std::string(1, '\0') + "z";
    EXPECT_EQ(utf8_sanitize(valid), valid);
    EXPECT_EQ(utf8_sanitize("a\x80" "b"), "a" + kFFFD + "b");                        // lone continuation
    EXPECT_EQ(utf8_sanitize("\x80\x80"), kFFFD + kFFFD);
    EXPECT_EQ(utf8_sanitize("\xC0\xAF"), kFFFD + kFFFD);                             // overlong '/'
    EXPECT_EQ(utf8_sanitize("\xE0\x80\xAF"), kFFFD + kFFFD + kFFFD);                 // overlong, 3 bytes
    EXPECT_EQ(utf8_sanitize("\xF0\x80\x80\xAF"), kFFFD + kFFFD + kFFFD + kFFFD);     // overlong, 4 bytes
    EXPECT_EQ(utf8_sanitize("\xED\xA0\x80"), kFFFD + kFFFD + kFFFD);                 // surrogate U+D800
    EXPECT_EQ(utf8_sanitize("\xED\xBF\xBF"), kFFFD + kFFFD + kFFFD);                 // surrogate U+DFFF
    EXPECT_EQ(utf8_sanitize("\xF4\x90\x80\x80"), kFFFD + kFFFD + kFFFD + kFFFD);     // U+110000
    EXPECT_EQ(utf8_sanitize("x\xFFy"), "x" + kFFFD + "y");
    EXPECT_EQ(utf8_sanitize("\xE2\x82"), kFFFD);                                     // truncated: one U+FFFD
    EXPECT_EQ(utf8_sanitize("\xE2\x82z"), kFFFD + "z");
    EXPECT_EQ(utf8_sanitize("\xF0\x9F\x98z\xC3"), kFFFD + "z" + kFFFD);
}

TEST(Utf8, DecodeOfASplitCharacter) {
    // World ids 1..256 are the single bytes 0..255, so a character can be split across tokens.
    const Tokenizer& tok = world_tokenizer();
    const std::string euro = "\xE2\x82\xAC";
    const std::vector<int32_t> first_two = {0xE2 + 1, 0x82 + 1};
    EXPECT_EQ(tok.decode_bytes(first_two), euro.substr(0, 2));
    EXPECT_EQ(tok.decode(first_two), kFFFD);
    EXPECT_EQ(tok.decode({0xE2 + 1, 0x82 + 1, 0xAC + 1}), euro);
    EXPECT_EQ(tok.decode({'a' + 1, 0xE2 + 1, 'b' + 1}), "a" + kFFFD + "b");

    // Streaming: print the complete prefix, keep the rest for the next token.
    std::string pending, printed;
    for (int32_t id : std::vector<int32_t>{'x' + 1, 0xE2 + 1, 0x82 + 1, 0xAC + 1, 'y' + 1}) {
        pending += tok.decode_bytes({id});
        const size_t n = utf8_complete_prefix(pending);
        printed += pending.substr(0, n);
        pending.erase(0, n);
        EXPECT_EQ(utf8_sanitize(printed), printed);
    }
    EXPECT_EQ(printed, "x" + euro + "y");
    EXPECT_TRUE(pending.empty());
}

}  // namespace
}  // namespace rwkv::test
