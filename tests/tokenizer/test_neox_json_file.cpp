// Reading tokenizer.json files: a small hand-made byte-level BPE, and clear errors for bad files.
#include <functional>

#include "rwkv/error.h"
#include "tokenizer_test_util.h"

namespace rwkv::test {
namespace {

using nlohmann::json;

// GPT-2's printable stand-in for a byte, UTF-8 encoded (written out again here so the test
// does not trust the code under test).
std::string byte_char(int b) {
    const auto printable = [](int x) { return (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174; };
    int cp = b;
    if (!printable(b)) {
        cp = 256;
        for (int x = 0; x < b; ++x) cp += printable(x) ? 0 : 1;
    }
    std::string s;
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
}

// Ids 0..255 are the bytes; then "he", "ll", "hell", "Ġw"; merges build them.
json small_tokenizer() {
    json vocab = json::object();
    for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
    vocab["he"] = 256;
    vocab["ll"] = 257;
    vocab["hell"] = 258;
    vocab["Ġw"] = 259;
    vocab["<|endoftext|>"] = 260;
    json j;
    j["version"] = "1.0";
    j["normalizer"] = {{"type", "NFC"}};
    j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}};
    j["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"h e", "l l", "he ll", "Ġ w"}}};
    j["added_tokens"] = json::array();
    j["added_tokens"].push_back({{"id", 260}, {"content", "<|endoftext|>"}, {"special", true},
                                 {"single_word", false}, {"lstrip", false}, {"rstrip", false}, {"normalized", false}});
    return j;
}


TEST(NeoxJsonFile, SmallByteLevelBpe) {
    TempDir dir;
    const auto tok = load_tokenizer(dir.write("tokenizer.json", small_tokenizer().dump()));
    EXPECT_EQ(tok->kind(), "neox");
    EXPECT_EQ(tok->vocab_size(), 261u);
    EXPECT_EQ(tok->eos_id(), 260);
    // "hello world": "hello" -> he+ll -> hell + o; " world" -> Ġw + o r l d.
    EXPECT_EQ(tok->encode("hello world"), (std::vector<int32_t>{258, 'o', 259, 'o', 'r', 'l', 'd'}));
    EXPECT_EQ(tok->decode(tok->encode("hello world")), "hello world");
    EXPECT_EQ(tok->encode("x<|endoftext|>"), (std::vector<int32_t>{'x', 260}));
    // Vocabulary entries are spelled in GPT-2 characters ("Ġ" for id 32) but decode to bytes.
    EXPECT_EQ(tok->decode_bytes({' ', '\n', 259}), " \n w");
}

TEST(NeoxJsonFile, MergesAsPairsWork) {
    json j = small_tokenizer();
    j["model"]["merges"] = json::array({json::array({"h", "e"}), json::array({"l", "l"}),
                                        json::array({"he", "ll"}), json::array({"Ġ", "w"})});
    TempDir dir;
    const auto tok = load_tokenizer(dir.write("t.json", j.dump()));
    EXPECT_EQ(tok->encode("hello world"), (std::vector<int32_t>{258, 'o', 259, 'o', 'r', 'l', 'd'}));
}

TEST(NeoxJsonFile, AddedTokenFlags) {
    json j = small_tokenizer();
    j["model"]["vocab"]["<m>"] = 261;
    j["model"]["vocab"]["<w>"] = 262;
    j["added_tokens"].push_back({{"id", 261}, {"content", "<m>"}, {"special", true}, {"lstrip", true},
                                 {"rstrip", true}, {"normalized", false}});
    j["added_tokens"].push_back({{"id", 262}, {"content", "<w>"}, {"special", true}, {"single_word", true},
                                 {"normalized", false}});
    TempDir dir;
    const auto tok = load_tokenizer(dir.write("t.json", j.dump()));
    // lstrip/rstrip: the spaces around <m> belong to it.
    EXPECT_EQ(tok->encode("a  <m> b"), (std::vector<int32_t>{'a', 261, 'b'}));
    // single_word: only where no word character touches it.
    EXPECT_EQ(tok->encode("a <w>"), (std::vector<int32_t>{'a', 32, 262}));
    EXPECT_EQ(tok->encode("a<w>").size(), 4u);
}

TEST(NeoxJsonFile, RepeatedAddedTokensKeepTheFirst) {
    json j = small_tokenizer();
    j["model"]["vocab"]["<x>"] = 261;
    j["added_tokens"].push_back({{"id", 261}, {"content", "<|endoftext|>"}, {"special", true}, {"normalized", false}});
    TempDir dir;
    const auto tok = load_tokenizer(dir.write("t.json", j.dump()));
    EXPECT_EQ(tok->encode("<|endoftext|>"), (std::vector<int32_t>{260}));
}

struct BadJson {
    const char* name;
    std::string content;
    const char* message;
};

class NeoxJsonErrors : public ::testing::TestWithParam<BadJson> {};

TEST_P(NeoxJsonErrors, NameTheFileAndTheProblem) {
    TempDir dir;
    const std::string path = dir.write("tokenizer.json", GetParam().content);
    const std::string error = load_error(path);
    EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
    EXPECT_NE(error.find(GetParam().message), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << "one line: " << error;
}

std::string with(const std::function<void(json&)>& edit) {
    json j = small_tokenizer();
    edit(j);
    return j.dump();
}

INSTANTIATE_TEST_SUITE_P(
    Files, NeoxJsonErrors,
    ::testing::Values(
        BadJson{"not_json", "{\"model\": [1, 2", "not valid JSON"},
        BadJson{"empty_file", "", "not valid JSON"},
        BadJson{"top_level_array", "[1, 2, 3]", "top level"},
        BadJson{"no_model", with([](json& j) { j.erase("model"); }), "missing \"model\""},
        BadJson{"no_vocab", with([](json& j) { j["model"].erase("vocab"); }), "missing model.vocab"},
        BadJson{"vocab_not_object", with([](json& j) { j["model"]["vocab"] = json::array(); }), "missing model.vocab"},
        BadJson{"vocab_id_negative", with([](json& j) { j["model"]["vocab"]["he"] = -3; }), "model.vocab[\"he\"]"},
        BadJson{"vocab_id_string", with([](json& j) { j["model"]["vocab"]["he"] = "7"; }), "expected a token id"},
        BadJson{"vocab_id_twice", with([](json& j) { j["model"]["vocab"]["ll"] = 256; }), "given to two tokens"},
        BadJson{"merge_unknown_left", with([](json& j) { j["model"]["merges"].push_back("zz q"); }),
                "model.merges[4]: unknown token \"zz\""},
        BadJson{"merge_unknown_right", with([](json& j) { j["model"]["merges"].push_back("q zz"); }),
                "model.merges[4]: unknown token \"zz\""},
        BadJson{"merge_result_unknown", with([](json& j) { j["model"]["merges"].push_back("q q"); }),
                "merged token \"qq\" is not in model.vocab"},
        BadJson{"merge_no_space", with([](json& j) { j["model"]["merges"].push_back("he"); }), "model.merges[4]"},
        BadJson{"merge_number", with([](json& j) { j["model"]["merges"].push_back(5); }), "model.merges[4]"},
        BadJson{"merges_not_array", with([](json& j) { j["model"]["merges"] = "h e"; }), "model.merges"},
        BadJson{"missing_byte", with([](json& j) { j["model"]["vocab"].erase("a"); }), "no token for byte 0x61"},
        BadJson{"not_bpe", with([](json& j) { j["model"]["type"] = "WordPiece"; }), "only \"BPE\""},
        BadJson{"normalizer", with([](json& j) { j["normalizer"] = {{"type", "Lowercase"}}; }), "not supported"},
        BadJson{"pre_tokenizer", with([](json& j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; }), "ByteLevel"},
        BadJson{"added_no_id", with([](json& j) { j["added_tokens"][0].erase("id"); }), "added_tokens[0]"},
        BadJson{"added_flag_type", with([](json& j) { j["added_tokens"][0]["lstrip"] = "yes"; }),
                "added_tokens[0].lstrip"},
        // An id far past the number of tokens would size the decode table by the id, not by the file.
        BadJson{"added_id_huge", with([](json& j) { j["added_tokens"][0]["id"] = 16777215; }),
                "added_tokens[0].id: expected a token id 0.."},
        BadJson{"vocab_id_huge", with([](json& j) { j["model"]["vocab"]["he"] = 9000000; }),
                "model.vocab[\"he\"]: expected a token id 0.."}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace rwkv::test
