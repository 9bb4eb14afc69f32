// GGUF as a TensorFile whose weights stay in the mapping, so a converted model costs no more memory
// than its file and loads without decoding.
#include "rwkv/error.h"
#include "rwkv/formats.h"
#include "rwkv/gguf.h"

namespace rwkv {

TensorFile load_gguf_in_place(const std::string& path) {
    GgufFile g = open_gguf(path);
    TensorFile f;
    f.path = path;
    f.format = "gguf";
    for (const auto& [key, value] : g.metadata())
        if (!value.is_array()) f.metadata[key] = value.to_string();
    const auto arch = f.metadata.find("general.architecture");
    if (arch != f.metadata.end() && (arch->second == "rwkv6" || arch->second == "rwkv7")) {
        // llama.cpp's layout differs from the official one in more than names: undo it on fp32 values.
        TensorFile wide = load_gguf(path);
        if (gguf_has_llama_names(wide)) gguf_to_official_names(wide);
        return wide;
    }
    const std::shared_ptr<const void> storage = g.storage();
    for (const GgufTensorInfo& info : g.tensors()) {
        Tensor t;
        t.shape = info.shape;
        t.source = info.type;
        t.raw = info.data;
        t.raw_bytes = info.bytes;
        t.storage = storage;
        if (!f.tensors.emplace(info.name, std::move(t)).second) throw Error(path + ": duplicate tensor '" + info.name + "'");
    }
    return f;
}

}  // namespace rwkv
