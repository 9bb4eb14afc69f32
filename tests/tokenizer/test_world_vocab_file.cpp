// Reading World vocabulary files: every Python literal form, and clear errors for bad files.
#include "rwkv/error.h"
#include "tokenizer_test_util.h"

namespace rwkv::test {
namespace {


// The decode table is indexed by id: a 15-byte file naming id 16777215 would have sized it to 128 MB.
TEST(WorldVocabFile, IdsFarPastTheTokenCountAreRefused) {
    TempDir dir;
    const std::string path = dir.write("vocab.txt", "1 'a' 1\n16777215 'b' 1\n");
    try {
        load_tokenizer(path);
        ADD_FAILURE() << "loaded";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), path + ":2: bad vocab line: id 16777215 out of range 1..1028 for a vocabulary of 2 tokens");
    }
    EXPECT_EQ(load_tokenizer(dir.write("gaps.txt", "1 'a' 1\n1000 'b' 1\n"))->decode_bytes({1000}), "b");
}

TEST(WorldVocabFile, ParsesEveryLiteralForm) {
    TempDir dir;
    const std::string path = dir.write("vocab.txt",
                                       "1 'a' 1\n"
                                       "2 'ab' 2\n"
                                       "3 '\\x00\\t\\n\\r\\\\\\'' 6\n"
                                       "4 \"'\" 1\n"
                                       "5 '\\u00e9' 2\n"
                                       "6 '\\U0001F600' 4\n"
                                       "7 b'\\x80\\xff' 2\n"
                                       "8 '\\x80' 2\n"  // in a str, \\x80 is U+0080: two bytes
                                       "9 '\xC3\xA9t\xC3\xA9' 5\n"
                                       "10 ' ' 1\n"
                                       "11 '\\101\\0' 2\n"  // octal escapes
                                       "\n"
                                       "12 b\"\\\"q\" 2\r\n");
    const auto tok = load_tokenizer(path);
    EXPECT_EQ(tok->kind(), "world");
    EXPECT_EQ(tok->vocab_size(), 64u);  // padded like the models' embeddings
    EXPECT_EQ(tok->decode_bytes({1}), "a");
    EXPECT_EQ(tok->decode_bytes({3}), std::string("\0\t\n\r\\'", 6));
    EXPECT_EQ(tok->decode_bytes({4}), "'");
    EXPECT_EQ(tok->decode_bytes({5}), "\xC3\xA9");
    EXPECT_EQ(tok->decode_bytes({6}), "\xF0\x9F\x98\x80");
    EXPECT_EQ(tok->decode_bytes({7}), "\x80\xFF");
    EXPECT_EQ(tok->decode_bytes({8}), "\xC2\x80");
    EXPECT_EQ(tok->decode_bytes({9}), "\xC3\xA9t\xC3\xA9");
    EXPECT_EQ(tok->decode_bytes({11}), std::string("A\0", 2));
    EXPECT_EQ(tok->decode_bytes({12}), "\"q");
    // Greedy longest match: "ab" beats "a", then "a", then " ".
    EXPECT_EQ(tok->encode("aba "), (std::vector<int32_t>{2, 1, 10}));
    // A byte no token starts with cannot be encoded: an error, not a crash.
    try {
        tok->encode("az");
        ADD_FAILURE() << "encoded a byte without a token";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("0x7A"), std::string::npos) << e.what();
    }
    EXPECT_THROW(tok->decode_bytes({13}), Error);
    EXPECT_THROW(tok->decode_bytes({63}), Error);
}

struct BadVocab {
    const char* name;
    const char* content;
    const char* message;  // part of the expected error
};

class WorldVocabErrors : public ::testing::TestWithParam<BadVocab> {};

TEST_P(WorldVocabErrors, NameTheFileAndLine) {
    TempDir dir;
    const std::string path = dir.write("vocab.txt", std::string("1 'a' 1\n") + GetParam().content);
    const std::string error = load_error(path);
    EXPECT_NE(error.find(path + ":2:"), std::string::npos) << error;
    EXPECT_NE(error.find(GetParam().message), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << "one line: " << error;
}

INSTANTIATE_TEST_SUITE_P(
    Lines, WorldVocabErrors,
    ::testing::Values(BadVocab{"unclosed_literal", "2 'abc 3\n", "not closed"},
                      BadVocab{"no_quote", "2 abc 3\n", "does not start with a quote"},
                      BadVocab{"quote_inside", "2 'a'b' 3\n", "unescaped quote"},
                      BadVocab{"wrong_length", "2 'abc' 4\n", "3 bytes but the line says 4"},
                      BadVocab{"non_numeric_id", "x2 'b' 1\n", "id is not a number"},
                      BadVocab{"non_numeric_length", "2 'b' one\n", "byte length is not a number"},
                      BadVocab{"truncated_line", "2 'b'\n", "expected `id literal length`"},
                      BadVocab{"only_id", "2", "expected `id literal length`"},
                      BadVocab{"id_zero", "0 'b' 1\n", "out of range"},
                      BadVocab{"huge_id", "99999999999 'b' 1\n", "out of range"},
                      BadVocab{"duplicate_id", "1 'b' 1\n", "appears twice"},
                      BadVocab{"duplicate_token", "2 'a' 1\n", "same token as id 1"},
                      BadVocab{"empty_token", "2 '' 0\n", "empty token"},
                      BadVocab{"truncated_hex", "2 '\\x4' 1\n", "truncated \\x escape"},
                      BadVocab{"surrogate", "2 '\\ud800' 3\n", "cannot be UTF-8 encoded"},
                      BadVocab{"non_ascii_bytes", "2 b'\xC3\xA9' 2\n", "non-ASCII"},
                      BadVocab{"invalid_utf8", "2 '\xFF' 1\n", "invalid UTF-8"},
                      BadVocab{"lone_backslash", "2 'a\\' 1\n", "lone backslash"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(WorldVocabFile, EmptyOrMissingFilesAreErrors) {
    TempDir dir;
    const std::string empty = dir.write("empty.txt", "");
    EXPECT_NE(load_error(empty).find(empty + ": vocabulary has no tokens"), std::string::npos);
    const std::string missing = dir.path("missing.txt");
    EXPECT_NE(load_error(missing).find(missing), std::string::npos);
    EXPECT_NE(load_error(dir.path("")).find("directory"), std::string::npos);
}

}  // namespace
}  // namespace rwkv::test
