// The Hugging Face RWKV-7 layouts (fla-hub, transformers-rwkv) against the official outputs of the same weights,
// from the .safetensors file, from its directory, and as shards with an index; and what is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "rwkv/error.h"
#include "rwkv/formats.h"
#include "rwkv/model.h"
#include "test_paths.h"

namespace rwkv {
namespace {

float max_abs_diff(const float* a, const float* b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

struct Outputs {
    std::vector<float> rnn, seq, state;
};

Outputs run(const std::string& model_path, const std::vector<int32_t>& tokens) {
    auto model = Model::load(model_path);
    const size_t V = static_cast<size_t>(model->info().n_vocab);
    Outputs o;
    State s = model->new_state();
    o.rnn.resize(tokens.size() * V);
    for (size_t t = 0; t < tokens.size(); ++t) model->eval(s, tokens[t], o.rnn.data() + t * V);
    o.state = s.data();
    State q = model->new_state();
    o.seq.resize(tokens.size() * V);
    model->eval_sequence(q, tokens, o.seq.data(), true);
    return o;
}

class HfLayout : public ::testing::TestWithParam<std::string> {};

TEST_P(HfLayout, MatchesTheOfficialOutputsFromTheFileAndItsDirectory) {
    const std::string dir = test::shared("testdata/reference/" + GetParam());
    std::ifstream in(dir + "/case.json");
    const nlohmann::json c = nlohmann::json::parse(in);
    const auto tokens = c["tokens"].get<std::vector<int32_t>>();
    const auto want = test::read_f32(dir + "/logits.f32");
    const auto want_state = test::read_f32(dir + "/state.f32");
    for (const std::string& path : {dir + "/model.safetensors", dir}) {
        const Outputs o = run(path, tokens);
        ASSERT_EQ(o.rnn.size(), want.size()) << path;
        EXPECT_LE(max_abs_diff(o.rnn.data(), want.data(), want.size()), 1e-4f) << path;
        EXPECT_LE(max_abs_diff(o.seq.data(), want.data(), want.size()), 1e-4f) << path;
        EXPECT_LE(max_abs_diff(o.state.data(), want_state.data(), want_state.size()), 1e-4f) << path;
    }
}

INSTANTIATE_TEST_SUITE_P(Rwkv7, HfLayout, ::testing::Values("v7-hf-fla", "v7-hf-transformers"),
                         [](const auto& info) {
                             std::string n = info.param;
                             for (char& ch : n)
                                 if (ch == '-') ch = '_';
                             return n;
                         });

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// The fla-hub file split in two shards with an index, as large downloads come.
std::string write_shards(const std::string& name, const std::function<void(nlohmann::json&)>& spoil = {}) {
    const std::string dir = test::temp_dir(name);
    const TensorFile f = load_safetensors(test::shared("testdata/reference/v7-hf-fla/model.safetensors"));
    std::vector<std::pair<std::string, Tensor>> a, b;
    nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
    for (const auto& [n, t] : f.tensors) {
        const bool first = n.find("layers.1.") == std::string::npos;
        (first ? a : b).emplace_back(n, t);
        index["weight_map"][n] = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
    }
    save_safetensors(dir + "/model-00001-of-00002.safetensors", a, DType::F32);
    save_safetensors(dir + "/model-00002-of-00002.safetensors", b, DType::F32);
    if (spoil) spoil(index);
    write_text(dir + "/model.safetensors.index.json", index.dump());
    return dir;
}

TEST(HfShards, AnIndexAndItsShardsEqualTheWholeFile) {
    const std::string dir = test::shared("testdata/reference/v7-hf-fla");
    std::ifstream in(dir + "/case.json");
    const auto tokens = nlohmann::json::parse(in)["tokens"].get<std::vector<int32_t>>();
    const Outputs whole = run(dir + "/model.safetensors", tokens);
    const std::string shards = write_shards("hf_shards");
    for (const std::string& path : {shards, shards + "/model.safetensors.index.json"}) {
        const Outputs o = run(path, tokens);
        EXPECT_EQ(o.rnn, whole.rnn) << path;
        EXPECT_EQ(o.state, whole.state) << path;
    }
}

void expect_refused(const std::string& path, const std::string& naming) {
    try {
        Model::load(path);
        FAIL() << path << ": expected an error naming " << naming;
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(naming), std::string::npos) << e.what();
    }
}

TEST(HfShards, IndexesThatDisagreeWithTheirShardsAreRefused) {
    expect_refused(write_shards("hf_missing", [](nlohmann::json& i) { i["weight_map"]["lm_head.bias"] = "model-00001-of-00002.safetensors"; }),
                   "lm_head.bias");
    expect_refused(write_shards("hf_wrong_shard", [](nlohmann::json& i) { i["weight_map"]["lm_head.weight"] = "model-00002-of-00002.safetensors"; }),
                   "lm_head.weight");
    expect_refused(write_shards("hf_escape", [](nlohmann::json& i) { i["weight_map"]["lm_head.weight"] = "../x.safetensors"; }),
                   "not a file beside the index");
    const std::string empty = test::temp_dir("hf_empty_dir");
    expect_refused(empty, "no model in this directory");
}

TEST(HfLayout, ATensorOutsideTheLayoutIsRefusedByName) {
    TensorFile f = load_safetensors(test::shared("testdata/reference/v7-hf-fla/model.safetensors"));
    std::vector<std::pair<std::string, Tensor>> tensors(f.tensors.begin(), f.tensors.end());
    tensors.emplace_back("model.layers.0.attn.rotary.weight", tensors.front().second);
    const std::string dir = test::temp_dir("hf_extra");
    save_safetensors(dir + "/model.safetensors", tensors, DType::F32);
    expect_refused(dir + "/model.safetensors", "model.layers.0.attn.rotary.weight");
}

}  // namespace
}  // namespace rwkv
