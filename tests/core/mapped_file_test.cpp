// MappedFile: the whole file readable through data(), files of 2 MiB and more starting on a 2 MiB boundary
// (so the page cache's huge folios can be mapped whole), and no mapping left behind.
#include "core/mapped_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "rwkv/error.h"

namespace rwkv {
namespace {

constexpr size_t kHuge = size_t{2} << 20;

std::string scratch_file(const std::string& name, const std::vector<uint8_t>& bytes) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("rwkv-mapped-" + std::to_string(::getpid()) + "-" + name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return path.string();
}

// Lines of /proc/self/maps: one per mapping of this process.
size_t mapping_count() {
    std::ifstream in("/proc/self/maps");
    size_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
}

TEST(MappedFile, ContentsAlignmentAndNoLeftoverMappings) {
    for (size_t size : {size_t{1}, size_t{4097}, kHuge - 1, kHuge, kHuge + 1, 3 * kHuge + 12345}) {
        std::vector<uint8_t> bytes(size);
        for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 131 + i / 4096);
        const std::string path = scratch_file(std::to_string(size), bytes);
        const auto map_and_check = [&] {
            const MappedFile f(path);
            ASSERT_EQ(f.size(), size);
            EXPECT_EQ(std::memcmp(f.data(), bytes.data(), size), 0) << size << " bytes";
            if (size >= kHuge) {
                EXPECT_EQ(reinterpret_cast<uintptr_t>(f.data()) % kHuge, 0u) << size << " bytes";
            }
        };
        // Once first, with a count, so that the memory a first use makes the allocator map (lazily, under
        // ASan) is in place before the count that matters.
        map_and_check();
        mapping_count();
        const size_t before = mapping_count();
        map_and_check();
        // The reservation's slack is released and the mapping itself unmapped: no mapping outlives the file.
        EXPECT_EQ(mapping_count(), before) << size << " bytes";
        std::filesystem::remove(path);
    }
}

// Resident kB of the mapping that holds p, from /proc/self/smaps.
size_t resident_kb(const void* p) {
    std::ifstream in("/proc/self/smaps");
    const auto at = reinterpret_cast<uintptr_t>(p);
    bool inside = false;
    for (std::string line; std::getline(in, line);) {
        unsigned long lo = 0, hi = 0;
        if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find('-') < line.find(' ')) {
            inside = at >= lo && at < hi;
        } else if (inside && line.rfind("Rss:", 0) == 0) {
            return std::stoul(line.substr(4));
        }
    }
    return 0;
}

TEST(MappedFile, ReleasedPagesLeaveTheResidentSetAndReadBackTheFile) {
    const size_t size = 3 * kHuge + 12345;
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 7 + i / 4096);
    const std::string path = scratch_file("release", bytes);
    {
        const MappedFile f(path);
        ASSERT_EQ(std::memcmp(f.data(), bytes.data(), size), 0);
        const size_t before = resident_kb(f.data());
        EXPECT_GE(before, size / 1024) << "every page was read";
        release_file_pages(f.data() + 100, size - 200);  // all but the partial first and last pages
        const size_t after = resident_kb(f.data());
        EXPECT_LE(after, size_t{16}) << "resident before: " << before << " kB";
        EXPECT_EQ(std::memcmp(f.data(), bytes.data(), size), 0) << "the pages read back from the file";
    }
    std::filesystem::remove(path);
}

TEST(MappedFile, EmptyFileHasNoData) {
    const std::string path = scratch_file("empty", {});
    const MappedFile f(path);
    EXPECT_EQ(f.size(), 0u);
    EXPECT_EQ(f.data(), nullptr);
    std::filesystem::remove(path);
}

TEST(MappedFile, MissingFileNamesThePath) {
    try {
        MappedFile f("/nonexistent/rwkv-mapped-missing.bin");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("rwkv-mapped-missing.bin"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace rwkv
