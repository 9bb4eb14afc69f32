// The training models against the truth: the whole model's hand-derived gradient against central finite
// differences in fp64 (v7 and v4), the training forward against the inference engine on the same weights, and
// against the official implementation's logits in ../shared/testdata/reference.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "model/architecture.h"
#include "rwkv/error.h"
#include "rwkv/formats.h"
#include "rwkv/model.h"
#include "test_paths.h"
#include "train/init.h"
#include "train/train_model.h"

namespace rwkv::train {
namespace {

ModelShape tiny(int version) {
    ModelShape s;
    s.version = version;
    s.n_layer = 2;
    s.n_embd = 32;
    s.n_vocab = 13;
    s.head_size = 16;
    s.ffn_dim = 64;
    for (int64_t& d : s.lora_dims) d = 4;
    return s;
}

// Plausible random values for every parameter (the official init zeroes the output projections, which would
// hide most of the gradient), from the engine's random-model generator.
template <class F>
void randomise(ParamSet<F>& params, uint64_t seed) {
    for (Param<F>& p : params.all()) {
        TensorSpec spec{p.name, p.shape, p.role};
        const int64_t cols = p.shape.back(), rows = static_cast<int64_t>(p.size()) / cols;
        std::vector<float> v(p.size());
        random_rows(spec, params.shape(), seed, 0, rows, v.data());
        for (size_t i = 0; i < v.size(); ++i) p.value[i] = static_cast<F>(v[i]);
    }
}

std::vector<int32_t> random_tokens(int64_t n, int64_t vocab, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int32_t> u(0, static_cast<int32_t>(vocab - 1));
    std::vector<int32_t> t(static_cast<size_t>(n));
    for (int32_t& x : t) x = u(rng);
    return t;
}

class WholeModelGradient : public ::testing::TestWithParam<int> {};

// Every parameter tensor: a few random entries plus its largest analytic gradient, against
// (L(θ+h) − L(θ−h)) / 2h with h = 1e-5 in fp64, where truncation and rounding errors are ~1e-9.
TEST_P(WholeModelGradient, MatchesFiniteDifferences) {
    auto model = TrainModel<double>::create(tiny(GetParam()), 1);
    model->set_l2wrap(false);
    randomise(model->params(), 7);
    const int64_t B = 2, T = 6;
    const std::vector<int32_t> tokens = random_tokens(B * (T + 1), tiny(GetParam()).n_vocab, 3);
    model->params().zero_grad();
    model->forward_backward(tokens.data(), B, T, 1.0);
    std::mt19937_64 rng(11);
    int checked = 0;
    for (Param<double>& p : model->params().all()) {
        if (p.name == "blocks.0.att.v0" || p.name == "blocks.0.att.v1" || p.name == "blocks.0.att.v2") {
            for (double g : p.grad) EXPECT_EQ(g, 0.0) << p.name << " is unused on layer 0";
            continue;
        }
        std::vector<size_t> picks;
        std::uniform_int_distribution<size_t> u(0, p.size() - 1);
        for (int i = 0; i < 3; ++i) picks.push_back(u(rng));
        size_t arg = 0;
        for (size_t i = 0; i < p.size(); ++i)
            if (std::fabs(p.grad[i]) > std::fabs(p.grad[arg])) arg = i;
        picks.push_back(arg);
        for (size_t i : picks) {
            const double keep = p.value[i], h = 1e-5;
            p.value[i] = keep + h;
            const double up = model->loss(tokens.data(), B, T);
            p.value[i] = keep - h;
            const double down = model->loss(tokens.data(), B, T);
            p.value[i] = keep;
            const double fd = (up - down) / (2 * h);
            EXPECT_NEAR(p.grad[i], fd, 1e-8 + 1e-5 * std::fabs(fd)) << p.name << "[" << i << "]";
            ++checked;
        }
    }
    EXPECT_GT(checked, 40);
}

INSTANTIATE_TEST_SUITE_P(Generations, WholeModelGradient, ::testing::Values(7, 4));

// The same weights through the inference engine (saved as an official .pth, loaded by Model::load) give the
// same logits as the training forward, in sequence mode, token by token.
class AgreesWithEngine : public ::testing::TestWithParam<int> {};

TEST_P(AgreesWithEngine, SameLogits) {
    ModelShape s = tiny(GetParam());
    s.n_embd = 64;
    s.ffn_dim = 256;
    auto model = TrainModel<float>::create(s, 2);
    init_params(model->params(), 5);
    randomise(model->params(), 9);  // non-zero output projections, so every path shows in the logits
    const std::string dir = test::temp_dir("train_agrees_" + std::to_string(GetParam()));
    const std::string path = dir + "/model.pth";
    save_pth(path, model->params().to_tensors(), DType::F32);
    auto engine = Model::load(path);
    const int64_t T = 37;
    const std::vector<int32_t> tokens = random_tokens(T, s.n_vocab, 4);
    std::vector<float> expect(static_cast<size_t>(T * s.n_vocab));
    State st = engine->new_state();
    engine->eval_sequence(st, tokens, expect.data(), true);
    const std::vector<float> got = model->logits(tokens.data(), 1, T);
    ASSERT_EQ(got.size(), expect.size());
    float worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - expect[i]));
    EXPECT_LT(worst, 1e-4f);

    // and a checkpoint read back into a parameter set is the same model
    ParamSet<float> again(s);
    again.load(load_pth(path));
    for (const Param<float>& p : model->params().all()) EXPECT_EQ(again[p.name].value, p.value) << p.name;
}

INSTANTIATE_TEST_SUITE_P(Generations, AgreesWithEngine, ::testing::Values(7, 4));

// The official implementation's logits for the reference checkpoints, from the training forward.
class OfficialReference : public ::testing::TestWithParam<std::string> {};

TEST_P(OfficialReference, TrainingForwardMatches) {
    const std::string dir = test::shared("testdata/reference/" + GetParam());
    std::ifstream in(dir + "/case.json");
    const nlohmann::json j = nlohmann::json::parse(in);
    const std::vector<int32_t> tokens = j["tokens"].get<std::vector<int32_t>>();
    const std::vector<float> expect = test::read_f32(dir + "/logits.f32");
    const TensorFile file = load_pth(dir + "/model.pth");
    auto model = TrainModel<float>::create(shape_of(file), 2);
    model->params().load(file);
    const std::vector<float> got = model->logits(tokens.data(), 1, static_cast<int64_t>(tokens.size()));
    ASSERT_EQ(got.size(), expect.size());
    float worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - expect[i]));
    EXPECT_LT(worst, 1e-4f) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Cases, OfficialReference, ::testing::Values("v7", "v7-fp32", "v4", "v4-fp16"));

TEST(TrainModel, RejectsOutOfRangeTokens) {
    auto model = TrainModel<float>::create(tiny(7), 1);
    const std::vector<int32_t> bad = {1, 2, 13};
    EXPECT_THROW(model->logits(bad.data(), 1, 3), Error);
    const std::vector<int32_t> neg = {1, -1, 2};
    EXPECT_THROW(model->loss(neg.data(), 1, 2), Error);
}

TEST(TrainModel, InitFollowsOfficialRules) {
    ModelShape s = tiny(7);
    s.n_layer = 3;
    ParamSet<float> p(s);
    init_params(p, 1);
    EXPECT_EQ(p["blocks.0.att.output.weight"].value, std::vector<float>(32 * 32, 0.0f));
    EXPECT_FLOAT_EQ(p["blocks.1.att.k_a"].value[5], 1.02f);
    EXPECT_FLOAT_EQ(p["blocks.2.att.ln_x.weight"].value[0], 1.0f);  // ((1+2)/3)^0.7
    EXPECT_NEAR(p["blocks.0.att.ln_x.weight"].value[0], std::pow(1.0 / 3.0, 0.7), 1e-6);
    // orthogonal head: rows of head.weight [13, 32] orthonormal times 0.5
    const std::vector<float>& h = p["head.weight"].value;
    for (int a = 0; a < 13; ++a)
        for (int b = 0; b < 13; ++b) {
            double d = 0;
            for (int c = 0; c < 32; ++c) d += double(h[a * 32 + c]) * h[b * 32 + c];
            EXPECT_NEAR(d, a == b ? 0.25 : 0.0, 1e-5);
        }
    // decay applies to matrices only; w0 runs at twice the learning rate
    EXPECT_TRUE(p["blocks.0.att.key.weight"].decay);
    EXPECT_TRUE(p["emb.weight"].decay);
    EXPECT_FALSE(p["blocks.0.att.w1"].decay);
    EXPECT_FALSE(p["blocks.0.ln1.weight"].decay);
    EXPECT_EQ(p["blocks.1.att.w0"].lr_scale, 2.0);
}

}  // namespace
}  // namespace rwkv::train
