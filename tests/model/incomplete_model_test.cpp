// A model file with a tensor missing or one too many, a layer short, sizes its header contradicts or a head size that changes
// from layer to layer is refused with an error naming what is wrong. Before, a model missing
// blocks.1.ln1.weight ran as a one-layer model and exited 0.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "rwkv/error.h"
#include "rwkv/formats.h"
#include "rwkv/gguf.h"
#include "rwkv/model.h"
#include "test_paths.h"

namespace rwkv {
namespace {

using Tensors = std::vector<std::pair<std::string, Tensor>>;

Tensors tensors_of(const std::string& case_name) {
    TensorFile f = load_pth(test::shared("testdata/reference/" + case_name + "/model.pth"));
    return {f.tensors.begin(), f.tensors.end()};
}

std::string load_error(const std::string& path) {
    try {
        Model::load(path);
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

// Layer 0 of RWKV-7 has no value residual: the official trainer still saves its v0/v1/v2, unused.
bool unused_by_design(const std::string& name) { return name.starts_with("blocks.0.att.v") && name.size() == 15; }

TEST(IncompleteModel, EveryMissingTensorIsNamed) {
    const std::string dir = test::temp_dir("incomplete_every");
    for (const char* c : {"v4", "v5.0", "v5", "v6", "v7"}) {
        const Tensors all = tensors_of(c);
        for (size_t drop = 0; drop < all.size(); ++drop) {
            const std::string& name = all[drop].first;
            if (unused_by_design(name)) continue;
            Tensors kept = all;
            kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(drop));
            const std::string path = dir + "/m.safetensors";
            save_safetensors(path, kept, DType::F32);
            const std::string msg = load_error(path);
            EXPECT_NE(msg.find("'" + name + "'"), std::string::npos) << c << " without " << name << ": " << msg;
        }
    }
}

// Strict loading: a tensor the generation does not use is refused by name, so that a variant (DeepEmbed's
// ffn.s_emb, a newer generation's extra weights) never runs as the plain model with a silently wrong answer.
TEST(IncompleteModel, EveryExtraTensorIsNamed) {
    const std::string dir = test::temp_dir("extra_every");
    for (const char* c : {"v4", "v5.0", "v5", "v6", "v7"}) {
        Tensors t = tensors_of(c);
        t.emplace_back("blocks.1.att.time_bogus", t.front().second);
        save_safetensors(dir + "/m.safetensors", t, DType::F32);
        const std::string msg = load_error(dir + "/m.safetensors");
        EXPECT_NE(msg.find("'blocks.1.att.time_bogus' is not part of RWKV-"), std::string::npos) << c << ": " << msg;
    }
    // DeepEmbedAttention (v7b: DeepEmbed plus qkv.*) is refused, not run as RWKV-7 DeepEmbed: its logits were off.
    EXPECT_NE(load_error(test::shared("testdata/reference/v7b-dea/model.pth")).find("'blocks.0.qkv."), std::string::npos);
}

TEST(IncompleteModel, GgufMissingALayersNormIsRefused) {
    const std::string dir = test::temp_dir("incomplete_gguf");
    GgufWriterInput in;
    for (auto& [name, t] : tensors_of("v7-fp32")) {  // three layers
        if (name == "blocks.1.ln1.weight") continue;
        GgufTensorInput g;
        g.name = name;
        g.shape = t.shape;
        g.type = DType::F32;
        g.bytes.resize(t.data.size() * sizeof(float));
        std::memcpy(g.bytes.data(), t.data.data(), g.bytes.size());
        in.tensors.push_back(std::move(g));
    }
    save_gguf(dir + "/m.gguf", in);
    EXPECT_EQ(load_error(dir + "/m.gguf"), dir + "/m.gguf: tensor 'blocks.1.ln1.weight' is missing");
}

TEST(IncompleteModel, HeadSizeMustAgreeInEveryLayer) {
    const std::string dir = test::temp_dir("incomplete_heads");
    Tensors t = tensors_of("v7");  // head size 64: r_k is [2, 64]
    for (auto& [name, tensor] : t)
        if (name == "blocks.1.att.r_k") tensor.shape = {4, 32};
    save_safetensors(dir + "/m.safetensors", t, DType::F32);
    EXPECT_EQ(load_error(dir + "/m.safetensors"),
              dir + "/m.safetensors: tensor 'blocks.1.att.r_k' has shape [4, 32], expected 2 heads of 64");
}

// rwkv.cpp's records: int32 dim count, key length, type; dims; key; data (f32 or f16 here).
std::vector<char> read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int32_t i32_at(const std::vector<char>& b, size_t at) {
    int32_t v;
    std::memcpy(&v, b.data() + at, 4);
    return v;
}

// The file without the tensors whose names `drop` picks.
template <class Drop>
std::vector<char> without(const std::vector<char>& file, Drop drop) {
    std::vector<char> out(file.begin(), file.begin() + 24);
    for (size_t pos = 24; pos < file.size();) {
        const int32_t dims = i32_at(file, pos), key = i32_at(file, pos + 4), type = i32_at(file, pos + 8);
        int64_t numel = 1;
        for (int32_t i = 0; i < dims; ++i) numel *= i32_at(file, pos + 12 + 4 * static_cast<size_t>(i));
        const size_t key_at = pos + 12 + 4 * static_cast<size_t>(dims);
        const size_t end = key_at + static_cast<size_t>(key) + static_cast<size_t>(numel) * (type == 0 ? 4 : 2);
        if (!drop(std::string(file.data() + key_at, static_cast<size_t>(key))))
            out.insert(out.end(), file.begin() + static_cast<std::ptrdiff_t>(pos),
                       file.begin() + static_cast<std::ptrdiff_t>(end));
        pos = end;
    }
    return out;
}

void write_all(const std::string& path, const std::vector<char>& b) {
    std::ofstream(path, std::ios::binary).write(b.data(), static_cast<std::streamsize>(b.size()));
}

TEST(IncompleteModel, RwkvCppFilesAreCheckedAgainstTheirHeader) {
    const std::string dir = test::temp_dir("incomplete_rwkvcpp");
    const std::vector<char> file = read_all(test::shared("testdata/rwkvcpp-tiny/tiny-rwkv-7v0-834K-FP32.bin"));
    ASSERT_GT(file.size(), 24u);
    const std::string path = dir + "/m.bin";
    write_all(path, without(file, [](const std::string& n) { return n == "blocks.1.ln1.weight"; }));
    EXPECT_EQ(load_error(path), path + ": tensor 'blocks.1.ln1.weight' is missing");

    // The last layer gone whole: only the header can tell.
    const int32_t n_layer = i32_at(file, 16);
    const std::string last = "blocks." + std::to_string(n_layer - 1) + ".";
    write_all(path, without(file, [&](const std::string& n) { return n.starts_with(last); }));
    EXPECT_EQ(load_error(path), path + ": the rwkv.cpp header says n_layer " + std::to_string(n_layer) +
                                    " but the tensors give " + std::to_string(n_layer - 1));
}

}  // namespace
}  // namespace rwkv
