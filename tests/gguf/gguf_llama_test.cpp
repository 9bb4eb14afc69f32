// llama.cpp's RWKV-6/RWKV-7 GGUF layout: built here from the reference checkpoints the way
// convert_hf_to_gguf.py builds it, then mapped back by gguf_to_official_names, which must give the
// checkpoint back exactly.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

#include "formats/formats_test_util.h"
#include "llama_convert.h"
#include "rwkv/formats.h"
#include "rwkv/gguf.h"

namespace rwkv {
namespace {

using testing::contains;
using testing::llama_convert;
using testing::LlamaConvertOptions;
using testing::ScratchDir;
using testing::shared_path;
using testing::throws_rwkv_error;

Tensor zeros(std::vector<int64_t> shape) {
    Tensor t;
    t.shape = std::move(shape);
    t.data.assign(static_cast<size_t>(t.numel()), 0.0f);
    return t;
}

TensorFile reference(const std::string& name) { return load_pth(shared_path("reference/" + name + "/model.pth")); }

// Converts, writes, reads back and maps to official names.
TensorFile round_trip(const ScratchDir& dir, const TensorFile& official, int version, const LlamaConvertOptions& opt) {
    const std::string path = dir.file("llama.gguf");
    save_gguf(path, llama_convert(official, version, opt));
    TensorFile f = load_gguf(path);
    EXPECT_TRUE(gguf_has_llama_names(f));
    gguf_to_official_names(f);
    return f;
}

// Bit-exact: the converter's transforms are permutations, reshapes and power-of-two scalings.
void expect_same_tensors(const TensorFile& want, const TensorFile& got, const std::set<std::string>& dropped = {}) {
    size_t compared = 0;
    for (const auto& [name, t] : want.tensors) {
        if (dropped.count(name)) {
            EXPECT_FALSE(got.has(name)) << name;
            continue;
        }
        ASSERT_TRUE(got.has(name)) << name;
        const Tensor& g = got.get(name);
        EXPECT_EQ(g.shape, t.shape) << name;
        ASSERT_EQ(g.data.size(), t.data.size()) << name;
        EXPECT_EQ(std::memcmp(g.data.data(), t.data.data(), t.data.size() * sizeof(float)), 0) << name;
        ++compared;
    }
    EXPECT_EQ(got.tensors.size(), compared) << "tensors the checkpoint does not have came back";
}

TEST(GgufLlama, Rwkv7ReferenceRoundTripsExactly) {
    ScratchDir dir;
    const TensorFile official = reference("v7");
    const TensorFile back = round_trip(dir, official, 7, {});
    expect_same_tensors(official, back);
    EXPECT_EQ(back.metadata.at("general.architecture"), "rwkv7");
    EXPECT_EQ(back.get("blocks.1.att.x_g").source, DType::F32);  // the converter keeps the fused mixes in f32
    EXPECT_EQ(back.get("blocks.1.att.key.weight").source, DType::BF16);
}

TEST(GgufLlama, Rwkv7DropsLayerZeroValueLoraItNeverUses) {
    // v7-fp32 carries v0/v1/v2 on layer 0; the converter discards them (and writes copies of a0/a1/a2).
    ScratchDir dir;
    const TensorFile official = reference("v7-fp32");
    ASSERT_TRUE(official.has("blocks.0.att.v1"));
    const TensorFile back = round_trip(dir, official, 7, {.head_size = 32});
    expect_same_tensors(official, back, {"blocks.0.att.v0", "blocks.0.att.v1", "blocks.0.att.v2"});
}

TEST(GgufLlama, Rwkv7WithoutGateFusesFiveMixes) {
    ScratchDir dir;
    TensorFile official = reference("v7");
    for (const char* n : {"att.x_g", "att.g1", "att.g2"})
        for (int i = 0; i < 2; ++i) official.tensors.erase("blocks." + std::to_string(i) + "." + n);
    expect_same_tensors(official, round_trip(dir, official, 7, {}));
}

TEST(GgufLlama, Rwkv6ReferenceRoundTripsExactlyThroughRescaling) {
    ScratchDir dir;
    const TensorFile official = reference("v6");
    // Rescaling every layer divides layer 1's output and ffn.value by 2: it must be multiplied back.
    const TensorFile back = round_trip(dir, official, 6, {.rescale_every = 1});
    expect_same_tensors(official, back);
    EXPECT_EQ(back.metadata.at("rwkv6.rescale_every_n_layers"), "1");
}

TEST(GgufLlama, Rwkv6WithSeparateLerpsAsOlderFilesHave) {
    ScratchDir dir;
    const TensorFile official = reference("v6");
    expect_same_tensors(official, round_trip(dir, official, 6, {.rescale_every = 6, .fuse_lerp = false}));
}

TEST(GgufLlama, StoredLayoutIsTheConvertersLayout) {
    // Spot checks against the shapes llama.cpp's loader asks for (src/llama-model.cpp, ggml order reversed).
    ScratchDir dir;
    const std::string path = dir.file("v7.gguf");
    save_gguf(path, llama_convert(reference("v7"), 7, {}));
    const GgufFile g = open_gguf(path);
    EXPECT_EQ(g.tensor("blk.1.time_mix_lerp_fused.weight").shape, (std::vector<int64_t>{6, 1, 1, 128}));
    EXPECT_EQ(g.tensor("blk.1.time_mix_w1.weight").shape, (std::vector<int64_t>{32, 128}));
    EXPECT_EQ(g.tensor("blk.1.time_mix_r_k.weight").shape, (std::vector<int64_t>{128}));
    EXPECT_EQ(g.tensor("blk.0.time_mix_v2.weight").shape, (std::vector<int64_t>{128, 32}));
    EXPECT_EQ(g.get<uint32_t>("rwkv7.wkv.head_size"), 64u);
    EXPECT_EQ(g.get_array<std::string>("tokenizer.ggml.tokens").size(), 3u);
}

TEST(GgufLlama, UnknownTensorIsAnErrorNamingIt) {
    ScratchDir dir;
    GgufWriterInput in = llama_convert(reference("v7"), 7, {});
    GgufTensorInput extra;
    extra.name = "blk.1.time_mix_mystery.weight";
    extra.shape = {4};
    extra.bytes.resize(16);
    in.tensors.push_back(extra);
    const std::string path = dir.file("x.gguf");
    save_gguf(path, in);
    TensorFile f = load_gguf(path);
    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([&] { gguf_to_official_names(f); }, &msg));
    EXPECT_TRUE(contains(msg, "blk.1.time_mix_mystery.weight")) << msg;
    EXPECT_TRUE(contains(msg, path)) << msg;
}

TEST(GgufLlama, RefusesFilesThatAreNotLlamaRwkv) {
    TensorFile f;
    f.path = "m.gguf";
    f.format = "gguf";
    f.metadata["general.architecture"] = "rwkv6qwen2";
    f.tensors["token_embd.weight"] = zeros({1});
    EXPECT_FALSE(gguf_has_llama_names(f));
    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([&] { gguf_to_official_names(f); }, &msg));
    EXPECT_TRUE(contains(msg, "hybrid")) << msg;
    f.metadata["general.architecture"] = "llama";
    EXPECT_TRUE(throws_rwkv_error([&] { gguf_to_official_names(f); }, &msg));
    EXPECT_TRUE(contains(msg, "not a llama.cpp RWKV")) << msg;
}

TEST(GgufLlama, BadFusedShapeIsAnError) {
    TensorFile f;
    f.path = "m.gguf";
    f.metadata["general.architecture"] = "rwkv6";
    f.tensors["token_embd.weight"] = zeros({2, 4});
    f.tensors["blk.0.time_mix_lerp_fused.weight"] = zeros({4, 1, 1, 2});
    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([&] { gguf_to_official_names(f); }, &msg));
    EXPECT_TRUE(contains(msg, "blk.0.time_mix_lerp_fused.weight")) << msg;
}

}  // namespace
}  // namespace rwkv
