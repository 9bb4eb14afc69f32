// GGUF reader: header, metadata and tensor descriptors, validated against the file size before anything
// trusts them; tensor data stays in the read-only mapping. Layout (ggml docs/gguf.md, versions 2 and 3; 1
// used 32-bit counts and is long gone):
//   "GGUF", u32 version, u64 tensor_count, u64 kv_count,
//   kv_count x { string key, u32 value_type, value },          string = u64 length + bytes
//   tensor_count x { string name, u32 n_dims, u64 dims[n_dims] (innermost first), u32 ggml_type, u64 offset },
//   zero padding to general.alignment (default 32), then the tensor data; offsets are relative to its start.
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "core/mapped_file.h"
#include "formats/byte_io.h"
#include "formats/data_ranges.h"
#include "formats/gguf.h"
#include "rwkv/error.h"
#include "rwkv/gguf.h"

namespace rwkv {
namespace {

// The fewest bytes a metadata entry (empty key, type, one-byte value) and a tensor descriptor (empty name,
// no dimensions) can take: counts claiming more entries than the rest of the file could hold are lies, and
// are caught before anything is reserved for them.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;

// Walks the mapped bytes. Every read is checked against the file size; every failure names the file, the
// item being read (context) and the field.
class Cursor {
public:
    Cursor(const std::string& path, const uint8_t* data, uint64_t size) : path_(path), data_(data), size_(size) {}

    void set_context(std::string c) { context_ = std::move(c); }
    [[noreturn]] void fail(const std::string& what) const {
        throw Error(path_ + ": " + (context_.empty() ? "" : context_ + ": ") + what);
    }

    uint64_t pos() const { return pos_; }
    uint64_t left() const { return size_ - pos_; }

    const uint8_t* take(uint64_t n, const char* field, int64_t index = -1) {
        if (n > left()) {
            std::string f = field;
            if (index >= 0) f += " " + std::to_string(index);
            fail(f + " needs " + std::to_string(n) + " bytes at offset " + std::to_string(pos_) +
                 " but the file ends at " + std::to_string(size_));
        }
        const uint8_t* p = data_ + pos_;
        pos_ += n;
        return p;
    }
    uint32_t u32(const char* field) { return load_le32(take(4, field)); }
    uint64_t u64(const char* field) { return load_le64(take(8, field)); }
    std::string_view str(const char* field, int64_t index = -1) {
        const uint64_t n = load_le64(take(8, field, index));
        const uint8_t* p = take(n, field, index);
        return {reinterpret_cast<const char*>(p), static_cast<size_t>(n)};
    }

private:
    const std::string& path_;
    const uint8_t* data_;
    uint64_t size_;
    uint64_t pos_ = 0;
    std::string context_;
};

template <class T>
T load_as(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);  // the host is little-endian (asserted in gguf_value.cpp), as the file is
    return v;
}

GgufValue read_scalar(Cursor& c, GgufType t, const char* field, int64_t index = -1) {
    switch (t) {
        case GgufType::UInt8: return GgufValue(load_as<uint8_t>(c.take(1, field, index)));
        case GgufType::Int8: return GgufValue(load_as<int8_t>(c.take(1, field, index)));
        case GgufType::UInt16: return GgufValue(load_as<uint16_t>(c.take(2, field, index)));
        case GgufType::Int16: return GgufValue(load_as<int16_t>(c.take(2, field, index)));
        case GgufType::UInt32: return GgufValue(load_as<uint32_t>(c.take(4, field, index)));
        case GgufType::Int32: return GgufValue(load_as<int32_t>(c.take(4, field, index)));
        case GgufType::Float32: return GgufValue(load_as<float>(c.take(4, field, index)));
        case GgufType::UInt64: return GgufValue(load_as<uint64_t>(c.take(8, field, index)));
        case GgufType::Int64: return GgufValue(load_as<int64_t>(c.take(8, field, index)));
        case GgufType::Float64: return GgufValue(load_as<double>(c.take(8, field, index)));
        case GgufType::Bool: {
            const uint8_t b = *c.take(1, field, index);
            // The spec calls any other byte invalid: a sign of a damaged file or a buggy writer.
            if (b > 1) c.fail(std::string(field) + " is a bool of value " + std::to_string(b) + "; must be 0 or 1");
            return GgufValue(b == 1);
        }
        case GgufType::String: return GgufValue(std::string(c.str(field, index)));
        case GgufType::Array: break;
    }
    c.fail("internal: read_scalar of an array");
}

GgufValue read_array(Cursor& c) {
    const uint32_t elem_id = c.u32("array element type");
    if (!gguf::is_known_value_type(elem_id))
        c.fail("array element type " + std::to_string(elem_id) + " is not a GGUF value type");
    const auto elem = static_cast<GgufType>(elem_id);
    // The spec allows nesting, but ggml rejects it, so no file llama.cpp can load has it.
    if (elem == GgufType::Array) c.fail("arrays of arrays are not supported");
    const uint64_t count = c.u64("array length");
    if (elem == GgufType::String) {
        if (count > c.left() / 8)
            c.fail("array of " + std::to_string(count) + " strings is longer than the rest of the file (" +
                   std::to_string(c.left()) + " bytes)");
        std::string texts;
        std::vector<uint64_t> ends;
        ends.reserve(static_cast<size_t>(count));
        for (uint64_t i = 0; i < count; ++i) {
            texts.append(c.str("string element", static_cast<int64_t>(i)));
            ends.push_back(texts.size());
        }
        return GgufValue::string_array(std::move(texts), std::move(ends));
    }
    const uint64_t size = gguf::scalar_bytes(elem);
    if (count > c.left() / size)
        c.fail("array of " + std::to_string(count) + " " + gguf_type_name(elem) +
               " elements is longer than the rest of the file (" + std::to_string(c.left()) + " bytes)");
    const uint8_t* p = c.take(count * size, "array data");
    if (elem == GgufType::Bool)
        for (uint64_t i = 0; i < count; ++i)
            if (p[i] > 1) c.fail("bool array element " + std::to_string(i) + " is " + std::to_string(p[i]) + "; must be 0 or 1");
    return GgufValue::numeric_array(elem, p, count);
}

GgufValue read_value(Cursor& c) {
    const uint32_t type_id = c.u32("value type");
    if (!gguf::is_known_value_type(type_id))
        c.fail("value type " + std::to_string(type_id) + " is not a GGUF value type");
    const auto type = static_cast<GgufType>(type_id);
    return type == GgufType::Array ? read_array(c) : read_scalar(c, type, "value");
}

uint32_t read_version(Cursor& c) {
    const uint32_t v = c.u32("version");
    if (v == 2 || v == 3) return v;
    if (v == 1) c.fail("GGUF version 1 (32-bit counts) is not supported; only versions 2 and 3");
    // Version 3 allows big-endian files, told apart only by the byte order of numbers like this one.
    if (v == 0x02000000u || v == 0x03000000u) c.fail("big-endian GGUF files are not supported");
    c.fail("unsupported GGUF version " + std::to_string(v) + " (this reader knows 2 and 3)");
}

uint32_t read_alignment(Cursor& c, const GgufFile& g) {
    const GgufValue* v = g.find(gguf::kAlignmentKey);
    if (!v) return gguf::kDefaultAlignment;
    c.set_context(std::string("metadata '") + gguf::kAlignmentKey + "'");
    if (v->type() != GgufType::UInt32) c.fail(std::string("must be a uint32, not ") + gguf_type_name(v->type()));
    const uint32_t a = v->as<uint32_t>();
    if (!gguf::is_power_of_two(a)) c.fail("alignment " + std::to_string(a) + " is not a power of two");
    return a;
}

// One descriptor, read and checked on its own; its place in the data section is checked once the
// section's start is known.
GgufTensorInfo read_tensor_info(Cursor& c, uint64_t index) {
    c.set_context("tensor #" + std::to_string(index));
    GgufTensorInfo t;
    t.name = std::string(c.str("name"));
    c.set_context("tensor '" + t.name + "'");
    const uint32_t n_dims = c.u32("dimension count");
    if (n_dims > gguf::kMaxDims)
        c.fail("has " + std::to_string(n_dims) + " dimensions; ggml allows at most " + std::to_string(gguf::kMaxDims));
    uint64_t dims[gguf::kMaxDims] = {};
    for (uint32_t j = 0; j < n_dims; ++j) {
        dims[j] = c.u64("dimension");
        if (dims[j] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            c.fail("dimension " + std::to_string(j) + " (" + std::to_string(dims[j]) + ") is negative or too large");
    }
    t.ggml_type = c.u32("type");
    t.offset = c.u64("data offset");

    const gguf::TypeTraits* traits = gguf::find_type(t.ggml_type);
    if (!traits) c.fail("has unknown ggml type id " + std::to_string(t.ggml_type));
    if (!traits->dtype)
        c.fail("has ggml type " + std::to_string(t.ggml_type) + " (" + traits->name +
               "), which is not supported (supported: f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q4_k, q6_k)");
    t.type = *traits->dtype;
    uint64_t bytes = 0;
    const std::string why = gguf::tensor_bytes(*traits, dims, n_dims, &bytes);
    if (!why.empty()) c.fail(why);
    t.bytes = static_cast<size_t>(bytes);
    for (uint32_t j = n_dims; j-- > 0;) t.shape.push_back(static_cast<int64_t>(dims[j]));
    return t;
}

}  // namespace

int64_t GgufTensorInfo::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;  // bounded by the reader (tensor_bytes) to int64 range
    return n;
}

GgufFile open_gguf(const std::string& path) {
    auto file = std::make_shared<const MappedFile>(path);
    const uint8_t* base = file->data();
    const uint64_t size = file->size();
    Cursor c(path, base, size);
    if (size < 4) c.fail("too short to be a GGUF file (" + std::to_string(size) + " bytes)");
    if (std::memcmp(base, "GGUF", 4) != 0) c.fail("bad magic: not a GGUF file (it does not start with \"GGUF\")");
    c.take(4, "magic");

    GgufFile g;
    g.path_ = path;
    g.file_ = file;
    c.set_context("header");
    g.version_ = read_version(c);
    const uint64_t n_tensors = c.u64("tensor count");
    const uint64_t n_kv = c.u64("metadata count");
    if (n_kv > c.left() / kMinKvBytes)
        c.fail("metadata count " + std::to_string(n_kv) + " is more than the rest of the file can hold");
    if (n_tensors > c.left() / kMinTensorInfoBytes)
        c.fail("tensor count " + std::to_string(n_tensors) + " is more than the rest of the file can hold");

    g.metadata_.reserve(static_cast<size_t>(n_kv));
    for (uint64_t i = 0; i < n_kv; ++i) {
        c.set_context("metadata entry #" + std::to_string(i));
        std::string key(c.str("key"));
        c.set_context("metadata '" + key + "'");
        if (g.key_index_.count(key)) c.fail("key appears twice");
        GgufValue v = read_value(c);
        g.key_index_.emplace(key, g.metadata_.size());
        g.metadata_.emplace_back(std::move(key), std::move(v));
    }
    g.alignment_ = read_alignment(c, g);

    if (n_tensors > c.left() / kMinTensorInfoBytes) {
        c.set_context("header");
        c.fail("tensor count " + std::to_string(n_tensors) + " is more than the rest of the file can hold");
    }
    g.tensors_.reserve(static_cast<size_t>(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
        GgufTensorInfo t = read_tensor_info(c, i);
        if (g.tensor_index_.count(t.name)) c.fail("name appears twice");
        g.tensor_index_.emplace(t.name, g.tensors_.size());
        g.tensors_.push_back(std::move(t));
    }

    c.set_context("tensor data");
    uint64_t start = 0;
    if (!gguf::align_up(c.pos(), g.alignment_, &start)) c.fail("section start overflows");
    if (start > size) {
        if (!g.tensors_.empty())
            c.fail("section would start at byte " + std::to_string(start) + ", past the end of the file (" +
                   std::to_string(size) + " bytes)");
        start = size;  // no tensors: a file may end right after its descriptors
    }
    g.data_offset_ = start;
    const uint64_t data_size = size - start;
    for (GgufTensorInfo& t : g.tensors_) {
        c.set_context("tensor '" + t.name + "'");
        if (t.offset % g.alignment_ != 0)
            c.fail("data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                   std::to_string(g.alignment_));
        if (t.offset > data_size || t.bytes > data_size - t.offset)
            c.fail(std::to_string(t.bytes) + " bytes of data at offset " + std::to_string(t.offset) +
                   " of the data section (file offset " + std::to_string(start) + ") run past the end of the file (" +
                   std::to_string(size) + " bytes)");
        t.data = base + start + t.offset;
    }
    std::vector<DataRange> ranges;
    ranges.reserve(g.tensors_.size());
    for (const GgufTensorInfo& t : g.tensors_) ranges.push_back({t.offset, t.offset + t.bytes, &t.name});
    check_disjoint(path, std::move(ranges));
    return g;
}

const GgufValue* GgufFile::find(const std::string& key) const {
    auto it = key_index_.find(key);
    return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufValue& GgufFile::value(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) throw Error(path_ + ": metadata '" + key + "' is missing");
    return *v;
}

namespace {

// Runs a typed read, giving its error the file and the key.
template <class F>
auto typed_read(const std::string& path, const std::string& key, const GgufValue& v, F read) {
    try {
        return read(v);
    } catch (const Error& e) {
        throw Error(path + ": metadata '" + key + "' " + e.what());
    }
}

}  // namespace

template <class T>
T GgufFile::get(const std::string& key) const {
    return typed_read(path_, key, value(key), [](const GgufValue& v) { return v.as<T>(); });
}

template bool GgufFile::get<bool>(const std::string&) const;
template uint8_t GgufFile::get<uint8_t>(const std::string&) const;
template int8_t GgufFile::get<int8_t>(const std::string&) const;
template uint16_t GgufFile::get<uint16_t>(const std::string&) const;
template int16_t GgufFile::get<int16_t>(const std::string&) const;
template uint32_t GgufFile::get<uint32_t>(const std::string&) const;
template int32_t GgufFile::get<int32_t>(const std::string&) const;
template uint64_t GgufFile::get<uint64_t>(const std::string&) const;
template int64_t GgufFile::get<int64_t>(const std::string&) const;
template float GgufFile::get<float>(const std::string&) const;
template double GgufFile::get<double>(const std::string&) const;
template std::string GgufFile::get<std::string>(const std::string&) const;

uint64_t GgufFile::get_uint(const std::string& key) const {
    return typed_read(path_, key, value(key), [](const GgufValue& v) { return v.as_uint(); });
}

double GgufFile::get_number(const std::string& key) const {
    return typed_read(path_, key, value(key), [](const GgufValue& v) { return v.as_number(); });
}

template <class T>
std::vector<T> GgufFile::get_array(const std::string& key) const {
    return typed_read(path_, key, value(key), [](const GgufValue& v) { return v.as_array<T>(); });
}

template std::vector<bool> GgufFile::get_array<bool>(const std::string&) const;
template std::vector<uint8_t> GgufFile::get_array<uint8_t>(const std::string&) const;
template std::vector<int8_t> GgufFile::get_array<int8_t>(const std::string&) const;
template std::vector<uint16_t> GgufFile::get_array<uint16_t>(const std::string&) const;
template std::vector<int16_t> GgufFile::get_array<int16_t>(const std::string&) const;
template std::vector<uint32_t> GgufFile::get_array<uint32_t>(const std::string&) const;
template std::vector<int32_t> GgufFile::get_array<int32_t>(const std::string&) const;
template std::vector<uint64_t> GgufFile::get_array<uint64_t>(const std::string&) const;
template std::vector<int64_t> GgufFile::get_array<int64_t>(const std::string&) const;
template std::vector<float> GgufFile::get_array<float>(const std::string&) const;
template std::vector<double> GgufFile::get_array<double>(const std::string&) const;
template std::vector<std::string> GgufFile::get_array<std::string>(const std::string&) const;

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::tensor(const std::string& name) const {
    const GgufTensorInfo* t = find_tensor(name);
    if (!t) throw Error(path_ + ": tensor '" + name + "' is missing");
    return *t;
}

std::shared_ptr<const void> GgufFile::storage() const { return file_; }

}  // namespace rwkv
