// Model::step: several sequences in one pass (one matrix–matrix product per projection over all their tokens)
// give each sequence the logits and state it gets run alone, for every generation and stored type: a batched
// generation step (one token each), a step mixing a prompt chunk with generating sequences, and sequences longer
// than a chunk.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "model/model_writer.h"
#include "rwkv/error.h"
#include "rwkv/model.h"
#include "test_paths.h"

namespace rwkv {
namespace {

// Matrix–matrix and matrix–vector products sum in different orders: rounding, not more.
constexpr float kTolerance = 1e-5f;

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    float m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

std::vector<int32_t> random_tokens(std::mt19937& rng, size_t n, int64_t vocab) {
    std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(vocab - 1));
    std::vector<int32_t> t(n);
    for (int32_t& x : t) x = pick(rng);
    return t;
}

// Each sequence first reads a prompt of its own length alone, so their states differ; then they take `lengths`
// tokens together in one step and, from copies of the same states, one by one.
void expect_step_equals_alone(const Model& model, const std::vector<size_t>& lengths, const std::vector<bool>& all,
                              const std::string& where) {
    const int64_t V = model.info().n_vocab;
    std::mt19937 rng(static_cast<uint32_t>(lengths.size() * 131 + lengths[0]));
    std::vector<State> together, alone;
    std::vector<std::vector<int32_t>> tokens;
    for (size_t i = 0; i < lengths.size(); ++i) {
        State s = model.new_state();
        model.eval_sequence(s, random_tokens(rng, 1 + i * 3, V), nullptr, false);
        together.push_back(s);
        alone.push_back(s);
        tokens.push_back(random_tokens(rng, lengths[i], V));
    }
    std::vector<std::vector<float>> got(lengths.size()), want(lengths.size());
    std::vector<SequenceStep> steps;
    for (size_t i = 0; i < lengths.size(); ++i) {
        got[i].assign(static_cast<size_t>((all[i] ? lengths[i] : 1) * V), -99.0f);
        want[i].assign(got[i].size(), -77.0f);
        steps.push_back({&together[i], tokens[i], got[i].data(), all[i]});
    }
    Session session;
    model.step(steps, session);
    for (size_t i = 0; i < lengths.size(); ++i) {
        if (lengths[i] == 1 && !all[i])
            model.eval(alone[i], tokens[i][0], want[i].data());  // RNN mode: the matrix–vector path
        else
            model.eval_sequence(alone[i], tokens[i], want[i].data(), all[i]);
        EXPECT_LE(max_abs_diff(got[i], want[i]), kTolerance) << where << ", sequence " << i;
        EXPECT_LE(max_abs_diff(together[i].data(), alone[i].data()), kTolerance) << where << ", state " << i;
    }
}

void expect_batching_exact(const std::string& path, const std::string& where, const LoadOptions& options = {}) {
    auto model = Model::load(path, options);
    expect_step_equals_alone(*model, {1, 1, 1, 1, 1, 1, 1, 1}, std::vector<bool>(8, false), where + ", 8 decoding");
    expect_step_equals_alone(*model, {1, 5, 1, 3, 1}, {false, false, false, true, false}, where + ", mixed");
    expect_step_equals_alone(*model, {1}, {false}, where + ", one");
}

std::string ref(const std::string& c) { return test::shared("testdata/reference/" + c + "/model.pth"); }

TEST(BatchStep, EqualsEachSequenceAloneForEveryGeneration) {
    for (const char* c : {"v4", "v4-fp16", "v5.0", "v5", "v6", "v7", "v7-fp32", "v7a-deepembed"}) {
        for (int threads : {1, 2}) {
            LoadOptions o;
            o.threads = threads;
            expect_batching_exact(ref(c), std::string(c) + " threads " + std::to_string(threads), o);
        }
    }
}

// The quantized types run integer products: one row's are the same whether it is alone or one of many.
TEST(BatchStep, EqualsEachSequenceAloneForQuantizedWeights) {
    const std::string dir = test::temp_dir("batch_step_quant");
    for (DType t : {DType::Q8_0, DType::Q4_0, DType::F16}) {
        const std::string path = dir + "/v7-" + dtype_name(t) + ".gguf";
        convert_model_file(ref("v7"), path, t);
        expect_batching_exact(path, std::string("v7 ") + dtype_name(t));
    }
}

// Sequences longer than a chunk are taken a chunk per pass, beside shorter ones.
TEST(BatchStep, LongSequencesAreChunked) {
    LoadOptions o;
    o.chunk_len = 4;
    auto model = Model::load(ref("v6"), o);
    expect_step_equals_alone(*model, {11, 1, 4, 9}, {true, false, false, false}, "v6, chunks of 4");
}

TEST(BatchStep, RefusesSharedStatesAndBadTokens) {
    auto model = Model::load(ref("v7"));
    State s = model->new_state(), other = model->new_state();
    const int32_t t[1] = {5}, bad[1] = {100000};
    Session session;
    const SequenceStep shared[2] = {{&s, t, nullptr, false}, {&s, t, nullptr, false}};
    EXPECT_THROW(model->step(shared, session), Error);
    const SequenceStep oob[2] = {{&s, t, nullptr, false}, {&other, bad, nullptr, false}};
    EXPECT_THROW(model->step(oob, session), Error);
    const SequenceStep none[1] = {{nullptr, t, nullptr, false}};
    EXPECT_THROW(model->step(none, session), Error);
}

}  // namespace
}  // namespace rwkv
