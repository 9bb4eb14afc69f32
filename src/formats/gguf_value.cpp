// GgufValue: one typed metadata value, held in its encoded (little-endian) form so reading and writing a
// file moves bytes rather than converting them.
#include <bit>
#include <charconv>
#include <cstring>
#include <limits>
#include <string>

#include "formats/gguf.h"
#include "rwkv/error.h"
#include "rwkv/gguf.h"

namespace rwkv {
namespace {

static_assert(std::endian::native == std::endian::little, "GgufValue keeps values in host (little-endian) order");

template <class T>
uint64_t pack(T v) {
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof v);
    return bits;
}

template <class T>
T unpack(uint64_t bits) {
    T v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
}

std::string a_type(GgufType t) {
    const std::string n = gguf_type_name(t);
    const bool vowel = n[0] == 'i' || n[0] == 'a';  // "an int8", "an array", "a uint32"
    return (vowel ? "an " : "a ") + n;
}

template <class F>
std::string float_text(F v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back to the same value
    return std::string(buf, r.ptr);
}

}  // namespace

GgufValue::GgufValue(bool v) : type_(GgufType::Bool), bits_(v ? 1 : 0) {}
GgufValue::GgufValue(uint8_t v) : type_(GgufType::UInt8), bits_(pack(v)) {}
GgufValue::GgufValue(int8_t v) : type_(GgufType::Int8), bits_(pack(v)) {}
GgufValue::GgufValue(uint16_t v) : type_(GgufType::UInt16), bits_(pack(v)) {}
GgufValue::GgufValue(int16_t v) : type_(GgufType::Int16), bits_(pack(v)) {}
GgufValue::GgufValue(uint32_t v) : type_(GgufType::UInt32), bits_(pack(v)) {}
GgufValue::GgufValue(int32_t v) : type_(GgufType::Int32), bits_(pack(v)) {}
GgufValue::GgufValue(uint64_t v) : type_(GgufType::UInt64), bits_(v) {}
GgufValue::GgufValue(int64_t v) : type_(GgufType::Int64), bits_(pack(v)) {}
GgufValue::GgufValue(float v) : type_(GgufType::Float32), bits_(pack(v)) {}
GgufValue::GgufValue(double v) : type_(GgufType::Float64), bits_(pack(v)) {}
GgufValue::GgufValue(std::string v) : type_(GgufType::String), bytes_(std::move(v)) {}
GgufValue::GgufValue(const char* v) : type_(GgufType::String), bytes_(v) {}

GgufValue GgufValue::numeric_array(GgufType elem, const void* little_endian, uint64_t count) {
    const uint64_t size = gguf::scalar_bytes(elem);
    if (size == 0) throw Error(std::string("a GGUF numeric array cannot hold ") + gguf_type_name(elem) + " elements");
    uint64_t bytes = 0;
    if (!gguf::mul_ok(count, size, &bytes)) throw Error("GGUF array of " + std::to_string(count) + " elements is too large");
    GgufValue v;
    v.type_ = GgufType::Array;
    v.elem_ = elem;
    v.count_ = count;
    if (bytes > 0) v.bytes_.assign(static_cast<const char*>(little_endian), static_cast<size_t>(bytes));
    if (elem == GgufType::Bool)
        for (char c : v.bytes_)
            if (c != 0 && c != 1) throw Error("GGUF bool array elements must be 0 or 1");
    return v;
}

GgufValue GgufValue::string_array(const std::vector<std::string>& items) {
    GgufValue v;
    v.type_ = GgufType::Array;
    v.elem_ = GgufType::String;
    v.count_ = items.size();
    v.ends_.reserve(items.size());
    for (const std::string& s : items) {
        v.bytes_ += s;
        v.ends_.push_back(v.bytes_.size());
    }
    return v;
}

GgufValue GgufValue::string_array(std::string texts, std::vector<uint64_t> ends) {
    uint64_t prev = 0;
    for (uint64_t e : ends) {
        if (e < prev || e > texts.size()) throw Error("GGUF string array offsets are out of order or out of range");
        prev = e;
    }
    if (prev != texts.size()) throw Error("GGUF string array offsets do not cover its texts");
    GgufValue v;
    v.type_ = GgufType::Array;
    v.elem_ = GgufType::String;
    v.count_ = ends.size();
    v.bytes_ = std::move(texts);
    v.ends_ = std::move(ends);
    return v;
}

void GgufValue::expect(GgufType t) const {
    if (type_ != t) throw Error("holds " + a_type(type_) + ", not " + a_type(t));
}

template <class T>
T GgufValue::as() const {
    expect(gguf_type_of<T>());
    if constexpr (std::is_same_v<T, std::string>) return bytes_;
    else if constexpr (std::is_same_v<T, bool>) return bits_ != 0;
    else return unpack<T>(bits_);
}

template bool GgufValue::as<bool>() const;
template uint8_t GgufValue::as<uint8_t>() const;
template int8_t GgufValue::as<int8_t>() const;
template uint16_t GgufValue::as<uint16_t>() const;
template int16_t GgufValue::as<int16_t>() const;
template uint32_t GgufValue::as<uint32_t>() const;
template int32_t GgufValue::as<int32_t>() const;
template uint64_t GgufValue::as<uint64_t>() const;
template int64_t GgufValue::as<int64_t>() const;
template float GgufValue::as<float>() const;
template double GgufValue::as<double>() const;
template std::string GgufValue::as<std::string>() const;

int64_t GgufValue::as_int() const {
    switch (type_) {
        case GgufType::UInt8: return as<uint8_t>();
        case GgufType::Int8: return as<int8_t>();
        case GgufType::UInt16: return as<uint16_t>();
        case GgufType::Int16: return as<int16_t>();
        case GgufType::UInt32: return as<uint32_t>();
        case GgufType::Int32: return as<int32_t>();
        case GgufType::Int64: return as<int64_t>();
        case GgufType::UInt64:
            if (bits_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                throw Error("holds " + std::to_string(bits_) + ", too large for an int64");
            return static_cast<int64_t>(bits_);
        default: throw Error("holds " + a_type(type_) + ", not an integer");
    }
}

uint64_t GgufValue::as_uint() const {
    if (type_ == GgufType::UInt64) return bits_;
    const int64_t v = as_int();
    if (v < 0) throw Error("holds " + std::to_string(v) + ", not a non-negative integer");
    return static_cast<uint64_t>(v);
}

double GgufValue::as_number() const {
    if (type_ == GgufType::Float32) return as<float>();
    if (type_ == GgufType::Float64) return as<double>();
    if (type_ == GgufType::UInt64) return static_cast<double>(bits_);
    try {
        return static_cast<double>(as_int());
    } catch (const Error&) {
        throw Error("holds " + a_type(type_) + ", not a number");
    }
}

template <class T>
std::vector<T> GgufValue::as_array() const {
    expect(GgufType::Array);
    if (elem_ != gguf_type_of<T>())
        throw Error("is an array of " + std::string(gguf_type_name(elem_)) + ", not of " +
                    gguf_type_name(gguf_type_of<T>()));
    std::vector<T> out;
    out.reserve(static_cast<size_t>(count_));
    if constexpr (std::is_same_v<T, std::string>) {
        for (uint64_t i = 0; i < count_; ++i) out.emplace_back(string_at(i));
    } else if constexpr (std::is_same_v<T, bool>) {
        for (char c : bytes_) out.push_back(c != 0);
    } else {
        out.resize(static_cast<size_t>(count_));
        if (!bytes_.empty()) std::memcpy(out.data(), bytes_.data(), bytes_.size());
    }
    return out;
}

template std::vector<bool> GgufValue::as_array<bool>() const;
template std::vector<uint8_t> GgufValue::as_array<uint8_t>() const;
template std::vector<int8_t> GgufValue::as_array<int8_t>() const;
template std::vector<uint16_t> GgufValue::as_array<uint16_t>() const;
template std::vector<int16_t> GgufValue::as_array<int16_t>() const;
template std::vector<uint32_t> GgufValue::as_array<uint32_t>() const;
template std::vector<int32_t> GgufValue::as_array<int32_t>() const;
template std::vector<uint64_t> GgufValue::as_array<uint64_t>() const;
template std::vector<int64_t> GgufValue::as_array<int64_t>() const;
template std::vector<float> GgufValue::as_array<float>() const;
template std::vector<double> GgufValue::as_array<double>() const;
template std::vector<std::string> GgufValue::as_array<std::string>() const;

std::string_view GgufValue::string_at(uint64_t i) const {
    if (type_ != GgufType::Array || elem_ != GgufType::String) throw Error("is not an array of strings");
    if (i >= count_) throw Error("has no element " + std::to_string(i) + " (it holds " + std::to_string(count_) + ")");
    const uint64_t begin = i == 0 ? 0 : ends_[i - 1];
    return std::string_view(bytes_).substr(begin, ends_[i] - begin);
}

std::string GgufValue::to_string() const {
    switch (type_) {
        case GgufType::Bool: return bits_ ? "true" : "false";
        case GgufType::Float32: return float_text(as<float>());
        case GgufType::Float64: return float_text(as<double>());
        case GgufType::String: return bytes_;
        case GgufType::UInt64: return std::to_string(bits_);
        case GgufType::Array: return "[" + std::to_string(count_) + " x " + gguf_type_name(elem_) + "]";
        default: return std::to_string(as_int());
    }
}

std::string_view GgufValue::payload() const {
    const uint64_t n = gguf::scalar_bytes(type_);
    if (n == 0) return bytes_;  // string or array
    return std::string_view(reinterpret_cast<const char*>(&bits_), static_cast<size_t>(n));
}

}  // namespace rwkv
