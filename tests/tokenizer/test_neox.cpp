// The GPT-NeoX 20B tokenizer against Hugging Face tokenizers' output.
#include <utf8proc.h>

#include <cstdlib>

#include "rwkv/error.h"
#include "tokenizer_test_util.h"

namespace rwkv::test {
namespace {

std::string nfc(const std::string& s) {
    utf8proc_uint8_t* out = nullptr;
    const auto len = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                  static_cast<utf8proc_ssize_t>(s.size()), &out,
                                  static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    std::string r = len >= 0 ? std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(len)) : s;
    std::free(out);
    return r;
}

TEST(NeoxTokenizer, EncodesEveryReferenceCaseExactly) {
    const Tokenizer& tok = neox_tokenizer();
    const auto cases = read_cases(tokenizer_data("neox_cases.jsonl"));
    ASSERT_EQ(cases.size(), 246u);
    int not_nfc = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
        EXPECT_EQ(tok.encode(cases[i].text), cases[i].ids) << "case " << i << ": " << cases[i].text.substr(0, 80);
        // Encoding normalizes to NFC first, so decoding gives the text back in NFC.
        EXPECT_EQ(tok.decode(cases[i].ids), nfc(cases[i].text)) << "case " << i;
        if (nfc(cases[i].text) != cases[i].text) ++not_nfc;
    }
    EXPECT_LE(not_nfc, 5) << "the cases are meant to be mostly NFC already";
}

TEST(NeoxTokenizer, DescribesItself) {
    const Tokenizer& tok = neox_tokenizer();
    EXPECT_EQ(tok.kind(), "neox");
    EXPECT_EQ(tok.vocab_size(), 50277u);
    EXPECT_EQ(tok.eos_id(), 0);
}

TEST(NeoxTokenizer, RunsOfSpacesAreAddedTokens) {
    const Tokenizer& tok = neox_tokenizer();
    EXPECT_EQ(tok.encode("  "), (std::vector<int32_t>{50276}));
    EXPECT_EQ(tok.encode(std::string(24, ' ')), (std::vector<int32_t>{50254}));
    // Leftmost-longest: 24 spaces, then the single space left over goes through BPE.
    EXPECT_EQ(tok.encode(std::string(25, ' ')), (std::vector<int32_t>{50254, 209}));
}

TEST(NeoxTokenizer, SpecialTokensInTextAreMatched) {
    // Hugging Face cuts added tokens out of the raw text even without special tokens.
    const Tokenizer& tok = neox_tokenizer();
    const auto ids = tok.encode("a<|endoftext|>b");
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_EQ(ids[1], 0);
    EXPECT_EQ(tok.decode(ids), "a<|endoftext|>b");
    EXPECT_EQ(tok.encode("<|padding|>"), (std::vector<int32_t>{1}));
}

TEST(NeoxTokenizer, NormalizesToNfc) {
    const Tokenizer& tok = neox_tokenizer();
    // "e" + combining acute accent composes to U+00E9.
    EXPECT_EQ(tok.encode("caf\x65\xCC\x81"), tok.encode("caf\xC3\xA9"));
}

TEST(NeoxTokenizer, InvalidUtf8BecomesReplacementCharacters) {
    // The vocabulary has no token for bytes like 0xFF, which valid UTF-8 never contains.
    const Tokenizer& tok = neox_tokenizer();
    const std::string text = "ab\xFF\xC3 c\xE2\x82";
    EXPECT_EQ(tok.encode(text), tok.encode(utf8_sanitize(text)));
    EXPECT_EQ(tok.decode(tok.encode(text)), "ab\uFFFD\uFFFD c\uFFFD");
}

TEST(NeoxTokenizer, VeryLongWordsRoundTrip) {
    // One pre-tokenized "word" of 100 KB: merging must not be quadratic in its length.
    const Tokenizer& tok = neox_tokenizer();
    std::string word;
    for (int i = 0; i < 100000; ++i) word += static_cast<char>('a' + (i * 7 + i / 13) % 26);
    EXPECT_EQ(tok.decode(tok.encode(word)), word);
    const std::string digits(50000, '7');
    EXPECT_EQ(tok.decode(tok.encode(digits)), digits);
}

TEST(NeoxTokenizer, RejectsIdsWithoutAToken) {
    const Tokenizer& tok = neox_tokenizer();
    for (int32_t id : {-1, 50277, 1 << 30}) {
        try {
            tok.decode_bytes({5, id});
            ADD_FAILURE() << "id " << id << " decoded";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("20B_tokenizer.json"), std::string::npos) << e.what();
        }
    }
}

}  // namespace
}  // namespace rwkv::test
