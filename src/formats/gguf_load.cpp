// load_gguf: a GGUF file as the project's TensorFile (fp32 values), for code that takes any model format.
#include <string>
#include <utility>

#include "core/quant.h"
#include "rwkv/error.h"
#include "rwkv/gguf.h"

namespace rwkv {
namespace {

// Whether src/core/quant.h decodes `t`, judged by asking it rather than by a list kept here, so types it
// learns later (the k-quants are on their way) load without touching this file. It must also agree with
// GGUF on the bytes a row takes; a disagreement would mean decoding garbage, so it is an error, not a "no".
bool quant_decodes(const GgufTensorInfo& t, int64_t row, size_t row_bytes, const std::string& path) {
    size_t ours = 0;
    try {
        ours = dtype_row_bytes(t.type, row);
    } catch (const Error&) {
        return false;
    }
    if (ours != row_bytes)
        throw Error(path + ": tensor '" + t.name + "': " + dtype_name(t.type) + " rows of " + std::to_string(row) +
                    " take " + std::to_string(row_bytes) + " bytes in GGUF but " + std::to_string(ours) +
                    " in src/core/quant.h");
    return true;
}

}  // namespace

TensorFile load_gguf(const std::string& path) {
    const GgufFile g = open_gguf(path);
    TensorFile out;
    out.path = path;
    out.format = "gguf";
    for (const auto& [key, v] : g.metadata())
        if (!v.is_array()) out.metadata[key] = v.to_string();

    for (const GgufTensorInfo& info : g.tensors()) {
        const int64_t n = info.numel();
        const int64_t row = info.shape.empty() ? 1 : info.shape.back();
        const int64_t rows = row == 0 ? 0 : n / row;
        const size_t row_bytes = rows == 0 ? 0 : info.bytes / static_cast<size_t>(rows);
        if (rows > 0 && !quant_decodes(info, row, row_bytes, path))
            throw Error(path + ": tensor '" + info.name + "' is " + dtype_name(info.type) +
                        ", which is not supported yet (decoding it is not implemented)");
        Tensor t;
        t.shape = info.shape;
        t.source = info.type;
        t.data.resize(static_cast<size_t>(n));
        // Rows are whole blocks (checked when the file was opened), so the tensor decodes as one long row.
        if (n > 0) dequantize_row(info.type, info.data, t.data.data(), n);
        out.tensors.emplace(info.name, std::move(t));
    }
    return out;
}

}  // namespace rwkv
