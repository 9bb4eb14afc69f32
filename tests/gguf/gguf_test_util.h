#pragma once
// Shared by the GGUF tests: sample metadata and tensors, and a byte-level builder for hand-made (and
// deliberately broken) files.
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/quant.h"
#include "formats/byte_io.h"
#include "rwkv/gguf.h"

namespace rwkv::testing {

// One of every metadata type, arrays included.
inline std::vector<std::pair<std::string, GgufValue>> every_metadata_type() {
    return {
        {"t.u8", uint8_t(250)},
        {"t.i8", int8_t(-7)},
        {"t.u16", uint16_t(65000)},
        {"t.i16", int16_t(-30000)},
        {"t.u32", uint32_t(4000000000u)},
        {"t.i32", int32_t(-2000000000)},
        {"t.f32", 1e-5f},
        {"t.bool", true},
        {"t.bool_false", false},
        {"t.string", "RWKV \xe2\x80\x94 \xe9\x9b\xb2"},
        {"t.empty_string", ""},
        {"t.u64", uint64_t(18000000000000000000ull)},
        {"t.i64", int64_t(-9000000000000000000ll)},
        {"t.f64", 0.1},
        {"t.arr.u8", GgufValue::array(std::vector<uint8_t>{0, 1, 255})},
        {"t.arr.i8", GgufValue::array(std::vector<int8_t>{-128, 0, 127})},
        {"t.arr.u16", GgufValue::array(std::vector<uint16_t>{1, 65535})},
        {"t.arr.i16", GgufValue::array(std::vector<int16_t>{-32768, 32767})},
        {"t.arr.u32", GgufValue::array(std::vector<uint32_t>{7, 8, 9})},
        {"t.arr.i32", GgufValue::array(std::vector<int32_t>{-1, 2, -3})},
        {"t.arr.f32", GgufValue::array(std::vector<float>{0.5f, -1.25f, 3e38f})},
        {"t.arr.bool", GgufValue::array(std::vector<bool>{true, false, true})},
        {"t.arr.string", GgufValue::array(std::vector<std::string>{"<s>", "", "\xe4\xb8\x80 two", std::string(300, 'x')})},
        {"t.arr.u64", GgufValue::array(std::vector<uint64_t>{0, ~0ull})},
        {"t.arr.i64", GgufValue::array(std::vector<int64_t>{-5, 5})},
        {"t.arr.f64", GgufValue::array(std::vector<double>{1e300, -0.0})},
        {"t.arr.empty", GgufValue::array(std::vector<uint32_t>{})},
        {"t.arr.empty_strings", GgufValue::array(std::vector<std::string>{})},
    };
}

inline std::vector<float> random_values(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

inline std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> v(n);
    for (uint8_t& b : v) b = static_cast<uint8_t>(rng());
    return v;
}

inline int64_t numel(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

// A tensor of `type` holding quantized random values (quant.h's types) or random blocks (the k-quants,
// which the writer takes as opaque bytes).
inline GgufTensorInput sample_tensor(const std::string& name, std::vector<int64_t> shape, DType type, uint32_t seed) {
    GgufTensorInput t;
    t.name = name;
    t.shape = std::move(shape);
    t.type = type;
    const int64_t n = numel(t.shape);
    if (type == DType::Q4_K || type == DType::Q6_K) {
        const size_t block_bytes = type == DType::Q4_K ? 144 : 210;
        t.bytes = random_bytes(static_cast<size_t>(n / 256) * block_bytes, seed);
        // Keep the fp16 scales finite so decoders (once there are some) see ordinary numbers.
        for (size_t b = 0; b < t.bytes.size(); b += block_bytes) {
            const size_t d = type == DType::Q4_K ? 0 : 208;
            t.bytes[b + d] = 0x00;
            t.bytes[b + d + 1] = 0x20;
            if (type == DType::Q4_K) t.bytes[b + 2] = 0x00, t.bytes[b + 3] = 0x20;
        }
        return t;
    }
    const std::vector<float> v = random_values(static_cast<size_t>(n), seed);
    t.bytes.resize(dtype_row_bytes(type, n));
    quantize_row(type, v.data(), t.bytes.data(), n);
    return t;
}

// Hand-assembled GGUF bytes.
struct RawGguf {
    std::vector<uint8_t> b;

    RawGguf& u8(uint8_t v) { put_u8(b, v); return *this; }
    RawGguf& u32(uint32_t v) { put_le32(b, v); return *this; }
    RawGguf& u64(uint64_t v) { put_le64(b, v); return *this; }
    RawGguf& str(const std::string& s) { put_le64(b, s.size()); put_string(b, s); return *this; }
    RawGguf& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
        put_string(b, "GGUF");
        return u32(version).u64(n_tensors).u64(n_kv);
    }
    RawGguf& kv_u32(const std::string& key, uint32_t v) { return str(key).u32(4).u32(v); }
    RawGguf& kv_string(const std::string& key, const std::string& v) { return str(key).u32(8).str(v); }
    // A descriptor for an f32 tensor of `dims` (ggml order).
    RawGguf& tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
        str(name).u32(static_cast<uint32_t>(dims.size()));
        for (uint64_t d : dims) u64(d);
        return u32(type).u64(offset);
    }
    RawGguf& pad(size_t align = 32) {
        while (b.size() % align) b.push_back(0);
        return *this;
    }
    RawGguf& zeros(size_t n) {
        b.resize(b.size() + n, 0);
        return *this;
    }
};

}  // namespace rwkv::testing
