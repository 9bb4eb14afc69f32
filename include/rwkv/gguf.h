#pragma once
// GGUF (ggml's model container, docs/gguf.md in ggml): the project's own converted-model format, and the way
// published llama.cpp RWKV-6/RWKV-7 models arrive. A GGUF file is a header, typed metadata key/values, tensor
// descriptors, then tensor data at aligned offsets, so weights can be used straight from a read-only mapping.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "rwkv/tensor.h"

namespace rwkv {

class MappedFile;

// Metadata value types, with the ids GGUF stores.
enum class GgufType : uint32_t {
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
};

const char* gguf_type_name(GgufType t);  // "uint32", "string", ...; "unknown" outside the enum

// The GGUF type that holds a C++ value type (bool, the fixed-width integers, float, double, std::string).
template <class T>
constexpr GgufType gguf_type_of() {
    if constexpr (std::is_same_v<T, bool>) return GgufType::Bool;
    else if constexpr (std::is_same_v<T, uint8_t>) return GgufType::UInt8;
    else if constexpr (std::is_same_v<T, int8_t>) return GgufType::Int8;
    else if constexpr (std::is_same_v<T, uint16_t>) return GgufType::UInt16;
    else if constexpr (std::is_same_v<T, int16_t>) return GgufType::Int16;
    else if constexpr (std::is_same_v<T, uint32_t>) return GgufType::UInt32;
    else if constexpr (std::is_same_v<T, int32_t>) return GgufType::Int32;
    else if constexpr (std::is_same_v<T, uint64_t>) return GgufType::UInt64;
    else if constexpr (std::is_same_v<T, int64_t>) return GgufType::Int64;
    else if constexpr (std::is_same_v<T, float>) return GgufType::Float32;
    else if constexpr (std::is_same_v<T, double>) return GgufType::Float64;
    else if constexpr (std::is_same_v<T, std::string>) return GgufType::String;
    else static_assert(sizeof(T) == 0, "no GGUF type for this C++ type");
}

// One metadata value: a scalar, a string, or an array of scalars or strings. GGUF's spec allows arrays of
// arrays, but ggml (and so llama.cpp) cannot read them, so neither this reader nor the writer supports them.
// Arrays are held compactly (element bytes, or string bytes plus end offsets), so a tokenizer's 65536 tokens
// are two allocations, not 65536.
class GgufValue {
public:
    GgufValue() = default;  // uint8 0
    // Implicit on purpose, so metadata lists read {"rwkv7.block_count", uint32_t(24)}. GGUF distinguishes
    // widths, so pass the exact type you mean to store (a plain literal 24 is an int32).
    GgufValue(bool v);
    GgufValue(uint8_t v);
    GgufValue(int8_t v);
    GgufValue(uint16_t v);
    GgufValue(int16_t v);
    GgufValue(uint32_t v);
    GgufValue(int32_t v);
    GgufValue(uint64_t v);
    GgufValue(int64_t v);
    GgufValue(float v);
    GgufValue(double v);
    GgufValue(std::string v);
    GgufValue(const char* v);

    // Arrays. `numeric_array` takes `count` elements of `elem` (any type but String/Array), little-endian.
    static GgufValue numeric_array(GgufType elem, const void* little_endian, uint64_t count);
    static GgufValue string_array(const std::vector<std::string>& items);
    // The same from texts back to back and each element's end offset (non-decreasing, the last == size).
    static GgufValue string_array(std::string texts, std::vector<uint64_t> ends);
    template <class T>
    static GgufValue array(const std::vector<T>& items) {
        if constexpr (std::is_same_v<T, std::string>) {
            return string_array(items);
        } else if constexpr (std::is_same_v<T, bool>) {  // vector<bool> has no contiguous storage
            std::vector<uint8_t> b(items.begin(), items.end());
            return numeric_array(GgufType::Bool, b.data(), b.size());
        } else {
            return numeric_array(gguf_type_of<T>(), items.data(), items.size());
        }
    }

    GgufType type() const { return type_; }
    bool is_array() const { return type_ == GgufType::Array; }
    GgufType array_type() const { return elem_; }  // element type; meaningful for arrays only
    uint64_t array_size() const { return is_array() ? count_ : 0; }

    // Reads of the exact stored type; rwkv::Error ("holds a string, not a uint32") on any other.
    template <class T>
    T as() const;
    // Any integer type whose value fits: llama.cpp writes hyperparameters as uint32, other writers as uint64
    // or int32; readers are asked to accept them all.
    uint64_t as_uint() const;
    int64_t as_int() const;
    // Any integer or float type.
    double as_number() const;
    // Arrays, exact element type.
    template <class T>
    std::vector<T> as_array() const;
    std::string_view string_at(uint64_t i) const;  // string arrays; Error when out of range

    // Scalars and strings as text ("24", "1e-05", "true", the string itself); arrays as "[65536 x string]".
    std::string to_string() const;

    // Encoded payload for writers: a scalar's little-endian bytes, a string's bytes, a numeric array's
    // element bytes, or a string array's concatenated texts (ends in string_ends()).
    std::string_view payload() const;
    const std::vector<uint64_t>& string_ends() const { return ends_; }

    bool operator==(const GgufValue&) const = default;

private:
    void expect(GgufType t) const;

    GgufType type_ = GgufType::UInt8;
    GgufType elem_ = GgufType::UInt8;
    uint64_t count_ = 0;
    uint64_t bits_ = 0;          // scalar numeric/bool values: their little-endian bytes, zero-extended
    std::string bytes_;          // string text, numeric array bytes, or string array texts back to back
    std::vector<uint64_t> ends_;  // string arrays: end offset of each element in bytes_
};

// One tensor as the file describes it.
struct GgufTensorInfo {
    std::string name;
    std::vector<int64_t> shape;  // PyTorch order: GGUF's dimensions (innermost first) reversed
    uint32_t ggml_type = 0;      // the id stored in the file
    DType type = DType::F32;
    uint64_t offset = 0;         // from the start of the data section; a multiple of the alignment
    const void* data = nullptr;  // into the mapping; valid while the GgufFile (or its storage()) lives
    size_t bytes = 0;

    int64_t numel() const;
};

// An opened GGUF file: everything validated against the file size, tensor data left in the mapping.
class GgufFile {
public:
    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint32_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }  // file offset of the tensor data section

    // Metadata in file order.
    const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
    bool has(const std::string& key) const { return find(key) != nullptr; }
    const GgufValue* find(const std::string& key) const;
    // rwkv::Error naming the file and the key when it is absent.
    const GgufValue& value(const std::string& key) const;
    // Typed reads (see GgufValue::as); errors name the file and the key.
    template <class T>
    T get(const std::string& key) const;
    uint64_t get_uint(const std::string& key) const;
    double get_number(const std::string& key) const;
    template <class T>
    std::vector<T> get_array(const std::string& key) const;

    // Tensors in file order.
    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
    const GgufTensorInfo* find_tensor(const std::string& name) const;
    const GgufTensorInfo& tensor(const std::string& name) const;  // Error naming file and tensor when absent

    // Keeps the mapping (and so every tensor's data pointer) alive past this object.
    std::shared_ptr<const void> storage() const;

private:
    friend GgufFile open_gguf(const std::string& path);

    std::string path_;
    std::shared_ptr<const MappedFile> file_;
    uint32_t version_ = 0;
    uint32_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<std::pair<std::string, GgufValue>> metadata_;
    std::vector<GgufTensorInfo> tensors_;
    std::map<std::string, size_t, std::less<>> key_index_;     // into metadata_
    std::map<std::string, size_t, std::less<>> tensor_index_;  // into tensors_
};

// Opens and validates a GGUF file of version 2 or 3 (little-endian) without reading tensor data. Hostile or
// damaged files (lying counts, strings or tensors running past the end, misaligned offsets, unknown types,
// duplicate keys or names) give rwkv::Error with one line naming the file and the field.
// Tensor types: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q6_K; any other ggml type is an error
// naming the type and the tensor.
GgufFile open_gguf(const std::string& path);

// The file's tensors as fp32 (TensorFile::format "gguf"), names as stored. Scalar and string metadata are
// copied as text into TensorFile::metadata (e.g. "general.architecture" -> "rwkv7"); arrays are not (read
// them with open_gguf). Types whose decoding src/core/quant.h lacks raise a "not supported yet" Error.
TensorFile load_gguf(const std::string& path);

// True for a file that llama.cpp's convert_hf_to_gguf.py wrote for RWKV-6 or RWKV-7 (general.architecture
// "rwkv6"/"rwkv7" with tensors named token_embd.weight, blk.N.time_mix_*, ...).
bool gguf_has_llama_names(const TensorFile& f);

// Renames such a file's tensors to the official checkpoint names and undoes the converter's layout changes
// (transposes, fused token-shift mixes, squeezed vectors, flattened r_k, RWKV-6 output rescaling), so the
// result matches ../shared/testdata/reference/README.md (the mapping table, with its sources, heads
// src/formats/gguf_llama_names.cpp). Throws rwkv::Error on any tensor it does not know; `f`'s tensors are
// then left unspecified (tensors are moved, not copied, so large models are not held twice).
void gguf_to_official_names(TensorFile& f);

// A tensor to write. `bytes` holds the data already in `type`'s layout (ggml's block formats for quantized
// types), exactly as many bytes as the shape needs. Or, to stream a model larger than memory, leave `bytes`
// empty and set `produce`: it is called once, while the file is written, to fill `size` bytes at `dst`.
struct GgufTensorInput {
    std::string name;            // at most 63 bytes, as ggml requires
    std::vector<int64_t> shape;  // PyTorch order, at most 4 dimensions; the last must fill whole blocks
    DType type = DType::F32;
    std::vector<uint8_t> bytes;
    std::function<void(uint8_t* dst, size_t size)> produce;
};

struct GgufWriterInput {
    std::vector<std::pair<std::string, GgufValue>> metadata;  // written in this order
    std::vector<GgufTensorInput> tensors;                     // written in this order
    uint32_t alignment = 32;                                  // a power of two, at least 8
};

// Writes a GGUF version 3 file: general.alignment first (unless the metadata already holds it, as a uint32
// equal to `alignment`), then the metadata, tensor descriptors and data, each tensor at an aligned offset.
// Streams through a temporary file in the same directory, fsyncs and renames it over `path`, so memory use
// does not grow with the model and a crash leaves the old file or the new one.
void save_gguf(const std::string& path, const GgufWriterInput& input);

}  // namespace rwkv
