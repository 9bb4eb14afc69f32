#pragma once
// Test data is read in place from ../shared beside the checkout.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace rwkv::test {

inline std::string shared(const std::string& rel) { return std::string(RWKV_SHARED_DIR) + "/" + rel; }

inline std::vector<float> read_f32(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<float> v(bytes.size() / sizeof(float));
    std::copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(v.size() * sizeof(float)),
              reinterpret_cast<char*>(v.data()));
    return v;
}

// A fresh, empty directory for one test's files.
inline std::string temp_dir(const std::string& name) {
    std::string dir = std::string(RWKV_BINARY_DIR) + "/test-tmp/" + name;
    std::string cmd = "rm -rf '" + dir + "' && mkdir -p '" + dir + "'";
    if (std::system(cmd.c_str()) != 0) std::abort();
    return dir;
}

}  // namespace rwkv::test
