// GgufValue and the typed metadata reads of GgufFile.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "formats/formats_test_util.h"
#include "gguf_test_util.h"
#include "rwkv/error.h"
#include "rwkv/gguf.h"

namespace rwkv {
namespace {

using testing::contains;
using testing::ScratchDir;
using testing::throws_rwkv_error;

TEST(GgufValue, ScalarsKeepTheirExactType) {
    EXPECT_EQ(GgufValue(uint32_t(3)).type(), GgufType::UInt32);
    EXPECT_EQ(GgufValue(3).type(), GgufType::Int32);  // a plain literal is an int
    EXPECT_EQ(GgufValue(int64_t(3)).type(), GgufType::Int64);
    EXPECT_EQ(GgufValue(1.0f).type(), GgufType::Float32);
    EXPECT_EQ(GgufValue(1.0).type(), GgufType::Float64);
    EXPECT_EQ(GgufValue("x").type(), GgufType::String);
    EXPECT_EQ(GgufValue(true).type(), GgufType::Bool);
    EXPECT_EQ(GgufValue(int8_t(-3)).as<int8_t>(), -3);
    EXPECT_EQ(GgufValue(uint16_t(65535)).as<uint16_t>(), 65535);
    EXPECT_EQ(GgufValue(-2.5f).as<float>(), -2.5f);
    EXPECT_EQ(GgufValue(std::string("abc")).as<std::string>(), "abc");
}

TEST(GgufValue, WrongTypeIsAnError) {
    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([] { (void)GgufValue("24").as<uint32_t>(); }, &msg));
    EXPECT_EQ(msg, "holds a string, not a uint32");
    EXPECT_TRUE(throws_rwkv_error([] { (void)GgufValue(uint64_t(1)).as<uint32_t>(); }));
    EXPECT_TRUE(throws_rwkv_error([] { (void)GgufValue(1.0f).as_uint(); }));
    EXPECT_TRUE(throws_rwkv_error([] { (void)GgufValue(int32_t(-1)).as_uint(); }));
    EXPECT_TRUE(throws_rwkv_error([] { (void)GgufValue(uint64_t(~0ull)).as_int(); }));
    EXPECT_TRUE(throws_rwkv_error([] { (void)GgufValue("x").as_number(); }));
    EXPECT_TRUE(throws_rwkv_error([] { (void)GgufValue::array(std::vector<int32_t>{1}).as_array<uint32_t>(); }));
    EXPECT_TRUE(throws_rwkv_error([] { (void)GgufValue(uint8_t(1)).as_array<uint8_t>(); }));
}

TEST(GgufValue, LenientIntegerAndNumberReads) {
    EXPECT_EQ(GgufValue(uint8_t(7)).as_uint(), 7u);
    EXPECT_EQ(GgufValue(int32_t(7)).as_uint(), 7u);
    EXPECT_EQ(GgufValue(uint64_t(~0ull)).as_uint(), ~0ull);
    EXPECT_EQ(GgufValue(int16_t(-7)).as_int(), -7);
    EXPECT_EQ(GgufValue(1e-5f).as_number(), static_cast<double>(1e-5f));
    EXPECT_EQ(GgufValue(uint32_t(24)).as_number(), 24.0);
}

TEST(GgufValue, Arrays) {
    const GgufValue s = GgufValue::array(std::vector<std::string>{"a", "", "ccc"});
    EXPECT_TRUE(s.is_array());
    EXPECT_EQ(s.array_type(), GgufType::String);
    EXPECT_EQ(s.array_size(), 3u);
    EXPECT_EQ(s.string_at(2), "ccc");
    EXPECT_EQ(s.string_at(1), "");
    EXPECT_TRUE(throws_rwkv_error([&] { (void)s.string_at(3); }));
    EXPECT_EQ(s.as_array<std::string>(), (std::vector<std::string>{"a", "", "ccc"}));
    const GgufValue f = GgufValue::array(std::vector<float>{1.5f, -2.0f});
    EXPECT_EQ(f.as_array<float>(), (std::vector<float>{1.5f, -2.0f}));
    EXPECT_EQ(GgufValue::array(std::vector<bool>{true, false}).as_array<bool>(), (std::vector<bool>{true, false}));
    EXPECT_TRUE(throws_rwkv_error([] { (void)GgufValue::numeric_array(GgufType::String, nullptr, 1); }));
    EXPECT_TRUE(throws_rwkv_error([] {
        const uint8_t two = 2;
        (void)GgufValue::numeric_array(GgufType::Bool, &two, 1);
    }));
    EXPECT_TRUE(throws_rwkv_error([] { (void)GgufValue::string_array("abc", {2, 1, 3}); }));
    EXPECT_TRUE(throws_rwkv_error([] { (void)GgufValue::string_array("abc", {1}); }));
}

TEST(GgufValue, Text) {
    EXPECT_EQ(GgufValue(uint32_t(24)).to_string(), "24");
    EXPECT_EQ(GgufValue(int8_t(-3)).to_string(), "-3");
    EXPECT_EQ(GgufValue(uint64_t(~0ull)).to_string(), "18446744073709551615");
    EXPECT_EQ(GgufValue(1e-5f).to_string(), "1e-05");
    EXPECT_EQ(GgufValue(0.1).to_string(), "0.1");
    EXPECT_EQ(GgufValue(false).to_string(), "false");
    EXPECT_EQ(GgufValue("rwkv7").to_string(), "rwkv7");
    EXPECT_EQ(GgufValue::array(std::vector<std::string>{"a", "b"}).to_string(), "[2 x string]");
}

TEST(GgufFile, TypedReadsNameTheFileAndKey) {
    ScratchDir dir;
    const std::string path = dir.file("m.gguf");
    GgufWriterInput in;
    in.metadata = {{"rwkv7.block_count", uint32_t(24)},
                   {"rwkv7.context_length", uint64_t(1048576)},
                   {"general.architecture", "rwkv7"},
                   {"tokenizer.ggml.tokens", GgufValue::array(std::vector<std::string>{"x", "y"})}};
    save_gguf(path, in);
    const GgufFile g = open_gguf(path);
    EXPECT_EQ(g.get<uint32_t>("rwkv7.block_count"), 24u);
    EXPECT_EQ(g.get_uint("rwkv7.block_count"), 24u);
    EXPECT_EQ(g.get_uint("rwkv7.context_length"), 1048576u);
    EXPECT_EQ(g.get_number("rwkv7.block_count"), 24.0);
    EXPECT_EQ(g.get<std::string>("general.architecture"), "rwkv7");
    EXPECT_EQ(g.get_array<std::string>("tokenizer.ggml.tokens"), (std::vector<std::string>{"x", "y"}));
    EXPECT_TRUE(g.has("general.alignment"));
    EXPECT_FALSE(g.has("nope"));
    EXPECT_EQ(g.find("nope"), nullptr);

    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([&] { (void)g.get<uint32_t>("general.architecture"); }, &msg));
    EXPECT_EQ(msg, path + ": metadata 'general.architecture' holds a string, not a uint32");
    EXPECT_TRUE(throws_rwkv_error([&] { (void)g.get<uint32_t>("rwkv7.missing"); }, &msg));
    EXPECT_EQ(msg, path + ": metadata 'rwkv7.missing' is missing");
    EXPECT_TRUE(throws_rwkv_error([&] { (void)g.get_array<float>("tokenizer.ggml.tokens"); }, &msg));
    EXPECT_TRUE(contains(msg, "'tokenizer.ggml.tokens' is an array of string, not of float32")) << msg;
    EXPECT_TRUE(throws_rwkv_error([&] { (void)g.tensor("emb.weight"); }, &msg));
    EXPECT_EQ(msg, path + ": tensor 'emb.weight' is missing");
}

}  // namespace
}  // namespace rwkv
