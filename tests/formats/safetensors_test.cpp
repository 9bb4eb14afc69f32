#include <gtest/gtest.h>

#include <cstring>
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
using testing::throws_rwkv_error;
using testing::write_bytes;

std::vector<uint8_t> make_st(const std::string& header, size_t data_bytes, uint64_t claimed_len = UINT64_MAX) {
    std::vector<uint8_t> out;
    put_le64(out, claimed_len == UINT64_MAX ? header.size() : claimed_len);
    put_string(out, header);
    out.resize(out.size() + data_bytes, 0);
    return out;
}

std::vector<std::pair<std::string, Tensor>> sample() {
    std::vector<std::pair<std::string, Tensor>> ts;
    Tensor a;
    a.shape = {2, 3};
    a.data = {1.5f, -2.25f, 3.0f, 1e-3f, 65504.0f, -0.0f};
    ts.emplace_back("blocks.0.att.key.weight", a);
    Tensor b;
    b.shape = {};
    b.data = {0.1f};
    ts.emplace_back("scalar", b);
    Tensor c;
    c.shape = {0};
    ts.emplace_back("empty", c);
    return ts;
}

TEST(Safetensors, RoundTripForEveryStorageType) {
    ScratchDir dir;
    for (DType st : {DType::F32, DType::F16, DType::BF16}) {
        const std::string path = dir.file(std::string("m.") + dtype_name(st) + ".safetensors");
        save_safetensors(path, sample(), st);
        const std::vector<uint8_t> raw = read_bytes(path);
        EXPECT_EQ(load_le64(raw.data()) % 8, 0u);  // header padded so data stays aligned
        const TensorFile f = load_safetensors(path);
        EXPECT_EQ(f.format, "safetensors");
        EXPECT_EQ(f.metadata.at("format"), "pt");
        ASSERT_EQ(f.tensors.size(), 3u);
        for (const auto& [name, t] : sample()) {
            const Tensor& r = f.get(name);
            EXPECT_EQ(r.shape, t.shape);
            EXPECT_EQ(r.source, st);
            ASSERT_EQ(r.data.size(), t.data.size());
            for (size_t i = 0; i < t.data.size(); ++i) {
                const float want = st == DType::F32   ? t.data[i]
                                   : st == DType::F16 ? f16_to_f32(f32_to_f16(t.data[i]))
                                                      : bf16_to_f32(f32_to_bf16(t.data[i]));
                EXPECT_EQ(r.data[i], want) << name << "[" << i << "]";
            }
        }
    }
}

TEST(Safetensors, HandWrittenFileLoads) {
    ScratchDir dir;
    const std::string header =
        R"({"__metadata__":{"note":"x"},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},)"
        R"("a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}})";
    std::vector<uint8_t> bytes = make_st(header, 12);
    const size_t data = 8 + header.size();
    const float a[2] = {1.0f, -3.5f};
    std::memcpy(bytes.data() + data, a, 8);
    bytes[data + 8] = 0x80;  // bf16 0x3f80 = 1.0
    bytes[data + 9] = 0x3f;
    bytes[data + 10] = 0x00;  // bf16 0xc000 = -2.0
    bytes[data + 11] = 0xc0;
    write_bytes(dir.file("h.safetensors"), bytes);
    const TensorFile f = load_safetensors(dir.file("h.safetensors"));
    EXPECT_EQ(f.get("a").data, (std::vector<float>{1.0f, -3.5f}));
    EXPECT_EQ(f.get("a").shape, (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(f.get("b").data, (std::vector<float>{1.0f, -2.0f}));
    EXPECT_EQ(f.get("b").source, DType::BF16);
    EXPECT_EQ(f.metadata.at("note"), "x");
}

std::string error_for(const std::vector<uint8_t>& bytes) {
    ScratchDir dir;
    const std::string path = dir.file("bad.safetensors");
    write_bytes(path, bytes);
    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([&] { load_safetensors(path); }, &msg));
    EXPECT_TRUE(msg.rfind(path + ": ", 0) == 0) << msg;
    return msg.substr(std::min(msg.size(), path.size() + 2));
}

TEST(Safetensors, LyingHeadersAreRejected) {
    auto one = [](const std::string& entry, size_t data) {
        return make_st(R"({"w":)" + entry + "}", data);
    };
    EXPECT_EQ(error_for(one(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})", 8)),
              "tensor 'w' data_offsets [0, 16] lie outside the 8 bytes of tensor data");
    EXPECT_EQ(error_for(one(R"({"dtype":"F32","shape":[4],"data_offsets":[0,12]})", 16)),
              "tensor 'w' [4] of f32 needs 4 elements but data_offsets span 12 bytes");
    EXPECT_EQ(error_for(one(R"({"dtype":"F16","shape":[2,2],"data_offsets":[0,16]})", 16)),
              "tensor 'w' [2, 2] of f16 needs 4 elements but data_offsets span 16 bytes");
    EXPECT_EQ(error_for(one(R"({"dtype":"F32","shape":[1],"data_offsets":[8,4]})", 16)),
              "tensor 'w' data_offsets [8, 4] lie outside the 16 bytes of tensor data");
    EXPECT_EQ(error_for(one(R"({"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551615]})", 16)),
              "tensor 'w' data_offsets [18446744073709551612, 18446744073709551615] lie outside the 16 bytes of tensor "
              "data");
    EXPECT_EQ(error_for(one(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})", 16)),
              "tensor 'w': shape must hold non-negative integers");
    EXPECT_EQ(error_for(one(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})", 16)),
              "tensor 'w': shape must hold non-negative integers");
    EXPECT_EQ(error_for(one(R"({"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]})", 16)),
              "tensor 'w' has too many elements");
    // Two tensors over the same bytes.
    EXPECT_EQ(error_for(make_st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 16)),
              "tensors 'a' and 'b' claim overlapping data (bytes 4 to 8)");
    EXPECT_EQ(error_for(make_st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 16)),
              "tensors 'a' and 'b' claim overlapping data (bytes 0 to 8)");
    EXPECT_EQ(error_for(one(R"({"dtype":"I64","shape":[1],"data_offsets":[0,8]})", 16)),
              "tensor 'w' has dtype 'I64'; only F32, F16 and BF16 are supported");
    EXPECT_EQ(error_for(one(R"({"dtype":"F32","shape":[1]})", 16)), "tensor 'w' lacks dtype, shape or data_offsets");
    EXPECT_EQ(error_for(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0]})", 16)),
              "tensor 'w': data_offsets is not a pair [begin, end]");
    EXPECT_EQ(error_for(one(R"(7)", 16)), "tensor 'w' is not described by an object");
    EXPECT_EQ(error_for(make_st("[1,2]", 0)), "safetensors header is not a JSON object");
    EXPECT_EQ(error_for(make_st(R"({"__metadata__":3})", 0)), "safetensors __metadata__ is not an object");
    EXPECT_EQ(error_for(make_st(std::string(100, '[') + std::string(100, ']'), 0)),
              "safetensors header nests too deeply");
    EXPECT_TRUE(contains(error_for(make_st("{\"w\": nope}", 0)), "safetensors header is not valid JSON: "));
}

TEST(Safetensors, HeaderLengthBeyondTheFileIsRejected) {
    EXPECT_EQ(error_for(make_st("{}", 0, 1000)),
              "safetensors header length 1000 runs past the end of the file (10 bytes)");
    EXPECT_EQ(error_for(make_st("{}", 0, UINT64_MAX - 1)),
              "safetensors header length 18446744073709551614 runs past the end of the file (10 bytes)");
    EXPECT_EQ(error_for(std::vector<uint8_t>{1, 2, 3}), "too short to be a safetensors file (3 bytes)");
}

TEST(Safetensors, TruncatedFilesFail) {
    ScratchDir dir;
    const std::string path = dir.file("t.safetensors");
    save_safetensors(path, sample(), DType::F32);
    const std::vector<uint8_t> full = read_bytes(path);
    for (size_t cut = 0; cut < full.size(); ++cut) {
        write_bytes(path, std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut)));
        ASSERT_TRUE(throws_rwkv_error([&] { load_safetensors(path); })) << cut;
    }
}

TEST(Safetensors, SaveRejectsBadInput) {
    ScratchDir dir;
    Tensor t;
    t.shape = {3};
    t.data = {1, 2};
    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([&] { save_safetensors(dir.file("x.safetensors"), {{"w", t}}, DType::F32); }, &msg));
    EXPECT_EQ(msg, dir.file("x.safetensors") + ": tensor 'w' [3] holds 2 values");
    t.data.push_back(3);
    EXPECT_TRUE(throws_rwkv_error([&] { save_safetensors(dir.file("x.safetensors"), {{"w", t}}, DType::Q4_0); }, &msg));
    EXPECT_TRUE(contains(msg, "not q4_0")) << msg;
    EXPECT_TRUE(throws_rwkv_error(
        [&] { save_safetensors(dir.file("x.safetensors"), {{"__metadata__", t}}, DType::F32); }, &msg));
    EXPECT_TRUE(contains(msg, "reserved or given twice")) << msg;
}

}  // namespace
}  // namespace rwkv
