#pragma once
// Runs the rwkv binary as a user would, capturing its exit status, stdout and stderr.
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "test_paths.h"

namespace rwkv::test {

struct CliRun {
    int status = -1;
    std::string out, err;
};

// `args` in shell syntax; stdin from `input`. Files go to a fresh directory named `tag`.
inline CliRun run_cli(const std::string& args, const std::string& input = "", const std::string& tag = "cli_run") {
    const std::string dir = temp_dir(tag);
    std::ofstream(dir + "/in") << input;
    const std::string cmd = std::string("'") + RWKV_EXE + "' " + args + " <'" + dir + "/in' >'" + dir + "/out' 2>'" +
                            dir + "/err'";
    CliRun r;
    const int s = std::system(cmd.c_str());
    r.status = WIFEXITED(s) ? WEXITSTATUS(s) : 128;
    auto slurp = [](const std::string& p) {
        std::ifstream in(p, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    r.out = slurp(dir + "/out");
    r.err = slurp(dir + "/err");
    return r;
}

}  // namespace rwkv::test
