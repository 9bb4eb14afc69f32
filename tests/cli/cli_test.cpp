// The command line as users and other checks call it (spellings from DESIGN.md).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/cli_run.h"
#include "test_paths.h"

namespace rwkv {
namespace {

using test::CliRun;

// Runs the rwkv binary with `args` (shell syntax), stdin from `input`.
CliRun run(const std::string& args, const std::string& input = "") { return test::run_cli(args, input); }

std::string ref(const std::string& c) { return test::shared("testdata/reference/" + c); }
std::string tiny(const std::string& stem) { return test::shared("testdata/rwkvcpp-tiny/tiny-rwkv-" + stem + ".bin"); }

size_t lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

TEST(Cli, LogitsReproducesReferenceInBothModes) {
    for (const char* c : {"v4", "v5", "v6", "v7"}) {
        std::ifstream in(ref(c) + "/case.json");
        const auto j = nlohmann::json::parse(in);
        std::string tokens;
        for (int t : j["tokens"]) tokens += (tokens.empty() ? "" : ",") + std::to_string(t);
        const auto want = test::read_f32(ref(c) + "/logits.f32");
        for (const char* mode : {"rnn", "seq"}) {
            const std::string out = test::temp_dir("cli_logits") + "/out.f32";
            const CliRun r = run("logits -m '" + ref(c) + "/model.pth' --tokens " + tokens + " --mode " + mode +
                              " -t 2 -o '" + out + "'");
            ASSERT_EQ(r.status, 0) << r.err;
            const auto got = test::read_f32(out);
            ASSERT_EQ(got.size(), want.size()) << c;
            float m = 0;
            for (size_t i = 0; i < got.size(); ++i) m = std::max(m, std::fabs(got[i] - want[i]));
            EXPECT_LE(m, 1e-4f) << c << " " << mode;
        }
    }
}

TEST(Cli, InfoPrintsGenerationAsJson) {
    const CliRun r = run("info -m '" + ref("v6") + "/model.pth'");
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["generation"], "6");
    EXPECT_EQ(j["n_layer"], 2);
    EXPECT_EQ(j["n_embd"], 128);
    EXPECT_EQ(j["head_size"], 64);
    EXPECT_EQ(j["format"], "pth");
    const auto k = nlohmann::json::parse(run("info -m '" + tiny("5v2-730K-Q5_1") + "'").out);
    EXPECT_EQ(k["generation"], "5.2");
    EXPECT_EQ(k["dtype"], "q5_1");
    EXPECT_EQ(k["format"], "rwkvcpp");
}

TEST(Cli, TokenizeRoundTrips) {
    const std::string vocab = test::shared("testdata/tokenizer/rwkv_vocab_v20230424.txt");
    CliRun r = run("tokenize --tokenizer '" + vocab + "'", "Hello world");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json({33155, 40213}));
    r = run("tokenize --tokenizer '" + vocab + "' --decode", "[33155, 40213]");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "Hello world");
    r = run("tokenize --tokenizer bytes", "hi");
    EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json({104, 105}));
}

TEST(Cli, GenerateIsReproducibleWithASeedAndReportsSpeed) {
    const std::string args = "generate -m '" + tiny("7v0-834K-FP32") +
                             "' --tokenizer bytes -p 'The ' -n 40 --seed 7 --temp 0.8 --top-p 0.9 -t 1";
    const CliRun a = run(args), b = run(args);
    ASSERT_EQ(a.status, 0) << a.err;
    EXPECT_EQ(a.out, b.out);
    EXPECT_EQ(a.out.rfind("The ", 0), 0u) << a.out;
    EXPECT_GT(a.out.size(), 10u);
    EXPECT_NE(a.err.find("tokens/s"), std::string::npos) << a.err;
    const CliRun c = run("generate -m '" + tiny("7v0-834K-FP32") + "' --tokenizer bytes -p 'The ' -n 40 --seed 8 -t 1");
    EXPECT_NE(a.out, c.out);
}

TEST(Cli, ChatKeepsStateBetweenTurns) {
    const CliRun r = run("chat -m '" + tiny("6v0-1m-FP32") + "' --tokenizer bytes -n 30 --seed 1", "Hello\nHow are you?\n");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), 'A') >= 2, true) << r.out;
    EXPECT_NE(r.out.find("Assistant:"), std::string::npos);
}

// rwkv init writes a random model of the asked shape and type; rwkv convert turns an official checkpoint
// into GGUF, whose logits then match the reference like the original's.
TEST(Cli, InitAndConvertWriteLoadableGguf) {
    const std::string dir = test::temp_dir("cli_init");
    CliRun r = run("init --version 7 --layers 2 --embd 64 --vocab 96 --type q8_0 -o '" + dir + "/r.gguf'");
    ASSERT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(run("info -m '" + dir + "/r.gguf'").out);
    EXPECT_EQ(j["format"], "gguf");
    EXPECT_EQ(j["generation"], "7");
    EXPECT_EQ(j["n_layer"], 2);
    EXPECT_EQ(j["n_vocab"], 96);
    EXPECT_EQ(j["dtype"], "q8_0");
    // A byte-level model records that it is: it runs without --tokenizer; a model with more ids than bytes
    // cannot be marked so.
    r = run("init --version 7 --layers 1 --embd 64 --vocab 256 --tokenizer bytes -o '" + dir + "/b.gguf'");
    ASSERT_EQ(r.status, 0) << r.err;
    r = run("generate -m '" + dir + "/b.gguf' -p hi -n 4");
    EXPECT_EQ(r.status, 0) << r.err;
    r = run("generate -m '" + dir + "/r.gguf' -p hi -n 4");
    EXPECT_NE(r.status, 0);  // no tokenizer recorded or beside it
    r = run("init --version 7 --layers 1 --embd 64 --vocab 300 --tokenizer bytes -o '" + dir + "/c.gguf'");
    EXPECT_NE(r.status, 0);

    const std::string vocab = test::shared("testdata/tokenizer/rwkv_vocab_v20230424.txt");
    r = run("convert '" + ref("v6") + "/model.pth' '" + dir + "/v6.gguf' --type f32 --tokenizer '" + vocab + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    // The vocabulary travels inside the converted file.
    r = run("tokenize -m '" + dir + "/v6.gguf'", "Hello world");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::parse("[33155, 40213]"));
    std::ifstream in(ref("v6") + "/case.json");
    const auto c = nlohmann::json::parse(in);
    std::string tokens;
    for (const auto& t : c["tokens"]) tokens += (tokens.empty() ? "" : ",") + std::to_string(t.get<int>());
    r = run("logits -m '" + dir + "/v6.gguf' --tokens " + tokens + " -o '" + dir + "/l.f32'");
    ASSERT_EQ(r.status, 0) << r.err;
    const auto got = test::read_f32(dir + "/l.f32"), want = test::read_f32(ref("v6") + "/logits.f32");
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4) << i;
}

// rwkv convert writes what the output's name says: an official .pth or .safetensors (both loaded back by the
// format's own reader, with the logits of the original), or GGUF.
TEST(Cli, ConvertWritesTheFormatItsOutputIsNamedFor) {
    const std::string dir = test::temp_dir("cli_convert_formats");
    std::ifstream in(ref("v7") + "/case.json");
    const auto c = nlohmann::json::parse(in);
    std::string tokens;
    for (const auto& t : c["tokens"]) tokens += (tokens.empty() ? "" : ",") + std::to_string(t.get<int>());
    const auto want = test::read_f32(ref("v7") + "/logits.f32");
    for (const std::string out : {"m.pth", "m.safetensors", "m.gguf"}) {
        CliRun r = run("convert '" + ref("v7") + "/model.pth' '" + dir + "/" + out + "' --type f32");
        ASSERT_EQ(r.status, 0) << out << ": " << r.err;
        const auto j = nlohmann::json::parse(run("info -m '" + dir + "/" + out + "'").out);
        EXPECT_EQ(j["format"], out.substr(2)) << out;
        r = run("logits -m '" + dir + "/" + out + "' --tokens " + tokens + " -o '" + dir + "/l.f32'");
        ASSERT_EQ(r.status, 0) << r.err;
        const auto got = test::read_f32(dir + "/l.f32");
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4) << out << " " << i;
    }
    // bf16, as official checkpoints are saved.
    CliRun r = run("convert '" + ref("v7") + "/model.pth' '" + dir + "/bf.pth' --type bf16");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(run("info -m '" + dir + "/bf.pth'").out)["dtype"], "bf16");
}

TEST(Cli, BadInputGivesOneErrorLineAndNonZeroExit) {
    const std::string dir = test::temp_dir("cli_bad");
    const std::string m = "'" + ref("v7") + "/model.pth'";
    std::vector<std::string> cases = {
        "info -m '" + dir + "/missing.pth'",
        "info -m '" + ref("v7") + "/case.json'",
        "logits -m " + m + " --tokens 1,2,512 -o '" + dir + "/o.f32'",
        "logits -m " + m + " --tokens 1,x -o '" + dir + "/o.f32'",
        "generate -m " + m + " -p hi -n 2 --tokenizer '" + dir + "/no-vocab.txt'",
        "generate -m " + m + " -p hi -n 2",  // no tokenizer beside the model
        "generate -m '" + tiny("4v0-660K-FP32") + "' --tokenizer bytes -p hi --temp -1",
        "convert " + m + " '" + dir + "/o.gguf' --type q3_x",
        "convert '" + ref("v7") + "/case.json' '" + dir + "/o.gguf'",
        "convert " + m + " '" + dir + "/o.pth' --type q8_0",   // .pth holds float tensors only
        "convert " + m + " '" + dir + "/o.bin'",                // a name that says no format
        "init --version 7 --layers 2 --embd 33 --vocab 64 -o '" + dir + "/o.gguf'",
        "init --version 3 --layers 2 --embd 64 --vocab 64 -o '" + dir + "/o.gguf'",
    };
    for (const auto& c : cases) {
        const CliRun r = run(c);
        EXPECT_NE(r.status, 0) << c;
        EXPECT_EQ(lines(r.err), 1u) << c << "\n" << r.err;
        EXPECT_NE(r.err.find("error"), std::string::npos) << c << "\n" << r.err;
    }
}

// Errors that used to say nothing (a bare std::bad_alloc, a hang, a failure mid-generation) now name their cause,
// on one line, before any work starts.
TEST(Cli, ErrorsNameTheirCause) {
    const std::string dir = test::temp_dir("cli_causes");
    const std::string m = "'" + tiny("7v0-834K-FP32") + "' --tokenizer bytes -p hi -n 2";
    std::filesystem::create_directories(dir + "/a-directory");
    {
        std::ifstream vocab(test::shared("testdata/tokenizer/rwkv_vocab_v20230424.txt"));
        std::ofstream cut(dir + "/vocab-100-lines.txt");
        std::string line;
        for (int i = 0; i < 100 && std::getline(vocab, line); ++i) cut << line << "\n";  // ends on a whole line
    }
    std::ofstream(dir + "/t.txt") << std::string(4000, 'a');
    ASSERT_EQ(run("data '" + dir + "/t.txt' -o '" + dir + "/t.tok' --tokenizer bytes").status, 0);
    const std::string train = "train --data '" + dir + "/t.tok' -o '" + dir + "/run' --layers 1 --embd 32 --head-size 16 ";
    const std::pair<std::string, std::string> cases[] = {
        {"generate -m " + m + " --state-in '" + dir + "/a-directory'", "a-directory: is a directory, not a regular file"},
        {"generate -m " + m + " -t 0", "the thread count must be at least 1, not 0"},
        {"generate -m " + m + " -t -3", "the thread count must be at least 1, not -3"},
        {"generate -m " + m + " -t 100000", "at most"},
        {"generate -m '" + ref("v7") + "/model.pth' --tokenizer bytes -p hi -n 2",
         "the bytes tokenizer has 256 ids but the model outputs 512"},
        {"generate -m '" + ref("v7") + "/model.pth' --tokenizer '" + dir + "/vocab-100-lines.txt' -p hi -n 2",
         "the world tokenizer has 128 ids but the model outputs 512"},
        {train + "--lr nan", "the learning rate (lr) is nan"},
        {train + "--batch 1000000000000", "more than this machine's"},
        {train + "--batch 64 --ctx-len 1000000", "more than this machine's"},
        {train + "-t 0", "the thread count must be at least 1"},
    };
    for (const auto& [args, cause] : cases) {
        const CliRun r = run(args);
        EXPECT_NE(r.status, 0) << args;
        EXPECT_EQ(lines(r.err), 1u) << args << "\n" << r.err;
        EXPECT_NE(r.err.find(cause), std::string::npos) << args << "\n" << r.err;
    }
    EXPECT_FALSE(std::filesystem::exists(dir + "/run")) << "a refused run left a folder behind";
}

}  // namespace
}  // namespace rwkv
