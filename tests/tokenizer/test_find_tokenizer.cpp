// Finding the tokenizer that travels with a model.
#include "rwkv/error.h"
#include "tokenizer_test_util.h"

namespace rwkv::test {
namespace {

const char* kTinyWorld = "1 'a' 1\n2 'b' 1\n3 'ab' 2\n";

TEST(FindTokenizer, PicksTheWorldVocabBesideTheModel) {
    TempDir dir;
    const std::string model = dir.write("model.pth", "not really a model");
    dir.write("rwkv_vocab_v20230424.txt", kTinyWorld);
    const auto tok = find_tokenizer(model, "");
    EXPECT_EQ(tok->kind(), "world");
    EXPECT_EQ(tok->encode("abab"), (std::vector<int32_t>{3, 3}));
}

TEST(FindTokenizer, ExplicitSpecWins) {
    TempDir dir;
    const std::string model = dir.write("model.pth", "");
    dir.write("rwkv_vocab_v20230424.txt", kTinyWorld);
    EXPECT_EQ(find_tokenizer(model, "bytes")->kind(), "bytes");
    const std::string other = dir.write("other_vocab.txt", "1 'x' 1\n");
    EXPECT_EQ(find_tokenizer(model, other)->encode("xx"), (std::vector<int32_t>{1, 1}));
    try {
        find_tokenizer(model, dir.path("nope.json"));
        ADD_FAILURE() << "missing explicit tokenizer accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(dir.path("nope.json")), std::string::npos) << e.what();
    }
}

TEST(FindTokenizer, PrefersTheWorldVocabThenTokenizerJson) {
    TempDir dir;
    const std::string model = dir.write("model.safetensors", "");
    // A broken tokenizer.json proves which file was read: the error names it.
    dir.write("tokenizer.json", "{ broken");
    try {
        find_tokenizer(model, "");
        ADD_FAILURE() << "broken tokenizer.json accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(dir.path("tokenizer.json")), std::string::npos) << e.what();
    }
    dir.write("rwkv_vocab_v20230424.txt", kTinyWorld);
    EXPECT_EQ(find_tokenizer(model, "")->kind(), "world");
}

TEST(FindTokenizer, FallsBackTo20BTokenizerJson) {
    TempDir dir;
    const std::string model = dir.write("RWKV-4-Pile-169M.pth", "");
    dir.write("20B_tokenizer.json", "[]");
    try {
        find_tokenizer(model, "");
        ADD_FAILURE() << "bad 20B_tokenizer.json accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(dir.path("20B_tokenizer.json")), std::string::npos) << e.what();
    }
}

TEST(FindTokenizer, SaysWhatToPassWhenThereIsNone) {
    TempDir dir;
    const std::string model = dir.write("model.gguf", "");
    dir.write("README.txt", "not a tokenizer");
    try {
        find_tokenizer(model, "");
        ADD_FAILURE() << "found a tokenizer in an empty directory";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_EQ(msg, model + ": no tokenizer found beside the model; pass --tokenizer FILE (a World vocab .txt or a "
                               "tokenizer.json) or --tokenizer bytes");
    }
}

}  // namespace
}  // namespace rwkv::test
