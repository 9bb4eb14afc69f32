// Writes safetensors: u64 LE header length, a JSON header padded with spaces to a multiple of 8 bytes
// (so tensor data stays aligned, as the reference implementation does), then the tensors back to back.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/file_util.h"
#include "core/quant.h"
#include "formats/byte_io.h"
#include "formats/writer_checks.h"
#include "rwkv/error.h"
#include "rwkv/formats.h"

namespace rwkv {

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      DType storage) {
    const char* dtype = nullptr;
    switch (storage) {
        case DType::F32: dtype = "F32"; break;
        case DType::F16: dtype = "F16"; break;
        case DType::BF16: dtype = "BF16"; break;
        default:
            throw Error(path + ": safetensors can store f32, f16 or bf16 tensors here, not " +
                        std::string(dtype_name(storage)));
    }
    const size_t elem = dtype_block_bytes(storage);

    nlohmann::ordered_json header;
    header["__metadata__"] = {{"format", "pt"}};
    std::set<std::string> names;
    uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        if (name == "__metadata__" || !names.insert(name).second)
            throw Error(path + ": tensor name '" + name + "' is reserved or given twice");
        check_tensor_for_writing(path, name, t);
        const uint64_t bytes = t.data.size() * elem;
        header[name] = {{"dtype", dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');

    std::vector<uint8_t> out;
    out.reserve(8 + text.size() + offset);
    put_le64(out, text.size());
    put_string(out, text);
    for (const auto& [name, t] : tensors) {
        const size_t at = out.size();
        out.resize(at + t.data.size() * elem);
        quantize_row(storage, t.data.data(), out.data() + at, static_cast<int64_t>(t.data.size()));
    }
    write_file_atomic(path, out.data(), out.size());
}

}  // namespace rwkv
