#include "formats/pickle.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/mapped_file.h"
#include "formats/zip.h"
#include "formats_test_util.h"
#include "pickle_builder.h"

namespace rwkv {
namespace {

using testing::contains;
using testing::PickleBuilder;
using testing::throws_rwkv_error;

std::string error_of(const std::vector<uint8_t>& pkl) {
    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([&] { unpickle_state_dict(pkl.data(), pkl.size(), "test.pth"); }, &msg));
    return msg;
}

// {name: tensor} as protocol 2 writes it, with one extra non-tensor entry that must be skipped.
std::vector<uint8_t> one_tensor_pickle(const std::string& name) {
    PickleBuilder p;
    p.proto(2).op('}').op('q').op(0).op('(');
    p.str(name).tensor("FloatStorage", "0", 12, 2, {2, 5}, {5, 1});
    p.str("step").integer(7);
    p.op('u').op('.');
    return p.b;
}

TEST(Pickle, ReadsTensorReference) {
    const std::vector<uint8_t> pkl = one_tensor_pickle("emb.weight");
    const auto t = unpickle_state_dict(pkl.data(), pkl.size(), "test.pth");
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].first, "emb.weight");
    EXPECT_EQ(t[0].second.storage->type, "torch.FloatStorage");
    EXPECT_EQ(t[0].second.storage->key, "0");
    EXPECT_EQ(t[0].second.storage->numel, 12);
    EXPECT_EQ(t[0].second.offset, 2);
    EXPECT_EQ(t[0].second.shape, (std::vector<int64_t>{2, 5}));
    EXPECT_EQ(t[0].second.stride, (std::vector<int64_t>{5, 1}));
}

// Protocol 4 spellings: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, an OrderedDict at the top,
// a tensor wrapped by _rebuild_parameter.
TEST(Pickle, AcceptsProtocol4OpcodesAndOrderedDict) {
    PickleBuilder p;
    p.proto(4).op(0x95);
    for (int i = 0; i < 8; ++i) p.op(0);
    p.short_str("collections").op(0x94).short_str("OrderedDict").op(0x94).op(0x93).op(0x94).op(')').op('R').op(0x94);
    p.short_str("w").op(0x94);
    p.short_str("torch._utils").short_str("_rebuild_parameter").op(0x93);
    p.op('(').tensor("HalfStorage", "k", 4, 0, {4}, {1}).op(0x88).global("collections", "OrderedDict").op(')').op('R');
    p.op('t').op('R');
    p.op('s');
    p.short_str("again").op('h').op(2);  // BINGET of the memoized OrderedDict: not a tensor, skipped
    p.op('s').op('.');
    const auto t = unpickle_state_dict(p.b.data(), p.b.size(), "test.pth");
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].first, "w");
    EXPECT_EQ(t[0].second.storage->type, "torch.HalfStorage");
    EXPECT_EQ(t[0].second.shape, (std::vector<int64_t>{4}));
}

TEST(Pickle, ForbiddenGlobalsAreRefusedByName) {
    const std::pair<const char*, const char*> globals[] = {
        {"os", "system"},          {"builtins", "eval"}, {"__builtin__", "exec"}, {"posix", "system"},
        {"subprocess", "Popen"},   {"torch.storage", "_load_from_bytes"},         {"torch", "load"},
        {"collections", "deque"},  {"numpy.core.multiarray", "_reconstruct"},
    };
    for (const auto& [module, name] : globals) {
        PickleBuilder p;
        p.proto(2).global(module, name).str("echo pwned").op(0x85).op('R').op('.');
        EXPECT_EQ(error_of(p.b), std::string("test.pth: pickle references forbidden global '") + module + "." + name +
                                     "'; a checkpoint may only hold tensors");
        PickleBuilder q;  // the same through STACK_GLOBAL
        q.proto(4).short_str(module).short_str(name).op(0x93).op('.');
        EXPECT_TRUE(contains(error_of(q.b), std::string("forbidden global '") + module + "." + name + "'"));
    }
}

TEST(Pickle, StructuralErrorsAreReported) {
    struct Case {
        std::vector<uint8_t> bytes;
        const char* expect;
    };
    const Case cases[] = {
        {{0x80, 2, 'h', 5, '.'}, "memo entry 5 read before it was written"},
        {{0x80, 2, 0xff}, "unsupported opcode 0xff"},
        {{0x80, 9}, "pickle protocol 9 is newer than 5"},
        {{0x80, 2, '}'}, "data ends in the middle of an opcode"},
        {{0x80, 2, 't'}, "missing MARK"},
        {{0x80, 2, 'a'}, "stack underflow"},
        {{0x80, 2, ']', ']', 's', '.'}, "stack underflow"},
        {{0x80, 2, ']', 'K', 1, 'K', 2, 's', '.'}, "SETITEM target must be a dict, not a list"},
        {{0x80, 2, ']', '.'}, "the checkpoint holds a list, not a dict of tensors"},
        {{0x80, 2, '}', '}', '.'}, "STOP with 2 values on the stack"},
        {{0x80, 2, 'X', 0xff, 0xff, 0xff, 0x7f}, "runs past the end of the pickle"},
        {{0x80, 2, 0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "integer of 9 bytes is too large"},
        {{0x80, 2, 'c', 'a', 'b'}, "unterminated or overlong text argument"},
        {{0x80, 2, 'N', ')', 'R'}, "REDUCE callable must be a global, not a None"},
    };
    for (const Case& c : cases) {
        const std::string msg = error_of(c.bytes);
        EXPECT_TRUE(contains(msg, c.expect)) << "expected '" << c.expect << "' in: " << msg;
        EXPECT_TRUE(msg.rfind("test.pth: pickle", 0) == 0) << msg;
    }
}

TEST(Pickle, BadTensorArgumentsAreReported) {
    PickleBuilder p;  // storage type that is not a storage marker
    p.proto(2).op('}').str("x").global("torch._utils", "_rebuild_tensor_v2").op('(');
    p.op('(').str("storage").global("collections", "OrderedDict").str("0").str("cpu").integer(4).op('t').op('Q');
    EXPECT_TRUE(contains(error_of(p.b), "'collections.OrderedDict' is not a storage type"));

    PickleBuilder q;  // size that is not a tuple of ints
    q.proto(2).op('}').str("x").global("torch._utils", "_rebuild_tensor_v2").op('(');
    q.op('(').str("storage").global("torch", "FloatStorage").str("0").str("cpu").integer(4).op('t').op('Q');
    q.integer(0).str("4").ints({1}).op(0x89).op('N').op('t').op('R');
    EXPECT_TRUE(contains(error_of(q.b), "tensor size must be a tuple, not a str"));

    PickleBuilder r;  // wrong arity
    r.proto(2).global("torch._utils", "_rebuild_tensor_v2").op(')').op('R');
    EXPECT_TRUE(contains(error_of(r.b), "_rebuild_tensor_v2 takes 6 or 7 arguments, got 0"));

    PickleBuilder s;  // a storage marker is not callable
    s.proto(2).global("torch", "FloatStorage").op(')').op('R');
    EXPECT_TRUE(contains(error_of(s.b), "'torch.FloatStorage' cannot be called"));
}

TEST(Pickle, NestedStateDictIsNamed) {
    PickleBuilder p;
    p.proto(2).op('}').str("state_dict").op('}').str("w").tensor("FloatStorage", "0", 1, 0, {1}, {1}).op('s');
    p.op('s').op('.');
    EXPECT_TRUE(contains(error_of(p.b), "no tensors at the top level of the checkpoint; they are nested under 'state_dict'"));
}

TEST(Pickle, DuplicateTensorNameIsAnError) {
    PickleBuilder p;
    p.proto(2).op('}').op('(');
    p.str("w").tensor("FloatStorage", "0", 1, 0, {1}, {1});
    p.str("w").tensor("FloatStorage", "1", 1, 0, {1}, {1});
    p.op('u').op('.');
    EXPECT_TRUE(contains(error_of(p.b), "tensor 'w' appears twice"));
}

// A flood of one-byte opcodes (MARKs, empty lists, DUPs) pays for what it builds with its own bytes:
// it holds memory in proportion to the pickle and ends in an ordinary error.
TEST(Pickle, OpcodeFloodsEndInErrors) {
    for (const uint8_t flood : {'(', ']', '2'}) {
        PickleBuilder p;
        p.proto(2).op('N');
        p.b.insert(p.b.end(), 1'000'000, flood);
        EXPECT_TRUE(contains(error_of(p.b), "data ends in the middle of an opcode")) << flood;
    }

    PickleBuilder memo;  // sparse memo keys are fine
    memo.proto(2).op('}').op('r');
    put_le32(memo.b, 0xffffffffu);
    memo.op('j');
    put_le32(memo.b, 0xffffffffu);
    memo.op('0').op('.');
    EXPECT_TRUE(unpickle_state_dict(memo.b.data(), memo.b.size(), "test.pth").empty());
}

std::string budget_error(size_t pickle_size, const std::string& what) {
    return "test.pth: pickle: work for a " + std::to_string(pickle_size) + "-byte pickle exceeds its budget (" + what +
           "); not a plain state dict (at byte ";
}

// A memo reference names a large object in a few bytes; each of these pickles would copy one thousands of
// times (gigabytes from a few hundred kilobytes) unless the copies are charged to the budget.
TEST(Pickle, RepeatedCopiesExhaustTheBudget) {
    const std::vector<uint8_t> lists = testing::ordered_dict_bomb(200'000, 4'000);
    EXPECT_TRUE(error_of(lists).starts_with(budget_error(lists.size(), "copies of lists")));

    PickleBuilder shapes;  // one memoized 200000-dimension size, for thousands of tensors
    shapes.proto(2).op('}').global("torch._utils", "_rebuild_tensor_v2").put(0).op('0');
    shapes.op('(').str("storage").global("torch", "FloatStorage").str("0").str("cpu").integer(1).op('t').op('Q');
    shapes.put(1).op('0').op('(');
    for (int i = 0; i < 200'000; ++i) shapes.integer(1);
    shapes.op('t').put(2).op('0');
    shapes.op('(').get(1).integer(0).get(2).get(2).op(0x89).op('N').op('t').put(3).op('0');
    for (int i = 0; i < 4'000; ++i) shapes.get(0).get(3).op('R').op('0');
    shapes.op('.');
    EXPECT_TRUE(error_of(shapes.b).starts_with(budget_error(shapes.b.size(), "copies of tuples")));

    PickleBuilder scans;  // a 200000-item dict under 40000 keys, each scanned for nested tensors
    scans.proto(2).op('}').str("k").put(0).op('0').op('}').put(1).op('(');
    for (int i = 0; i < 100'000; ++i) scans.integer(0).integer(0);
    scans.op('u').op('0').op('(');
    for (int i = 0; i < 40'000; ++i) scans.get(0).get(1);
    scans.op('u').op('.');
    EXPECT_TRUE(error_of(scans.b).starts_with(budget_error(scans.b.size(), "scans of nested dicts")));
}

// torch memoizes the key of a storage that several tensors share. However many tensors name a key, it
// is held once: a 1 MiB key named by 20000 tensors is not 20 GiB of copies.
TEST(Pickle, SharedStorageKeyIsHeldOnce) {
    const std::string key(size_t{1} << 20, 'k');
    PickleBuilder p;
    p.proto(2).op('}').global("torch._utils", "_rebuild_tensor_v2").put(0).op('0');
    p.global("collections", "OrderedDict").op(')').op('R').put(1).op('0');
    p.ints({4}).put(2).op('0').ints({1}).put(3).op('0');
    p.op('(').str("storage").global("torch", "FloatStorage").str(key).str("cpu").integer(4).op('t').put(4).op('0');
    constexpr size_t kTensors = 20'000;
    for (size_t i = 0; i < kTensors; ++i) {
        p.str(std::to_string(i)).get(0).op('(').get(4).op('Q').integer(0).get(2).get(3).op(0x89).get(1);
        p.op('t').op('R').op('s');
    }
    p.op('.');
    const auto t = unpickle_state_dict(p.b.data(), p.b.size(), "test.pth");
    ASSERT_EQ(t.size(), kTensors);
    EXPECT_EQ(t[0].second.storage->key, key);
    for (const auto& [name, pt] : t) ASSERT_EQ(pt.storage, t[0].second.storage) << name;
}

// A list holding itself and a dict holding itself must neither hang nor leak (LeakSanitizer watches).
TEST(Pickle, CyclesAreHarmless) {
    PickleBuilder p;
    p.proto(2).op('}').op('q').op(0).str("self").op('h').op(0).op('s');
    p.str("l").op(']').op('q').op(1).op('h').op(1).op('a').op('s').op('.');
    EXPECT_TRUE(unpickle_state_dict(p.b.data(), p.b.size(), "test.pth").empty());
}

// Random byte edits of a real checkpoint's pickle: every outcome is an rwkv::Error or a result.
TEST(Pickle, RandomCorruptionNeverCrashes) {
    const MappedFile f(testing::shared_path("reference/v7-fp32/model.pth"));
    const auto entries = read_zip_directory(f);
    const ZipEntry& e = entries.at("model/data.pkl");
    const std::vector<uint8_t> good(f.data() + e.offset, f.data() + e.offset + e.size);
    ASSERT_EQ(unpickle_state_dict(good.data(), good.size(), "x").size(), 105u);
    int errors = 0, loads = 0;
    for (uint32_t seed = 0; seed < 3000; ++seed) {
        std::mt19937 rng(seed);
        std::vector<uint8_t> bad = good;
        const int edits = 1 + static_cast<int>(rng() % 8);
        for (int i = 0; i < edits; ++i) {
            const size_t at = rng() % bad.size();
            switch (rng() % 3) {
                case 0: bad[at] = static_cast<uint8_t>(rng()); break;
                case 1: bad[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
                case 2: bad.resize(at); break;  // truncation
            }
            if (bad.empty()) break;
        }
        if (throws_rwkv_error([&] { unpickle_state_dict(bad.data(), bad.size(), "x"); }))
            ++errors;
        else
            ++loads;
    }
    EXPECT_GT(errors, 1000);  // the harness really does reach the error paths
    EXPECT_GT(loads, 10);     // and edits inside strings or numbers still parse
}

}  // namespace
}  // namespace rwkv
