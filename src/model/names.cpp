#include "model/names.h"

#include <utility>

#include "rwkv/error.h"

namespace rwkv {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
}

std::string official_name(std::string n) {
    if (starts_with(n, "rwkv.")) n.erase(0, 5);
    if (starts_with(n, "embeddings.")) n.replace(0, 11, "emb.");
    replace_all(n, ".pre_ln.", ".ln0.");
    replace_all(n, ".attention.", ".att.");
    replace_all(n, ".feed_forward.", ".ffn.");
    static const std::pair<const char*, const char*> suffixes[] = {
        {".time_mix_key", ".time_mix_k"},
        {".time_mix_value", ".time_mix_v"},
        {".time_mix_receptance", ".time_mix_r"},
        {".time_mix_gate", ".time_mix_g"},
    };
    for (const auto& [hf, official] : suffixes) {
        const std::string h = hf;
        if (n.size() > h.size() && n.compare(n.size() - h.size(), h.size(), h) == 0) {
            n.replace(n.size() - h.size(), h.size(), official);
            break;
        }
    }
    return n;
}

}  // namespace

void normalize_tensor_names(TensorFile& file) {
    if (!file.has("rwkv.embeddings.weight")) return;
    std::map<std::string, Tensor> renamed;
    for (auto& [name, t] : file.tensors) {
        std::string official = official_name(name);
        if (renamed.count(official)) throw Error(file.path + ": tensors '" + name + "' and another both map to '" + official + "'");
        renamed.emplace(std::move(official), std::move(t));
    }
    file.tensors = std::move(renamed);
    file.metadata["names"] = "huggingface";
}

}  // namespace rwkv
