// rwkv.cpp's own model files: a 24-byte header, then tensors until the end of the file, each
// {int32 dim_count, key_length, data_type; dims innermost first; key; data}.
#include <cstdint>
#include <limits>
#include <string>

#include "core/mapped_file.h"
#include "core/quant.h"
#include "formats/byte_io.h"
#include "formats/rwkvcpp.h"
#include "rwkv/error.h"
#include "rwkv/formats.h"

namespace rwkv {
namespace {

constexpr uint32_t kMagic = 0x67676d66;  // "ggmf"
constexpr int32_t kVersionOldQuant = 100;
constexpr int32_t kVersionCurrent = 101;
constexpr int32_t kMaxDims = 4;        // ggml's limit
constexpr int32_t kMaxKeyLength = 1024;

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw Error(path + ": " + what); }

}  // namespace

bool rwkvcpp_dtype(int32_t code, DType* out) {
    switch (code) {
        case 0: *out = DType::F32; return true;
        case 1: *out = DType::F16; return true;
        case 2: *out = DType::Q4_0; return true;
        case 3: *out = DType::Q4_1; return true;
        case 7: *out = DType::Q5_0; return true;
        case 8: *out = DType::Q5_1; return true;
        case 9: *out = DType::Q8_0; return true;
        default: return false;
    }
}

TensorFile load_rwkvcpp(const std::string& path) {
    const MappedFile file(path);
    const uint8_t* d = file.data();
    const uint64_t size = file.size();
    if (size < 24) fail(path, "too short for an rwkv.cpp header (" + std::to_string(size) + " bytes)");
    if (load_le32(d) != kMagic) fail(path, "not an rwkv.cpp model file (bad magic)");
    const int32_t version = load_le_i32(d + 4);
    if (version != kVersionOldQuant && version != kVersionCurrent)
        fail(path, "rwkv.cpp file version " + std::to_string(version) + " is not supported (expected 100 or 101)");
    DType file_type;
    const int32_t file_type_code = load_le_i32(d + 20);
    if (!rwkvcpp_dtype(file_type_code, &file_type))
        fail(path, "rwkv.cpp header has unknown data type " + std::to_string(file_type_code));
    const char* header_names[] = {"n_vocab", "n_embed", "n_layer"};
    TensorFile out;
    out.path = path;
    out.format = "rwkvcpp";
    out.metadata["file_version"] = std::to_string(version);
    for (int i = 0; i < 3; ++i) {
        const int32_t v = load_le_i32(d + 8 + 4 * i);
        if (v <= 0) fail(path, std::string("rwkv.cpp header field ") + header_names[i] + " is " + std::to_string(v));
        out.metadata[header_names[i]] = std::to_string(v);
    }
    out.metadata["data_type"] = std::to_string(file_type_code);

    uint64_t pos = 24;
    int index = 0;
    while (pos < size) {
        const std::string where = "tensor #" + std::to_string(index) + " at offset " + std::to_string(pos);
        if (size - pos < 12) fail(path, where + ": header truncated");
        const int32_t dim_count = load_le_i32(d + pos);
        const int32_t key_length = load_le_i32(d + pos + 4);
        const int32_t type_code = load_le_i32(d + pos + 8);
        pos += 12;
        if (dim_count < 1 || dim_count > kMaxDims)
            fail(path, where + ": dimension count " + std::to_string(dim_count) + " is outside 1..4");
        if (key_length < 1 || key_length > kMaxKeyLength)
            fail(path, where + ": key length " + std::to_string(key_length) + " is outside 1.." +
                           std::to_string(kMaxKeyLength));
        DType dtype;
        if (!rwkvcpp_dtype(type_code, &dtype))
            fail(path, where + ": unknown data type " + std::to_string(type_code));
        if (size - pos < static_cast<uint64_t>(4 * dim_count + key_length)) fail(path, where + ": header truncated");

        Tensor t;
        t.source = dtype;
        t.shape.resize(static_cast<size_t>(dim_count));
        int64_t numel = 1;
        for (int i = 0; i < dim_count; ++i) {
            const int32_t dim = load_le_i32(d + pos + 4 * i);
            if (dim <= 0) fail(path, where + ": dimension " + std::to_string(i) + " is " + std::to_string(dim));
            if (numel > (int64_t{1} << 48) / dim) fail(path, where + ": too many elements");
            numel *= dim;
            t.shape[static_cast<size_t>(dim_count - 1 - i)] = dim;  // the file stores the innermost dim first
        }
        pos += 4 * static_cast<uint64_t>(dim_count);
        const std::string name(reinterpret_cast<const char*>(d + pos), static_cast<size_t>(key_length));
        pos += static_cast<uint64_t>(key_length);

        if (dtype_is_quantized(dtype) && version == kVersionOldQuant)
            fail(path, "tensor '" + name + "' is " + dtype_name(dtype) +
                           " in rwkv.cpp file version 100, whose quantized blocks predate ggml's current layout; "
                           "re-quantize it with a current rwkv.cpp (version 101)");
        const int64_t row = t.shape.back();
        if (dtype_is_quantized(dtype) && row % kQuantBlockSize != 0)
            fail(path, "tensor '" + name + "' " + t.shape_string() + " is " + dtype_name(dtype) +
                           " but its rows are not a multiple of 32");
        const uint64_t bytes = dtype_row_bytes(dtype, numel);  // whole-block rows make this exact
        if (size - pos < bytes)
            fail(path, "tensor '" + name + "' " + t.shape_string() + " needs " + std::to_string(bytes) +
                           " bytes of data but the file ends after " + std::to_string(size - pos));
        t.data.resize(static_cast<size_t>(numel));
        dequantize_row(dtype, d + pos, t.data.data(), numel);
        pos += bytes;
        if (!out.tensors.emplace(name, std::move(t)).second) fail(path, "tensor '" + name + "' appears twice");
        ++index;
    }
    if (out.tensors.empty()) fail(path, "rwkv.cpp file holds no tensors");
    return out;
}

}  // namespace rwkv
