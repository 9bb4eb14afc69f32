#include "llama_convert.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "core/quant.h"

namespace rwkv::testing {
namespace {

// What the converter does to one tensor, forwards.
Tensor squeeze(Tensor t) {
    std::vector<int64_t> s;
    for (int64_t d : t.shape)
        if (d != 1) s.push_back(d);
    t.shape = s;
    return t;
}

Tensor transpose(const Tensor& t) {
    if (t.shape.size() != 2) throw std::runtime_error("transpose of " + t.shape_string());
    Tensor o = t;
    const int64_t r = t.shape[0], c = t.shape[1];
    for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < c; ++j) o.data[j * r + i] = t.data[i * c + j];
    o.shape = {c, r};
    return o;
}

Tensor permute_021(const Tensor& t) {
    const int64_t a = t.shape[0], b = t.shape[1], c = t.shape[2];
    Tensor o = t;
    for (int64_t i = 0; i < a; ++i)
        for (int64_t j = 0; j < b; ++j)
            for (int64_t k = 0; k < c; ++k) o.data[(i * c + k) * b + j] = t.data[(i * b + j) * c + k];
    o.shape = {a, c, b};
    return o;
}

Tensor stack(const std::vector<const Tensor*>& parts) {  // each [1,1,C] -> [n,1,1,C]
    Tensor o;
    o.source = parts[0]->source;
    o.shape = {static_cast<int64_t>(parts.size()), 1, 1, parts[0]->numel()};
    for (const Tensor* p : parts) o.data.insert(o.data.end(), p->data.begin(), p->data.end());
    return o;
}

Tensor scaled(Tensor t, float f) {
    for (float& v : t.data) v /= f;
    return t;
}

// gguf-py keeps 1-D tensors and a few small RWKV ones in f32; the rest in the output type (here: as stored).
GgufTensorInput encode(const std::string& name, const Tensor& t, bool force_f32) {
    GgufTensorInput in;
    in.name = name;
    in.shape = t.shape;
    in.type = (force_f32 || t.shape.size() <= 1) ? DType::F32 : t.source;
    in.bytes.resize(dtype_row_bytes(in.type, t.numel()));
    quantize_row(in.type, t.data.data(), in.bytes.data(), t.numel());
    return in;
}

int count_layers(const TensorFile& f) {
    int n = 0;
    while (f.has("blocks." + std::to_string(n) + ".ln1.weight")) ++n;
    return n;
}

}  // namespace

GgufWriterInput llama_convert(const TensorFile& f, int version, const LlamaConvertOptions& opt) {
    const std::string arch = version == 7 ? "rwkv7" : "rwkv6";
    const int layers = count_layers(f);
    const int64_t C = f.get("emb.weight").shape[1];
    GgufWriterInput w;
    w.metadata.emplace_back("general.architecture", arch);
    w.metadata.emplace_back("general.name", "reference");
    w.metadata.emplace_back(arch + ".context_length", uint32_t(1048576));
    w.metadata.emplace_back(arch + ".embedding_length", uint32_t(C));
    w.metadata.emplace_back(arch + ".block_count", uint32_t(layers));
    w.metadata.emplace_back(arch + ".attention.layer_norm_epsilon", 1e-5f);
    w.metadata.emplace_back(arch + ".wkv.head_size", uint32_t(opt.head_size));
    w.metadata.emplace_back(arch + ".feed_forward_length", uint32_t(f.get("blocks.0.ffn.key.weight").shape[0]));
    if (version == 6) w.metadata.emplace_back(arch + ".rescale_every_n_layers", uint32_t(opt.rescale_every));
    w.metadata.emplace_back(arch + ".attention.head_count", uint32_t(0));
    w.metadata.emplace_back("tokenizer.ggml.model", "rwkv");
    w.metadata.emplace_back("tokenizer.ggml.tokens", GgufValue::array(std::vector<std::string>{"<s>", "a", "\xe4\xb8\x80"}));

    auto put = [&](const std::string& name, const Tensor& t, bool force_f32 = false) {
        w.tensors.push_back(encode(name, t, force_f32));
    };
    put("token_embd.weight", f.get("emb.weight"));
    put("token_embd_norm.weight", f.get("blocks.0.ln0.weight"));
    put("token_embd_norm.bias", f.get("blocks.0.ln0.bias"));
    for (int i = 0; i < layers; ++i) {
        const std::string b = "blocks." + std::to_string(i) + ".";
        const std::string g = "blk." + std::to_string(i) + ".";
        auto src = [&](const std::string& n) -> const Tensor& { return f.get(b + n); };
        put(g + "attn_norm.weight", src("ln1.weight"));
        put(g + "attn_norm.bias", src("ln1.bias"));
        put(g + "attn_norm_2.weight", src("ln2.weight"));
        put(g + "attn_norm_2.bias", src("ln2.bias"));
        put(g + "time_mix_key.weight", src("att.key.weight"));
        put(g + "time_mix_value.weight", src("att.value.weight"));
        put(g + "time_mix_receptance.weight", src("att.receptance.weight"));
        put(g + "time_mix_ln.weight", src("att.ln_x.weight"));
        put(g + "time_mix_ln.bias", src("att.ln_x.bias"));
        put(g + "channel_mix_key.weight", src("ffn.key.weight"));
        if (version == 6) {
            const float div = opt.rescale_every > 0 ? static_cast<float>(1 << (i / opt.rescale_every)) : 1.0f;
            put(g + "time_mix_lerp_x.weight", squeeze(src("att.time_maa_x")));
            if (opt.fuse_lerp) {
                std::vector<const Tensor*> parts;
                for (const char* p : {"w", "k", "v", "r", "g"}) parts.push_back(&src(std::string("att.time_maa_") + p));
                put(g + "time_mix_lerp_fused.weight", stack(parts), true);
            } else {
                for (const char* p : {"w", "k", "v", "r", "g"})
                    put(g + "time_mix_lerp_" + p + ".weight", squeeze(src(std::string("att.time_maa_") + p)));
            }
            put(g + "time_mix_w1.weight", transpose(src("att.time_maa_w1")), true);
            put(g + "time_mix_w2.weight", permute_021(src("att.time_maa_w2")), true);
            put(g + "time_mix_decay.weight", squeeze(src("att.time_decay")));
            put(g + "time_mix_decay_w1.weight", transpose(src("att.time_decay_w1")), true);
            put(g + "time_mix_decay_w2.weight", transpose(src("att.time_decay_w2")), true);
            put(g + "time_mix_first.weight", src("att.time_faaaa"), true);
            put(g + "time_mix_gate.weight", src("att.gate.weight"));
            put(g + "time_mix_output.weight", scaled(src("att.output.weight"), div));
            put(g + "channel_mix_lerp_k.weight", squeeze(src("ffn.time_maa_k")));
            put(g + "channel_mix_lerp_r.weight", squeeze(src("ffn.time_maa_r")));
            put(g + "channel_mix_receptance.weight", src("ffn.receptance.weight"));
            put(g + "channel_mix_value.weight", scaled(src("ffn.value.weight"), div));
        } else {
            const bool gate = f.has(b + "att.x_g");
            std::vector<const Tensor*> parts;
            for (const char* p : {"r", "w", "k", "v", "a", "g"})
                if (std::string(p) != "g" || gate) parts.push_back(&src(std::string("att.x_") + p));
            put(g + "time_mix_lerp_fused.weight", stack(parts), true);
            put(g + "time_mix_w0.weight", squeeze(src("att.w0")));
            put(g + "time_mix_w1.weight", transpose(src("att.w1")), true);
            put(g + "time_mix_w2.weight", transpose(src("att.w2")), true);
            // Layer 0: whatever v0/v1/v2 the checkpoint has are dropped and a0/a1/a2 copied in their place.
            for (const char* lora : {"a", "v"}) {
                const std::string from = (i == 0) ? "a" : lora;
                put(g + "time_mix_" + lora + "0.weight", squeeze(src("att." + from + "0")));
                put(g + "time_mix_" + lora + "1.weight", transpose(src("att." + from + "1")));
                put(g + "time_mix_" + lora + "2.weight", transpose(src("att." + from + "2")));
            }
            if (gate) {
                put(g + "time_mix_g1.weight", transpose(src("att.g1")));
                put(g + "time_mix_g2.weight", transpose(src("att.g2")));
            }
            put(g + "time_mix_k_k.weight", squeeze(src("att.k_k")));
            put(g + "time_mix_k_a.weight", squeeze(src("att.k_a")));
            Tensor rk = src("att.r_k");
            rk.shape = {rk.numel()};  // flatten()
            put(g + "time_mix_r_k.weight", rk);
            put(g + "time_mix_output.weight", src("att.output.weight"));
            put(g + "channel_mix_lerp_k.weight", squeeze(src("ffn.x_k")));
            put(g + "channel_mix_value.weight", src("ffn.value.weight"));
        }
    }
    put("output_norm.weight", f.get("ln_out.weight"));
    put("output_norm.bias", f.get("ln_out.bias"));
    put("output.weight", f.get("head.weight"));
    return w;
}

}  // namespace rwkv::testing
