// file_util: only regular files are read (a directory or a FIFO is named for what it is, and a FIFO is refused
// before a read could wait for a writer), a size limit is checked before anything is allocated, and an atomic
// write leaves the new file and nothing else.
#include "core/file_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "rwkv/error.h"

namespace rwkv {
namespace {

namespace fs = std::filesystem;

struct Scratch {
    fs::path dir = fs::temp_directory_path() / ("rwkv-file-util-" + std::to_string(::getpid()));
    Scratch() { fs::create_directories(dir); }
    ~Scratch() { fs::remove_all(dir); }
    std::string file(const std::string& name) const { return (dir / name).string(); }
};

std::string read_error(const std::string& path, size_t limit = SIZE_MAX) {
    try {
        read_file_bytes(path, limit);
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

TEST(FileUtil, OnlyRegularFilesAreRead) {
    Scratch s;
    fs::create_directories(s.file("sub"));
    EXPECT_EQ(read_error(s.file("sub")), s.file("sub") + ": is a directory, not a regular file");
    ASSERT_EQ(mkfifo(s.file("fifo").c_str(), 0600), 0);
    EXPECT_EQ(read_error(s.file("fifo")), s.file("fifo") + ": is a FIFO (named pipe), not a regular file");
    EXPECT_EQ(read_error("/dev/null"), "/dev/null: is a character device, not a regular file");
    EXPECT_EQ(read_error(s.file("none")), s.file("none") + ": cannot open: No such file or directory");
}

TEST(FileUtil, SizeLimitIsCheckedFirst) {
    Scratch s;
    const std::string path = s.file("f");
    write_file_atomic(path, "0123456789", 10);
    EXPECT_EQ(read_file_bytes(path, 10).size(), 10u);
    EXPECT_EQ(read_error(path, 9), path + ": 10 bytes, more than the 9 such a file can hold");
}

TEST(FileUtil, AtomicWriteLeavesOnlyTheFile) {
    Scratch s;
    const std::string path = s.file("out.bin");
    write_file_atomic(path, "old", 3);
    write_file_atomic(path, "new!", 4);
    const std::vector<uint8_t> got = read_file_bytes(path);
    EXPECT_EQ(std::string(got.begin(), got.end()), "new!");
    size_t entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(s.dir)) ++entries;
    EXPECT_EQ(entries, 1u);
    // Into a directory that does not exist: an error naming the temporary, and nothing left anywhere.
    EXPECT_THROW(write_file_atomic(s.file("missing/x"), "a", 1), Error);
}

}  // namespace
}  // namespace rwkv
