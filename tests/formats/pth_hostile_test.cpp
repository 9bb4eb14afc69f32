// Hostile and damaged .pth files: every one must end in rwkv::Error (or, for harmless edits, a load),
// never in a crash, a hang or a wild allocation. The sanitizer build runs these too.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "formats/byte_io.h"
#include "formats_test_util.h"
#include "pickle_builder.h"
#include "rwkv/formats.h"

namespace rwkv {
namespace {

using testing::contains;
using testing::make_pth;
using testing::PickleBuilder;
using testing::read_bytes;
using testing::ScratchDir;
using testing::shared_path;
using testing::throws_rwkv_error;
using testing::write_bytes;

TEST(PthHostile, TruncatedReferencesAlwaysFail) {
    ScratchDir dir;
    const std::string path = dir.file("model.pth");
    for (const std::string& c : testing::reference_cases()) {
        const std::vector<uint8_t> full = read_bytes(shared_path("reference/" + c + "/model.pth"));
        std::vector<size_t> cuts;
        for (size_t i = 0; i < 200; ++i) cuts.push_back(i * full.size() / 200);
        for (size_t k = 1; k <= 100; ++k) cuts.push_back(full.size() - k);  // inside the end records
        for (size_t cut : cuts) {
            write_bytes(path, std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut)));
            std::string msg;
            ASSERT_TRUE(throws_rwkv_error([&] { load_pth(path); }, &msg)) << c << " cut at " << cut;
            ASSERT_TRUE(msg.rfind(path + ": ", 0) == 0) << msg;
        }
    }
}

// Random edits confined to the pickle or to the zip's central directory and end records.
TEST(PthHostile, RandomCorruptionNeverCrashes) {
    ScratchDir dir;
    const std::string path = dir.file("model.pth");
    int errors = 0, loads = 0;
    for (const char* c : {"v7-fp32", "v4-fp16"}) {
        const std::vector<uint8_t> full = read_bytes(shared_path(std::string("reference/") + c + "/model.pth"));
        const size_t pkl_begin = 64;  // torch's first entry is the pickle, its data aligned to 64
        // The pickle is the first entry; its size sits in the first central directory record.
        const size_t cd = load_le32(full.data() + full.size() - 22 + 16);
        const size_t pkl_size = load_le32(full.data() + cd + 24);
        const std::pair<size_t, size_t> regions[] = {{pkl_begin, pkl_begin + pkl_size}, {cd, full.size()}};
        for (const auto& [begin, end] : regions) {
            for (uint32_t seed = 0; seed < 250; ++seed) {
                std::mt19937 rng(seed * 7919u + static_cast<uint32_t>(begin));
                std::vector<uint8_t> bad = full;
                const int edits = 1 + static_cast<int>(rng() % 6);
                for (int i = 0; i < edits; ++i) {
                    const size_t at = begin + rng() % (end - begin);
                    if (rng() % 2)
                        bad[at] = static_cast<uint8_t>(rng());
                    else
                        bad[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
                }
                write_bytes(path, bad);
                if (throws_rwkv_error([&] { load_pth(path); }))
                    ++errors;
                else
                    ++loads;
            }
        }
    }
    EXPECT_GT(errors, 300);
    EXPECT_GT(loads, 10);
}

// A checkpoint written here, then patched in place so its pickle names subprocess.check_output
// instead of collections.OrderedDict (the same length, so nothing else moves).
TEST(PthHostile, PatchedForbiddenGlobalIsRefused) {
    ScratchDir dir;
    Tensor t;
    t.shape = {2};
    t.data = {1, 2};
    const std::string path = dir.file("evil.pth");
    save_pth(path, {{"w", t}}, DType::F32);
    std::vector<uint8_t> bytes = read_bytes(path);
    const std::string from = "collections\nOrderedDict\n", to = "subprocess\ncheck_output\n";
    ASSERT_EQ(from.size(), to.size());
    auto it = std::search(bytes.begin(), bytes.end(), from.begin(), from.end());
    ASSERT_NE(it, bytes.end());
    std::copy(to.begin(), to.end(), it);
    write_bytes(path, bytes);
    std::string msg;
    ASSERT_TRUE(throws_rwkv_error([&] { load_pth(path); }, &msg));
    EXPECT_EQ(msg, path + ": pickle references forbidden global 'subprocess.check_output'; a checkpoint may only hold "
                          "tensors");
}

// The classic exploit: REDUCE os.system with a shell command, in an archive built from scratch.
TEST(PthHostile, HandBuiltExploitIsRefused) {
    ScratchDir dir;
    for (const auto& [module, name] : std::vector<std::pair<std::string, std::string>>{
             {"os", "system"}, {"posix", "system"}, {"builtins", "eval"}, {"__builtin__", "exec"},
             {"torch.storage", "_load_from_bytes"}, {"builtins", "getattr"}}) {
        PickleBuilder p;
        p.proto(2).op('}').str("w").global(module, name).str("touch /tmp/pwned").op(0x85).op('R').op('s').op('.');
        const std::string path = dir.file("model.pth");
        write_bytes(path, make_pth(p.b, {}, "model/"));
        std::string msg;
        ASSERT_TRUE(throws_rwkv_error([&] { load_pth(path); }, &msg));
        EXPECT_EQ(msg, path + ": pickle references forbidden global '" + module + "." + name +
                           "'; a checkpoint may only hold tensors");
        EXPECT_TRUE(contains(msg, "forbidden"));
    }
}

// A small checkpoint whose pickle would copy one memoized list thousands of times is refused early, with
// an error that names the file and the budget.
TEST(PthHostile, CopyingPickleExhaustsItsBudget) {
    ScratchDir dir;
    const std::string path = dir.file("bomb.pth");
    const std::vector<uint8_t> pkl = testing::ordered_dict_bomb(200'000, 4'000);
    write_bytes(path, make_pth(pkl, {}, "model/"));
    std::string msg;
    ASSERT_TRUE(throws_rwkv_error([&] { load_pth(path); }, &msg));
    EXPECT_TRUE(msg.starts_with(path + ": pickle: work for a " + std::to_string(pkl.size()) +
                                "-byte pickle exceeds its budget (copies of lists)"))
        << msg;
}

TEST(PthHostile, CompressedEntriesAreRejected) {
    ScratchDir dir;
    std::vector<uint8_t> bytes = read_bytes(shared_path("reference/v4-fp16/model.pth"));
    const size_t cd = load_le32(bytes.data() + bytes.size() - 22 + 16);
    size_t pos = cd;
    for (int i = 0; i < 3; ++i)  // the third record is model/data/1
        pos += 46 + load_le16(bytes.data() + pos + 28) + load_le16(bytes.data() + pos + 30) +
               load_le16(bytes.data() + pos + 32);
    bytes[pos - 46 - 12 + 10] = 8;  // back to that record's method field ("model/data/1" is 12 bytes)
    const std::string path = dir.file("c.pth");
    write_bytes(path, bytes);
    std::string msg;
    ASSERT_TRUE(throws_rwkv_error([&] { load_pth(path); }, &msg));
    EXPECT_EQ(msg, path + ": zip entry 'model/data/1' is compressed (method 8); only stored entries are supported, "
                          "as torch.save writes them");
}

TEST(PthHostile, ArchiveWithoutPickle) {
    ScratchDir dir;
    ZipWriter w;
    w.add("model/version", "3\n", 2);
    write_bytes(dir.file("n.pth"), w.finish());
    std::string msg;
    ASSERT_TRUE(throws_rwkv_error([&] { load_pth(dir.file("n.pth")); }, &msg));
    EXPECT_EQ(msg, dir.file("n.pth") + ": zip archive has no <archive>/data.pkl; not a PyTorch checkpoint");
}

}  // namespace
}  // namespace rwkv
