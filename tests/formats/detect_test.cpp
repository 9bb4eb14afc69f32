#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <string>

#include "formats_test_util.h"
#include "rwkv/formats.h"

namespace rwkv {
namespace {

using testing::contains;
using testing::ScratchDir;
using testing::shared_path;
using testing::throws_rwkv_error;
using testing::write_bytes;

TEST(Detect, PicksTheReaderFromTheLeadingBytes) {
    EXPECT_EQ(load_tensor_file(shared_path("reference/v5/model.pth")).format, "pth");
    const TensorFile r = load_tensor_file(shared_path("rwkvcpp-tiny/tiny-rwkv-6v0-1m-Q5_1.bin"));
    EXPECT_EQ(r.format, "rwkvcpp");
    EXPECT_EQ(r.tensors.size(), 342u);
    ScratchDir dir;
    Tensor t;
    t.shape = {2};
    t.data = {1, 2};
    save_safetensors(dir.file("m.safetensors"), {{"w", t}}, DType::BF16);
    const TensorFile s = load_tensor_file(dir.file("m.safetensors"));
    EXPECT_EQ(s.format, "safetensors");
    EXPECT_EQ(s.get("w").data, (std::vector<float>{1, 2}));
    save_pth(dir.file("x.bin"), {{"w", t}}, DType::F16);  // the extension does not matter
    EXPECT_EQ(load_tensor_file(dir.file("x.bin")).format, "pth");
}

std::string error_for(const std::string& path) {
    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([&] { load_tensor_file(path); }, &msg)) << path;
    return msg;
}

TEST(Detect, UnknownAndUnsupportedFilesAreNamed) {
    ScratchDir dir;
    write_bytes(dir.file("m.gguf"), {'G', 'G', 'U', 'F', 3, 0, 0, 0, 0, 0, 0, 0});
    // a truncated GGUF goes to the GGUF reader, which names the file
    EXPECT_EQ(error_for(dir.file("m.gguf")).rfind(dir.file("m.gguf") + ": ", 0), 0u);
    write_bytes(dir.file("t.txt"), {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
    EXPECT_EQ(error_for(dir.file("t.txt")),
              dir.file("t.txt") +
                  ": unrecognised model file format (expected a PyTorch .pth, a .safetensors, a .gguf or an rwkv.cpp .bin)");
    write_bytes(dir.file("empty.pth"), {});
    EXPECT_EQ(error_for(dir.file("empty.pth")), dir.file("empty.pth") + ": file is empty");
    write_bytes(dir.file("st"), {200, 0, 0, 0, 0, 0, 0, 0, '{', '}'});  // header length beyond the file
    EXPECT_TRUE(contains(error_for(dir.file("st")), "unrecognised model file format"));
    EXPECT_EQ(error_for(dir.file("missing.pth")), dir.file("missing.pth") + ": cannot open: No such file or directory");
}

TEST(Detect, EveryReaderRejectsEmptyAndMissingFiles) {
    ScratchDir dir;
    write_bytes(dir.file("empty"), {});
    const std::string empty = dir.file("empty"), missing = dir.file("missing");
    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([&] { load_pth(empty); }, &msg));
    EXPECT_EQ(msg, empty + ": too short to be a zip archive (no end of central directory record)");
    EXPECT_TRUE(throws_rwkv_error([&] { load_safetensors(empty); }, &msg));
    EXPECT_EQ(msg, empty + ": too short to be a safetensors file (0 bytes)");
    EXPECT_TRUE(throws_rwkv_error([&] { load_rwkvcpp(empty); }, &msg));
    EXPECT_EQ(msg, empty + ": too short for an rwkv.cpp header (0 bytes)");
    for (auto load : {load_pth, load_safetensors, load_rwkvcpp, load_tensor_file}) {
        EXPECT_TRUE(throws_rwkv_error([&] { load(missing); }, &msg));
        EXPECT_EQ(msg, missing + ": cannot open: No such file or directory");
    }
    std::filesystem::create_directories(dir.file("adir"));
    EXPECT_TRUE(throws_rwkv_error([&] { load_pth(dir.file("adir")); }, &msg));
    EXPECT_EQ(msg, dir.file("adir") + ": is a directory, not a regular file");
    EXPECT_TRUE(throws_rwkv_error([&] { load_tensor_file(dir.file("adir")); }, &msg));
    EXPECT_EQ(msg, dir.file("adir") + ": is a directory, not a regular file");
}

// Opening a FIFO for reading waits for a writer: the file type must be known before anything blocks. If the
// load does block, the test opens the FIFO for writing after a while, which releases it, and fails.
TEST(Detect, AFifoIsRefusedWithoutWaitingForAWriter) {
    ScratchDir dir;
    const std::string fifo = dir.file("model.pth");
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    auto load = std::async(std::launch::async, [&] {
        std::string msg;
        throws_rwkv_error([&] { load_tensor_file(fifo); }, &msg);
        return msg;
    });
    if (load.wait_for(std::chrono::seconds(10)) == std::future_status::timeout) {
        const int fd = open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
        load.wait();
        if (fd >= 0) close(fd);
        FAIL() << "loading a FIFO blocked";
    }
    EXPECT_EQ(load.get(), fifo + ": is a FIFO (named pipe), not a regular file");
}

}  // namespace
}  // namespace rwkv
