#include <gtest/gtest.h>

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
    EXPECT_EQ(msg, dir.file("adir") + ": not a regular file");
    EXPECT_TRUE(throws_rwkv_error([&] { load_tensor_file(dir.file("adir")); }, &msg));
    EXPECT_EQ(msg, dir.file("adir") + ": not a regular file");
}

}  // namespace
}  // namespace rwkv
