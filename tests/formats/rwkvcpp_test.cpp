#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>

#include "core/half.h"
#include "formats/byte_io.h"
#include "formats_test_util.h"
#include "rwkv/formats.h"

namespace rwkv {
namespace {

using testing::contains;
using testing::read_bytes;
using testing::ScratchDir;
using testing::shared_path;
using testing::throws_rwkv_error;
using testing::write_bytes;

std::string tiny(const std::string& stem, const std::string& type) {
    return shared_path("rwkvcpp-tiny/tiny-rwkv-" + stem + "-" + type + ".bin");
}

struct TinyModel {
    const char* stem;
    size_t tensors;
    const char* n_embed;
    const char* n_layer;
};
const TinyModel kModels[] = {
    {"4v0-660K", 78, "128", "4"}, {"5v1-730K", 246, "64", "12"}, {"5v2-730K", 270, "64", "12"},
    {"6v0-1m", 342, "64", "12"},  {"7v0-834K", 339, "64", "12"},
};

TEST(RwkvCpp, EveryTinyModelLoads) {
    for (const TinyModel& m : kModels) {
        for (const char* type : {"FP32", "FP16", "Q5_1"}) {
            SCOPED_TRACE(std::string(m.stem) + " " + type);
            const TensorFile f = load_rwkvcpp(tiny(m.stem, type));
            EXPECT_EQ(f.format, "rwkvcpp");
            EXPECT_EQ(f.tensors.size(), m.tensors);
            EXPECT_EQ(f.metadata.at("n_vocab"), "256");
            EXPECT_EQ(f.metadata.at("n_embed"), m.n_embed);
            EXPECT_EQ(f.metadata.at("n_layer"), m.n_layer);
            const std::string code = std::string(type) == "FP32" ? "0" : std::string(type) == "FP16" ? "1" : "8";
            EXPECT_EQ(f.metadata.at("data_type"), code);
            // The v4 model's FP32/FP16 files predate version 101; its Q5_1 file and all others carry 101.
            const bool old = std::string(m.stem) == "4v0-660K" && std::string(type) != "Q5_1";
            EXPECT_EQ(f.metadata.at("file_version"), old ? "100" : "101");
            for (const auto& [name, t] : f.tensors) EXPECT_EQ(static_cast<int64_t>(t.data.size()), t.numel()) << name;
        }
    }
}

TEST(RwkvCpp, ShapesComeBackInPyTorchOrder) {
    const TensorFile v7 = load_rwkvcpp(tiny("7v0-834K", "Q5_1"));
    EXPECT_EQ(v7.get("emb.weight").shape, (std::vector<int64_t>{256, 64}));
    EXPECT_EQ(v7.get("blocks.0.att.x_rwkvag").shape, (std::vector<int64_t>{6, 1, 64}));
    EXPECT_EQ(v7.get("blocks.0.att.w1").shape, (std::vector<int64_t>{32, 64}));  // transposed by the converter
    EXPECT_EQ(v7.get("blocks.0.att.r_k").shape, (std::vector<int64_t>{1, 64}));
    EXPECT_EQ(v7.get("blocks.0.ffn.key.weight").shape, (std::vector<int64_t>{256, 64}));
    EXPECT_EQ(v7.get("blocks.0.ffn.value.weight").shape, (std::vector<int64_t>{64, 256}));
    EXPECT_EQ(v7.get("blocks.0.ffn.key.weight").source, DType::Q5_1);
    EXPECT_EQ(v7.get("blocks.0.att.x_rwkvag").source, DType::F32);  // small tensors stay fp32
    const TensorFile v52 = load_rwkvcpp(tiny("5v2-730K", "FP16"));
    EXPECT_EQ(v52.get("blocks.0.att.time_decay").shape, (std::vector<int64_t>{8, 8, 1}));
    EXPECT_EQ(v52.get("blocks.0.att.time_faaaa").shape, (std::vector<int64_t>{8, 8, 1}));
    EXPECT_EQ(v52.get("blocks.0.att.gate.weight").source, DType::F16);
    const TensorFile v51 = load_rwkvcpp(tiny("5v1-730K", "FP32"));
    EXPECT_EQ(v51.get("blocks.0.att.time_first").shape, (std::vector<int64_t>{8, 1, 1}));
    EXPECT_FALSE(v51.has("blocks.0.att.gate.weight"));
}

// The FP16 and Q5_1 files are conversions of the same weights as the FP32 file: each tensor must agree
// within the rounding its format allows (a wrong block layout would miss by the whole value range).
TEST(RwkvCpp, ReducedPrecisionFilesMatchFp32) {
    for (const TinyModel& m : kModels) {
        const TensorFile f32 = load_rwkvcpp(tiny(m.stem, "FP32"));
        for (const char* type : {"FP16", "Q5_1"}) {
            SCOPED_TRACE(std::string(m.stem) + " " + type);
            const TensorFile other = load_rwkvcpp(tiny(m.stem, type));
            ASSERT_EQ(other.tensors.size(), f32.tensors.size());
            size_t quantized = 0;
            for (const auto& [name, ref] : f32.tensors) {
                const Tensor& t = other.get(name);
                ASSERT_EQ(t.shape, ref.shape) << name;
                ASSERT_EQ(ref.source, DType::F32) << name;
                for (size_t b = 0; b < ref.data.size(); b += 32) {
                    const size_t e = std::min(ref.data.size(), b + 32);
                    double mn = 1e30, mx = -1e30;
                    for (size_t i = b; i < e; ++i) {
                        mn = std::min(mn, static_cast<double>(ref.data[i]));
                        mx = std::max(mx, static_cast<double>(ref.data[i]));
                    }
                    for (size_t i = b; i < e; ++i) {
                        const double x = ref.data[i], y = t.data[i];
                        double bound = 0;
                        if (t.source == DType::F16) bound = std::fabs(x) / 2048 + 3e-8;
                        if (t.source == DType::Q5_1) bound = (mx - mn) / 31 * (0.5 + 31.0 / 2048) + std::fabs(mn) / 2048 + 1e-6;
                        ASSERT_LE(std::fabs(x - y), bound) << name << "[" << i << "]";
                    }
                }
                quantized += t.source == DType::Q5_1;
            }
            if (std::string(type) == "Q5_1") {
                EXPECT_GT(quantized, 20u);  // the big matrices really are Q5_1
            }
        }
    }
}

// Where each tensor record starts and ends, so truncations can avoid the record boundaries (the format
// has no tensor count: a file cut exactly between records is a valid, smaller file).
std::vector<size_t> record_boundaries(const std::vector<uint8_t>& b) {
    std::vector<size_t> out{24};
    size_t pos = 24;
    while (pos < b.size()) {
        const int32_t dims = load_le_i32(b.data() + pos), key = load_le_i32(b.data() + pos + 4),
                      type = load_le_i32(b.data() + pos + 8);
        int64_t n = 1;
        for (int i = 0; i < dims; ++i) n *= load_le_i32(b.data() + pos + 12 + 4 * i);
        pos += 12 + 4 * static_cast<size_t>(dims) + static_cast<size_t>(key);
        pos += static_cast<size_t>(type == 0 ? 4 * n : type == 1 ? 2 * n : n / 32 * 24);
        out.push_back(pos);
    }
    return out;
}

TEST(RwkvCpp, TruncatedFilesFail) {
    ScratchDir dir;
    const std::string path = dir.file("t.bin");
    for (const auto& [stem, type] : {std::pair{"5v1-730K", "Q5_1"}, std::pair{"4v0-660K", "FP16"}}) {
        SCOPED_TRACE(std::string(stem) + " " + type);
        const std::vector<uint8_t> full = read_bytes(tiny(stem, type));
        const std::vector<size_t> bounds = record_boundaries(full);
        ASSERT_EQ(bounds.back(), full.size());
        size_t tested = 0;
        for (size_t i = 0; i < 300; ++i) {
            const size_t cut = i * full.size() / 300 + i % 13;
            if (std::find(bounds.begin() + 1, bounds.end(), cut) != bounds.end()) continue;
            write_bytes(path, std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut)));
            std::string msg;
            ASSERT_TRUE(throws_rwkv_error([&] { load_rwkvcpp(path); }, &msg)) << "cut at " << cut;
            ASSERT_TRUE(msg.rfind(path + ": ", 0) == 0) << msg;
            ++tested;
        }
        EXPECT_GT(tested, 290u);
        // A cut between records leaves a smaller, valid file (documented above); right after the header
        // it leaves no tensors at all, which is an error.
        write_bytes(path, std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(bounds[3])));
        EXPECT_EQ(load_rwkvcpp(path).tensors.size(), 3u);
        write_bytes(path, std::vector<uint8_t>(full.begin(), full.begin() + 24));
        std::string msg;
        ASSERT_TRUE(throws_rwkv_error([&] { load_rwkvcpp(path); }, &msg));
        EXPECT_EQ(msg, path + ": rwkv.cpp file holds no tensors");
    }
}

std::string error_after_patch(const std::string& src, size_t at, int32_t value) {
    ScratchDir dir;
    std::vector<uint8_t> b = read_bytes(src);
    for (int i = 0; i < 4; ++i) b[at + static_cast<size_t>(i)] = static_cast<uint8_t>(static_cast<uint32_t>(value) >> (8 * i));
    const std::string path = dir.file("p.bin");
    write_bytes(path, b);
    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([&] { load_rwkvcpp(path); }, &msg)) << at << " = " << value;
    EXPECT_TRUE(msg.rfind(path + ": ", 0) == 0) << msg;
    return msg.substr(std::min(msg.size(), path.size() + 2));
}

TEST(RwkvCpp, CorruptHeadersAreRejected) {
    const std::string q = tiny("7v0-834K", "Q5_1");
    EXPECT_EQ(error_after_patch(q, 0, 0x67676d67), "not an rwkv.cpp model file (bad magic)");
    EXPECT_EQ(error_after_patch(q, 4, 102), "rwkv.cpp file version 102 is not supported (expected 100 or 101)");
    EXPECT_EQ(error_after_patch(q, 8, -5), "rwkv.cpp header field n_vocab is -5");
    EXPECT_EQ(error_after_patch(q, 20, 5), "rwkv.cpp header has unknown data type 5");
    // The first record: emb.weight, dims [64, 256] (reversed), FP32 in this file.
    EXPECT_EQ(error_after_patch(q, 24, 0), "tensor #0 at offset 24: dimension count 0 is outside 1..4");
    EXPECT_EQ(error_after_patch(q, 24, 1000000), "tensor #0 at offset 24: dimension count 1000000 is outside 1..4");
    EXPECT_EQ(error_after_patch(q, 28, 0x7fffffff), "tensor #0 at offset 24: key length 2147483647 is outside 1..1024");
    EXPECT_EQ(error_after_patch(q, 28, -1), "tensor #0 at offset 24: key length -1 is outside 1..1024");
    EXPECT_EQ(error_after_patch(q, 32, 6), "tensor #0 at offset 24: unknown data type 6");
    EXPECT_EQ(error_after_patch(q, 36, -64), "tensor #0 at offset 24: dimension 0 is -64");
    EXPECT_EQ(error_after_patch(q, 36, 0x7fffffff),
              "tensor 'emb.weight' [256, 2147483647] needs 2199023254528 bytes of data but the file ends after 1415734");
    // emb.weight claimed as Q5_1: its rows of 64 are whole blocks, so the reader then parses fp32 weights as
    // the next record's header, which cannot pass.
    EXPECT_TRUE(contains(error_after_patch(q, 32, 8), "tensor #1 at offset 12342"));
}

TEST(RwkvCpp, OldQuantizedLayoutIsRejected) {
    // Version 100 with Q5_1 blocks: ggml's pre-May-2023 layout, which this reader cannot verify.
    const std::string msg = error_after_patch(tiny("7v0-834K", "Q5_1"), 4, 100);
    EXPECT_TRUE(contains(msg, "is q5_1 in rwkv.cpp file version 100")) << msg;
    EXPECT_TRUE(contains(msg, "re-quantize")) << msg;
}

TEST(RwkvCpp, DuplicateNamesAreRejected) {
    ScratchDir dir;
    std::vector<uint8_t> b(24);
    const int32_t header[6] = {0x67676d66, 101, 256, 8, 1, 0};
    std::memcpy(b.data(), header, 24);
    for (int k = 0; k < 2; ++k) {
        const int32_t rec[4] = {1, 1, 0, 2};
        const uint8_t* r = reinterpret_cast<const uint8_t*>(rec);
        b.insert(b.end(), r, r + 16);
        b.push_back('w');
        const float v[2] = {1, 2};
        const uint8_t* d = reinterpret_cast<const uint8_t*>(v);
        b.insert(b.end(), d, d + 8);
    }
    write_bytes(dir.file("d.bin"), b);
    std::string msg;
    ASSERT_TRUE(throws_rwkv_error([&] { load_rwkvcpp(dir.file("d.bin")); }, &msg));
    EXPECT_EQ(msg, dir.file("d.bin") + ": tensor 'w' appears twice");
    b.resize(b.size() - 25);  // one record: loads
    write_bytes(dir.file("d.bin"), b);
    EXPECT_EQ(load_rwkvcpp(dir.file("d.bin")).get("w").data, (std::vector<float>{1, 2}));
}

}  // namespace
}  // namespace rwkv
