// The World tokenizer against the official implementation's output.
#include "rwkv/error.h"
#include "tokenizer_test_util.h"

namespace rwkv::test {
namespace {

TEST(WorldTokenizer, EncodesEveryReferenceCaseExactly) {
    const Tokenizer& tok = world_tokenizer();
    const auto cases = read_cases(tokenizer_data("world_cases.jsonl"));
    ASSERT_EQ(cases.size(), 246u);
    for (size_t i = 0; i < cases.size(); ++i) {
        EXPECT_EQ(tok.encode(cases[i].text), cases[i].ids) << "case " << i << ": " << cases[i].text.substr(0, 80);
        EXPECT_EQ(tok.decode(cases[i].ids), cases[i].text) << "case " << i;
    }
}

TEST(WorldTokenizer, DescribesItself) {
    const Tokenizer& tok = world_tokenizer();
    EXPECT_EQ(tok.kind(), "world");
    EXPECT_EQ(tok.vocab_size(), 65536u);
    EXPECT_EQ(tok.eos_id(), 0);
}

TEST(WorldTokenizer, DecodesKnownTokens) {
    const Tokenizer& tok = world_tokenizer();
    EXPECT_EQ(tok.decode_bytes({1}), std::string(1, '\0'));
    EXPECT_EQ(tok.decode_bytes({11}), "\n");
    EXPECT_EQ(tok.decode_bytes({129}), "\x80");  // a bytes literal, b'\x80'
    EXPECT_EQ(tok.decode_bytes({9804}), "\u2002");  // a str literal with a \u escape
    EXPECT_EQ(tok.decode_bytes({65529}), std::string(128, ' '));
    EXPECT_EQ(tok.decode_bytes({0}), "");  // end-of-text
}

TEST(WorldTokenizer, EncodesEveryByteValue) {
    const Tokenizer& tok = world_tokenizer();
    std::string all;
    for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
    EXPECT_EQ(tok.decode_bytes(tok.encode(all)), all);
}

TEST(WorldTokenizer, RejectsIdsWithoutAToken) {
    const Tokenizer& tok = world_tokenizer();
    for (int32_t id : {-1, 65530, 65535, 65536, 1 << 30}) {
        try {
            tok.decode_bytes({5, id});
            ADD_FAILURE() << "id " << id << " decoded";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("rwkv_vocab_v20230424.txt"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(std::to_string(id)), std::string::npos) << e.what();
        }
    }
}

}  // namespace
}  // namespace rwkv::test
