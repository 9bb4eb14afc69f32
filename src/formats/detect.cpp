// Picks a reader from a file's leading bytes, so users can pass any model file without naming its format.
#include <cstring>
#include <string>

#include "core/mapped_file.h"
#include "formats/byte_io.h"
#include "rwkv/error.h"
#include "rwkv/formats.h"

namespace rwkv {
namespace {

enum class Format { Pth, RwkvCpp, Safetensors, Gguf };

Format sniff(const std::string& path) {
    // Mapping is lazy: only the page sniffed here is read, and open errors read the same as the readers'.
    const MappedFile file(path);
    const uint8_t* head = file.data();
    const size_t size = file.size();
    if (size == 0) throw Error(path + ": file is empty");
    if (size >= 4) {
        if (std::memcmp(head, "PK\x03\x04", 4) == 0) return Format::Pth;
        if (std::memcmp(head, "PK\x05\x06", 4) == 0) return Format::Pth;  // an empty zip: let the reader say so
        if (load_le32(head) == 0x67676d66) return Format::RwkvCpp;
        if (std::memcmp(head, "GGUF", 4) == 0) return Format::Gguf;
    }
    // safetensors starts with its JSON header's length, and the header is an object.
    if (size >= 9 && head[8] == '{') {
        const uint64_t header_len = load_le64(head);
        if (header_len >= 2 && header_len <= size - 8) return Format::Safetensors;
    }
    throw Error(path + ": unrecognised model file format (expected a PyTorch .pth, a .safetensors, a .gguf or an rwkv.cpp .bin)");
}

}  // namespace

TensorFile load_tensor_file(const std::string& path) {
    switch (sniff(path)) {
        case Format::Pth: return load_pth(path);
        case Format::RwkvCpp: return load_rwkvcpp(path);
        case Format::Safetensors: return load_safetensors(path);
        case Format::Gguf: return load_gguf_in_place(path);
    }
    throw Error(path + ": unrecognised model file format");
}

}  // namespace rwkv
