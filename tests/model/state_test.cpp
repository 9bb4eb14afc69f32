// The state as a first-class object: copy, reset, save, load, and refusal of another model's state.
#include <gtest/gtest.h>

#include <fstream>

#include "model/model_writer.h"
#include "rwkv/error.h"
#include "rwkv/model.h"
#include "test_paths.h"

namespace rwkv {
namespace {

const std::vector<int32_t> kPrompt = {5, 17, 300, 42, 7, 99};

std::string ref(const std::string& c) { return test::shared("testdata/reference/" + c + "/model.pth"); }

TEST(State, SaveLoadRoundTripContinuesIdentically) {
    auto model = Model::load(ref("v7"));
    const std::string dir = test::temp_dir("state_roundtrip");
    State s = model->new_state();
    model->eval_sequence(s, kPrompt, nullptr, false);
    s.save(dir + "/s.state");
    State loaded = State::load(dir + "/s.state", *model);
    EXPECT_EQ(loaded.data(), s.data());
    std::vector<float> a(512), b(512);
    model->eval(s, 11, a.data());
    model->eval(loaded, 11, b.data());
    EXPECT_EQ(a, b);
}

TEST(State, CopyIsIndependentAndResetRestoresFresh) {
    auto model = Model::load(ref("v4"));
    State s = model->new_state();
    const State fresh = s;
    model->eval_sequence(s, kPrompt, nullptr, false);
    State copy = s;
    std::vector<float> logits(512);
    model->eval(s, 3, logits.data());
    EXPECT_NE(copy.data(), s.data());
    s.reset();
    EXPECT_EQ(s.data(), fresh.data());
    // v4's running maximum starts at -1e30, not 0
    EXPECT_EQ(fresh.data()[3 * 128], -1e30f);
}

TEST(State, StateOfAnotherModelIsRefused) {
    auto v7 = Model::load(ref("v7"));
    auto v7small = Model::load(ref("v7-fp32"));
    auto v5 = Model::load(ref("v5"));  // same state size as v7 (2 layers, 2 heads of 64)
    const std::string dir = test::temp_dir("state_mismatch");
    State s = v7->new_state();
    s.save(dir + "/v7.state");
    EXPECT_THROW(State::load(dir + "/v7.state", *v7small), Error);
    try {
        State::load(dir + "/v7.state", *v5);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("different model"), std::string::npos) << e.what();
    }
    // and in memory
    State other = v5->new_state();
    std::vector<float> logits(512);
    EXPECT_THROW(v7->eval(other, 1, logits.data()), Error);
}

// The identity of a model is its weights, not its container: a state saved with a bf16 .pth belongs to the
// bf16 GGUF converted from it (the same values), and still not to a q8_0 one (other values).
TEST(State, AStateBelongsToTheSameWeightsInAnotherContainer) {
    const std::string dir = test::temp_dir("state_container");
    convert_model_file(ref("v7"), dir + "/bf16.gguf", DType::BF16);
    convert_model_file(ref("v7"), dir + "/q8_0.gguf", DType::Q8_0);
    auto pth = Model::load(ref("v7"));
    State s = pth->new_state();
    pth->eval_sequence(s, kPrompt, nullptr, false);
    s.save(dir + "/s.state");
    auto same = Model::load(dir + "/bf16.gguf");
    EXPECT_EQ(same->fingerprint(), pth->fingerprint());
    EXPECT_EQ(State::load(dir + "/s.state", *same).data(), s.data());
    EXPECT_THROW(State::load(dir + "/s.state", *Model::load(dir + "/q8_0.gguf")), Error);
}

TEST(State, CorruptedOrTruncatedFilesAreRefused) {
    auto model = Model::load(ref("v6"));
    const std::string dir = test::temp_dir("state_corrupt");
    State s = model->new_state();
    model->eval_sequence(s, kPrompt, nullptr, false);
    s.save(dir + "/good.state");
    std::ifstream in(dir + "/good.state", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto write = [&](const std::string& name, const std::string& content) {
        std::ofstream(dir + "/" + name, std::ios::binary) << content;
        return dir + "/" + name;
    };
    for (size_t cut : {size_t{0}, size_t{4}, size_t{30}, bytes.size() / 2, bytes.size() - 1})
        EXPECT_THROW(State::load(write("cut.state", bytes.substr(0, cut)), *model), Error) << cut;
    std::string flipped = bytes;
    flipped[bytes.size() / 2] ^= 0x40;
    EXPECT_THROW(State::load(write("flip.state", flipped), *model), Error);
    EXPECT_THROW(State::load(write("padded.state", bytes + "x"), *model), Error);
    EXPECT_THROW(State::load(dir + "/missing.state", *model), Error);
}

TEST(Model, SequenceEqualsRnnOnLongPromptWithSmallChunks) {
    LoadOptions o;
    o.chunk_len = 16;
    auto model = Model::load(ref("v6"), o);
    std::vector<int32_t> tokens;
    for (int i = 0; i < 100; ++i) tokens.push_back((i * 37 + 11) % 512);
    State a = model->new_state(), b = model->new_state();
    std::vector<float> la(512), lb(512);
    for (int32_t t : tokens) model->eval(a, t, la.data());
    model->eval_sequence(b, tokens, lb.data(), false);
    for (size_t i = 0; i < la.size(); ++i) ASSERT_NEAR(la[i], lb[i], 1e-4f) << i;
    for (size_t i = 0; i < a.data().size(); ++i) ASSERT_NEAR(a.data()[i], b.data()[i], 1e-4f) << i;
}

}  // namespace
}  // namespace rwkv
