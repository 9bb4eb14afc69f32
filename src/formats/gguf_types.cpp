// ggml tensor types and GGUF metadata value types: ids, names, sizes.
#include <array>
#include <string>

#include "formats/gguf.h"
#include "rwkv/error.h"

namespace rwkv {

const char* gguf_type_name(GgufType t) {
    switch (t) {
        case GgufType::UInt8: return "uint8";
        case GgufType::Int8: return "int8";
        case GgufType::UInt16: return "uint16";
        case GgufType::Int16: return "int16";
        case GgufType::UInt32: return "uint32";
        case GgufType::Int32: return "int32";
        case GgufType::Float32: return "float32";
        case GgufType::Bool: return "bool";
        case GgufType::String: return "string";
        case GgufType::Array: return "array";
        case GgufType::UInt64: return "uint64";
        case GgufType::Int64: return "int64";
        case GgufType::Float64: return "float64";
    }
    return "unknown";
}

namespace gguf {
namespace {

// Ids and names from ggml docs/gguf.md. Geometry only for the types this project reads: the others are
// listed so an error can say "q5_k" rather than "13", and their geometry is never used.
constexpr std::array<TypeTraits, 31> kTypes = {{
    {0, "f32", 1, 4, DType::F32},
    {1, "f16", 1, 2, DType::F16},
    {2, "q4_0", 32, 18, DType::Q4_0},
    {3, "q4_1", 32, 20, DType::Q4_1},
    {6, "q5_0", 32, 22, DType::Q5_0},
    {7, "q5_1", 32, 24, DType::Q5_1},
    {8, "q8_0", 32, 34, DType::Q8_0},
    {9, "q8_1", 0, 0, std::nullopt},
    {10, "q2_k", 0, 0, std::nullopt},
    {11, "q3_k", 0, 0, std::nullopt},
    {12, "q4_k", 256, 144, DType::Q4_K},
    {13, "q5_k", 0, 0, std::nullopt},
    {14, "q6_k", 256, 210, DType::Q6_K},
    {15, "q8_k", 0, 0, std::nullopt},
    {16, "iq2_xxs", 0, 0, std::nullopt},
    {17, "iq2_xs", 0, 0, std::nullopt},
    {18, "iq3_xxs", 0, 0, std::nullopt},
    {19, "iq1_s", 0, 0, std::nullopt},
    {20, "iq4_nl", 0, 0, std::nullopt},
    {21, "iq3_s", 0, 0, std::nullopt},
    {22, "iq2_s", 0, 0, std::nullopt},
    {23, "iq4_xs", 0, 0, std::nullopt},
    {24, "i8", 0, 0, std::nullopt},
    {25, "i16", 0, 0, std::nullopt},
    {26, "i32", 0, 0, std::nullopt},
    {27, "i64", 0, 0, std::nullopt},
    {28, "f64", 0, 0, std::nullopt},
    {29, "iq1_m", 0, 0, std::nullopt},
    {30, "bf16", 1, 2, DType::BF16},
    {34, "tq1_0", 0, 0, std::nullopt},
    {35, "tq2_0", 0, 0, std::nullopt},
}};

}  // namespace

const TypeTraits* find_type(uint32_t ggml_id) {
    for (const TypeTraits& t : kTypes)
        if (t.id == ggml_id) return &t;
    return nullptr;
}

const TypeTraits& traits_of(DType d) {
    for (const TypeTraits& t : kTypes)
        if (t.dtype == d) return t;
    throw Error(std::string("no ggml type for ") + dtype_name(d));
}

uint64_t scalar_bytes(GgufType t) {
    switch (t) {
        case GgufType::UInt8:
        case GgufType::Int8:
        case GgufType::Bool: return 1;
        case GgufType::UInt16:
        case GgufType::Int16: return 2;
        case GgufType::UInt32:
        case GgufType::Int32:
        case GgufType::Float32: return 4;
        case GgufType::UInt64:
        case GgufType::Int64:
        case GgufType::Float64: return 8;
        case GgufType::String:
        case GgufType::Array: return 0;
    }
    return 0;
}

bool is_known_value_type(uint32_t id) { return id <= static_cast<uint32_t>(GgufType::Float64); }

std::string tensor_bytes(const TypeTraits& t, const uint64_t* dims, uint32_t n_dims, uint64_t* bytes) {
    if (t.block <= 0) return std::string("type ") + t.name + " has no known block geometry";
    // Element counts travel as int64_t (Tensor::numel, ggml's ne[]) and get multiplied in any order, so the
    // product of the non-zero dimensions must fit even when a zero dimension makes the tensor empty.
    uint64_t span = 1;
    bool empty = false;
    for (uint32_t i = 0; i < n_dims; ++i) {
        if (dims[i] == 0) empty = true;
        else if (!mul_ok(span, dims[i], &span)) return "element count overflows";
    }
    if (span > static_cast<uint64_t>(INT64_MAX)) return "element count overflows";
    const uint64_t block = static_cast<uint64_t>(t.block);
    const uint64_t ne0 = n_dims > 0 ? dims[0] : 1;
    if (ne0 % block != 0)
        return "innermost dimension " + std::to_string(ne0) + " is not a multiple of the " + std::to_string(block) +
               "-element " + t.name + " block";
    if (empty) {
        *bytes = 0;
        return {};
    }
    // Rows are whole blocks, so the tensor is span / block blocks.
    if (!mul_ok(span / block, t.block_bytes, bytes)) return "size overflows";
    return {};
}

}  // namespace gguf
}  // namespace rwkv
