// Write -> read round trips: every metadata type, every tensor type, byte for byte, every tensor aligned.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/quant.h"
#include "formats/byte_io.h"
#include "formats/formats_test_util.h"
#include "gguf_test_util.h"
#include "rwkv/gguf.h"

namespace rwkv {
namespace {

using testing::contains;
using testing::every_metadata_type;
using testing::read_bytes;
using testing::sample_tensor;
using testing::ScratchDir;
using testing::throws_rwkv_error;
using testing::write_bytes;

// Whether src/core/quant.h decodes `t` yet (the k-quants are being added).
bool quant_decodes(DType t) {
    try {
        dtype_row_bytes(t, 256);
        return true;
    } catch (const Error&) {
        return false;
    }
}

std::vector<GgufTensorInput> one_of_each_type() {
    std::vector<GgufTensorInput> ts;
    uint32_t seed = 1;
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                    DType::Q8_0}) {
        // Odd sizes for plain floats, so the next tensor starts misaligned unless padded.
        const bool plain = t == DType::F32 || t == DType::F16 || t == DType::BF16;
        ts.push_back(sample_tensor(std::string("w.") + dtype_name(t), plain ? std::vector<int64_t>{3, 5}
                                                                          : std::vector<int64_t>{3, 64},
                                   t, seed++));
    }
    ts.push_back(sample_tensor("w.q4_k", {2, 256}, DType::Q4_K, seed++));
    ts.push_back(sample_tensor("w.q6_k", {1, 2, 512}, DType::Q6_K, seed++));
    ts.push_back(sample_tensor("vec", {7}, DType::F32, seed++));
    ts.push_back(sample_tensor("four_d", {2, 1, 3, 32}, DType::Q8_0, seed++));
    ts.push_back(sample_tensor("scalar", {}, DType::F32, seed++));
    ts.push_back(sample_tensor("empty", {0, 32}, DType::Q4_0, seed++));
    return ts;
}

TEST(GgufRoundTrip, EveryMetadataType) {
    ScratchDir dir;
    const std::string path = dir.file("meta.gguf");
    GgufWriterInput in;
    in.metadata = every_metadata_type();
    save_gguf(path, in);
    const GgufFile g = open_gguf(path);
    EXPECT_EQ(g.version(), 3u);
    EXPECT_EQ(g.alignment(), 32u);
    ASSERT_EQ(g.metadata().size(), in.metadata.size() + 1);
    EXPECT_EQ(g.metadata()[0].first, "general.alignment");  // written first, as a uint32
    EXPECT_EQ(g.metadata()[0].second, GgufValue(uint32_t(32)));
    for (size_t i = 0; i < in.metadata.size(); ++i) {
        EXPECT_EQ(g.metadata()[i + 1].first, in.metadata[i].first);
        EXPECT_EQ(g.metadata()[i + 1].second, in.metadata[i].second) << in.metadata[i].first;
    }
    EXPECT_TRUE(g.tensors().empty());
    EXPECT_EQ(g.get<double>("t.f64"), 0.1);
    EXPECT_EQ(g.get_array<bool>("t.arr.bool"), (std::vector<bool>{true, false, true}));
    EXPECT_EQ(g.get_array<std::string>("t.arr.string")[3], std::string(300, 'x'));
}

TEST(GgufRoundTrip, EveryTensorTypeBitExactAndAligned) {
    ScratchDir dir;
    const std::string path = dir.file("tensors.gguf");
    GgufWriterInput in;
    in.metadata = {{"general.architecture", "test"}};
    in.tensors = one_of_each_type();
    save_gguf(path, in);
    const GgufFile g = open_gguf(path);
    ASSERT_EQ(g.tensors().size(), in.tensors.size());
    EXPECT_EQ(g.data_offset() % 32, 0u);
    const std::vector<uint8_t> raw = read_bytes(path);
    for (size_t i = 0; i < in.tensors.size(); ++i) {
        const GgufTensorInput& want = in.tensors[i];
        const GgufTensorInfo& got = g.tensors()[i];
        SCOPED_TRACE(want.name);
        EXPECT_EQ(got.name, want.name);
        EXPECT_EQ(got.shape, want.shape);
        EXPECT_EQ(got.type, want.type);
        EXPECT_EQ(got.offset % 32, 0u);
        EXPECT_EQ((g.data_offset() + got.offset) % 32, 0u);
        ASSERT_EQ(got.bytes, want.bytes.size());
        if (got.bytes == 0) continue;
        EXPECT_EQ(std::memcmp(got.data, want.bytes.data(), got.bytes), 0);
        // The pointer is into the mapping of this very file, at the offset it names.
        EXPECT_EQ(std::memcmp(raw.data() + g.data_offset() + got.offset, want.bytes.data(), got.bytes), 0);
    }
    EXPECT_EQ(g.tensor("w.q8_0").ggml_type, 8u);
    EXPECT_EQ(g.tensor("w.bf16").ggml_type, 30u);
    EXPECT_EQ(g.tensor("w.q4_k").ggml_type, 12u);
    EXPECT_EQ(g.tensor("w.q6_k").ggml_type, 14u);
    EXPECT_EQ(g.tensor("w.q5_0").ggml_type, 6u);
    EXPECT_EQ(g.tensor("scalar").numel(), 1);
    EXPECT_EQ(g.tensor("empty").bytes, 0u);
}

TEST(GgufRoundTrip, OnDiskLayoutIsGgufV3) {
    ScratchDir dir;
    const std::string path = dir.file("layout.gguf");
    GgufWriterInput in;
    in.tensors.push_back(sample_tensor("a", {2, 3}, DType::F32, 5));
    save_gguf(path, in);
    const std::vector<uint8_t> b = read_bytes(path);
    ASSERT_GE(b.size(), 24u);
    EXPECT_EQ(std::memcmp(b.data(), "GGUF", 4), 0);
    EXPECT_EQ(load_le32(b.data() + 4), 3u);
    EXPECT_EQ(load_le64(b.data() + 8), 1u);   // tensors
    EXPECT_EQ(load_le64(b.data() + 16), 1u);  // metadata: general.alignment
    EXPECT_EQ(b.size() % 32, 0u);             // the last tensor is padded too
    // general.alignment: key (8 + 17 bytes), type, value.
    size_t at = 24;
    EXPECT_EQ(load_le64(b.data() + at), 17u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data() + at + 8), 17), "general.alignment");
    EXPECT_EQ(load_le32(b.data() + at + 25), 4u);  // uint32
    EXPECT_EQ(load_le32(b.data() + at + 29), 32u);
    // The descriptor: name, n_dims, dims innermost first (3, then 2), type f32, offset 0.
    at += 33;
    EXPECT_EQ(load_le64(b.data() + at), 1u);
    EXPECT_EQ(b[at + 8], 'a');
    EXPECT_EQ(load_le32(b.data() + at + 9), 2u);
    EXPECT_EQ(load_le64(b.data() + at + 13), 3u);
    EXPECT_EQ(load_le64(b.data() + at + 21), 2u);
    EXPECT_EQ(load_le32(b.data() + at + 29), 0u);
    EXPECT_EQ(load_le64(b.data() + at + 33), 0u);
    EXPECT_EQ(open_gguf(path).data_offset(), 128u);  // 24 + 33 + 41 = 98 bytes of header, padded to 32
}

TEST(GgufRoundTrip, LoadGgufDecodesWhatQuantDecodes) {
    ScratchDir dir;
    const std::string path = dir.file("load.gguf");
    GgufWriterInput in;
    in.metadata = every_metadata_type();
    in.metadata.emplace_back("general.architecture", "rwkv7");
    for (auto& t : one_of_each_type())
        if (t.type != DType::Q4_K && t.type != DType::Q6_K) in.tensors.push_back(std::move(t));
    save_gguf(path, in);
    const TensorFile f = load_gguf(path);
    EXPECT_EQ(f.format, "gguf");
    EXPECT_EQ(f.path, path);
    EXPECT_EQ(f.metadata.at("general.architecture"), "rwkv7");
    EXPECT_EQ(f.metadata.at("general.alignment"), "32");
    EXPECT_EQ(f.metadata.at("t.f32"), "1e-05");
    EXPECT_EQ(f.metadata.at("t.bool"), "true");
    EXPECT_EQ(f.metadata.at("t.i64"), "-9000000000000000000");
    EXPECT_EQ(f.metadata.count("t.arr.string"), 0u);  // arrays stay with open_gguf
    ASSERT_EQ(f.tensors.size(), in.tensors.size());
    for (const GgufTensorInput& t : in.tensors) {
        SCOPED_TRACE(t.name);
        const Tensor& got = f.get(t.name);
        EXPECT_EQ(got.shape, t.shape);
        EXPECT_EQ(got.source, t.type);
        const int64_t n = testing::numel(t.shape);
        std::vector<float> want(static_cast<size_t>(n));
        if (n > 0) dequantize_row(t.type, t.bytes.data(), want.data(), n);
        EXPECT_EQ(got.data, want);
    }
}

TEST(GgufRoundTrip, KQuantsLoadOnceQuantDecodesThem) {
    ScratchDir dir;
    for (DType type : {DType::Q4_K, DType::Q6_K}) {
        const std::string path = dir.file(std::string("k.") + dtype_name(type) + ".gguf");
        GgufWriterInput in;
        in.tensors.push_back(sample_tensor("k", {2, 256}, type, 9));
        save_gguf(path, in);
        std::string msg;
        if (!quant_decodes(type)) {
            EXPECT_TRUE(throws_rwkv_error([&] { (void)load_gguf(path); }, &msg));
            EXPECT_TRUE(contains(msg, "'k' is " + std::string(dtype_name(type)) + ", which is not supported yet")) << msg;
            EXPECT_TRUE(contains(msg, path)) << msg;
        } else {
            const TensorFile f = load_gguf(path);
            std::vector<float> want(512);
            dequantize_row(type, in.tensors[0].bytes.data(), want.data(), 512);
            EXPECT_EQ(f.get("k").data, want);
        }
    }
}

TEST(GgufRoundTrip, WiderAlignment) {
    ScratchDir dir;
    const std::string path = dir.file("a64.gguf");
    GgufWriterInput in;
    in.alignment = 64;
    in.tensors = one_of_each_type();
    save_gguf(path, in);
    const GgufFile g = open_gguf(path);
    EXPECT_EQ(g.alignment(), 64u);
    EXPECT_EQ(g.get<uint32_t>("general.alignment"), 64u);
    for (const GgufTensorInfo& t : g.tensors()) EXPECT_EQ((g.data_offset() + t.offset) % 64, 0u) << t.name;
}

TEST(GgufRoundTrip, VersionTwoFilesRead) {
    // Version 2 differs from 3 only in not allowing big-endian files; the layout is the same.
    ScratchDir dir;
    const std::string path = dir.file("v2.gguf");
    GgufWriterInput in;
    in.metadata = {{"k", "v"}};
    in.tensors.push_back(sample_tensor("a", {4}, DType::F32, 3));
    save_gguf(path, in);
    std::vector<uint8_t> b = read_bytes(path);
    b[4] = 2;
    write_bytes(path, b);
    const GgufFile g = open_gguf(path);
    EXPECT_EQ(g.version(), 2u);
    EXPECT_EQ(g.get<std::string>("k"), "v");
    EXPECT_EQ(std::memcmp(g.tensor("a").data, in.tensors[0].bytes.data(), 16), 0);
}

TEST(GgufRoundTrip, TensorDataOutlivesTheFileObjectThroughStorage) {
    ScratchDir dir;
    const std::string path = dir.file("keep.gguf");
    GgufWriterInput in;
    in.tensors.push_back(sample_tensor("a", {64}, DType::F32, 4));
    save_gguf(path, in);
    std::shared_ptr<const void> keep;
    const void* data = nullptr;
    {
        const GgufFile g = open_gguf(path);
        keep = g.storage();
        data = g.tensor("a").data;
    }
    EXPECT_EQ(std::memcmp(data, in.tensors[0].bytes.data(), 256), 0);
}

}  // namespace
}  // namespace rwkv
