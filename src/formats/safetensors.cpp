// Hugging Face safetensors: u64 LE header length, a JSON header {name: {dtype, shape, data_offsets}},
// then the tensor bytes; offsets are relative to the end of the header.
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "core/mapped_file.h"
#include "core/quant.h"
#include "formats/byte_io.h"
#include "formats/data_ranges.h"
#include "rwkv/error.h"
#include "rwkv/formats.h"

namespace rwkv {
namespace {

constexpr uint64_t kMaxHeader = 100'000'000;  // the limit the safetensors reference implementation enforces
constexpr int kMaxDepth = 16;                  // the header nests three levels; refuse pathological JSON

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw Error(path + ": " + what); }

// nlohmann parses iteratively, but a deeply nested document still costs memory and recursive teardown;
// a legitimate header never nests deeper than a few levels.
void check_depth(const std::string& path, const char* p, size_t n) {
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; ++i) {
        const char c = p[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > kMaxDepth) fail(path, "safetensors header nests too deeply");
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
}

uint64_t non_negative(const std::string& path, const std::string& name, const char* field, const nlohmann::json& v) {
    if (v.is_number_unsigned()) return v.get<uint64_t>();
    if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
    fail(path, "tensor '" + name + "': " + field + " must hold non-negative integers");
}

DType parse_dtype(const std::string& path, const std::string& name, const nlohmann::json& v) {
    if (!v.is_string()) fail(path, "tensor '" + name + "' has no dtype string");
    const std::string s = v.get<std::string>();
    if (s == "F32") return DType::F32;
    if (s == "F16") return DType::F16;
    if (s == "BF16") return DType::BF16;
    fail(path, "tensor '" + name + "' has dtype '" + s + "'; only F32, F16 and BF16 are supported");
}

}  // namespace

TensorFile load_safetensors(const std::string& path) {
    const MappedFile file(path);
    const uint8_t* d = file.data();
    const size_t size = file.size();
    if (size < 8) fail(path, "too short to be a safetensors file (" + std::to_string(size) + " bytes)");
    const uint64_t header_len = load_le64(d);
    if (header_len > size - 8)
        fail(path, "safetensors header length " + std::to_string(header_len) + " runs past the end of the file (" +
                       std::to_string(size) + " bytes)");
    if (header_len > kMaxHeader) fail(path, "safetensors header length " + std::to_string(header_len) + " exceeds 100 MB");
    const char* text = reinterpret_cast<const char*>(d + 8);
    check_depth(path, text, static_cast<size_t>(header_len));

    nlohmann::json header;
    try {
        header = nlohmann::json::parse(text, text + header_len);
    } catch (const nlohmann::json::exception& e) {
        fail(path, std::string("safetensors header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) fail(path, "safetensors header is not a JSON object");

    const uint64_t data_start = 8 + header_len;
    const uint64_t data_size = size - data_start;

    // Every descriptor is checked, and the ranges found disjoint, before any data is copied: the copies then
    // add up to no more than the file holds.
    struct Entry {
        const std::string* name;
        Tensor tensor;
        uint64_t begin;
    };
    std::vector<Entry> entries;
    std::vector<DataRange> ranges;
    TensorFile out;
    out.path = path;
    out.format = "safetensors";
    for (const auto& [name, info] : header.items()) {
        if (name == "__metadata__") {
            if (!info.is_object()) fail(path, "safetensors __metadata__ is not an object");
            for (const auto& [k, v] : info.items()) out.metadata[k] = v.is_string() ? v.get<std::string>() : v.dump();
            continue;
        }
        if (!info.is_object()) fail(path, "tensor '" + name + "' is not described by an object");
        const auto dtype_it = info.find("dtype");
        const auto shape_it = info.find("shape");
        const auto offsets_it = info.find("data_offsets");
        if (dtype_it == info.end() || shape_it == info.end() || offsets_it == info.end())
            fail(path, "tensor '" + name + "' lacks dtype, shape or data_offsets");
        const DType dtype = parse_dtype(path, name, *dtype_it);
        if (!shape_it->is_array()) fail(path, "tensor '" + name + "': shape is not an array");
        if (!offsets_it->is_array() || offsets_it->size() != 2)
            fail(path, "tensor '" + name + "': data_offsets is not a pair [begin, end]");

        Tensor t;
        t.source = dtype;
        uint64_t numel = 1;
        for (const auto& dim : *shape_it) {
            const uint64_t v = non_negative(path, name, "shape", dim);
            if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) || (v != 0 && numel > data_size / v))
                fail(path, "tensor '" + name + "' has too many elements");
            numel *= v;
            t.shape.push_back(static_cast<int64_t>(v));
        }
        const uint64_t begin = non_negative(path, name, "data_offsets", (*offsets_it)[0]);
        const uint64_t end = non_negative(path, name, "data_offsets", (*offsets_it)[1]);
        if (begin > end || end > data_size)
            fail(path, "tensor '" + name + "' data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                           "] lie outside the " + std::to_string(data_size) + " bytes of tensor data");
        const uint64_t elem = dtype_block_bytes(dtype);
        if ((end - begin) % elem != 0 || (end - begin) / elem != numel)
            fail(path, "tensor '" + name + "' " + t.shape_string() + " of " + dtype_name(dtype) + " needs " +
                           std::to_string(numel) + " elements but data_offsets span " + std::to_string(end - begin) +
                           " bytes");
        entries.push_back({&name, std::move(t), begin});
        ranges.push_back({begin, end, &name});
    }
    check_disjoint(path, std::move(ranges));
    for (Entry& e : entries) {
        Tensor& t = e.tensor;
        t.data.resize(static_cast<size_t>(t.numel()));
        dequantize_row(t.source, d + data_start + e.begin, t.data.data(), t.numel());
        out.tensors.emplace(*e.name, std::move(t));
    }
    return out;
}

}  // namespace rwkv
