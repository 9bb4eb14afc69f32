#include "model/import/hf_rwkv7.h"

#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "rwkv/error.h"

namespace rwkv {

namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

enum class Transform { None, Transpose, Vector1x1xC };

// fla-hub names within layer i ("model.layers.i." + fla) and the official ones ("blocks.i." + official).
struct Rename {
    std::string_view fla, official;
    Transform transform;
};
constexpr Rename kLayer[] = {
    {"attn_norm.weight", "ln1.weight", Transform::None},
    {"attn_norm.bias", "ln1.bias", Transform::None},
    {"ffn_norm.weight", "ln2.weight", Transform::None},
    {"ffn_norm.bias", "ln2.bias", Transform::None},
    {"pre_norm.weight", "ln0.weight", Transform::None},
    {"pre_norm.bias", "ln0.bias", Transform::None},
    {"attn.x_r", "att.x_r", Transform::None},
    {"attn.x_w", "att.x_w", Transform::None},
    {"attn.x_k", "att.x_k", Transform::None},
    {"attn.x_v", "att.x_v", Transform::None},
    {"attn.x_a", "att.x_a", Transform::None},
    {"attn.x_g", "att.x_g", Transform::None},
    {"attn.w_lora.lora.0.weight", "att.w1", Transform::Transpose},
    {"attn.w_lora.lora.2.weight", "att.w2", Transform::Transpose},
    {"attn.w_lora.lora.2.bias", "att.w0", Transform::Vector1x1xC},
    {"attn.a_lora.lora.0.weight", "att.a1", Transform::Transpose},
    {"attn.a_lora.lora.2.weight", "att.a2", Transform::Transpose},
    {"attn.a_lora.lora.2.bias", "att.a0", Transform::Vector1x1xC},
    {"attn.v_lora.lora.0.weight", "att.v1", Transform::Transpose},
    {"attn.v_lora.lora.2.weight", "att.v2", Transform::Transpose},
    {"attn.v_lora.lora.2.bias", "att.v0", Transform::Vector1x1xC},
    {"attn.g_lora.lora.0.weight", "att.g1", Transform::Transpose},
    {"attn.g_lora.lora.2.weight", "att.g2", Transform::Transpose},
    {"attn.k_k", "att.k_k", Transform::Vector1x1xC},
    {"attn.k_a", "att.k_a", Transform::Vector1x1xC},
    {"attn.r_k", "att.r_k", Transform::None},
    {"attn.r_proj.weight", "att.receptance.weight", Transform::None},
    {"attn.k_proj.weight", "att.key.weight", Transform::None},
    {"attn.v_proj.weight", "att.value.weight", Transform::None},
    {"attn.o_proj.weight", "att.output.weight", Transform::None},
    {"attn.g_norm.weight", "att.ln_x.weight", Transform::None},
    {"attn.g_norm.bias", "att.ln_x.bias", Transform::None},
    {"ffn.x_k", "ffn.x_k", Transform::Vector1x1xC},
    {"ffn.key.weight", "ffn.key.weight", Transform::None},
    {"ffn.value.weight", "ffn.value.weight", Transform::None},
};
constexpr std::pair<std::string_view, std::string_view> kTop[] = {
    {"model.embeddings.weight", "emb.weight"},
    {"model.norm.weight", "ln_out.weight"},
    {"model.norm.bias", "ln_out.bias"},
    {"lm_head.weight", "head.weight"},
};

void apply(const std::string& path, const std::string& name, Tensor& t, Transform how) {
    if (how == Transform::None) return;
    if (t.in_place()) t.data = t.to_float(), t.raw = nullptr, t.raw_bytes = 0, t.storage.reset();
    if (how == Transform::Vector1x1xC) {
        if (t.shape.size() != 1) throw Error(path + ": '" + name + "' has shape " + t.shape_string() + "; fla-hub's is [C]");
        t.shape = {1, 1, t.shape[0]};
        return;
    }
    if (t.shape.size() != 2) throw Error(path + ": '" + name + "' has shape " + t.shape_string() + "; fla-hub's is 2-D");
    const int64_t rows = t.shape[0], cols = t.shape[1];
    std::vector<float> out(t.data.size());
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) out[static_cast<size_t>(c * rows + r)] = t.data[static_cast<size_t>(r * cols + c)];
    t.data = std::move(out);
    t.shape = {cols, rows};
}

// "model.layers.N.rest" -> (N, rest); N = -1 when the name is not a layer's.
std::pair<int64_t, std::string_view> layer_of(std::string_view name) {
    constexpr std::string_view head = "model.layers.";
    if (!starts_with(name, head)) return {-1, {}};
    const size_t dot = name.find('.', head.size());
    const std::string_view digits = name.substr(head.size(), dot == std::string_view::npos ? 0 : dot - head.size());
    if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string_view::npos) return {-1, {}};
    return {std::stoll(std::string(digits)), name.substr(dot + 1)};
}

void import_fla(TensorFile& file) {
    std::map<std::string, Tensor> out;
    for (auto& [name, t] : file.tensors) {
        std::string official;
        Transform how = Transform::None;
        for (const auto& [fla, off] : kTop)
            if (name == fla) official = off;
        if (official.empty()) {
            const auto [layer, rest] = layer_of(name);
            if (layer >= 0)
                for (const Rename& r : kLayer)
                    if (rest == r.fla) {
                        official = "blocks." + std::to_string(layer) + "." + std::string(r.official);
                        how = r.transform;
                    }
        }
        if (official.empty())
            throw Error(file.path + ": '" + name + "' is not a tensor of fla-hub's RWKV-7 layout (RWKV7ForCausalLM)");
        apply(file.path, name, t, how);
        out.emplace(std::move(official), std::move(t));
    }
    file.tensors = std::move(out);
    file.metadata["names"] = "fla-hub";
}

void import_transformers_rwkv(TensorFile& file) {
    std::map<std::string, Tensor> out;
    for (auto& [name, t] : file.tensors) {
        if (name == "head.weight") {
            out.emplace(name, std::move(t));
        } else if (starts_with(name, "model.")) {
            out.emplace(name.substr(6), std::move(t));
        } else {
            throw Error(file.path + ": '" + name + "' is not a tensor of transformers-rwkv's layout (model.* and head.weight)");
        }
    }
    file.tensors = std::move(out);
    file.metadata["names"] = "transformers-rwkv";
}

}  // namespace

void import_hf_rwkv7(TensorFile& file) {
    if (file.has("model.embeddings.weight"))
        import_fla(file);
    else if (file.has("model.emb.weight"))
        import_transformers_rwkv(file);
}

}  // namespace rwkv
