// `rwkv data` as a user runs it: text or JSON Lines in, a token file out, one JSON line of totals on stdout.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/cli_run.h"
#include "test_paths.h"

namespace rwkv {
namespace {

using test::CliRun;

CliRun run_data(const std::string& args) { return test::run_cli("data " + args, "", "data_run"); }

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A token file read by hand from the documented layout, so the test does not lean on the reader under test.
struct Tok {
    uint32_t width = 0, vocab = 0;
    uint64_t count = 0;
    std::string kind;
    std::vector<int32_t> tokens;
};

Tok read_tok(const std::string& path) {
    const std::string b = slurp(path);
    Tok t;
    if (b.size() < 64 || b.compare(0, 8, "RWKVTOK1") != 0) return t;
    std::memcpy(&t.width, b.data() + 12, 4);
    std::memcpy(&t.count, b.data() + 16, 8);
    std::memcpy(&t.vocab, b.data() + 24, 4);
    t.kind = std::string(b.data() + 28, strnlen(b.data() + 28, 32));
    for (size_t p = 64; p + t.width <= b.size(); p += t.width) {
        uint32_t v = 0;
        std::memcpy(&v, b.data() + p, t.width);
        t.tokens.push_back(static_cast<int32_t>(v));
    }
    return t;
}

std::vector<int32_t> bytes_of(const std::string& s) {
    std::vector<int32_t> v;
    for (unsigned char c : s) v.push_back(c);
    return v;
}

TEST(Data, BytesTokenizerWritesTheBytes) {
    const std::string dir = test::temp_dir("data_bytes");
    const std::string text = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n";
    std::ofstream(dir + "/in.txt", std::ios::binary) << text;
    const CliRun r = run_data("'" + dir + "/in.txt' -o '" + dir + "/out.tok' --tokenizer bytes");
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["output"], dir + "/out.tok");
    EXPECT_EQ(j["tokens"], text.size());
    EXPECT_EQ(j["vocab_size"], 256);
    EXPECT_EQ(j["tokenizer"], "bytes");
    EXPECT_EQ(j["documents"], 1);
    EXPECT_EQ(j["bytes"], text.size());
    const Tok t = read_tok(dir + "/out.tok");
    EXPECT_EQ(t.width, 2u);
    EXPECT_EQ(t.vocab, 256u);
    EXPECT_EQ(t.kind, "bytes");
    EXPECT_EQ(t.count, text.size());
    EXPECT_EQ(t.tokens, bytes_of(text));
}

TEST(Data, TextFilesWithEosAreDocuments) {
    const std::string dir = test::temp_dir("data_text_eos");
    std::ofstream(dir + "/a.txt", std::ios::binary) << "ab";
    std::ofstream(dir + "/b.txt", std::ios::binary) << "c\n";
    const CliRun r =
        run_data("'" + dir + "/a.txt' '" + dir + "/b.txt' -o '" + dir + "/out.tok' --tokenizer bytes --eos");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["documents"], 2);
    EXPECT_EQ(read_tok(dir + "/out.tok").tokens, (std::vector<int32_t>{'a', 'b', 0, 'c', '\n', 0}));
}

TEST(Data, JsonlDocumentsWithEos) {
    const std::string dir = test::temp_dir("data_jsonl");
    std::ofstream(dir + "/in.jsonl", std::ios::binary)
        << "{\"text\": \"Hi\", \"id\": 1}\n\n{\"id\": 2, \"text\": \"yo\\n\"}\n";
    const CliRun r = run_data("'" + dir + "/in.jsonl' --jsonl --eos -o '" + dir + "/out.tok' --tokenizer bytes");
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["documents"], 2);
    EXPECT_EQ(j["tokens"], 7);
    EXPECT_EQ(j["bytes"], 5);
    EXPECT_EQ(read_tok(dir + "/out.tok").tokens, (std::vector<int32_t>{'H', 'i', 0, 'y', 'o', '\n', 0}));

    std::ofstream(dir + "/other.jsonl", std::ios::binary) << "{\"body\": \"ok\"}\n";
    const CliRun f = run_data("'" + dir + "/other.jsonl' --jsonl --field body -o '" + dir + "/b.tok' --tokenizer bytes");
    ASSERT_EQ(f.status, 0) << f.err;
    EXPECT_EQ(read_tok(dir + "/b.tok").tokens, bytes_of("ok"));
}

TEST(Data, WorldTokenizerMatchesTokenize) {
    const std::string dir = test::temp_dir("data_world");
    const std::string vocab = test::shared("testdata/tokenizer/rwkv_vocab_v20230424.txt");
    std::ofstream(dir + "/in.txt", std::ios::binary) << "Hello world";
    const CliRun r = run_data("'" + dir + "/in.txt' -o '" + dir + "/out.tok' --tokenizer '" + vocab + "' --eos");
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["tokenizer"], "world");
    EXPECT_EQ(j["vocab_size"], 65536);
    const Tok t = read_tok(dir + "/out.tok");
    EXPECT_EQ(t.width, 2u);
    EXPECT_EQ(t.vocab, 65536u);
    EXPECT_EQ(t.kind, "world");
    EXPECT_EQ(t.tokens, (std::vector<int32_t>{33155, 40213, 0}));
}

// Over a megabyte of text is encoded in pieces cut at line breaks; for World that must not change a token.
TEST(Data, LargeTextSplitIntoPiecesGivesTheSameWorldTokens) {
    const std::string dir = test::temp_dir("data_world_large");
    const std::string vocab = test::shared("testdata/tokenizer/rwkv_vocab_v20230424.txt");
    // Nearly every line starts with spaces, which World joins to the line break before them ("\n    " is one
    // token); only the rare headings are places a piece may end.
    std::string text;
    for (int i = 0; text.size() < 2'600'000; ++i)
        text += i % 2000 == 0 ? "Book " + std::to_string(i) + "\n" : "    verse " + std::to_string(i) + ", word.\r\n";
    std::ofstream(dir + "/in.txt", std::ios::binary) << text;
    const CliRun whole = test::run_cli("tokenize --tokenizer '" + vocab + "'", text, "data_world_tokenize");
    ASSERT_EQ(whole.status, 0) << whole.err;
    const CliRun r = run_data("'" + dir + "/in.txt' -o '" + dir + "/out.tok' --tokenizer '" + vocab + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    const auto want = nlohmann::json::parse(whole.out).get<std::vector<int32_t>>();
    EXPECT_EQ(read_tok(dir + "/out.tok").tokens, want);
    EXPECT_EQ(nlohmann::json::parse(r.out)["bytes"], text.size());
}

TEST(Data, BadJsonlNamesTheLine) {
    const std::string dir = test::temp_dir("data_bad_jsonl");
    struct Case {
        const char* content;
        const char* says;
    };
    for (const Case c : {Case{"{\"text\": \"a\"}\n{\"text\": \"b\"\n", "in.jsonl:2:"},
                         Case{"{\"text\": \"a\"}\n\n{\"body\": \"b\"}\n", "in.jsonl:3:"},
                         Case{"{\"text\": 5}\n", "in.jsonl:1:"}, Case{"[1, 2]\n", "in.jsonl:1:"}}) {
        std::ofstream(dir + "/in.jsonl", std::ios::binary | std::ios::trunc) << c.content;
        const CliRun r = run_data("'" + dir + "/in.jsonl' --jsonl -o '" + dir + "/out.tok' --tokenizer bytes");
        EXPECT_NE(r.status, 0) << c.content;
        EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
        EXPECT_FALSE(std::ifstream(dir + "/out.tok").good()) << "no output after an error";
    }
    const CliRun r = run_data("'" + dir + "/missing.txt' -o '" + dir + "/out.tok' --tokenizer bytes");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("missing.txt"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace rwkv
