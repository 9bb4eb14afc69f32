// fuzz_seeds SHARED_DIR OUT_DIR: writes a seed corpus for every fuzz target into OUT_DIR/<format>/.
// Fuzzing is fastest from small inputs, and most of ../shared/testdata is large, so the seeds are cut down
// from it: rwkv.cpp and GGUF files with only their small tensors or only their first layer, .pth and
// safetensors files holding the small tensors of the reference checkpoints (written by the project's own
// writers), vocabularies with a few hundred entries, and small random models of every generation in every
// container the engine reads. Nothing from ../shared is committed: scripts/fuzz.sh runs this in the build.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/quant.h"
#include "formats/rwkvcpp.h"
#include "model/architecture.h"
#include "model/model_writer.h"
#include "rwkv/error.h"
#include "rwkv/formats.h"
#include "rwkv/gguf.h"
#include "rwkv/model.h"
#include "rwkv/state.h"
#include "rwkv/tokenizer.h"
#include "tokenizer/gguf_vocab.h"

namespace fs = std::filesystem;
using namespace rwkv;

namespace {

std::string g_shared, g_out;
int g_written = 0;

std::string out(const std::string& dir, const std::string& name) {
    fs::create_directories(g_out + "/" + dir);
    ++g_written;
    return g_out + "/" + dir + "/" + name;
}

std::string shared(const std::string& rel) { return g_shared + "/testdata/" + rel; }

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot read");
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_text(const std::string& path, const std::string& bytes) {
    std::ofstream o(path, std::ios::binary);
    o.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!o) throw Error(path + ": cannot write");
}

// Runs one seed's recipe; a shared file that is missing or changed costs that seed, not the corpus.
void seed(const std::string& what, const std::function<void()>& make) {
    try {
        make();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_seeds: skipped %s: %s\n", what.c_str(), e.what());
    }
}

// --- Small random models ---------------------------------------------------------------------------

ModelShape small_shape(int version) {
    ModelShape s;
    s.version = version;
    s.n_layer = 1;
    s.n_embd = 32;
    s.n_vocab = 64;
    s.head_size = 16;
    for (int64_t& d : s.lora_dims) d = 8;
    return s.resolved();
}

std::vector<std::pair<std::string, Tensor>> random_tensors(const ModelShape& shape) {
    std::vector<std::pair<std::string, Tensor>> out;
    for (const TensorSpec& spec : model_tensors(shape)) {
        Tensor t;
        t.shape = spec.shape;
        t.data.resize(static_cast<size_t>(spec.numel()));
        const int64_t row = spec.shape.back();
        random_rows(spec, shape, 1, 0, spec.numel() / row, t.data.data());
        out.emplace_back(spec.name, std::move(t));
    }
    return out;
}

void write_random_gguf(const std::string& path, const ModelShape& shape, DType requested) {
    OutputModel m;
    m.version = shape.version;
    m.name = "fuzz seed";
    for (const TensorSpec& spec : model_tensors(shape)) {
        OutputTensor t;
        t.name = spec.name;
        t.shape = spec.shape;
        t.type = storage_type(spec, requested);
        t.rows = [spec, shape](int64_t begin, int64_t rows, float* dst) {
            random_rows(spec, shape, 1, begin, rows, dst);
        };
        m.tensors.push_back(std::move(t));
    }
    write_model_gguf(path, m);
}

void random_models() {
    struct Recipe {
        int version;
        DType pth, safetensors, gguf;
    };
    const Recipe recipes[] = {
        {4, DType::F16, DType::F32, DType::Q4_0},
        {5, DType::BF16, DType::F16, DType::F16},
        {6, DType::BF16, DType::F16, DType::Q5_1},
        {7, DType::F32, DType::BF16, DType::Q8_0},
    };
    for (const Recipe& r : recipes) {
        const std::string stem = "random-v" + std::to_string(r.version);
        seed(stem, [&] {
            const ModelShape shape = small_shape(r.version);
            const auto tensors = random_tensors(shape);
            for (const char* dir : {"pth", "model"}) save_pth(out(dir, stem + ".pth"), tensors, r.pth);
            for (const char* dir : {"safetensors", "model"})
                save_safetensors(out(dir, stem + ".safetensors"), tensors, r.safetensors);
            for (const char* dir : {"gguf", "model"})
                write_random_gguf(out(dir, stem + "-" + dtype_name(r.gguf) + ".gguf"), shape, r.gguf);
        });
    }
    seed("random-v7-q4_1", [] { write_random_gguf(out("model", "random-v7-Q4_1.gguf"), small_shape(7), DType::Q4_1); });
    seed("random-v7-q5_0", [] { write_random_gguf(out("gguf", "random-v7-Q5_0.gguf"), small_shape(7), DType::Q5_0); });
}

// --- Cut-down shared files -------------------------------------------------------------------------

// The small tensors of a reference checkpoint, rewritten by the project's .pth and safetensors writers.
void small_tensors_of(const std::string& rel, const std::string& stem) {
    seed(rel, [&] {
        const TensorFile f = load_tensor_file(shared(rel));
        std::vector<std::pair<std::string, Tensor>> kept;
        DType storage = DType::F32;
        int64_t total = 0;
        for (const auto& [name, t] : f.tensors) {
            if (t.numel() > 2048 || total + t.numel() > 8192) continue;
            total += t.numel();
            Tensor copy = t;
            if (copy.in_place()) {
                copy.data = t.to_float();
                copy.raw = nullptr;
                copy.raw_bytes = 0;
                copy.storage.reset();
            }
            if (t.source == DType::F16 || t.source == DType::BF16) storage = t.source;
            kept.emplace_back(name, std::move(copy));
        }
        save_pth(out("pth", stem + "-small.pth"), kept, storage);
        save_safetensors(out("safetensors", stem + "-small.safetensors"), kept, storage);
    });
}

int32_t le32(const std::string& s, size_t at) {
    uint32_t v;
    std::memcpy(&v, s.data() + at, 4);
    return static_cast<int32_t>(v);
}

// Layer index of "blocks.N.*" / "blk.N.*", or -1.
int layer_of(const std::string& name) {
    for (const char* prefix : {"blocks.", "blk."}) {
        const size_t n = std::strlen(prefix);
        if (name.compare(0, n, prefix) == 0) return std::atoi(name.c_str() + n);
    }
    return -1;
}

// An rwkv.cpp file with the tensors `keep` accepts, record by record as the file has them. `layers` > 0
// rewrites the header's n_layer; `vocab` > 0 keeps that many rows of emb.weight and head.weight (and
// rewrites n_vocab), which in the tiny models are f32 and most of the file.
std::string filter_rwkvcpp(const std::string& file, const std::function<bool(const std::string&, size_t)>& keep,
                           int32_t layers, int32_t vocab = 0) {
    std::string result = file.substr(0, 24);
    if (vocab > 0) std::memcpy(result.data() + 8, &vocab, 4);
    if (layers > 0) std::memcpy(result.data() + 16, &layers, 4);
    for (size_t pos = 24; pos < file.size();) {
        const int32_t dims = le32(file, pos), key_len = le32(file, pos + 4);
        DType t;
        if (!rwkvcpp_dtype(le32(file, pos + 8), &t)) throw Error("unknown rwkv.cpp type");
        int64_t numel = 1;
        for (int i = 0; i < dims; ++i) numel *= le32(file, pos + 12 + 4 * static_cast<size_t>(i));
        const size_t head = 12 + 4 * static_cast<size_t>(dims) + static_cast<size_t>(key_len);
        const std::string name = file.substr(pos + 12 + 4 * static_cast<size_t>(dims), static_cast<size_t>(key_len));
        const size_t bytes = dtype_row_bytes(t, numel);
        if (keep(name, bytes)) {
            std::string record = file.substr(pos, head + bytes);
            if (vocab > 0 && dims == 2 && (name == "emb.weight" || name == "head.weight")) {
                const int32_t row = le32(file, pos + 12);  // innermost first: [n_embd, n_vocab]
                std::memcpy(record.data() + 16, &vocab, 4);
                record.resize(head + dtype_row_bytes(t, int64_t{row} * vocab));
            }
            result += record;
        }
        pos += head + bytes;
    }
    return result;
}

void rwkvcpp_seeds() {
    for (const char* stem : {"4v0-660K", "5v1-730K", "5v2-730K", "6v0-1m", "7v0-834K"}) {
        for (const char* type : {"FP16", "Q5_1"}) {
            const std::string name = std::string("tiny-rwkv-") + stem + "-" + type;
            const bool q5_1 = std::string(type) == "Q5_1";
            seed(name, [&] {
                const std::string file = read_text(shared("rwkvcpp-tiny/" + name + ".bin"));
                // Small tensors only: every record kind, quickly parsed (the small tensors are f32 in both files).
                if (q5_1)
                    write_text(out("rwkvcpp", name + "-small.bin"),
                               filter_rwkvcpp(
                                   file, [](const std::string&, size_t bytes) { return bytes <= 1024; }, 0));
                // The first layer and a layer-0 matrix of the file's type: the header variants of each record kind.
                bool matrix = false;
                const auto layer0 = [&](const std::string& n, size_t bytes) {
                    if (layer_of(n) != 0) return false;
                    if (bytes <= 1024) return true;
                    return !matrix && n.find("ffn.key") != std::string::npos && (matrix = true);
                };
                write_text(out("rwkvcpp", name + "-layer0-vectors.bin"), filter_rwkvcpp(file, layer0, 0));
                // Layer 0 only: still a whole model, for Model::load.
                if (q5_1)
                    write_text(out("model", name + "-1layer.bin"),
                               filter_rwkvcpp(
                                   file, [](const std::string& n, size_t) { return layer_of(n) <= 0; }, 1, 16));
            });
        }
    }
}

// A GGUF file's metadata kept byte for byte, and the tensors `keep` accepts (by name and stored bytes)
// with their data. Parsed here rather than with open_gguf, which refuses the reference file's q5_k tensors.
struct RawGgufTensor {
    std::string name;
    std::string info;     // the descriptor as stored, up to its offset
    uint64_t offset = 0;  // in the data section
    uint64_t bytes = 0;   // up to the next tensor (padding included)
};

std::string filter_gguf(const std::string& file, const std::function<bool(const RawGgufTensor&)>& keep) {
    size_t pos = 0;
    const auto need = [&](size_t n) {
        if (file.size() - pos < n) throw Error("GGUF seed source is truncated");
    };
    const auto u32 = [&] {
        need(4);
        uint32_t v;
        std::memcpy(&v, file.data() + pos, 4);
        pos += 4;
        return v;
    };
    const auto u64 = [&] {
        need(8);
        uint64_t v;
        std::memcpy(&v, file.data() + pos, 8);
        pos += 8;
        return v;
    };
    const auto str = [&] {
        const uint64_t n = u64();
        need(n);
        std::string s = file.substr(pos, n);
        pos += n;
        return s;
    };
    const auto scalar_size = [](uint32_t type) -> size_t {
        switch (type) {
            case 0:
            case 1:
            case 7: return 1;
            case 2:
            case 3: return 2;
            case 4:
            case 5:
            case 6: return 4;
            case 10:
            case 11:
            case 12: return 8;
            default: throw Error("GGUF seed source has an unknown value type");
        }
    };
    if (file.compare(0, 4, "GGUF") != 0) throw Error("not a GGUF file");
    pos = 8;
    const uint64_t n_tensors = u64(), n_kv = u64();
    uint32_t alignment = 32;
    for (uint64_t i = 0; i < n_kv; ++i) {
        const std::string key = str();
        const uint32_t type = u32();
        if (type == 8) {
            (void)str();
        } else if (type == 9) {
            const uint32_t elem = u32();
            const uint64_t n = u64();
            for (uint64_t j = 0; j < n; ++j) {
                if (elem == 8)
                    (void)str();
                else {
                    need(scalar_size(elem));
                    pos += scalar_size(elem);
                }
            }
        } else {
            if (key == "general.alignment" && type == 4)
                alignment = u32();
            else {
                need(scalar_size(type));
                pos += scalar_size(type);
            }
        }
    }
    const std::string metadata = file.substr(24, pos - 24);
    std::vector<RawGgufTensor> tensors;
    for (uint64_t i = 0; i < n_tensors; ++i) {
        const size_t begin = pos;
        RawGgufTensor t;
        t.name = str();
        const uint32_t dims = u32();
        need(8 * size_t{dims} + 4);
        pos += 8 * size_t{dims} + 4;
        t.info = file.substr(begin, pos - begin);
        t.offset = u64();
        tensors.push_back(std::move(t));
    }
    const uint64_t data_start = (pos + alignment - 1) / alignment * alignment;
    std::vector<RawGgufTensor*> by_offset;
    for (auto& t : tensors) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    for (size_t i = 0; i < by_offset.size(); ++i)
        by_offset[i]->bytes =
            (i + 1 < by_offset.size() ? by_offset[i + 1]->offset : file.size() - data_start) - by_offset[i]->offset;

    std::string infos, data;
    uint64_t kept = 0;
    for (const RawGgufTensor& t : tensors) {
        if (!keep(t)) continue;
        ++kept;
        const uint64_t offset = data.size();
        infos += t.info;
        infos.append(reinterpret_cast<const char*>(&offset), 8);
        data += file.substr(data_start + t.offset, t.bytes);
    }
    std::string result = file.substr(0, 8);
    result.append(reinterpret_cast<const char*>(&kept), 8);
    result.append(reinterpret_cast<const char*>(&n_kv), 8);
    result += metadata + infos;
    result.resize((result.size() + alignment - 1) / alignment * alignment, '\0');
    return result + data;
}

void gguf_seeds() {
    seed("gguf-kquants", [&] {
        const std::string file = read_text(shared("reference/gguf-kquants/model.gguf"));
        // Its vectors (renamed from llama.cpp's names on load); with its low-rank matrices (legacy quant types);
        // with one matrix of each k-quant type.
        const auto with = [&](uint64_t limit, const char* matrix) {
            return filter_gguf(file, [=](const RawGgufTensor& t) { return t.bytes <= limit || t.name == matrix; });
        };
        write_text(out("gguf", "kquants-small.gguf"), with(1024, ""));
        write_text(out("gguf", "kquants-lowrank.gguf"), with(16384, ""));
        write_text(out("gguf", "kquants-q4_k.gguf"), with(1024, "output.weight"));
        write_text(out("gguf", "kquants-q6_k.gguf"), with(1024, "blk.1.time_mix_receptance.weight"));
    });
}

// --- Tokenizers ------------------------------------------------------------------------------------

// fuzz_tokenizer's input: kind byte, text length (LE u16), text, file.
std::string tokenizer_input(int kind, const std::string& text, const std::string& file) {
    std::string s(1, static_cast<char>(kind));
    s += static_cast<char>(text.size() & 0xff);
    s += static_cast<char>(text.size() >> 8 & 0xff);
    return s + text + file;
}

std::vector<std::string> case_texts(const std::string& rel) {
    std::vector<std::string> texts;
    std::ifstream in(shared(rel));
    std::string line;
    for (int i = 0; std::getline(in, line); ++i)
        if (i % 25 == 7 && texts.size() < 4) texts.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
    if (texts.empty()) texts.push_back("Hello, world!");
    return texts;
}

// The World vocabulary's lines up to `last` (its single bytes are lines 1-256), and every `stride`-th after.
std::string world_subset(int last, int stride) {
    const std::string all = read_text(shared("tokenizer/rwkv_vocab_v20230424.txt"));
    std::string kept;
    size_t pos = 0;
    for (int line = 1; pos < all.size(); ++line) {
        size_t end = all.find('\n', pos);
        if (end == std::string::npos) end = all.size() - 1;
        if (line <= last || line % stride == 0) kept += all.substr(pos, end + 1 - pos);
        pos = end + 1;
    }
    return kept;
}

// The NeoX tokenizer.json with ids below `limit`: the vocabulary, the merges among those tokens, and the
// added tokens (renumbered from `limit` when theirs are larger).
std::string neox_subset(int limit) {
    nlohmann::json j = nlohmann::json::parse(read_text(shared("tokenizer/20B_tokenizer.json")));
    nlohmann::json& model = j.at("model");
    nlohmann::json vocab = nlohmann::json::object();
    for (const auto& [tok, id] : model.at("vocab").items())
        if (id.get<int>() < limit) vocab[tok] = id;
    nlohmann::json merges = nlohmann::json::array();
    for (const auto& m : model.at("merges")) {
        if (!m.is_string()) continue;
        const std::string s = m.get<std::string>();
        const size_t sp = s.find(' ');
        if (sp == std::string::npos) continue;
        const std::string a = s.substr(0, sp), b = s.substr(sp + 1);
        if (vocab.contains(a) && vocab.contains(b) && vocab.contains(a + b)) merges.push_back(m);
    }
    model["vocab"] = vocab;
    model["merges"] = merges;
    nlohmann::json added = nlohmann::json::array();
    int next = limit;
    for (auto t : j.at("added_tokens")) {
        if (t.at("id").get<int>() >= limit) {
            if (next >= limit + 4) continue;
            t["id"] = next++;
        }
        added.push_back(t);
    }
    j["added_tokens"] = added;
    return j.dump();
}

void tokenizer_seeds() {
    seed("world vocab", [] {
        const auto texts = case_texts("tokenizer/world_cases.jsonl");
        const std::string big = world_subset(300, 512), tiny = world_subset(40, 1 << 30);
        for (size_t i = 0; i < texts.size(); ++i)
            write_text(out("tokenizer", "world-" + std::to_string(i)),
                       tokenizer_input(0, texts[i], i % 2 ? tiny : big));
        // The same vocabulary as a GGUF's metadata, as `rwkv convert` embeds it.
        const std::string vocab_path = out("tokenizer", "world-vocab-file.txt");
        write_text(vocab_path, world_subset(400, 1 << 30));
        const auto tok = load_tokenizer(vocab_path);
        fs::remove(vocab_path);
        --g_written;
        const std::string gguf_path = out("gguf", "world-vocab.gguf");
        GgufWriterInput w;
        w.metadata = tok::world_vocab_gguf_metadata(*tok);
        save_gguf(gguf_path, w);
        write_text(out("tokenizer", "gguf-vocab"), tokenizer_input(2, texts[0], read_text(gguf_path)));
    });
    seed("neox tokenizer.json", [] {
        const auto texts = case_texts("tokenizer/neox_cases.jsonl");
        const std::string json = neox_subset(1000);
        for (size_t i = 0; i < texts.size(); ++i)
            write_text(out("tokenizer", "neox-" + std::to_string(i)), tokenizer_input(1, texts[i], json));
    });
}

// fuzz_json_schema's input: a schema, NUL, then text that matches it.
void json_schema_seeds() {
    seed("json schemas", [] {
        const std::vector<std::pair<std::string, std::string>> cases = {
            {R"({"type":"object","properties":{"name":{"type":"string","maxLength":8},"age":{"type":"integer"}},"required":["name"]})",
             R"({"name": "Ann", "age": 3})"},
            {R"({"type":"array","items":{"enum":["a",1,null]},"minItems":1,"maxItems":3})", R"(["a", 1])"},
            {R"({"$defs":{"n":{"type":"object","properties":{"k":{"type":"array","items":{"$ref":"#/$defs/n"}}}}},"$ref":"#/$defs/n"})",
             R"({"k":[{"k":[]}]})"},
            {R"({"anyOf":[{"type":"number"},{"type":["string","null"],"minLength":2}]})", "-1.5e3"},
            {R"({"type":"object","additionalProperties":{"type":"boolean"}})", "{\n  \"x\": true}"},
            {"{}", R"([{"a": "\u00e9"}, 1, "é"])"},
        };
        for (size_t i = 0; i < cases.size(); ++i)
            write_text(out("json_schema", "case-" + std::to_string(i)), cases[i].first + std::string(1, '\0') + cases[i].second);
    });
}

// --- States ----------------------------------------------------------------------------------------

void state_seeds() {
    seed("states", [] {
        const char* env = std::getenv("RWKV_FUZZ_STATE_MODEL");
        const auto model = Model::load(env && *env ? env : RWKV_FUZZ_DEFAULT_STATE_MODEL);
        State s = model->new_state();
        s.save(out("state", "fresh.state"));
        for (int32_t t : {1, 2, 3}) model->eval(s, t, nullptr);
        s.save(out("state", "after-3-tokens.state"));
    });
}

// The model seeds are there to reach past the readers into detection and binding: say which do not load.
void check_model_seeds() {
    for (const auto& entry : fs::directory_iterator(g_out + "/model")) {
        try {
            const auto model = Model::load(entry.path().string());
            State s = model->new_state();
            model->eval(s, 0, nullptr);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "fuzz_seeds: warning: model seed does not load: %s\n", e.what());
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: fuzz_seeds SHARED_DIR OUT_DIR\n");
        return 2;
    }
    g_shared = argv[1];
    g_out = argv[2];
    random_models();
    for (const char* rel : {"v4-fp16", "v5.0", "v6", "v7", "v7a-deepembed", "v7b-dea", "v7-hf-fla"})
        small_tensors_of(std::string("reference/") + rel + "/model.pth", rel);
    small_tensors_of("reference/v7-hf-transformers/model.safetensors", "v7-hf-transformers");
    rwkvcpp_seeds();
    gguf_seeds();
    tokenizer_seeds();
    state_seeds();
    json_schema_seeds();
    check_model_seeds();
    std::fprintf(stderr, "fuzz_seeds: wrote %d files under %s\n", g_written, g_out.c_str());
    return g_written > 0 ? 0 : 1;
}
