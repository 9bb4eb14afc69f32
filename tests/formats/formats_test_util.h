#pragma once
// Helpers shared by the format tests: where the shared test data lives, scratch files, byte edits.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "rwkv/error.h"

namespace rwkv::testing {

inline std::string shared_path(const std::string& rel) { return std::string(RWKV_SHARED_DIR) + "/testdata/" + rel; }

inline const std::vector<std::string>& reference_cases() {
    static const std::vector<std::string> cases = {"v4", "v4-fp16", "v5", "v6", "v7", "v7-fp32"};
    return cases;
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// A directory removed with everything in it when the test ends.
class ScratchDir {
public:
    ScratchDir() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        static int serial = 0;  // tests run on one thread; several dirs may live at once
        path_ = std::filesystem::temp_directory_path() /
                ("rwkv-formats-" + std::to_string(::getpid()) + "-" + (info ? info->name() : "x") + "-" +
                 std::to_string(serial++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~ScratchDir() { std::filesystem::remove_all(path_); }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

// Runs `load` and reports whether it threw rwkv::Error (true) or returned (false). Any other exception
// fails the test; a crash fails the whole binary.
inline bool throws_rwkv_error(const std::function<void()>& load, std::string* message = nullptr) {
    try {
        load();
    } catch (const rwkv::Error& e) {
        if (message) *message = e.what();
        return true;
    } catch (const std::exception& e) {
        ADD_FAILURE() << "unexpected exception type: " << e.what();
        return true;
    }
    return false;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace rwkv::testing
