#pragma once
// Shared helpers for the tokenizer tests: the reference data, loaded once, and scratch files.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "rwkv/error.h"
#include "rwkv/tokenizer.h"

namespace rwkv::test {

inline std::string tokenizer_data(const std::string& name) {
    return std::string(RWKV_SHARED_DIR) + "/testdata/tokenizer/" + name;
}

// Loading the real vocabularies takes a moment, so every test shares one of each.
inline const Tokenizer& world_tokenizer() {
    static const std::unique_ptr<Tokenizer> t = load_tokenizer(tokenizer_data("rwkv_vocab_v20230424.txt"));
    return *t;
}
inline const Tokenizer& neox_tokenizer() {
    static const std::unique_ptr<Tokenizer> t = load_tokenizer(tokenizer_data("20B_tokenizer.json"));
    return *t;
}

struct Case {
    std::string text;
    std::vector<int32_t> ids;
};

inline std::vector<Case> read_cases(const std::string& path) {
    std::ifstream in(path);
    EXPECT_TRUE(in) << "cannot open " << path;
    std::vector<Case> cases;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        const auto j = nlohmann::json::parse(line);
        cases.push_back({j.at("text").get<std::string>(), j.at("ids").get<std::vector<int32_t>>()});
    }
    return cases;
}

inline std::vector<std::string> read_lambada() {
    std::ifstream in(std::string(RWKV_SHARED_DIR) + "/data/lambada_test.jsonl");
    std::vector<std::string> texts;
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) texts.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
    return texts;
}

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir {
public:
    TempDir() {
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() /
                ("rwkv_tok_test_" + std::to_string(rd()) + "_" + std::to_string(rd()));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string write(const std::string& name, const std::string& content) const {
        const std::filesystem::path p = path_ / name;
        std::ofstream(p, std::ios::binary) << content;
        return p.string();
    }
    std::string path(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

// The error `load_tokenizer(path)` throws; fails the test if it throws none or another type.
inline std::string load_error(const std::string& path) {
    try {
        load_tokenizer(path);
    } catch (const Error& e) {
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not an rwkv::Error: " << e.what();
        return "";
    }
    ADD_FAILURE() << path << " loaded";
    return "";
}

}  // namespace rwkv::test
