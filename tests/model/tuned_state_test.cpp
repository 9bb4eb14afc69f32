// Official state-tuning files (blocks.N.att.time_state): the v7-state-tuned reference case in both modes, the
// v5/v6 transpose, the same file as an upload's bytes and as safetensors, and files that are not a state for the
// model refused naming what is wrong.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>

#include "rwkv/error.h"
#include "rwkv/formats.h"
#include "rwkv/model.h"
#include "test_paths.h"

namespace rwkv {
namespace {

const std::string kDir = test::shared("testdata/reference/v7-state-tuned");

float max_abs_diff(const float* a, const float* b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

std::vector<uint8_t> file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(TunedState, V7MatchesTheOfficialInitialStateAndLogitsInBothModes) {
    std::ifstream in(kDir + "/case.json");
    const nlohmann::json c = nlohmann::json::parse(in);
    const auto tokens = c["tokens"].get<std::vector<int32_t>>();
    const int64_t V = c["vocab_size"].get<int64_t>();
    const auto want_initial = test::read_f32(kDir + "/initial_state.f32");
    const auto want_logits = test::read_f32(kDir + "/logits.f32");
    const auto want_final = test::read_f32(kDir + "/state.f32");
    auto model = Model::load(kDir + "/model.pth");
    const State initial = State::load(kDir + "/time_state.pth", *model);
    ASSERT_EQ(initial.data().size(), want_initial.size());
    EXPECT_EQ(max_abs_diff(initial.data().data(), want_initial.data(), want_initial.size()), 0.0f);

    State rnn = initial;
    std::vector<float> logits(static_cast<size_t>(V));
    for (size_t t = 0; t < tokens.size(); ++t) {
        model->eval(rnn, tokens[t], logits.data());
        EXPECT_LE(max_abs_diff(logits.data(), &want_logits[t * static_cast<size_t>(V)], logits.size()), 1e-4f) << t;
    }
    EXPECT_LE(max_abs_diff(rnn.data().data(), want_final.data(), want_final.size()), 1e-4f);

    State seq = initial;
    std::vector<float> all(tokens.size() * static_cast<size_t>(V));
    model->eval_sequence(seq, tokens, all.data(), true);
    EXPECT_LE(max_abs_diff(all.data(), want_logits.data(), all.size()), 1e-4f);
    EXPECT_LE(max_abs_diff(seq.data().data(), want_final.data(), want_final.size()), 1e-4f);

    // From the zero state the logits are far off: the tuned state is what made them.
    State zero = model->new_state();
    model->eval(zero, tokens[0], logits.data());
    EXPECT_GT(max_abs_diff(logits.data(), want_logits.data(), logits.size()), 0.1f);
}

TEST(TunedState, TheSameFileAsBytesAsSafetensorsAndInBf16) {
    auto model = Model::load(kDir + "/model.pth");
    const State from_file = State::load(kDir + "/time_state.pth", *model);
    EXPECT_EQ(State::from_bytes(file_bytes(kDir + "/time_state.pth"), *model, "upload").data(), from_file.data());
    const TensorFile f = load_pth(kDir + "/time_state.pth");
    std::vector<std::pair<std::string, Tensor>> tensors(f.tensors.begin(), f.tensors.end());
    const std::string dir = test::temp_dir("tuned_state_formats");
    save_safetensors(dir + "/ts.safetensors", tensors, DType::F32);
    EXPECT_EQ(State::load(dir + "/ts.safetensors", *model).data(), from_file.data());
    EXPECT_EQ(State::from_bytes(file_bytes(dir + "/ts.safetensors"), *model, "upload").data(), from_file.data());
    save_pth(dir + "/ts-bf16.pth", tensors, DType::BF16);  // as RWKV-PEFT usually saves it
    const State bf16 = State::load(dir + "/ts-bf16.pth", *model);
    EXPECT_LE(max_abs_diff(bf16.data().data(), from_file.data().data(), from_file.data().size()), 0.05f);
}

// RWKV-5/6 keep att_kv as [head, key, value] while the file is [head, value, key]: loaded transposed.
TEST(TunedState, V5AndV6AreTransposed) {
    for (const char* gen : {"v5", "v6"}) {
        auto model = Model::load(test::shared(std::string("testdata/reference/") + gen + "/model.pth"));
        const StateShape sh = model->state_shape();
        const int64_t H = sh.n_head, N = sh.head_size;
        std::mt19937 rng(3);
        std::normal_distribution<float> dist;
        std::vector<std::pair<std::string, Tensor>> tensors;
        for (int64_t l = 0; l < sh.n_layer; ++l) {
            Tensor t;
            t.shape = {H, N, N};
            t.data.resize(static_cast<size_t>(H * N * N));
            for (float& x : t.data) x = dist(rng);
            tensors.emplace_back("blocks." + std::to_string(l) + ".att.time_state", std::move(t));
        }
        const std::string dir = test::temp_dir(std::string("tuned_state_") + gen);
        save_pth(dir + "/ts.pth", tensors, DType::F32);
        State s = State::load(dir + "/ts.pth", *model);
        for (int64_t l = 0; l < sh.n_layer; ++l) {
            const std::vector<float>& v = tensors[static_cast<size_t>(l)].second.data;
            for (int64_t h = 0; h < H; ++h)
                for (int64_t k = 0; k < N; ++k)
                    for (int64_t j = 0; j < N; ++j)
                        ASSERT_EQ(s.att(l)[(h * N + k) * N + j], v[static_cast<size_t>((h * N + j) * N + k)]) << gen;
            for (int64_t c = 0; c < sh.n_embd; ++c) {
                ASSERT_EQ(s.att_x_prev(l)[c], 0.0f);
                ASSERT_EQ(s.ffn_x_prev(l)[c], 0.0f);
            }
        }
    }
}

void expect_refused(const std::string& path, const Model& model, const std::string& naming) {
    try {
        State::load(path, model);
        FAIL() << "expected an error naming " << naming;
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(naming), std::string::npos) << e.what();
    }
}

TEST(TunedState, FilesThatAreNotAStateForTheModelAreRefused) {
    auto model = Model::load(kDir + "/model.pth");
    const TensorFile f = load_pth(kDir + "/time_state.pth");
    const std::string dir = test::temp_dir("tuned_state_bad");
    auto write = [&](const std::string& name, std::vector<std::pair<std::string, Tensor>> t) {
        save_pth(dir + "/" + name, t, DType::F32);
        return dir + "/" + name;
    };
    std::vector<std::pair<std::string, Tensor>> good(f.tensors.begin(), f.tensors.end());
    auto extra = good;
    extra.emplace_back("blocks.0.att.time_decay", good[0].second);
    expect_refused(write("extra.pth", extra), *model, "blocks.0.att.time_decay");
    auto missing = good;
    missing.pop_back();
    expect_refused(write("missing.pth", missing), *model, "blocks.1.att.time_state");
    auto deep = good;
    deep.emplace_back("blocks.7.att.time_state", good[0].second);
    expect_refused(write("deep.pth", deep), *model, "blocks.7.att.time_state");
    auto shaped = good;
    shaped[0].second.shape = {1, 2 * 64, 64};
    expect_refused(write("shape.pth", shaped), *model, "shape");
    auto nan = good;
    nan[1].second.data[5] = std::nanf("");
    expect_refused(write("nan.pth", nan), *model, "finite");
    // A whole model is not a state; nor is RWKV-4 tunable this way.
    expect_refused(kDir + "/model.pth", *model, "more than");  // too large to be a state for this model
    auto v4 = Model::load(test::shared("testdata/reference/v4/model.pth"));
    expect_refused(kDir + "/time_state.pth", *v4, "RWKV-5, 6 and 7");
    // Garbage bytes as an upload get an error, not a crash.
    std::vector<uint8_t> junk = file_bytes(kDir + "/time_state.pth");
    junk.resize(junk.size() / 2);
    EXPECT_THROW(State::from_bytes(junk, *model, "upload"), Error);
}

}  // namespace
}  // namespace rwkv
