// GGUF writer (version 3, little-endian): general.alignment and the caller's metadata, the tensor
// descriptors, zero padding to the alignment, then each tensor's bytes at an aligned offset (the last one
// padded too, as gguf-py does). The header is assembled in memory (it is small: names, shapes, a tokenizer
// at most); tensor data streams to disk one tensor at a time.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "formats/atomic_stream.h"
#include "formats/byte_io.h"
#include "formats/gguf.h"
#include "rwkv/error.h"
#include "rwkv/gguf.h"

namespace rwkv {
namespace {

constexpr size_t kMaxKeyBytes = 65535;  // docs/gguf.md: keys are at most 2^16 - 1 bytes

struct Planned {
    const GgufTensorInput* in;
    uint32_t ggml_type;
    std::vector<uint64_t> dims;  // ggml order, innermost first
    uint64_t bytes;
    uint64_t offset;  // within the data section
};

void put_gguf_string(std::vector<uint8_t>& out, std::string_view s) {
    put_le64(out, s.size());
    put_bytes(out, s.data(), s.size());
}

void put_value(std::vector<uint8_t>& out, const GgufValue& v) {
    put_le32(out, static_cast<uint32_t>(v.type()));
    if (v.type() == GgufType::String) {
        put_gguf_string(out, v.payload());
    } else if (!v.is_array()) {
        put_bytes(out, v.payload().data(), v.payload().size());
    } else {
        put_le32(out, static_cast<uint32_t>(v.array_type()));
        put_le64(out, v.array_size());
        if (v.array_type() == GgufType::String) {
            for (uint64_t i = 0; i < v.array_size(); ++i) put_gguf_string(out, v.string_at(i));
        } else {
            put_bytes(out, v.payload().data(), v.payload().size());
        }
    }
}

class Writer {
public:
    Writer(const std::string& path, const GgufWriterInput& in) : path_(path), in_(in) {}

    void run() {
        check_alignment();
        const std::vector<std::pair<std::string, GgufValue>> kvs = metadata();
        plan_tensors();

        std::vector<uint8_t> head;
        put_le32(head, gguf::kMagic);
        put_le32(head, 3);
        put_le64(head, planned_.size());
        put_le64(head, kvs.size());
        for (const auto& [key, value] : kvs) {
            put_gguf_string(head, key);
            put_value(head, value);
        }
        for (const Planned& p : planned_) {
            put_gguf_string(head, p.in->name);
            put_le32(head, static_cast<uint32_t>(p.dims.size()));
            for (uint64_t d : p.dims) put_le64(head, d);
            put_le32(head, p.ggml_type);
            put_le64(head, p.offset);
        }

        AtomicFileStream out(path_);
        out.write(head.data(), head.size());
        pad(out);
        const size_t data_start = out.written();
        std::vector<uint8_t> buffer;
        for (const Planned& p : planned_) {
            if (out.written() != data_start + p.offset) fail("internal: tensor '" + p.in->name + "' landed off its offset");
            if (p.in->produce) {
                buffer.assign(static_cast<size_t>(p.bytes), 0);
                p.in->produce(buffer.data(), buffer.size());
                out.write(buffer.data(), buffer.size());
            } else {
                out.write(p.in->bytes.data(), p.in->bytes.size());
            }
            pad(out);
        }
        out.commit();
    }

private:
    [[noreturn]] void fail(const std::string& what) const { throw Error(path_ + ": " + what); }

    void pad(AtomicFileStream& out) const {
        const size_t a = in_.alignment;
        out.write_zeros((a - out.written() % a) % a);
    }

    void check_alignment() const {
        // ggml needs a power of two; docs/gguf.md asks for a multiple of 8.
        if (!gguf::is_power_of_two(in_.alignment) || in_.alignment < 8)
            fail("GGUF alignment " + std::to_string(in_.alignment) + " is not a power of two of at least 8");
    }

    // The caller's metadata with general.alignment in front (unless given, and then it must agree).
    std::vector<std::pair<std::string, GgufValue>> metadata() const {
        std::vector<std::pair<std::string, GgufValue>> kvs;
        std::set<std::string, std::less<>> keys;
        bool has_alignment = false;
        for (const auto& [key, value] : in_.metadata) {
            if (key.size() > kMaxKeyBytes) fail("metadata key of " + std::to_string(key.size()) + " bytes is too long");
            if (!keys.insert(key).second) fail("metadata key '" + key + "' is given twice");
            if (key == gguf::kAlignmentKey) {
                if (value.type() != GgufType::UInt32 || value.as<uint32_t>() != in_.alignment)
                    fail(std::string("metadata '") + gguf::kAlignmentKey + "' must be the uint32 " +
                         std::to_string(in_.alignment) + " the file is written with");
                has_alignment = true;
            }
        }
        if (!has_alignment) kvs.emplace_back(gguf::kAlignmentKey, GgufValue(in_.alignment));
        kvs.insert(kvs.end(), in_.metadata.begin(), in_.metadata.end());
        return kvs;
    }

    void plan_tensors() {
        std::set<std::string, std::less<>> names;
        uint64_t offset = 0;
        for (const GgufTensorInput& t : in_.tensors) {
            const std::string what = "tensor '" + t.name + "'";
            if (t.name.size() > gguf::kMaxNameBytes)
                fail(what + ": name is longer than ggml's " + std::to_string(gguf::kMaxNameBytes) + " bytes");
            if (!names.insert(t.name).second) fail(what + " is given twice");
            if (t.shape.size() > gguf::kMaxDims) fail(what + " has more than 4 dimensions");
            Planned p{&t, 0, {}, 0, 0};
            for (size_t j = t.shape.size(); j-- > 0;) {
                if (t.shape[j] < 0) fail(what + " has a negative dimension");
                p.dims.push_back(static_cast<uint64_t>(t.shape[j]));
            }
            const gguf::TypeTraits& traits = gguf::traits_of(t.type);
            p.ggml_type = traits.id;
            const std::string why =
                gguf::tensor_bytes(traits, p.dims.data(), static_cast<uint32_t>(p.dims.size()), &p.bytes);
            if (!why.empty()) fail(what + ": " + why);
            if (t.produce && !t.bytes.empty()) fail(what + " has both bytes and a producer");
            if (!t.produce && t.bytes.size() != p.bytes)
                fail(what + " " + dtype_name(t.type) + " needs " + std::to_string(p.bytes) + " bytes, given " +
                     std::to_string(t.bytes.size()));
            p.offset = offset;
            if (!gguf::add_ok(offset, p.bytes, &offset) || !gguf::align_up(offset, in_.alignment, &offset))
                fail("tensor data is too large");
            planned_.push_back(std::move(p));
        }
    }

    const std::string& path_;
    const GgufWriterInput& in_;
    std::vector<Planned> planned_;
};

}  // namespace

void save_gguf(const std::string& path, const GgufWriterInput& input) { Writer(path, input).run(); }

}  // namespace rwkv
