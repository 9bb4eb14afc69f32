// The byte-level tokenizer: id = byte value.
#include <random>

#include "rwkv/error.h"
#include "tokenizer_test_util.h"

namespace rwkv::test {
namespace {

TEST(BytesTokenizer, DescribesItself) {
    const auto tok = load_tokenizer("bytes");
    EXPECT_EQ(tok->kind(), "bytes");
    EXPECT_EQ(tok->vocab_size(), 256u);
    EXPECT_EQ(tok->eos_id(), 0);
}

TEST(BytesTokenizer, RoundTripsArbitraryBytes) {
    const auto tok = load_tokenizer("bytes");
    std::mt19937 rng(7);
    for (int round = 0; round < 200; ++round) {
        std::string s(rng() % 300, '\0');
        for (char& c : s) c = static_cast<char>(rng() & 0xFF);
        const auto ids = tok->encode(s);
        ASSERT_EQ(ids.size(), s.size());
        for (size_t i = 0; i < s.size(); ++i) ASSERT_EQ(ids[i], static_cast<unsigned char>(s[i]));
        ASSERT_EQ(tok->decode_bytes(ids), s);
    }
}

TEST(BytesTokenizer, RejectsIdsOutsideAByte) {
    const auto tok = load_tokenizer("bytes");
    EXPECT_THROW(tok->decode_bytes({65, 256}), Error);
    EXPECT_THROW(tok->decode_bytes({-1}), Error);
    EXPECT_EQ(tok->decode_bytes({0, 255}), std::string("\0\xFF", 2));
}

}  // namespace
}  // namespace rwkv::test
