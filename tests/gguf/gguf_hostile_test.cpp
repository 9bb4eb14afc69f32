// Damaged and hostile GGUF files: each must give rwkv::Error (one line, naming the file and the field),
// never a crash, a hang or a huge allocation. Run under -DRWKV_SANITIZE=ON as well.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "formats/byte_io.h"
#include "formats/formats_test_util.h"
#include "gguf_test_util.h"
#include "rwkv/gguf.h"

namespace rwkv {
namespace {

using testing::contains;
using testing::every_metadata_type;
using testing::RawGguf;
using testing::read_bytes;
using testing::sample_tensor;
using testing::ScratchDir;
using testing::throws_rwkv_error;
using testing::write_bytes;

// Writes `bytes` and opens them, expecting an error that mentions `needle` (and the path, on one line).
void expect_rejected(const std::vector<uint8_t>& bytes, const std::string& needle) {
    ScratchDir dir;
    const std::string path = dir.file("h.gguf");
    write_bytes(path, bytes);
    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([&] { (void)open_gguf(path); }, &msg)) << "accepted; wanted: " << needle;
    EXPECT_TRUE(contains(msg, needle)) << msg;
    EXPECT_TRUE(contains(msg, path)) << msg;
    EXPECT_FALSE(contains(msg, "\n")) << msg;
    // load_gguf reads through open_gguf, so it must refuse the same file the same way.
    EXPECT_TRUE(throws_rwkv_error([&] { (void)load_gguf(path); }));
}

// A valid file with metadata of every type and a few tensors.
std::vector<uint8_t> valid_file(const ScratchDir& dir, uint64_t* tensor_data_end = nullptr) {
    GgufWriterInput in;
    in.metadata = every_metadata_type();
    in.tensors = {sample_tensor("a", {2, 3}, DType::F32, 1), sample_tensor("b", {2, 32}, DType::Q8_0, 2),
                  sample_tensor("c", {5}, DType::F16, 3)};
    const std::string path = dir.file("valid.gguf");
    save_gguf(path, in);
    if (tensor_data_end) {
        const GgufFile g = open_gguf(path);
        const GgufTensorInfo& last = g.tensors().back();
        *tensor_data_end = g.data_offset() + last.offset + last.bytes;
    }
    return read_bytes(path);
}

// header(1 tensor, 1 kv) + general.alignment = 32 + one f32 descriptor with `dims`, `type`, `offset`,
// padding, and `data` bytes of tensor data.
std::vector<uint8_t> one_tensor(std::vector<uint64_t> dims, uint32_t type, uint64_t offset, size_t data) {
    return RawGguf().header(1, 1).kv_u32("general.alignment", 32).tensor("t", dims, type, offset).pad().zeros(data).b;
}

TEST(GgufHostile, TruncatedAnywhere) {
    ScratchDir dir;
    uint64_t end = 0;
    const std::vector<uint8_t> full = valid_file(dir, &end);
    const std::string path = dir.file("t.gguf");
    for (size_t n = 0; n < full.size(); ++n) {
        write_bytes(path, std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
        std::string msg;
        const bool threw = throws_rwkv_error([&] { (void)open_gguf(path); }, &msg);
        // Cutting only the padding after the last tensor leaves a complete file.
        if (n < end) {
            EXPECT_TRUE(threw) << "truncated to " << n << " bytes was accepted";
            EXPECT_TRUE(contains(msg, path)) << msg;
        }
    }
}

TEST(GgufHostile, BadMagicAndVersions) {
    expect_rejected({}, "too short");
    expect_rejected({'G', 'G', 'U'}, "too short");
    expect_rejected(RawGguf().u32(0x46554746).u32(3).u64(0).u64(0).b, "bad magic");
    expect_rejected(RawGguf().header(0, 0, 1).b, "version 1");
    expect_rejected(RawGguf().header(0, 0, 4).b, "unsupported GGUF version 4");
    expect_rejected(RawGguf().header(0, 0, 0x03000000).b, "big-endian");
    expect_rejected(std::vector<uint8_t>{'G', 'G', 'U', 'F', 3, 0}, "version needs 4 bytes");
}

TEST(GgufHostile, LyingCounts) {
    expect_rejected(RawGguf().header(0, 1'000'000'000'000ull).b, "metadata count 1000000000000");
    expect_rejected(RawGguf().header(~0ull, 0).b, "tensor count");
    // Counts that fit the size check but promise more entries than follow.
    expect_rejected(RawGguf().header(0, 2).kv_u32("a", 1).u64(1ull << 40).zeros(8).b, "metadata entry #1: key needs");
    expect_rejected(RawGguf().header(2, 0).tensor("t", {4}, 0, 0).u64(1ull << 40).zeros(30).b, "tensor #1: name needs");
    // A valid file whose tensor count was raised by one.
    ScratchDir dir;
    std::vector<uint8_t> b = valid_file(dir);
    b[8] = static_cast<uint8_t>(b[8] + 1);
    expect_rejected(b, "tensor");
}

TEST(GgufHostile, StringsRunningPastTheEnd) {
    expect_rejected(RawGguf().header(0, 1).u64(1ull << 40).zeros(8).b, "key needs 1099511627776 bytes");
    expect_rejected(RawGguf().header(0, 1).u64(~0ull).zeros(8).b, "key needs");
    expect_rejected(RawGguf().header(0, 1).str("k").u32(8).u64(1ull << 62).zeros(8).b, "metadata 'k': value needs");
    expect_rejected(RawGguf().header(1, 0).u64(1ull << 50).zeros(40).b, "tensor #0: name needs");
}

TEST(GgufHostile, BadMetadataValues) {
    expect_rejected(RawGguf().header(0, 1).str("k").u32(13).zeros(8).b, "metadata 'k': value type 13");
    expect_rejected(RawGguf().header(0, 1).str("k").u32(7).u8(2).b, "bool of value 2");
    expect_rejected(RawGguf().header(0, 1).str("k").u32(9).u32(9).u64(1).u32(4).u64(1).u32(0).b,
                    "arrays of arrays are not supported");
    expect_rejected(RawGguf().header(0, 1).str("k").u32(9).u32(77).u64(1).b, "array element type 77");
    expect_rejected(RawGguf().header(0, 1).str("k").u32(9).u32(4).u64(1ull << 61).zeros(64).b,
                    "array of 2305843009213693952 uint32 elements");
    expect_rejected(RawGguf().header(0, 1).str("k").u32(9).u32(8).u64(1ull << 40).zeros(64).b,
                    "array of 1099511627776 strings");
    expect_rejected(RawGguf().header(0, 1).str("k").u32(9).u32(8).u64(2).str("ok").u64(99).b, "string element 1");
    expect_rejected(RawGguf().header(0, 1).str("k").u32(9).u32(7).u64(2).u8(1).u8(3).b, "bool array element 1 is 3");
    expect_rejected(RawGguf().header(0, 2).kv_u32("k", 1).kv_u32("k", 2).b, "metadata 'k': key appears twice");
}

TEST(GgufHostile, BadAlignment) {
    expect_rejected(RawGguf().header(0, 1).kv_string("general.alignment", "32").b, "must be a uint32, not string");
    expect_rejected(RawGguf().header(0, 1).kv_u32("general.alignment", 0).b, "alignment 0 is not a power of two");
    expect_rejected(RawGguf().header(0, 1).kv_u32("general.alignment", 48).b, "alignment 48 is not a power of two");
}

TEST(GgufHostile, BadTensorDescriptors) {
    expect_rejected(one_tensor({4, 1, 1, 1, 1}, 0, 0, 64), "has 5 dimensions");
    expect_rejected(one_tensor({1ull << 63}, 0, 0, 64), "dimension 0 (9223372036854775808) is negative or too large");
    expect_rejected(one_tensor({1ull << 40, 1ull << 40}, 0, 0, 64), "element count overflows");
    expect_rejected(one_tensor({1ull << 32, 1ull << 31, 1ull << 2}, 30, 0, 64), "overflows");
    expect_rejected(one_tensor({1ull << 61, 3}, 0, 0, 64), "size overflows");  // 3 x 2^61 elements fit; their bytes do not
    // Empty, yet the other dimensions multiply past int64: code that multiplies the shape would overflow.
    expect_rejected(one_tensor({0, 1ull << 40, 1ull << 40}, 0, 0, 64), "element count overflows");
    expect_rejected(one_tensor({4}, 99, 0, 64), "tensor 't': has unknown ggml type id 99");
    expect_rejected(one_tensor({256}, 13, 0, 1024), "has ggml type 13 (q5_k), which is not supported");
    expect_rejected(one_tensor({16}, 8, 0, 64), "innermost dimension 16 is not a multiple of the 32-element q8_0 block");
    expect_rejected(RawGguf().header(2, 0).tensor("t", {4}, 0, 0).tensor("t", {4}, 0, 32).pad().zeros(64).b,
                    "tensor 't': name appears twice");
}

TEST(GgufHostile, TensorDataOutsideTheFile) {
    expect_rejected(one_tensor({4}, 0, 0, 15), "16 bytes of data at offset 0");
    expect_rejected(one_tensor({4}, 0, 1ull << 40, 64), "at offset 1099511627776");
    expect_rejected(one_tensor({4}, 0, ~0ull & ~31ull, 64), "run past the end of the file");
    expect_rejected(one_tensor({4}, 0, 8, 64), "data offset 8 is not a multiple of the alignment 32");
    // No padding at all after the descriptors: the data section would start past the end.
    expect_rejected(RawGguf().header(1, 0).tensor("t", {0}, 0, 0).b, "past the end of the file");
}

// Two descriptors pointing into the same bytes: one stretch of data would count as two tensors.
TEST(GgufHostile, OverlappingTensorData) {
    const auto two = [](uint64_t second_offset) {
        return RawGguf()
            .header(2, 1)
            .kv_u32("general.alignment", 32)
            .tensor("first", {16}, 0, 0)
            .tensor("second", {16}, 0, second_offset)
            .pad()
            .zeros(128)
            .b;
    };
    expect_rejected(two(32), "tensors 'first' and 'second' claim overlapping data (bytes 32 to 64)");
    expect_rejected(two(0), "tensors 'first' and 'second' claim overlapping data (bytes 0 to 64)");
    ScratchDir dir;
    write_bytes(dir.file("ok.gguf"), two(64));
    EXPECT_EQ(open_gguf(dir.file("ok.gguf")).tensors().size(), 2u);
}

TEST(GgufHostile, EdgeCasesThatAreValid) {
    ScratchDir dir;
    const std::string path = dir.file("ok.gguf");
    // No tensors and no padding.
    write_bytes(path, RawGguf().header(0, 1).kv_u32("x", 1).b);
    EXPECT_EQ(open_gguf(path).get<uint32_t>("x"), 1u);
    // A zero-size tensor at the very end of the file.
    write_bytes(path, RawGguf().header(1, 0).tensor("t", {0, 7}, 0, 0).pad().b);
    EXPECT_EQ(open_gguf(path).tensor("t").bytes, 0u);
    EXPECT_EQ(load_gguf(path).get("t").shape, (std::vector<int64_t>{7, 0}));
}

// Random damage to the header and metadata of a valid file: whatever comes back must be an rwkv::Error or
// a file whose every tensor lies inside the mapping (checked by decoding it all).
TEST(GgufHostile, RandomCorruptionNeverCrashes) {
    ScratchDir dir;
    const std::vector<uint8_t> good = valid_file(dir);
    const std::string path = dir.file("fuzz.gguf");
    const GgufFile clean = open_gguf(dir.file("valid.gguf"));
    const size_t header_end = static_cast<size_t>(clean.data_offset());
    std::mt19937 rng(1234);
    int rejected = 0, accepted = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        std::vector<uint8_t> b = good;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < flips; ++k) {
            const size_t at = rng() % header_end;
            switch (rng() % 3) {
                case 0: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
                case 1: b[at] = static_cast<uint8_t>(rng()); break;
                default: b[at] = 0xff; break;
            }
        }
        if (rng() % 4 == 0) b.resize(rng() % b.size());
        write_bytes(path, b);
        try {
            const TensorFile f = load_gguf(path);
            ++accepted;
        } catch (const Error&) {
            ++rejected;
        }
    }
    EXPECT_GT(rejected, 0);
    EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace rwkv
