#include "formats/zip.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/mapped_file.h"
#include "formats/byte_io.h"
#include "formats/zip_writer.h"
#include "formats_test_util.h"

namespace rwkv {
namespace {

using testing::contains;
using testing::ScratchDir;
using testing::throws_rwkv_error;
using testing::write_bytes;

std::vector<uint8_t> sample_archive(bool force_zip64) {
    ZipWriter w(force_zip64);
    w.add("archive/data.pkl", "hello", 5);
    w.add("archive/data/0", "", 0);
    std::string big(1000, 'x');
    w.add("archive/data/1", big.data(), big.size());
    w.add("archive/version", "3\n", 2);
    return w.finish();
}

void expect_sample(const std::string& path) {
    const MappedFile f(path);
    const auto entries = read_zip_directory(f);
    ASSERT_EQ(entries.size(), 4u);
    const ZipEntry& pkl = entries.at("archive/data.pkl");
    EXPECT_EQ(pkl.size, 5u);
    EXPECT_EQ(pkl.offset % 64, 0u);  // torch aligns entry data to 64 bytes
    EXPECT_EQ(std::memcmp(zip_entry_data(f, "archive/data.pkl", pkl), "hello", 5), 0);
    EXPECT_EQ(entries.at("archive/data/0").size, 0u);
    const ZipEntry& big = entries.at("archive/data/1");
    EXPECT_EQ(big.size, 1000u);
    EXPECT_EQ(big.offset % 64, 0u);
    EXPECT_EQ(zip_entry_data(f, "archive/data/1", big)[999], 'x');
    EXPECT_EQ(std::memcmp(zip_entry_data(f, "archive/version", entries.at("archive/version")), "3\n", 2), 0);
}

TEST(Zip, Crc32KnownValue) {
    EXPECT_EQ(crc32("123456789", 9), 0xcbf43926u);
    EXPECT_EQ(crc32("", 0), 0u);
}

TEST(Zip, WriterOutputReadsBack) {
    ScratchDir dir;
    write_bytes(dir.file("a.zip"), sample_archive(false));
    expect_sample(dir.file("a.zip"));
}

// Archives past 4 GiB carry their sizes and offsets in zip64 extra fields; force that form on a small one.
TEST(Zip, Zip64ExtraFieldsReadBack) {
    ScratchDir dir;
    const std::vector<uint8_t> bytes = sample_archive(true);
    // The central directory's 32-bit size and offset fields really are the zip64 escape value.
    const size_t cd = bytes.size() - 22 - 20 - 56;
    size_t cd_offset = load_le32(bytes.data() + bytes.size() - 22 + 16);
    ASSERT_LT(cd_offset, cd);
    EXPECT_EQ(load_le32(bytes.data() + cd_offset + 20), 0xffffffffu);
    EXPECT_EQ(load_le32(bytes.data() + cd_offset + 42), 0xffffffffu);
    write_bytes(dir.file("z64.zip"), bytes);
    expect_sample(dir.file("z64.zip"));
}

TEST(Zip, TrailingCommentIsAccepted) {
    ScratchDir dir;
    std::vector<uint8_t> bytes = sample_archive(false);
    const std::string comment = "saved by a test";
    bytes[bytes.size() - 2] = static_cast<uint8_t>(comment.size());
    bytes.insert(bytes.end(), comment.begin(), comment.end());
    write_bytes(dir.file("c.zip"), bytes);
    expect_sample(dir.file("c.zip"));
}

TEST(Zip, CompressedEntryIsRejectedWhenRead) {
    ScratchDir dir;
    std::vector<uint8_t> bytes = sample_archive(false);
    const size_t cd_offset = load_le32(bytes.data() + bytes.size() - 22 + 16);
    bytes[cd_offset + 10] = 8;  // first entry's method: deflate
    write_bytes(dir.file("d.zip"), bytes);
    const MappedFile f(dir.file("d.zip"));
    const auto entries = read_zip_directory(f);
    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([&] { zip_entry_data(f, "archive/data.pkl", entries.at("archive/data.pkl")); }, &msg));
    EXPECT_EQ(msg, dir.file("d.zip") +
                       ": zip entry 'archive/data.pkl' is compressed (method 8); only stored entries are supported, "
                       "as torch.save writes them");
}

TEST(Zip, LyingDirectoryFieldsAreRejected) {
    ScratchDir dir;
    const std::vector<uint8_t> good = sample_archive(false);
    const size_t end = good.size() - 22;
    const size_t z64 = end - 20 - 56;
    const size_t cd_offset = load_le32(good.data() + end + 16);
    struct Case {
        const char* what;
        size_t at;
        uint64_t value;
        int width;
        const char* expect;
    };
    const Case cases[] = {
        {"cd offset past the end", z64 + 48, 1u << 30, 8, "lies outside the file"},
        {"cd size past the end", z64 + 40, 1u << 30, 8, "lies outside the file"},
        {"absurd entry count", z64 + 32, uint64_t{1} << 40, 8, "claims"},
        {"zip64 record offset", end - 20 + 8, 1u << 30, 8, "zip64 end of central directory offset"},
        {"local header offset", cd_offset + 42, 1u << 30, 4, "local header offset"},
        {"entry size", cd_offset + 20, 1u << 30, 4, "sizes differ"},
        {"both sizes", cd_offset + 20, 0x7fffffffu, 4, "sizes differ"},
        {"name length", cd_offset + 28, 0xffff, 2, "runs past the end of the directory"},
        {"central signature", cd_offset, 0x12345678, 4, "bad signature"},
        {"local signature", 0, 0x12345678, 4, "bad local header signature"},
        {"multi-disk", end + 4, 1, 2, "multi-disk"},
    };
    for (const Case& c : cases) {
        std::vector<uint8_t> bytes = good;
        for (int i = 0; i < c.width; ++i) bytes[c.at + static_cast<size_t>(i)] = static_cast<uint8_t>(c.value >> (8 * i));
        if (std::string(c.what) == "both sizes") {
            for (int i = 0; i < 4; ++i) bytes[cd_offset + 24 + static_cast<size_t>(i)] = static_cast<uint8_t>(c.value >> (8 * i));
        }
        const std::string path = dir.file("bad.zip");
        write_bytes(path, bytes);
        std::string msg;
        EXPECT_TRUE(throws_rwkv_error([&] { read_zip_directory(MappedFile(path)); }, &msg)) << c.what;
        if (std::string(c.what) == "both sizes") {
            EXPECT_TRUE(contains(msg, "runs past the end of the archive data")) << c.what << ": " << msg;
        } else {
            EXPECT_TRUE(contains(msg, c.expect)) << c.what << ": " << msg;
        }
        EXPECT_TRUE(contains(msg, path)) << msg;
    }
}

TEST(Zip, NotAZip) {
    ScratchDir dir;
    write_bytes(dir.file("t.zip"), std::vector<uint8_t>(100, 'a'));
    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([&] { read_zip_directory(MappedFile(dir.file("t.zip"))); }, &msg));
    EXPECT_TRUE(contains(msg, "end of central directory record not found")) << msg;
    write_bytes(dir.file("s.zip"), std::vector<uint8_t>(10, 'a'));
    EXPECT_TRUE(throws_rwkv_error([&] { read_zip_directory(MappedFile(dir.file("s.zip"))); }, &msg));
    EXPECT_TRUE(contains(msg, "too short to be a zip archive")) << msg;
}

}  // namespace
}  // namespace rwkv
