// The World vocabulary embedded in a GGUF file the way llama.cpp's converter writes it: found for a .gguf model
// with no vocab file beside it, and encoding exactly as the vocab file does.
#include <fstream>
#include <nlohmann/json.hpp>

#include "rwkv/error.h"
#include "rwkv/gguf.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer_test_util.h"

namespace rwkv::test {
namespace {

const std::string kVocab = std::string(RWKV_SHARED_DIR) + "/testdata/tokenizer/rwkv_vocab_v20230424.txt";

// A GGUF holding only tokenizer metadata, as rwkv convert writes it.
std::string write_gguf_with_vocab(const TempDir& dir, const Tokenizer& file_tok, const std::string& kind = "rwkv") {
    GgufWriterInput in;
    in.metadata.emplace_back("general.architecture", std::string("rwkv7"));
    for (auto& kv : tok::world_vocab_gguf_metadata(file_tok)) in.metadata.push_back(std::move(kv));
    in.metadata[1].second = GgufValue(kind);  // tokenizer.ggml.model
    const std::string path = dir.path("model.gguf");
    save_gguf(path, in);
    return path;
}

// The strings llama.cpp's converter writes: Python's repr(bytes)[2:-1] of each token.
TEST(GgufVocab, TokensAreStoredAsLlamaCppWritesThem) {
    TempDir dir;
    const auto file_tok = load_tokenizer(
        dir.write("v.txt", "1 '\\n' 1\n2 \"'\" 1\n3 '\\\\' 1\n4 b'\\xe4' 1\n5 'a\\'\"' 3\n7 'z' 1\n"));
    const auto md = tok::world_vocab_gguf_metadata(*file_tok);
    ASSERT_EQ(md[0].first, "tokenizer.ggml.model");
    EXPECT_EQ(md[0].second.to_string(), "rwkv");
    const GgufValue& tokens = md[1].second;
    ASSERT_EQ(tokens.array_size(), 64u);  // padded like the embedding
    EXPECT_EQ(tokens.string_at(0), "<s>");
    EXPECT_EQ(tokens.string_at(1), "\\n");
    EXPECT_EQ(tokens.string_at(2), "'");          // repr(b"'") is b"'"
    EXPECT_EQ(tokens.string_at(3), "\\\\");
    EXPECT_EQ(tokens.string_at(4), "\\xe4");
    EXPECT_EQ(tokens.string_at(5), "a\\'\"");  // repr(b'a\'"') is b'a\'"'
    EXPECT_EQ(tokens.string_at(6), "[PAD6]");
    EXPECT_EQ(md[2].second.as_array<int32_t>()[6], 5);  // unused
    EXPECT_EQ(md[2].second.as_array<int32_t>()[7], 1);  // normal
}

TEST(GgufVocab, EmbeddedWorldVocabEncodesLikeTheFile) {
    TempDir dir;
    const auto file_tok = load_tokenizer(kVocab);
    const std::string model = write_gguf_with_vocab(dir, *file_tok);
    const auto tok = find_tokenizer(model, "");
    EXPECT_EQ(tok->kind(), "world");
    EXPECT_EQ(tok->vocab_size(), file_tok->vocab_size());
    std::ifstream cases(std::string(RWKV_SHARED_DIR) + "/testdata/tokenizer/world_cases.jsonl");
    std::string line;
    int n = 0;
    while (std::getline(cases, line)) {
        const auto c = nlohmann::json::parse(line);
        const std::string text = c["text"].get<std::string>();
        EXPECT_EQ(tok->encode(text), file_tok->encode(text)) << text;
        ++n;
    }
    EXPECT_GT(n, 10);
    EXPECT_EQ(tok->encode("\n\\'\"\t\xe4\xbd\xa0"), file_tok->encode("\n\\'\"\t\xe4\xbd\xa0"));
}

TEST(GgufVocab, AVocabFileBesideTheModelStillWins) {
    TempDir dir;
    const std::string model = write_gguf_with_vocab(dir, *load_tokenizer(kVocab));
    dir.write("rwkv_vocab_v20230424.txt", "1 'a' 1\n");
    EXPECT_EQ(find_tokenizer(model, "")->encode("aa"), (std::vector<int32_t>{1, 1}));
}

TEST(GgufVocab, OtherKindsAndBadEscapesAreRefusedByName) {
    TempDir dir;
    const auto file_tok = load_tokenizer(dir.write("v.txt", "1 'a' 1\n"));
    const std::string model = write_gguf_with_vocab(dir, *file_tok, "gpt2");
    try {
        find_tokenizer(model, "");
        ADD_FAILURE() << "gpt2 vocabulary accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("gpt2"), std::string::npos) << e.what();
    }
    GgufWriterInput in;
    in.metadata.emplace_back("tokenizer.ggml.model", std::string("rwkv"));
    in.metadata.emplace_back("tokenizer.ggml.tokens", GgufValue::array(std::vector<std::string>{"<s>", "a", "\\x4"}));
    save_gguf(dir.path("bad.gguf"), in);
    try {
        find_tokenizer(dir.path("bad.gguf"), "");
        ADD_FAILURE() << "bad escape accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.tokens[2]"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace rwkv::test
