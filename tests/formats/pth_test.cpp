#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "core/half.h"
#include "core/mapped_file.h"
#include "formats/pickle.h"
#include "formats/zip.h"
#include "formats_test_util.h"
#include "pickle_builder.h"
#include "rwkv/formats.h"

namespace rwkv {
namespace {

using testing::contains;
using testing::f32_bytes;
using testing::make_pth;
using testing::PickleBuilder;
using testing::read_bytes;
using testing::ScratchDir;
using testing::shared_path;
using testing::throws_rwkv_error;
using testing::write_bytes;
using Shapes = std::map<std::string, std::vector<int64_t>>;

std::string case_path(const std::string& c) { return shared_path("reference/" + c + "/model.pth"); }

// The names and shapes ../shared/testdata/reference/README.md documents, from a case's hyperparameters.
Shapes expected_shapes(const nlohmann::json& j) {
    const std::string version = j["version"];
    const int64_t L = j["n_layer"], C = j["n_embd"], V = j["vocab_size"], F = j["ffn_dim"];
    const int64_t H = j["n_head"].is_null() ? 0 : j["n_head"].get<int64_t>();
    const int64_t N = j["head_size"].is_null() ? 0 : j["head_size"].get<int64_t>();
    const int64_t D = j["lora_dim"].is_null() ? 0 : j["lora_dim"].get<int64_t>();
    const std::vector<int64_t> vecC{C}, mix{1, 1, C}, CC{C, C}, HN{H, N};
    Shapes s{{"emb.weight", {V, C}}, {"blocks.0.ln0.weight", vecC}, {"blocks.0.ln0.bias", vecC},
             {"ln_out.weight", vecC}, {"ln_out.bias", vecC},        {"head.weight", {V, C}}};
    for (int64_t i = 0; i < L; ++i) {
        const std::string b = "blocks." + std::to_string(i) + ".";
        for (const char* n : {"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias"}) s[b + n] = vecC;
        s[b + "ffn.key.weight"] = {F, C};
        s[b + "ffn.value.weight"] = {C, F};
        if (version == "4" || version == "5.2" || version == "6") s[b + "ffn.receptance.weight"] = CC;
        for (const char* n : {"key", "value", "receptance", "output"}) s[b + "att." + n + ".weight"] = CC;
        if (version != "4") {
            s[b + "att.ln_x.weight"] = vecC;
            s[b + "att.ln_x.bias"] = vecC;
        }
        if (version == "4") {
            s[b + "att.time_decay"] = vecC;
            s[b + "att.time_first"] = vecC;
            for (const char* n : {"k", "v", "r"}) s[b + "att.time_mix_" + n] = mix;
            for (const char* n : {"k", "r"}) s[b + "ffn.time_mix_" + n] = mix;
        } else if (version == "5.2") {
            s[b + "att.time_decay"] = HN;
            s[b + "att.time_faaaa"] = HN;
            s[b + "att.gate.weight"] = CC;
            for (const char* n : {"k", "v", "r", "g"}) s[b + "att.time_mix_" + n] = mix;
            for (const char* n : {"k", "r"}) s[b + "ffn.time_mix_" + n] = mix;
        } else if (version == "6") {
            const int64_t D2 = 64;  // the decay LoRA is 64 wide in this case, as in released models
            for (const char* n : {"x", "w", "k", "v", "r", "g"}) s[b + "att.time_maa_" + n] = mix;
            s[b + "att.time_maa_w1"] = {C, 5 * D};
            s[b + "att.time_maa_w2"] = {5, D, C};
            s[b + "att.time_decay"] = mix;
            s[b + "att.time_decay_w1"] = {C, D2};
            s[b + "att.time_decay_w2"] = {D2, C};
            s[b + "att.time_faaaa"] = HN;
            s[b + "att.gate.weight"] = CC;
            for (const char* n : {"k", "r"}) s[b + "ffn.time_maa_" + n] = mix;
        } else if (version == "7") {
            for (const char* n : {"r", "w", "k", "v", "a", "g"}) s[b + "att.x_" + n] = mix;
            std::vector<std::string> loras = {"w", "a", "g"};
            if (i > 0 || L == 3) loras.push_back("v");  // v7-fp32 (3 layers) also carries v0..v2 on layer 0
            for (const std::string& n : loras) {
                if (n != "g") s[b + "att." + n + "0"] = mix;
                s[b + "att." + n + "1"] = {C, D};
                s[b + "att." + n + "2"] = {D, C};
            }
            s[b + "att.k_k"] = mix;
            s[b + "att.k_a"] = mix;
            s[b + "att.r_k"] = HN;
            s[b + "ffn.x_k"] = mix;
        }
    }
    return s;
}

nlohmann::json case_json(const std::string& c) {
    const std::vector<uint8_t> b = read_bytes(shared_path("reference/" + c + "/case.json"));
    return nlohmann::json::parse(b.begin(), b.end());
}

TEST(Pth, EveryReferenceLoadsWithDocumentedNamesAndShapes) {
    const std::map<std::string, DType> dtype = {{"v4", DType::F32}, {"v4-fp16", DType::F16}, {"v5", DType::BF16},
                                                {"v6", DType::F32}, {"v7", DType::BF16},     {"v7-fp32", DType::F32}};
    for (const std::string& c : testing::reference_cases()) {
        SCOPED_TRACE(c);
        const TensorFile f = load_pth(case_path(c));
        EXPECT_EQ(f.format, "pth");
        EXPECT_EQ(f.path, case_path(c));
        EXPECT_EQ(f.metadata.at("archive"), "model");
        const Shapes want = expected_shapes(case_json(c));
        Shapes got;
        for (const auto& [name, t] : f.tensors) {
            got[name] = t.shape;
            EXPECT_EQ(t.source, dtype.at(c)) << name;
            EXPECT_EQ(static_cast<int64_t>(t.data.size()), t.numel()) << name;
        }
        EXPECT_EQ(got, want);
    }
}

uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

// Values read straight from the archives' storages with Python (flat indices 0, 1, 129 of emb.weight
// and the last element of head.weight).
TEST(Pth, SpotValuesMatchTheStorages) {
    struct Spot {
        const char* c;
        float e0, e1, e129, head_last;
    };
    auto f32 = [](uint32_t u) {
        float f;
        std::memcpy(&f, &u, 4);
        return f;
    };
    const Spot spots[] = {
        {"v4", f32(0xbe82c3a1), f32(0x3f039e69), f32(0xbf00b348), f32(0xbea50194)},
        {"v4-fp16", -0.06597900390625f, -0.062744140625f, -0.042022705078125f, 0.0224761962890625f},
        {"v5", 0.21875f, 0.1845703125f, 0.314453125f, -0.21484375f},
        {"v6", f32(0xbe2efea0), f32(0xbd43e3dc), f32(0x3eaf7c79), f32(0xbe407413)},
        {"v7", -0.419921875f, 0.07421875f, -0.1611328125f, -0.19921875f},
        {"v7-fp32", f32(0xbe2de595), f32(0xbec52dfb), f32(0x3e0dc2c1), f32(0x3e3760ec)},
    };
    for (const Spot& s : spots) {
        SCOPED_TRACE(s.c);
        const TensorFile f = load_pth(case_path(s.c));
        const Tensor& emb = f.get("emb.weight");
        EXPECT_EQ(bits(emb.data[0]), bits(s.e0));
        EXPECT_EQ(bits(emb.data[1]), bits(s.e1));
        EXPECT_EQ(bits(emb.data[129]), bits(s.e129));
        EXPECT_EQ(bits(f.get("head.weight").data.back()), bits(s.head_last));
    }
}

TEST(Pth, HalfCheckpointsHoldOnlyRepresentableValues) {
    for (const char* c : {"v5", "v7"}) {
        const TensorFile f = load_pth(case_path(c));
        for (const auto& [name, t] : f.tensors)
            for (float v : t.data) ASSERT_EQ(bits(v) & 0xffffu, 0u) << c << " " << name << " " << v;
    }
    const TensorFile f = load_pth(case_path("v4-fp16"));
    for (const auto& [name, t] : f.tensors)
        for (float v : t.data) ASSERT_EQ(f16_to_f32(f32_to_f16(v)), v) << name;
    // fp32 checkpoints are not secretly half precision.
    const TensorFile g = load_pth(case_path("v4"));
    size_t wide = 0;
    for (float v : g.get("emb.weight").data) wide += (bits(v) & 0xffffu) != 0;
    EXPECT_GT(wide, 60000u);
}

// Writing a reference checkpoint's tensors back, in its order, reproduces the file byte for byte: the
// writer mimics torch.save exactly (zip layout, alignment, pickle opcodes and memo numbering).
TEST(Pth, RewritingAReferenceReproducesItExactly) {
    ScratchDir dir;
    for (const std::string& c : testing::reference_cases()) {
        SCOPED_TRACE(c);
        const TensorFile f = load_pth(case_path(c));
        const MappedFile raw(case_path(c));
        const auto entries = read_zip_directory(raw);
        const ZipEntry& pkl = entries.at("model/data.pkl");
        const auto order = unpickle_state_dict(raw.data() + pkl.offset, pkl.size, c);
        std::vector<std::pair<std::string, Tensor>> tensors;
        for (const auto& [name, ref] : order) tensors.emplace_back(name, f.get(name));
        const std::string out = dir.file("model.pth");  // torch names the archive folder after the file
        save_pth(out, tensors, f.get("emb.weight").source);
        EXPECT_TRUE(read_bytes(out) == read_bytes(case_path(c)));
    }
}

std::vector<float> ramp(size_t n, float scale) {
    std::vector<float> v(n);
    std::mt19937 rng(static_cast<uint32_t>(n));
    std::normal_distribution<float> d(0.0f, scale);
    for (float& x : v) x = d(rng);
    return v;
}

std::vector<std::pair<std::string, Tensor>> awkward_tensors() {
    std::vector<std::pair<std::string, Tensor>> ts;
    auto add = [&](const std::string& name, std::vector<int64_t> shape, float scale) {
        Tensor t;
        t.shape = std::move(shape);
        t.data = ramp(static_cast<size_t>(t.numel()), scale);
        ts.emplace_back(name, std::move(t));
    };
    add("scalar", {}, 1.0f);
    add("vec", {7}, 1.0f);
    add("mix", {1, 1, 33}, 0.1f);
    add("matrix", {65, 3}, 10.0f);
    add("four.d", {2, 3, 1, 5}, 1.0f);
    add("five.d", {2, 1, 2, 1, 3}, 1.0f);
    add("empty", {0, 4}, 1.0f);
    add("big.index", {70000}, 1.0f);  // sizes above 65535 take BININT
    add("ünïcode.name", {2}, 1.0f);
    return ts;
}

void expect_round_trip(const std::vector<std::pair<std::string, Tensor>>& in, const TensorFile& out, DType storage) {
    ASSERT_EQ(out.tensors.size(), in.size());
    for (const auto& [name, t] : in) {
        const Tensor& r = out.get(name);
        EXPECT_EQ(r.shape, t.shape) << name;
        EXPECT_EQ(r.source, storage) << name;
        ASSERT_EQ(r.data.size(), t.data.size()) << name;
        for (size_t i = 0; i < t.data.size(); ++i) {
            const float want = storage == DType::F32   ? t.data[i]
                               : storage == DType::F16 ? f16_to_f32(f32_to_f16(t.data[i]))
                                                       : bf16_to_f32(f32_to_bf16(t.data[i]));
            ASSERT_EQ(bits(r.data[i]), bits(want)) << name << "[" << i << "]";
        }
    }
}

TEST(Pth, SaveLoadRoundTripForEveryStorageType) {
    ScratchDir dir;
    const auto tensors = awkward_tensors();
    for (DType storage : {DType::F32, DType::F16, DType::BF16}) {
        SCOPED_TRACE(dtype_name(storage));
        const std::string path = dir.file(std::string("rt.") + dtype_name(storage) + ".pth");
        save_pth(path, tensors, storage);
        const TensorFile f = load_pth(path);
        EXPECT_EQ(f.metadata.at("archive"), std::string("rt.") + dtype_name(storage));
        expect_round_trip(tensors, f, storage);
        // Entries are stored and 64-byte aligned, as torch writes them (it maps storages in place).
        const MappedFile raw(path);
        for (const auto& [name, e] : read_zip_directory(raw)) {
            EXPECT_EQ(e.method, 0) << name;
            EXPECT_EQ(e.offset % 64, 0u) << name;
        }
    }
}

// Over 255 memo entries (LONG_BINPUT) and over 1000 dict items (several SETITEMS batches).
TEST(Pth, ManyTensorsRoundTrip) {
    ScratchDir dir;
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (int i = 0; i < 2001; ++i) {
        Tensor t;
        t.shape = {2};
        t.data = {static_cast<float>(i), -static_cast<float>(i)};
        tensors.emplace_back("t." + std::to_string(i), std::move(t));
    }
    save_pth(dir.file("many.pth"), tensors, DType::F32);
    expect_round_trip(tensors, load_pth(dir.file("many.pth")), DType::F32);
    tensors.resize(1001);  // one batch of 1000 and a lone SETITEM
    save_pth(dir.file("many.pth"), tensors, DType::F32);
    expect_round_trip(tensors, load_pth(dir.file("many.pth")), DType::F32);
}

TEST(Pth, SaveRejectsBadInput) {
    ScratchDir dir;
    std::string msg;
    Tensor t;
    t.shape = {2, 2};
    t.data = {1, 2, 3};
    EXPECT_TRUE(throws_rwkv_error([&] { save_pth(dir.file("a.pth"), {{"w", t}}, DType::F32); }, &msg));
    EXPECT_EQ(msg, dir.file("a.pth") + ": tensor 'w' [2, 2] holds 3 values");
    t.data.push_back(4);
    EXPECT_TRUE(throws_rwkv_error([&] { save_pth(dir.file("a.pth"), {{"w", t}, {"w", t}}, DType::F32); }, &msg));
    EXPECT_TRUE(contains(msg, "tensor 'w' is given twice")) << msg;
    EXPECT_TRUE(throws_rwkv_error([&] { save_pth(dir.file("a.pth"), {{"w", t}}, DType::Q8_0); }, &msg));
    EXPECT_TRUE(contains(msg, "not q8_0")) << msg;
    EXPECT_FALSE(std::filesystem::exists(dir.file("a.pth")));
}

// Views: two tensors over one storage at different offsets, dimensions of size 1 with odd strides.
TEST(Pth, StorageOffsetsAndSharedStorages) {
    ScratchDir dir;
    PickleBuilder p;
    p.proto(2).op('}').op('(');
    p.str("head").tensor("FloatStorage", "0", 10, 0, {2, 2}, {2, 1});
    p.str("tail").tensor("FloatStorage", "0", 10, 4, {1, 3, 2}, {99, 2, 1});
    p.op('u').op('.');
    write_bytes(dir.file("v.pth"), make_pth(p.b, {{"0", f32_bytes({0, 1, 2, 3, 4, 5, 6, 7, 8, 9})}}));
    const TensorFile f = load_pth(dir.file("v.pth"));
    EXPECT_EQ(f.get("head").data, (std::vector<float>{0, 1, 2, 3}));
    EXPECT_EQ(f.get("tail").data, (std::vector<float>{4, 5, 6, 7, 8, 9}));
    EXPECT_EQ(f.get("tail").shape, (std::vector<int64_t>{1, 3, 2}));
    EXPECT_EQ(f.metadata.at("archive"), "archive");
}

std::string load_error(const std::vector<uint8_t>& pickle, const std::vector<std::pair<std::string, std::vector<uint8_t>>>& storages) {
    ScratchDir dir;
    const std::string path = dir.file("bad.pth");
    write_bytes(path, make_pth(pickle, storages));
    std::string msg;
    EXPECT_TRUE(throws_rwkv_error([&] { load_pth(path); }, &msg));
    EXPECT_TRUE(msg.rfind(path + ": ", 0) == 0) << msg;
    return msg.substr(path.size() + 2);
}

std::vector<uint8_t> one(const std::string& type, int64_t numel, int64_t offset, std::vector<int64_t> size,
                         std::vector<int64_t> stride, const std::string& key = "0") {
    PickleBuilder p;
    p.proto(2).op('}').str("w").tensor(type, key, numel, offset, size, stride).op('s').op('.');
    return p.b;
}

TEST(Pth, InconsistentTensorsAreRejected) {
    const auto storage = f32_bytes({0, 1, 2, 3, 4, 5});
    EXPECT_EQ(load_error(one("FloatStorage", 6, 0, {2, 3}, {1, 2}), {{"0", storage}}),
              "tensor 'w' [2, 3] is not contiguous (stride of dimension 1 is 2, expected 1)");
    EXPECT_EQ(load_error(one("FloatStorage", 6, 4, {3}, {1}), {{"0", storage}}),
              "tensor 'w' [3] at offset 4 runs past its storage of 6 elements");
    EXPECT_EQ(load_error(one("FloatStorage", 6, -1, {3}, {1}), {{"0", storage}}),
              "tensor 'w' [3] at offset -1 runs past its storage of 6 elements");
    EXPECT_EQ(load_error(one("FloatStorage", 7, 0, {7}, {1}), {{"0", storage}}),
              "tensor 'w': storage 'archive/data/0' claims 7 elements but holds 24 bytes");
    EXPECT_EQ(load_error(one("FloatStorage", 6, 0, {6}, {1}, "9"), {{"0", storage}}),
              "tensor 'w' needs storage 'archive/data/9', which the archive lacks");
    EXPECT_EQ(load_error(one("LongStorage", 3, 0, {3}, {1}), {{"0", storage}}),
              "tensor 'w' has storage type torch.LongStorage; only float, half, bfloat16 and double tensors are "
              "supported");
    EXPECT_EQ(load_error(one("FloatStorage", 6, 0, {2, -3}, {3, 1}), {{"0", storage}}),
              "tensor 'w' has a negative dimension");
    EXPECT_EQ(load_error(one("FloatStorage", 6, 0, {2, 3}, {1}), {{"0", storage}}),
              "tensor 'w' has 1 strides for 2 dimensions");
    // Many views of one big storage cannot multiply the memory a small file costs.
    std::vector<uint8_t> big(1 << 20);
    PickleBuilder r;
    r.proto(2).op('}').op('(');
    for (int i = 0; i < 40; ++i) r.str("w" + std::to_string(i)).tensor("FloatStorage", "0", 1 << 18, 0, {1 << 18}, {1});
    r.op('u').op('.');
    EXPECT_TRUE(contains(load_error(r.b, {{"0", big}}), "tensors reference far more data than the file holds"));
}

TEST(Pth, DoubleStoragesNarrowToFloat) {
    ScratchDir dir;
    std::vector<uint8_t> bytes(16);
    const double v[2] = {0.1, -2.5};
    std::memcpy(bytes.data(), v, 16);
    write_bytes(dir.file("d.pth"), make_pth(one("DoubleStorage", 2, 0, {2}, {1}), {{"0", bytes}}));
    const TensorFile f = load_pth(dir.file("d.pth"));
    EXPECT_EQ(f.get("w").data, (std::vector<float>{0.1f, -2.5f}));
    EXPECT_EQ(f.get("w").source, DType::F32);
}

}  // namespace
}  // namespace rwkv
