#include "model/detect.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <vector>

#include "rwkv/error.h"

namespace rwkv {

static int64_t dim(const TensorFile& f, const std::string& name, size_t axis_from_end) {
    const Tensor& t = f.get(name);
    if (t.shape.size() <= axis_from_end) throw Error(f.path + ": tensor '" + name + "' has too few dimensions");
    return t.shape[t.shape.size() - 1 - axis_from_end];
}

// The LoRA rank of a down-projection: official files store it [C, D], rwkv.cpp's [D, C].
static int64_t lora_rank(const TensorFile& f, const std::string& name, bool rwkvcpp, int64_t factor = 1) {
    const int64_t d = rwkvcpp ? dim(f, name, 1) : dim(f, name, 0);
    if (d % factor != 0) throw Error(f.path + ": tensor '" + name + "' has an unexpected shape");
    return d / factor;
}

// 1 + the largest N of the tensors named "blocks.N.…".
static int64_t block_count(const TensorFile& f) {
    constexpr std::string_view kPrefix = "blocks.";
    constexpr int64_t kMaxLayers = 1 << 16;
    int64_t n = 0;
    for (const auto& [name, t] : f.tensors) {
        if (!name.starts_with(kPrefix)) continue;
        int64_t index = 0;
        size_t i = kPrefix.size();
        for (; i < name.size() && name[i] >= '0' && name[i] <= '9' && index < kMaxLayers; ++i)
            index = index * 10 + (name[i] - '0');
        if (i == kPrefix.size() || i == name.size() || name[i] != '.') continue;
        if (index >= kMaxLayers) throw Error(f.path + ": tensor '" + name + "' names a layer past " + std::to_string(kMaxLayers));
        n = std::max(n, index + 1);
    }
    return n;
}

// rwkv.cpp's header states the sizes its tensors must have.
static void check_rwkvcpp_header(const TensorFile& f, const ModelInfo& info) {
    const std::pair<const char*, int64_t> fields[] = {
        {"n_layer", info.n_layer}, {"n_embed", info.n_embd}, {"n_vocab", info.n_vocab}};
    for (const auto& [key, found] : fields) {
        const auto it = f.metadata.find(key);
        if (it == f.metadata.end()) continue;
        if (it->second != std::to_string(found))
            throw Error(f.path + ": the rwkv.cpp header says " + key + " " + it->second + " but the tensors give " +
                        std::to_string(found));
    }
}

bool any_layer_has(const TensorFile& f, int64_t n_layer, const std::string& suffix) {
    for (int64_t l = 0; l < n_layer; ++l)
        if (f.has("blocks." + std::to_string(l) + "." + suffix)) return true;
    return false;
}

ModelInfo detect_model(const TensorFile& f) {
    ModelInfo info;
    info.path = f.path;
    info.format = f.format;
    // The layout of the values, which a converted file may carry over from its source: rwkv.cpp's
    // converter transposes, fuses and pre-transforms some tensors (rwkvcpp-tiny/README.md).
    auto layout = f.metadata.find("rwkv.layout");
    info.layout = layout != f.metadata.end() ? layout->second : (f.format == "rwkvcpp" ? "rwkvcpp" : "official");
    if (info.layout != "official" && info.layout != "rwkvcpp")
        throw Error(f.path + ": unknown tensor layout '" + info.layout + "' (rwkv.layout)");
    const bool rwkvcpp = info.layout == "rwkvcpp";
    std::vector<std::string> missing;
    for (const char* name : {"emb.weight", "head.weight", "blocks.0.ln1.weight"})
        if (!f.has(name)) missing.push_back("'" + std::string(name) + "'");
    if (!missing.empty()) {
        std::string list = missing[0];
        for (size_t i = 1; i < missing.size(); ++i) list += (i + 1 == missing.size() ? " and " : ", ") + missing[i];
        throw Error(f.path + ": not an RWKV model (" + list + (missing.size() == 1 ? " is" : " are") + " missing)");
    }

    // Every "blocks.N." counts: a layer with a tensor missing is then an error naming it (at binding), not a
    // smaller model.
    info.n_layer = block_count(f);
    info.n_vocab = dim(f, "emb.weight", 1);
    info.n_embd = dim(f, "emb.weight", 0);
    info.ffn_dim = dim(f, "blocks.0.ffn.key.weight", 1);
    const int64_t C = info.n_embd;
    if (info.n_vocab <= 0 || C <= 0 || info.ffn_dim <= 0) throw Error(f.path + ": model has an empty dimension");

    const auto in_any_layer = [&](const char* suffix) { return any_layer_has(f, info.n_layer, suffix); };
    if (in_any_layer("att.k_k")) {
        info.version = 7;
        info.head_size = dim(f, "blocks.0.att.r_k", 0);  // [H, N] in both layouts
        info.lora_dims[0] = lora_rank(f, "blocks.0.att.w1", rwkvcpp);
        info.lora_dims[1] = lora_rank(f, "blocks.0.att.a1", rwkvcpp);
        info.lora_dims[2] = info.n_layer > 1 ? lora_rank(f, "blocks.1.att.v1", rwkvcpp) : 0;
        info.lora_dims[3] = lora_rank(f, "blocks.0.att.g1", rwkvcpp);
    } else if (in_any_layer("att.time_maa_x")) {
        info.version = 6;
        info.head_size = dim(f, "blocks.0.att.time_faaaa", rwkvcpp ? 1 : 0);
        info.lora_dims[0] = lora_rank(f, "blocks.0.att.time_maa_w1", rwkvcpp, 5);
        info.lora_dims[1] = lora_rank(f, "blocks.0.att.time_decay_w1", rwkvcpp);
    } else if (in_any_layer("att.ln_x.weight")) {
        info.version = 5;
        // 5.2 has a decay per channel; 5.0/5.1 one per head (shape [H] or rwkv.cpp's [H, 1, 1]).
        const Tensor& decay = f.get("blocks.0.att.time_decay");
        const int64_t H = decay.shape.empty() ? 0 : decay.shape[0];
        if (H <= 0 || C % H != 0) throw Error(f.path + ": tensor 'blocks.0.att.time_decay' has an unexpected shape");
        info.head_size = C / H;
        if (decay.numel() == C && H != C)
            info.version_minor = 2;
        else
            info.version_minor = in_any_layer("att.gate.weight") ? 1 : 0;
    } else if (in_any_layer("att.time_first")) {
        info.version = 4;
    } else {
        throw Error(f.path + ": cannot tell the RWKV generation from its tensor names");
    }
    if (info.version >= 5) {
        if (info.head_size <= 0 || C % info.head_size != 0)
            throw Error(f.path + ": head size " + std::to_string(info.head_size) + " does not divide n_embd " +
                        std::to_string(C));
        info.n_head = C / info.head_size;
        // The ln_x eps is a training setting: rwkv.cpp's v5 files were trained with 1e-5, released
        // models with 64e-5 (see ../shared/testdata/rwkvcpp-tiny/README.md).
        info.groupnorm_eps = (rwkvcpp && info.version == 5) ? 1e-5f : 64e-5f;
    }

    if (f.format == "rwkvcpp") check_rwkvcpp_header(f, info);

    std::map<DType, int64_t> by_type;
    for (const auto& [name, t] : f.tensors) {
        by_type[t.source] += t.numel();
        info.n_params += t.numel();
    }
    DType most = DType::F32;
    int64_t best = -1;
    for (const auto& [type, n] : by_type)
        if (n > best) best = n, most = type;
    info.dtype = dtype_name(most);
    if (info.version == 7 && any_layer_has(f, info.n_layer, "ffn.s_emb.weight")) info.variant = "deepembed";
    return info;
}

std::string ModelInfo::version_string() const {
    return version == 5 ? "5." + std::to_string(version_minor) : std::to_string(version);
}

}  // namespace rwkv
