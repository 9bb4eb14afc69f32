// `rwkv train` and `rwkv data` as a user runs them: a small end-to-end run whose checkpoint generates text, and
// bad input that gets one clear error line and a non-zero exit.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_run.h"

namespace rwkv::test {
namespace {

TEST(TrainCli, TrainsAModelThatGenerates) {
    const std::string dir = temp_dir("train_cli_run");
    {
        std::ofstream text(dir + "/text.txt");
        for (int i = 0; i < 300; ++i) text << "the cat sat on the mat. the dog sat on the log.\n";
    }
    CliRun d = run_cli("data '" + dir + "/text.txt' -o '" + dir + "/text.tok' --tokenizer bytes", "", "train_cli_data");
    ASSERT_EQ(d.status, 0) << d.err;
    const CliRun r = run_cli("train --data '" + dir + "/text.tok' -o '" + dir +
                                 "/run' --layers 1 --embd 32 --head-size 16 --ctx-len 24 --batch 4 --steps 60 "
                                 "--lr 1e-2 --warmup 5 --eval-every 30 --eval-windows 8 -t 1",
                             "", "train_cli_train");
    ASSERT_EQ(r.status, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["steps"], 60);
    EXPECT_LT(j["val_loss"].get<double>(), 2.5);  // from ln 256 = 5.5 on this very regular text
    EXPECT_GT(j["tokens_per_s"].get<double>(), 0);
    EXPECT_NE(r.err.find("validation loss"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("tok/s"), std::string::npos);
    EXPECT_NE(r.err.find("ETA"), std::string::npos);
    const std::string ckpt = j["checkpoint"].get<std::string>();
    const CliRun g = run_cli("generate -m '" + ckpt + "' --tokenizer bytes -p 'the ' -n 30 --seed 1 -t 1", "",
                             "train_cli_gen");
    ASSERT_EQ(g.status, 0) << g.err;
    EXPECT_EQ(g.out.rfind("the ", 0), 0u);
}

TEST(TrainCli, BadInputGetsOneErrorLine) {
    const std::string dir = temp_dir("train_cli_bad");
    auto expect_error = [](const CliRun& r, const std::string& needle) {
        EXPECT_NE(r.status, 0);
        EXPECT_EQ(r.err.rfind("rwkv: error: ", 0), 0u) << r.err;
        EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
    };
    expect_error(run_cli("train --data '" + dir + "/missing.tok' -o '" + dir + "/o'", "", "train_cli_bad1"),
                 "missing.tok");
    std::ofstream(dir + "/junk.tok") << "this is not a token file at all, just some text padding it out to size";
    expect_error(run_cli("train --data '" + dir + "/junk.tok' -o '" + dir + "/o'", "", "train_cli_bad2"), "junk.tok");
    std::ofstream(dir + "/t.txt") << std::string(4000, 'a');
    ASSERT_EQ(run_cli("data '" + dir + "/t.txt' -o '" + dir + "/t.tok' --tokenizer bytes", "", "train_cli_bad3").status,
              0);
    expect_error(run_cli("train --data '" + dir + "/t.tok' -o '" + dir + "/o' --version 5", "", "train_cli_bad4"),
                 "version");
    expect_error(run_cli("train --data '" + dir + "/t.tok' -o '" + dir + "/o' --resume", "", "train_cli_bad5"),
                 "trainer.state");
    expect_error(run_cli("train --data '" + dir + "/t.tok' -o '" + dir + "/o' --init '" + dir + "/t.txt'", "",
                         "train_cli_bad6"),
                 "t.txt");
}

}  // namespace
}  // namespace rwkv::test
