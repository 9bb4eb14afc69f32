// AtomicFileStream: the bytes written in pieces of any size arrive whole and in order through its 2 MiB
// blocks, and nothing reaches the destination before commit().
#include "formats/atomic_stream.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "formats/formats_test_util.h"

namespace rwkv {
namespace {

using testing::read_bytes;
using testing::ScratchDir;

TEST(AtomicFileStream, PiecesOfAnySizeArriveInOrder) {
    constexpr size_t kBlock = AtomicFileStream::kBlockBytes;
    std::mt19937 rng(7);
    // Sizes that end a piece exactly on a block boundary, one byte either side, and pieces larger than a
    // block, mixed with random ones; then zeros across a boundary.
    std::vector<size_t> sizes = {1, kBlock - 2, 1, 1, kBlock, 3 * kBlock + 5, 0, kBlock - 6};
    std::uniform_int_distribution<size_t> any(0, 70000);
    for (int i = 0; i < 40; ++i) sizes.push_back(any(rng));
    ScratchDir dir;
    const std::string path = dir.file("out.bin");
    std::vector<uint8_t> expected;
    {
        AtomicFileStream out(path);
        for (size_t n : sizes) {
            std::vector<uint8_t> piece(n);
            for (auto& b : piece) b = static_cast<uint8_t>(rng());
            out.write(piece.data(), piece.size());
            expected.insert(expected.end(), piece.begin(), piece.end());
            EXPECT_EQ(out.written(), expected.size());
        }
        out.write_zeros(kBlock + 17);
        expected.resize(expected.size() + kBlock + 17, 0);
        EXPECT_FALSE(std::filesystem::exists(path)) << "the destination appeared before commit()";
        out.commit();
    }
    ASSERT_GT(expected.size(), 6 * kBlock);
    EXPECT_TRUE(read_bytes(path) == expected);
    for (const auto& e : std::filesystem::directory_iterator(dir.file("")))
        EXPECT_EQ(e.path().filename(), "out.bin") << "a temporary was left behind";
}

TEST(AtomicFileStream, ShortFileIsWrittenOnCommit) {
    ScratchDir dir;
    const std::string path = dir.file("short.bin");
    const std::vector<uint8_t> bytes = {1, 2, 3};
    AtomicFileStream out(path);
    out.write(bytes.data(), bytes.size());
    out.commit();
    EXPECT_EQ(read_bytes(path), bytes);
}

TEST(AtomicFileStream, WithoutCommitNothingIsLeft) {
    ScratchDir dir;
    const std::string path = dir.file("gone.bin");
    {
        AtomicFileStream out(path);
        const std::vector<uint8_t> big(AtomicFileStream::kBlockBytes + 9, 5);
        out.write(big.data(), big.size());  // one block already on disk in the temporary
    }
    EXPECT_TRUE(std::filesystem::is_empty(dir.file("")));
}

}  // namespace
}  // namespace rwkv
