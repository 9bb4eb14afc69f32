#pragma once
// The first `bytes` of tinyshakespeare as a byte-token file in `dir`, for the training tests.
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "test_paths.h"
#include "train/token_data.h"

namespace rwkv::test {

inline std::string shakespeare_tokens(const std::string& dir, size_t bytes) {
    std::ifstream in(shared("data/tinyshakespeare.txt"), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    text.resize(bytes);
    std::vector<int32_t> tokens;
    for (unsigned char c : text) tokens.push_back(c);
    const std::string path = dir + "/text.tok";
    train::write_token_file(path, tokens, 256, "bytes");
    return path;
}

}  // namespace rwkv::test
