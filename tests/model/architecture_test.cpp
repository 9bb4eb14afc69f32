// Random models of every generation built from the architecture table load, are detected as what
// they are, and run without NaNs; their RNN and sequence modes agree.
#include <gtest/gtest.h>

#include <cmath>

#include "model/architecture.h"
#include "rwkv/error.h"
#include "rwkv/formats.h"
#include "rwkv/model.h"
#include "test_paths.h"

namespace rwkv {
namespace {

std::string write_random_model(const ModelShape& shape, const std::string& path) {
    const ModelShape s = shape.resolved();
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const TensorSpec& spec : model_tensors(s)) {
        Tensor t;
        t.shape = spec.shape;
        t.data.resize(static_cast<size_t>(spec.numel()));
        const int64_t cols = spec.shape.back();
        random_rows(spec, s, 42, 0, spec.numel() / cols, t.data.data());
        tensors.emplace_back(spec.name, std::move(t));
    }
    save_pth(path, tensors, DType::F32);
    return path;
}

class Architecture : public ::testing::TestWithParam<int> {};

TEST_P(Architecture, RandomModelLoadsAndRuns) {
    ModelShape shape;
    shape.version = GetParam();
    shape.n_layer = 3;
    shape.n_embd = 96;
    shape.n_vocab = 300;
    shape.head_size = 32;
    const std::string path = write_random_model(shape, test::temp_dir("arch") + "/m.pth");
    LoadOptions o;
    o.chunk_len = 7;
    auto model = Model::load(path, o);
    const ModelInfo& i = model->info();
    EXPECT_EQ(i.version, GetParam());
    if (GetParam() == 5) {
        EXPECT_EQ(i.version_minor, 2);
    }
    EXPECT_EQ(i.n_layer, 3);
    EXPECT_EQ(i.n_embd, 96);
    EXPECT_EQ(i.n_vocab, 300);
    EXPECT_EQ(i.ffn_dim, shape.resolved().ffn_dim);
    if (GetParam() >= 5) {
        EXPECT_EQ(i.head_size, 32);
    }

    std::vector<int32_t> tokens;
    for (int k = 0; k < 20; ++k) tokens.push_back((k * 53 + 7) % 300);
    State a = model->new_state(), b = model->new_state();
    std::vector<float> la(300), lb(300);
    for (int32_t t : tokens) model->eval(a, t, la.data());
    model->eval_sequence(b, tokens, lb.data(), false);
    for (int k = 0; k < 300; ++k) {
        ASSERT_TRUE(std::isfinite(la[k]));
        ASSERT_NEAR(la[k], lb[k], 1e-4f * (1 + std::fabs(la[k])));
    }
}

INSTANTIATE_TEST_SUITE_P(AllGenerations, Architecture, ::testing::Values(4, 5, 6, 7));

TEST(ArchitectureShape, PublishedRwkv7LoraRanks) {
    ModelShape s;
    s.version = 7;
    s.n_embd = 768;
    ModelShape r = s.resolved();
    EXPECT_EQ(r.lora_dims[0], 64);
    EXPECT_EQ(r.lora_dims[2], 32);
    EXPECT_EQ(r.lora_dims[3], 128);
    s.n_embd = 2048;
    r = s.resolved();
    EXPECT_EQ(r.lora_dims[0], 96);
    EXPECT_EQ(r.lora_dims[2], 64);
    EXPECT_EQ(r.lora_dims[3], 256);
    EXPECT_EQ(r.ffn_dim, 8192);
}

TEST(ArchitectureShape, BadShapesAreRejected) {
    ModelShape s;
    s.n_embd = 100;
    EXPECT_THROW(s.resolved(), Error);
    s = {};
    s.version = 3;
    EXPECT_THROW(s.resolved(), Error);
    s = {};
    s.head_size = 100;
    EXPECT_THROW(s.resolved(), Error);
}

TEST(ArchitectureShape, StoragePolicyKeepsSmallTensorsPrecise) {
    const auto specs = model_tensors(ModelShape{});
    for (const auto& spec : specs) {
        const DType t = storage_type(spec, DType::Q4_0);
        if (spec.role == TensorRole::Projection) {
            EXPECT_EQ(t, DType::Q4_0) << spec.name;
        } else if (spec.role == TensorRole::Embedding) {
            EXPECT_EQ(t, DType::F16);
        } else if (spec.role == TensorRole::Lora) {
            EXPECT_EQ(t, DType::BF16) << spec.name;  // as released checkpoints store them
            EXPECT_EQ(storage_type(spec, DType::F32), DType::F32) << spec.name;
        } else {
            EXPECT_EQ(t, DType::F32) << spec.name;
        }
    }
}

}  // namespace
}  // namespace rwkv
