// The same model from every container: an official .pth, the same tensors re-saved as .pth and as
// .safetensors (official names and the Hugging Face transformers names) give the official logits.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "rwkv/formats.h"
#include "rwkv/model.h"
#include "test_paths.h"

namespace rwkv {
namespace {

std::vector<std::pair<std::string, Tensor>> tensors_of(const std::string& pth) {
    TensorFile f = load_pth(pth);
    return {f.tensors.begin(), f.tensors.end()};
}

// What transformers' convert_rwkv_checkpoint_to_hf.py does to the names.
std::string hf_name(std::string n) {
    n = std::regex_replace(n, std::regex("^emb\\."), "embeddings.");
    n = std::regex_replace(n, std::regex("^blocks\\.0\\.ln0\\."), "blocks.0.pre_ln.");
    n = std::regex_replace(n, std::regex("\\.att\\."), ".attention.");
    n = std::regex_replace(n, std::regex("\\.ffn\\."), ".feed_forward.");
    n = std::regex_replace(n, std::regex("\\.time_mix_k$"), ".time_mix_key");
    n = std::regex_replace(n, std::regex("\\.time_mix_v$"), ".time_mix_value");
    n = std::regex_replace(n, std::regex("\\.time_mix_r$"), ".time_mix_receptance");
    n = std::regex_replace(n, std::regex("\\.time_mix_g$"), ".time_mix_gate");
    return n == "head.weight" ? n : "rwkv." + n;
}

float max_diff_to_reference(const std::string& model_file, const std::string& case_name) {
    const std::string dir = test::shared("testdata/reference/" + case_name);
    std::ifstream in(dir + "/case.json");
    const auto tokens = nlohmann::json::parse(in)["tokens"].get<std::vector<int32_t>>();
    const auto want = test::read_f32(dir + "/logits.f32");
    auto model = Model::load(model_file);
    State s = model->new_state();
    std::vector<float> got(want.size());
    model->eval_sequence(s, tokens, got.data(), true);
    float m = 0;
    for (size_t i = 0; i < got.size(); ++i) m = std::max(m, std::fabs(got[i] - want[i]));
    return m;
}

TEST(FileFormats, SafetensorsWithOfficialNames) {
    const std::string dir = test::temp_dir("formats_st");
    for (const char* c : {"v4", "v6", "v7"}) {
        save_safetensors(dir + "/m.safetensors", tensors_of(test::shared(std::string("testdata/reference/") + c + "/model.pth")),
                         DType::F32);
        EXPECT_LE(max_diff_to_reference(dir + "/m.safetensors", c), 1e-4f) << c;
        EXPECT_EQ(Model::load(dir + "/m.safetensors")->info().format, "safetensors");
    }
}

TEST(FileFormats, SafetensorsWithHuggingFaceNames) {
    const std::string dir = test::temp_dir("formats_hf");
    for (const char* c : {"v4", "v6"}) {
        auto t = tensors_of(test::shared(std::string("testdata/reference/") + c + "/model.pth"));
        for (auto& [name, tensor] : t) name = hf_name(name);
        ASSERT_EQ(t.front().first.rfind("rwkv.", 0), 0u);
        save_safetensors(dir + "/hf.safetensors", t, DType::F32);
        EXPECT_LE(max_diff_to_reference(dir + "/hf.safetensors", c), 1e-4f) << c;
    }
}

TEST(FileFormats, ResavedPthGivesIdenticalLogits) {
    const std::string dir = test::temp_dir("formats_pth");
    for (const char* c : {"v4", "v7"}) {
        const std::string src = test::shared(std::string("testdata/reference/") + c + "/model.pth");
        save_pth(dir + "/m.pth", tensors_of(src), DType::F32);
        EXPECT_EQ(max_diff_to_reference(dir + "/m.pth", c), max_diff_to_reference(src, c)) << c;
    }
}

}  // namespace
}  // namespace rwkv
