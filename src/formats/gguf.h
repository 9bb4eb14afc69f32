#pragma once
// GGUF facts shared by the reader and the writer: ggml's tensor type ids and block geometry, metadata value
// sizes, and overflow-checked size arithmetic. Source: ggml docs/gguf.md (type ids, layout) and ggml.c's
// type_traits table (block size and bytes per block).
#include <cstdint>
#include <optional>
#include <string>

#include "rwkv/gguf.h"
#include "rwkv/tensor.h"

namespace rwkv::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr uint32_t kMaxDims = 4;       // GGML_MAX_DIMS
inline constexpr size_t kMaxNameBytes = 63;   // GGML_MAX_NAME (64) less the terminating NUL
inline constexpr const char* kAlignmentKey = "general.alignment";

// How one ggml type stores its elements: `block` elements in `block_bytes` bytes.
struct TypeTraits {
    uint32_t id;
    const char* name;
    int64_t block;
    uint64_t block_bytes;
    std::optional<DType> dtype;  // the project's type, where it has one
};

// Every type id a GGUF file may carry (so errors can name the type), whether or not it is supported here.
const TypeTraits* find_type(uint32_t ggml_id);
// The ggml id and geometry of a project type (all DType values have one).
const TypeTraits& traits_of(DType t);

// Bytes of one metadata scalar (0 for String and Array, whose size depends on content).
uint64_t scalar_bytes(GgufType t);
bool is_known_value_type(uint32_t id);

// a * b, a + b; false on uint64 overflow.
inline bool mul_ok(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }
inline bool add_ok(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }

// Rounds up to a multiple of `align` (a power of two); false on overflow.
inline bool align_up(uint64_t v, uint64_t align, uint64_t* out) {
    uint64_t t;
    if (!add_ok(v, align - 1, &t)) return false;
    *out = t & ~(align - 1);
    return true;
}

inline bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Bytes a tensor of `dims` (ggml order, innermost first) takes in `t`. Empty string on success, otherwise
// what is wrong ("dimension 0 (100) is not a multiple of the 32-element block", "size overflows").
std::string tensor_bytes(const TypeTraits& t, const uint64_t* dims, uint32_t n_dims, uint64_t* bytes);

}  // namespace rwkv::gguf
