// rwkv.cpp's tiny trained models (../shared/testdata/rwkvcpp-tiny) reproduce rwkv.cpp's logits.
#include <gtest/gtest.h>

#include <cmath>

#include "rwkv/model.h"
#include "test_paths.h"

namespace rwkv {
namespace {

struct TinyCase {
    const char* stem;
    const char* version;
    float fp16_tolerance, q5_1_tolerance;
};

std::vector<float> logits_after_in(const std::string& file) {
    auto model = Model::load(file);
    State s = model->new_state();
    std::vector<float> logits(static_cast<size_t>(model->info().n_vocab));
    for (int32_t byte : {'"', 'i', 'n'}) model->eval(s, byte, logits.data());
    return logits;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    EXPECT_EQ(a.size(), b.size());
    float m = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

class RwkvCppTiny : public ::testing::TestWithParam<TinyCase> {
protected:
    std::string file(const char* type) const {
        return test::shared(std::string("testdata/rwkvcpp-tiny/tiny-rwkv-") + GetParam().stem + "-" + type + ".bin");
    }
    std::vector<float> expected() const {
        return test::read_f32(test::shared(std::string("testdata/rwkvcpp-tiny/expected-logits-") + GetParam().stem +
                                           ".bin"));
    }
};

TEST_P(RwkvCppTiny, DetectsGeneration) {
    auto model = Model::load(file("FP32"));
    EXPECT_EQ(model->info().version_string().substr(0, 1), std::string(GetParam().version));
    EXPECT_EQ(model->info().format, "rwkvcpp");
    EXPECT_EQ(model->info().n_vocab, 256);
}

TEST_P(RwkvCppTiny, Fp32MatchesExpectedLogits) {
    EXPECT_LE(max_abs_diff(logits_after_in(file("FP32")), expected()), 1e-4f);
}

// The FP16 and Q5_1 files hold rounded weights, so their logits differ from the FP32 model's by the
// weights' rounding, not by our arithmetic (the FP32 files match to < 5e-6). Measured max abs
// differences over the 256 logits (largest |logit| 2.6 to 13):
//   4v0 FP16 0.0016 Q5_1 0.096 | 5v1 FP16 0.0045 Q5_1 0.28 | 5v2 FP16 0.0025 Q5_1 0.37 |
//   6v0 FP16 < 5e-6 Q5_1 0.12  | 7v0 FP16 < 5e-6 Q5_1 0.0042
// (6v0's and 7v0's weights are exactly representable in fp16, so their FP16 files are lossless.)
// Q5_1 keeps 5 bits per weight with a per-32-block scale and minimum, i.e. a weight error of up to
// 1/62 of each block's range; through 4-12 layers that moves logits by a few percent of their
// scale. Each bound is the measurement with ~1.5x headroom: a wrong dequantisation (a swapped
// nibble, a misread high bit, the wrong scale) moves logits by whole units and fails it.
TEST_P(RwkvCppTiny, Fp16IsCloseToExpectedLogits) {
    EXPECT_LE(max_abs_diff(logits_after_in(file("FP16")), expected()), GetParam().fp16_tolerance);
}

TEST_P(RwkvCppTiny, Q5_1IsCloseToExpectedLogits) {
    EXPECT_LE(max_abs_diff(logits_after_in(file("Q5_1")), expected()), GetParam().q5_1_tolerance);
}

INSTANTIATE_TEST_SUITE_P(AllGenerations, RwkvCppTiny,
                         ::testing::Values(TinyCase{"4v0-660K", "4", 0.0025f, 0.15f},
                                           TinyCase{"5v1-730K", "5", 0.007f, 0.42f},
                                           TinyCase{"5v2-730K", "5", 0.004f, 0.55f},
                                           TinyCase{"6v0-1m", "6", 1e-4f, 0.18f},
                                           TinyCase{"7v0-834K", "7", 1e-4f, 0.0065f}),
                         [](const auto& info) {
                             std::string n = info.param.stem;
                             for (char& ch : n)
                                 if (ch == '-') ch = '_';
                             return n;
                         });

}  // namespace
}  // namespace rwkv
