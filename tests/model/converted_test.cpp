// The official reference checkpoints converted to the project's GGUF (rwkv convert) in each weight type,
// loaded in place and run: f32 must still match the official logits to the reference tolerance; the lower
// types stay within the error each one states here (measured on these cases, with headroom).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/model_writer.h"
#include "rwkv/model.h"
#include "test_paths.h"

namespace rwkv {
namespace {

struct Expected {
    std::vector<int32_t> tokens;
    std::vector<float> logits;
    int64_t vocab = 0;
};

Expected load_expected(const std::string& dir) {
    std::ifstream in(dir + "/case.json");
    const nlohmann::json j = nlohmann::json::parse(in);
    return {j["tokens"].get<std::vector<int32_t>>(), test::read_f32(dir + "/logits.f32"),
            j["vocab_size"].get<int64_t>()};
}

// Max abs logit difference from the official logits over every token, RNN mode; also checks that
// sequence mode agrees with RNN mode on the same converted file.
float max_logit_error(const Model& m, const Expected& e, float seq_vs_rnn_bound) {
    State s = m.new_state();
    std::vector<float> out(static_cast<size_t>(e.vocab));
    std::vector<float> rnn(e.logits.size());
    float worst = 0;
    for (size_t t = 0; t < e.tokens.size(); ++t) {
        m.eval(s, e.tokens[t], out.data());
        for (int64_t v = 0; v < e.vocab; ++v) {
            rnn[t * e.vocab + v] = out[v];
            worst = std::max(worst, std::fabs(out[v] - e.logits[t * e.vocab + v]));
        }
    }
    State q = m.new_state();
    std::vector<float> seq(e.logits.size());
    m.eval_sequence(q, e.tokens, seq.data(), true);
    float gap = 0;
    for (size_t i = 0; i < seq.size(); ++i) gap = std::max(gap, std::fabs(seq[i] - rnn[i]));
    EXPECT_LE(gap, seq_vs_rnn_bound) << "sequence mode vs RNN mode";
    return worst;
}

struct TypeBound {
    DType type;
    float logit_error;  // max abs logit difference from the official fp32 outputs (logits reach ~9)
    float seq_vs_rnn;   // quantized generation rounds x to Q8 blocks; sequence mode keeps x exact
};

class Converted : public ::testing::TestWithParam<std::string> {};

TEST_P(Converted, EachWeightTypeStaysWithinItsStatedError) {
    const std::string dir = test::shared("testdata/reference/" + GetParam());
    const Expected e = load_expected(dir);
    const std::string tmp = test::temp_dir("converted-" + GetParam());
    // Measured worst case over the six cases (logits up to ~9): f16 0.0033, q8_0 0.11, q4_0 1.06.
    const TypeBound bounds[] = {{DType::F32, 1e-4f, 2e-5f},
                                {DType::F16, 0.02f, 2e-5f},
                                {DType::Q8_0, 0.2f, 0.15f},
                                {DType::Q4_0, 1.5f, 1.0f}};
    for (const TypeBound& b : bounds) {
        const std::string out = tmp + "/model-" + dtype_name(b.type) + ".gguf";
        convert_model_file(dir + "/model.pth", out, b.type);
        const auto m = Model::load(out);
        EXPECT_EQ(m->info().format, "gguf");
        const float err = max_logit_error(*m, e, b.seq_vs_rnn);
        std::printf("%s %s: max abs logit error %.6f\n", GetParam().c_str(), dtype_name(b.type), err);
        EXPECT_LE(err, b.logit_error) << dtype_name(b.type);
    }
}

INSTANTIATE_TEST_SUITE_P(AllGenerations, Converted, ::testing::Values("v4", "v4-fp16", "v5", "v6", "v7", "v7-fp32"),
                         [](const auto& info) {
                             std::string n = info.param;
                             for (char& c : n)
                                 if (c == '-') c = '_';
                             return n;
                         });

// Mean negative log-likelihood per byte (nats) of `text` under a byte-level model, in sequence mode.
double nll_per_byte(const Model& m, const std::string& text) {
    std::vector<int32_t> ids(text.begin(), text.end());
    for (int32_t& id : ids) id &= 0xff;
    State s = m.new_state();
    const int64_t V = m.info().n_vocab;
    std::vector<float> logits(ids.size() * static_cast<size_t>(V));
    m.eval_sequence(s, ids, logits.data(), true);
    double total = 0;
    for (size_t t = 0; t + 1 < ids.size(); ++t) {
        const float* l = &logits[t * V];
        const float mx = *std::max_element(l, l + V);
        double z = 0;
        for (int64_t v = 0; v < V; ++v) z += std::exp(static_cast<double>(l[v] - mx));
        total += std::log(z) + mx - l[ids[t + 1]];
    }
    return total / static_cast<double>(ids.size() - 1);
}

// The perplexity change quantization brings to a trained model: rwkv.cpp's tiny byte-level models on the
// first 4 KiB of tinyshakespeare. Measured (nats/byte, fp32 -> q8_0 / q4_0): 4v0 2.9806 -> -0.0001 / +0.0149,
// 7v0 3.7340 -> +0.0004 / +0.0091, i.e. perplexity x1.0004 at worst for q8_0 and x1.015 for q4_0.
TEST(Converted, QuantizationBarelyChangesPerplexityOfTrainedModels) {
    std::ifstream in(test::shared("data/tinyshakespeare.txt"), std::ios::binary);
    std::string text(4096, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    ASSERT_EQ(in.gcount(), 4096);
    const std::string tmp = test::temp_dir("converted-ppl");
    for (const char* stem : {"4v0-660K", "7v0-834K"}) {
        const std::string src = test::shared(std::string("testdata/rwkvcpp-tiny/tiny-rwkv-") + stem + "-FP32.bin");
        const double base = nll_per_byte(*Model::load(src), text);
        for (auto [type, bound] : {std::pair{DType::Q8_0, 0.005}, std::pair{DType::Q4_0, 0.05}}) {
            const std::string out = tmp + "/" + stem + "-" + dtype_name(type) + ".gguf";
            convert_model_file(src, out, type);
            const double q = nll_per_byte(*Model::load(out), text);
            std::printf("%s %s: %.4f -> %.4f nats/byte (ppl x%.4f)\n", stem, dtype_name(type), base, q,
                        std::exp(q - base));
            EXPECT_LE(std::fabs(q - base), bound) << stem << " " << dtype_name(type);
        }
    }
}

}  // namespace
}  // namespace rwkv
