// Every generation against the official implementation's outputs (../shared/testdata/reference):
// logits after every token and the final state, in RNN mode and in sequence mode.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "rwkv/error.h"
#include "rwkv/model.h"
#include "test_paths.h"

namespace rwkv {
namespace {

// Stated by the reference README: fp32 computation matches to ~1e-4 max abs (logits ~8).
constexpr float kTolerance = 1e-4f;

struct Case {
    std::string dir;
    std::vector<int32_t> tokens;
    std::vector<float> logits, state;
    int64_t vocab = 0;
    nlohmann::json json;
};

Case load_case(const std::string& name) {
    Case c;
    c.dir = test::shared("testdata/reference/" + name);
    std::ifstream in(c.dir + "/case.json");
    c.json = nlohmann::json::parse(in);
    c.tokens = c.json["tokens"].get<std::vector<int32_t>>();
    c.vocab = c.json["vocab_size"].get<int64_t>();
    c.logits = test::read_f32(c.dir + "/logits.f32");
    c.state = test::read_f32(c.dir + "/state.f32");
    return c;
}

float max_abs_diff(const float* a, const float* b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

class Reference : public ::testing::TestWithParam<std::string> {};

TEST_P(Reference, DetectsGenerationAndShape) {
    const Case c = load_case(GetParam());
    auto model = Model::load(c.dir + "/model.pth");
    const ModelInfo& i = model->info();
    EXPECT_EQ(i.version_string(), c.json["version"].get<std::string>());
    EXPECT_EQ(i.n_layer, c.json["n_layer"].get<int64_t>());
    EXPECT_EQ(i.n_embd, c.json["n_embd"].get<int64_t>());
    EXPECT_EQ(i.n_vocab, c.vocab);
    EXPECT_EQ(i.ffn_dim, c.json["ffn_dim"].get<int64_t>());
    if (!c.json["head_size"].is_null()) {
        EXPECT_EQ(i.head_size, c.json["head_size"].get<int64_t>());
        EXPECT_EQ(i.n_head, c.json["n_head"].get<int64_t>());
    }
    EXPECT_EQ(model->new_state().data().size(), c.state.size());
}

TEST_P(Reference, RnnModeMatchesOfficialLogitsAndState) {
    const Case c = load_case(GetParam());
    auto model = Model::load(c.dir + "/model.pth");
    State s = model->new_state();
    std::vector<float> logits(static_cast<size_t>(c.vocab));
    for (size_t t = 0; t < c.tokens.size(); ++t) {
        model->eval(s, c.tokens[t], logits.data());
        EXPECT_LE(max_abs_diff(logits.data(), &c.logits[t * c.vocab], logits.size()), kTolerance) << "token " << t;
    }
    ASSERT_EQ(s.data().size(), c.state.size());
    EXPECT_LE(max_abs_diff(s.data().data(), c.state.data(), c.state.size()), kTolerance);
}

TEST_P(Reference, SequenceModeMatchesOfficialLogitsAndState) {
    const Case c = load_case(GetParam());
    auto model = Model::load(c.dir + "/model.pth");
    State s = model->new_state();
    std::vector<float> logits(c.logits.size());
    model->eval_sequence(s, c.tokens, logits.data(), true);
    EXPECT_LE(max_abs_diff(logits.data(), c.logits.data(), logits.size()), kTolerance);
    EXPECT_LE(max_abs_diff(s.data().data(), c.state.data(), c.state.size()), kTolerance);
}

TEST_P(Reference, SequenceModeInUnevenChunksMatches) {
    const Case c = load_case(GetParam());
    LoadOptions small_chunks;
    small_chunks.chunk_len = 5;  // the model's own chunking: 5, 5, 5, 5, 4
    small_chunks.threads = 2;
    auto model = Model::load(c.dir + "/model.pth", small_chunks);
    State s = model->new_state();
    std::vector<float> logits(c.logits.size());
    // and the caller's: 7, 1, 10, 6 tokens per call
    const size_t cuts[] = {0, 7, 8, 18, c.tokens.size()};
    for (int i = 0; i < 4; ++i) {
        std::span<const int32_t> part(c.tokens.data() + cuts[i], cuts[i + 1] - cuts[i]);
        model->eval_sequence(s, part, logits.data() + cuts[i] * c.vocab, true);
    }
    EXPECT_LE(max_abs_diff(logits.data(), c.logits.data(), logits.size()), kTolerance);
    EXPECT_LE(max_abs_diff(s.data().data(), c.state.data(), c.state.size()), kTolerance);
}

TEST_P(Reference, LastLogitsOnlyEqualsLastRow) {
    const Case c = load_case(GetParam());
    auto model = Model::load(c.dir + "/model.pth");
    State s = model->new_state();
    std::vector<float> last(static_cast<size_t>(c.vocab));
    model->eval_sequence(s, c.tokens, last.data(), false);
    EXPECT_LE(max_abs_diff(last.data(), &c.logits[(c.tokens.size() - 1) * c.vocab], last.size()), kTolerance);
}

INSTANTIATE_TEST_SUITE_P(AllGenerations, Reference,
                         ::testing::Values("v4", "v4-fp16", "v5", "v6", "v7", "v7-fp32", "v7a-deepembed"),
                         [](const auto& info) {
                             std::string n = info.param;
                             for (char& ch : n)
                                 if (ch == '-') ch = '_';
                             return n;
                         });

TEST(ModelInput, TokenOutOfRangeIsRejected) {
    auto model = Model::load(test::shared("testdata/reference/v7/model.pth"));
    State s = model->new_state();
    std::vector<float> logits(static_cast<size_t>(model->info().n_vocab));
    EXPECT_THROW(model->eval(s, 512, logits.data()), Error);
    EXPECT_THROW(model->eval(s, -1, logits.data()), Error);
    const std::vector<int32_t> bad = {1, 2, 100000};
    try {
        model->eval_sequence(s, bad, logits.data(), false);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("100000"), std::string::npos) << e.what();
    }
}

TEST(ModelInput, NotAModelFileIsRejected) {
    EXPECT_THROW(Model::load(test::shared("testdata/reference/v7/case.json")), Error);
    EXPECT_THROW(Model::load(test::shared("testdata/does-not-exist.pth")), Error);
}

}  // namespace
}  // namespace rwkv
