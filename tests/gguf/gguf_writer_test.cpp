// save_gguf: what it refuses, and that it replaces files atomically while streaming tensor data.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "formats/formats_test_util.h"
#include "gguf_test_util.h"
#include "rwkv/gguf.h"

namespace rwkv {
namespace {

using testing::contains;
using testing::read_bytes;
using testing::sample_tensor;
using testing::ScratchDir;
using testing::throws_rwkv_error;

std::string save_error(const GgufWriterInput& in) {
    ScratchDir dir;
    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([&] { save_gguf(dir.file("bad.gguf"), in); }, &msg));
    EXPECT_FALSE(std::filesystem::exists(dir.file("bad.gguf")));
    return msg;
}

TEST(GgufWriter, RefusesInconsistentInput) {
    GgufWriterInput in;
    in.tensors = {sample_tensor("a", {4}, DType::F32, 1), sample_tensor("a", {4}, DType::F32, 2)};
    EXPECT_TRUE(contains(save_error(in), "tensor 'a' is given twice"));

    in.tensors = {sample_tensor(std::string(64, 'n'), {4}, DType::F32, 1)};
    EXPECT_TRUE(contains(save_error(in), "longer than ggml's 63 bytes"));

    in.tensors = {sample_tensor("a", {4}, DType::F32, 1)};
    in.tensors[0].bytes.pop_back();
    EXPECT_TRUE(contains(save_error(in), "needs 16 bytes, given 15"));

    in.tensors = {sample_tensor("a", {1, 1, 1, 1}, DType::F32, 1)};
    in.tensors[0].shape = {1, 1, 1, 1, 1};
    EXPECT_TRUE(contains(save_error(in), "more than 4 dimensions"));

    in.tensors = {sample_tensor("a", {4}, DType::F32, 1)};
    in.tensors[0].shape = {-4};
    EXPECT_TRUE(contains(save_error(in), "negative dimension"));

    in.tensors = {sample_tensor("q", {2, 32}, DType::Q8_0, 1)};
    in.tensors[0].shape = {4, 16};
    EXPECT_TRUE(contains(save_error(in), "not a multiple of the 32-element q8_0 block"));

    in.tensors = {sample_tensor("a", {4}, DType::F32, 1)};
    in.tensors[0].produce = [](uint8_t*, size_t) {};
    EXPECT_TRUE(contains(save_error(in), "both bytes and a producer"));

    in.tensors.clear();
    in.metadata = {{"k", uint32_t(1)}, {"k", uint32_t(2)}};
    EXPECT_TRUE(contains(save_error(in), "metadata key 'k' is given twice"));

    in.metadata = {{"general.alignment", uint64_t(32)}};
    EXPECT_TRUE(contains(save_error(in), "must be the uint32 32"));

    in.metadata.clear();
    in.alignment = 24;
    EXPECT_TRUE(contains(save_error(in), "alignment 24 is not a power of two"));
    in.alignment = 4;
    EXPECT_TRUE(contains(save_error(in), "alignment 4"));
}

TEST(GgufWriter, ExplicitAlignmentKeyIsKeptWhereGiven) {
    ScratchDir dir;
    GgufWriterInput in;
    in.metadata = {{"general.architecture", "x"}, {"general.alignment", uint32_t(32)}};
    save_gguf(dir.file("a.gguf"), in);
    const GgufFile g = open_gguf(dir.file("a.gguf"));
    ASSERT_EQ(g.metadata().size(), 2u);
    EXPECT_EQ(g.metadata()[1].first, "general.alignment");
}

TEST(GgufWriter, ProducerStreamsTensorData) {
    ScratchDir dir;
    const GgufTensorInput ref = sample_tensor("w", {8, 64}, DType::Q4_0, 7);
    GgufTensorInput streamed;
    streamed.name = ref.name;
    streamed.shape = ref.shape;
    streamed.type = ref.type;
    size_t calls = 0;
    streamed.produce = [&](uint8_t* dst, size_t size) {
        ++calls;
        ASSERT_EQ(size, ref.bytes.size());
        std::memcpy(dst, ref.bytes.data(), size);
    };
    GgufWriterInput in;
    in.tensors.push_back(streamed);
    in.tensors.push_back(sample_tensor("after", {3}, DType::F32, 8));
    save_gguf(dir.file("s.gguf"), in);
    EXPECT_EQ(calls, 1u);
    const GgufFile g = open_gguf(dir.file("s.gguf"));
    EXPECT_EQ(std::memcmp(g.tensor("w").data, ref.bytes.data(), ref.bytes.size()), 0);
    EXPECT_EQ(std::memcmp(g.tensor("after").data, in.tensors[1].bytes.data(), 12), 0);
}

TEST(GgufWriter, FailureLeavesTheOldFileAndNoTemporary) {
    ScratchDir dir;
    const std::string path = dir.file("m.gguf");
    GgufWriterInput good;
    good.tensors.push_back(sample_tensor("a", {4}, DType::F32, 1));
    save_gguf(path, good);
    const std::vector<uint8_t> before = read_bytes(path);

    GgufWriterInput bad;
    GgufTensorInput t;
    t.name = "boom";
    t.shape = {4};
    t.produce = [](uint8_t*, size_t) { throw std::runtime_error("producer failed"); };
    bad.tensors.push_back(t);
    EXPECT_THROW(save_gguf(path, bad), std::runtime_error);
    EXPECT_EQ(read_bytes(path), before);
    size_t files = 0;
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path())) {
        (void)e;
        ++files;
    }
    EXPECT_EQ(files, 1u) << "a temporary file was left behind";

    GgufWriterInput other;
    other.tensors.push_back(sample_tensor("b", {8}, DType::F16, 2));
    save_gguf(path, other);  // and a successful write replaces it
    EXPECT_NE(open_gguf(path).find_tensor("b"), nullptr);
}

TEST(GgufWriter, UnwritableDirectoryIsAnError) {
    GgufWriterInput in;
    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([&] { save_gguf("/nonexistent-dir/x.gguf", in); }, &msg));
    EXPECT_TRUE(contains(msg, "/nonexistent-dir/x.gguf")) << msg;
}

}  // namespace
}  // namespace rwkv
