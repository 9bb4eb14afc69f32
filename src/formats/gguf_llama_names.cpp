// llama.cpp's RWKV-6 / RWKV-7 GGUF layout back to the official checkpoint layout.
//
// Sources (llama.cpp, 2025): convert_hf_to_gguf.py (Rwkv6Model, Rwkv7Model: modify_tensors), gguf-py/gguf/
// tensor_mapping.py and constants.py (names, metadata keys), src/llama-model.cpp (the shapes llama.cpp loads,
// in ggml order). The converter reads Hugging Face checkpoints, which are renamed official ones: RWKV-6 via
// convert_rwkv6_checkpoint_to_hf.py (emb -> rwkv.embeddings, blocks.0.ln0 -> rwkv.blocks.0.pre_ln, att ->
// attention, ffn -> feed_forward; no value changes), RWKV-7 via fla's utils/convert_from_rwkv7.py (renames,
// LoRA matrices transposed into nn.Linear layout, [1,1,C] vectors squeezed) or an official-named HF port.
// Either way the GGUF content is the same, so what is undone below is relative to the official .pth.
// Shapes are PyTorch order (GGUF dims reversed); C = n_embd, D = LoRA rank, H x N = heads x head size.
//
// Both generations
//   token_embd.weight [V,C]                 -> emb.weight
//   token_embd_norm.{weight,bias} [C]       -> blocks.0.ln0.{weight,bias}
//   blk.i.attn_norm.{weight,bias}           -> blocks.i.ln1.*        blk.i.attn_norm_2.* -> blocks.i.ln2.*
//   blk.i.time_mix_ln.{weight,bias}         -> blocks.i.att.ln_x.*
//   blk.i.time_mix_{key,value,receptance}.weight, time_mix_output.weight -> att.{key,value,receptance,output}.weight
//   output_norm.{weight,bias}               -> ln_out.*              output.weight -> head.weight
// RWKV-6 (general.architecture "rwkv6")
//   time_mix_lerp_x.weight [C]              -> att.time_maa_x [1,1,C]          (converter squeezed it)
//   time_mix_lerp_fused.weight [5,1,1,C]    -> att.time_maa_{w,k,v,r,g} [1,1,C] (stacked in that order), or in
//     files converted before the fusion: time_mix_lerp_{w,k,v,r,g}.weight [C] each
//   time_mix_w1.weight [5D,C]               -> att.time_maa_w1 [C,5D]          (transposed)
//   time_mix_w2.weight [5,C,D]              -> att.time_maa_w2 [5,D,C]         (permute(0,2,1))
//   time_mix_decay.weight [C]               -> att.time_decay [1,1,C]          (raw: no sign or exp change)
//   time_mix_decay_w1.weight [D2,C]         -> att.time_decay_w1 [C,D2]        (transposed)
//   time_mix_decay_w2.weight [C,D2]         -> att.time_decay_w2 [D2,C]        (transposed)
//   time_mix_first.weight [H,N]             -> att.time_faaaa [H,N]            (as stored)
//   time_mix_gate.weight                    -> att.gate.weight
//   time_mix_output.weight, channel_mix_value.weight: divided by 2^(i / rescale_every_n_layers) (metadata
//     rwkv6.rescale_every_n_layers, 6 in the HF configs); llama.cpp halves the residual stream every that many
//     layers instead. Multiplied back here: exact, powers of two, unless the division pushed a value into
//     the subnormal range (tiny weights in an fp16 file), whose lost bits cannot come back.
//   channel_mix_lerp_{k,r}.weight [C]       -> ffn.time_maa_{k,r} [1,1,C]
//   channel_mix_{key,receptance,value}.weight -> ffn.{key,receptance,value}.weight
// RWKV-7 (general.architecture "rwkv7")
//   time_mix_lerp_fused.weight [6,1,1,C]    -> att.x_{r,w,k,v,a,g} [1,1,C]     (stacked in that order; 5 rows,
//     without g, for models without a gate)
//   time_mix_{w0,a0,v0}.weight [C]          -> att.{w0,a0,v0} [1,1,C]
//   time_mix_{w,a,v,g}1.weight [D,C]        -> att.{w,a,v,g}1 [C,D]            (transposed)
//   time_mix_{w,a,v,g}2.weight [C,D]        -> att.{w,a,v,g}2 [D,C]            (transposed)
//   time_mix_k_k.weight, time_mix_k_a.weight [C] -> att.k_k, att.k_a [1,1,C]
//   time_mix_r_k.weight [H*N]               -> att.r_k [H,N]  (flattened; N from rwkv7.wkv.head_size)
//   blk.0.time_mix_v{0,1,2}.weight          -> dropped: the converter discards any layer-0 v0/v1/v2 and
//     writes copies of a0/a1/a2 there so llama.cpp finds the tensors; the official model never uses them.
//     So a checkpoint that carried layer-0 v0/v1/v2 (reference case v7-fp32) loses them; nothing reads them.
//   channel_mix_lerp_k.weight [C]           -> ffn.x_k [1,1,C]
//   channel_mix_{key,value}.weight          -> ffn.{key,value}.weight
// Not reconstructed, because they are not official RWKV: rwkv6qwen2 and arwkv7 (hybrids on Qwen layers).
// Quantized files come back dequantized, not as the original values; f32/f16/bf16 files come back exact.
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "rwkv/error.h"
#include "rwkv/gguf.h"

namespace rwkv {
namespace {

enum class Op {
    Same,        // rename only
    Vector,      // a vector (any shape with one non-1 dimension) -> [1,1,C]
    Transpose,   // 2-D transpose
    SwapInner,   // [a,b,c] -> [a,c,b]
    HeadMatrix,  // [H*N] -> [H,N]
    Rescale,     // times 2^(layer / rescale_every_n_layers)
    Split,       // the fused token-shift mixes
};

struct Rule {
    const char* gguf;      // after "blk.i." for block tensors
    const char* official;  // after "blocks.i." for block tensors; for Split, the prefix the parts get
    Op op;
    bool drop_on_layer0 = false;
};

// Global tensors of both generations.
const Rule kGlobal[] = {
    {"token_embd.weight", "emb.weight", Op::Same},
    {"token_embd_norm.weight", "blocks.0.ln0.weight", Op::Same},
    {"token_embd_norm.bias", "blocks.0.ln0.bias", Op::Same},
    {"output_norm.weight", "ln_out.weight", Op::Same},
    {"output_norm.bias", "ln_out.bias", Op::Same},
    {"output.weight", "head.weight", Op::Same},
};

const Rule kBlockCommon[] = {
    {"attn_norm.weight", "ln1.weight", Op::Same},
    {"attn_norm.bias", "ln1.bias", Op::Same},
    {"attn_norm_2.weight", "ln2.weight", Op::Same},
    {"attn_norm_2.bias", "ln2.bias", Op::Same},
    {"time_mix_ln.weight", "att.ln_x.weight", Op::Same},
    {"time_mix_ln.bias", "att.ln_x.bias", Op::Same},
    {"time_mix_key.weight", "att.key.weight", Op::Same},
    {"time_mix_value.weight", "att.value.weight", Op::Same},
    {"time_mix_receptance.weight", "att.receptance.weight", Op::Same},
    {"channel_mix_key.weight", "ffn.key.weight", Op::Same},
};

const Rule kBlockV6[] = {
    {"time_mix_lerp_x.weight", "att.time_maa_x", Op::Vector},
    {"time_mix_lerp_fused.weight", "att.time_maa_", Op::Split},
    {"time_mix_lerp_w.weight", "att.time_maa_w", Op::Vector},
    {"time_mix_lerp_k.weight", "att.time_maa_k", Op::Vector},
    {"time_mix_lerp_v.weight", "att.time_maa_v", Op::Vector},
    {"time_mix_lerp_r.weight", "att.time_maa_r", Op::Vector},
    {"time_mix_lerp_g.weight", "att.time_maa_g", Op::Vector},
    {"time_mix_w1.weight", "att.time_maa_w1", Op::Transpose},
    {"time_mix_w2.weight", "att.time_maa_w2", Op::SwapInner},
    {"time_mix_decay.weight", "att.time_decay", Op::Vector},
    {"time_mix_decay_w1.weight", "att.time_decay_w1", Op::Transpose},
    {"time_mix_decay_w2.weight", "att.time_decay_w2", Op::Transpose},
    {"time_mix_first.weight", "att.time_faaaa", Op::Same},
    {"time_mix_gate.weight", "att.gate.weight", Op::Same},
    {"time_mix_output.weight", "att.output.weight", Op::Rescale},
    {"channel_mix_lerp_k.weight", "ffn.time_maa_k", Op::Vector},
    {"channel_mix_lerp_r.weight", "ffn.time_maa_r", Op::Vector},
    {"channel_mix_receptance.weight", "ffn.receptance.weight", Op::Same},
    {"channel_mix_value.weight", "ffn.value.weight", Op::Rescale},
};
const char* const kLerpV6[] = {"w", "k", "v", "r", "g"};

const Rule kBlockV7[] = {
    {"time_mix_lerp_fused.weight", "att.x_", Op::Split},
    {"time_mix_w0.weight", "att.w0", Op::Vector},
    {"time_mix_w1.weight", "att.w1", Op::Transpose},
    {"time_mix_w2.weight", "att.w2", Op::Transpose},
    {"time_mix_a0.weight", "att.a0", Op::Vector},
    {"time_mix_a1.weight", "att.a1", Op::Transpose},
    {"time_mix_a2.weight", "att.a2", Op::Transpose},
    {"time_mix_v0.weight", "att.v0", Op::Vector, true},
    {"time_mix_v1.weight", "att.v1", Op::Transpose, true},
    {"time_mix_v2.weight", "att.v2", Op::Transpose, true},
    {"time_mix_g1.weight", "att.g1", Op::Transpose},
    {"time_mix_g2.weight", "att.g2", Op::Transpose},
    {"time_mix_k_k.weight", "att.k_k", Op::Vector},
    {"time_mix_k_a.weight", "att.k_a", Op::Vector},
    {"time_mix_r_k.weight", "att.r_k", Op::HeadMatrix},
    {"time_mix_output.weight", "att.output.weight", Op::Same},
    {"channel_mix_lerp_k.weight", "ffn.x_k", Op::Vector},
    {"channel_mix_value.weight", "ffn.value.weight", Op::Same},
};
const char* const kLerpV7[] = {"r", "w", "k", "v", "a", "g"};

class Mapper {
public:
    explicit Mapper(TensorFile& f) : f_(f) {
        const std::string arch = meta("general.architecture");
        v7_ = arch == "rwkv7";
        if (v7_) head_size_ = meta_int("rwkv7.wkv.head_size", -1);
        else rescale_every_ = meta_int("rwkv6.rescale_every_n_layers", 0);
    }

    void run() {
        for (auto& [name, t] : f_.tensors) map(name, std::move(t));
        f_.tensors = std::move(out_);
    }

private:
    [[noreturn]] void fail(const std::string& what) const { throw Error(f_.path + ": " + what); }

    std::string meta(const std::string& key) const {
        auto it = f_.metadata.find(key);
        return it == f_.metadata.end() ? std::string() : it->second;
    }

    int64_t meta_int(const std::string& key, int64_t fallback) const {
        const std::string s = meta(key);
        if (s.empty()) return fallback;
        try {
            size_t used = 0;
            const long long v = std::stoll(s, &used);
            if (used == s.size() && v >= 0) return v;
        } catch (const std::exception&) {
        }
        fail("metadata '" + key + "' is '" + s + "', not a non-negative integer");
    }

    void map(const std::string& name, Tensor t) {
        for (const Rule& r : kGlobal)
            if (name == r.gguf) return put(r.official, std::move(t), name);
        int layer = -1;
        std::string rest;
        if (!split_block(name, &layer, &rest)) fail("tensor '" + name + "' is not a llama.cpp RWKV tensor name");
        const std::string prefix = "blocks." + std::to_string(layer) + ".";
        for (const Rule& r : kBlockCommon)
            if (rest == r.gguf) return put(prefix + r.official, std::move(t), name);
        const Rule* begin = v7_ ? std::begin(kBlockV7) : std::begin(kBlockV6);
        const Rule* end = v7_ ? std::end(kBlockV7) : std::end(kBlockV6);
        for (const Rule* r = begin; r != end; ++r) {
            if (rest != r->gguf) continue;
            if (r->drop_on_layer0 && layer == 0) return;
            return apply(*r, prefix, layer, name, std::move(t));
        }
        fail("tensor '" + name + "' is not a known " + (v7_ ? "RWKV-7" : "RWKV-6") + " tensor");
    }

    // "blk.<i>.<rest>" with i a plain decimal layer number.
    static bool split_block(const std::string& name, int* layer, std::string* rest) {
        if (name.rfind("blk.", 0) != 0) return false;
        size_t i = 4;
        int64_t v = 0;
        while (i < name.size() && name[i] >= '0' && name[i] <= '9' && v < 1'000'000) v = v * 10 + (name[i++] - '0');
        if (i == 4 || i >= name.size() || name[i] != '.' || v >= 1'000'000) return false;
        *layer = static_cast<int>(v);
        *rest = name.substr(i + 1);
        return true;
    }

    void apply(const Rule& r, const std::string& prefix, int layer, const std::string& name, Tensor t) {
        const std::string target = prefix + r.official;
        switch (r.op) {
            case Op::Same: return put(target, std::move(t), name);
            case Op::Vector: return put(target, as_vector(std::move(t), name), name);
            case Op::Transpose: return put(target, transpose(std::move(t), name), name);
            case Op::SwapInner: return put(target, swap_inner(std::move(t), name), name);
            case Op::HeadMatrix: return put(target, head_matrix(std::move(t), name), name);
            case Op::Rescale: return put(target, rescale(std::move(t), layer, name), name);
            case Op::Split: return split(prefix + r.official, t, name);
        }
    }

    void put(const std::string& official, Tensor t, const std::string& from) {
        if (!out_.emplace(official, std::move(t)).second)
            fail("tensor '" + from + "' maps to '" + official + "', which another tensor already gave");
    }

    Tensor as_vector(Tensor t, const std::string& name) const {
        int non_unit = 0;
        for (int64_t d : t.shape) non_unit += d != 1;
        if (non_unit > 1) fail("tensor '" + name + "' " + t.shape_string() + " should be a vector");
        t.shape = {1, 1, t.numel()};
        return t;
    }

    Tensor transpose(Tensor t, const std::string& name) const {
        if (t.shape.size() != 2) fail("tensor '" + name + "' " + t.shape_string() + " should be a matrix");
        const int64_t rows = t.shape[0], cols = t.shape[1];
        std::vector<float> d(t.data.size());
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < cols; ++j) d[j * rows + i] = t.data[i * cols + j];
        t.data = std::move(d);
        t.shape = {cols, rows};
        return t;
    }

    Tensor swap_inner(Tensor t, const std::string& name) const {
        if (t.shape.size() != 3) fail("tensor '" + name + "' " + t.shape_string() + " should have 3 dimensions");
        const int64_t a = t.shape[0], b = t.shape[1], c = t.shape[2];
        std::vector<float> d(t.data.size());
        for (int64_t i = 0; i < a; ++i)
            for (int64_t j = 0; j < b; ++j)
                for (int64_t k = 0; k < c; ++k) d[(i * c + k) * b + j] = t.data[(i * b + j) * c + k];
        t.data = std::move(d);
        t.shape = {a, c, b};
        return t;
    }

    Tensor head_matrix(Tensor t, const std::string& name) const {
        const int64_t n = t.numel();
        if (head_size_ <= 0) fail("metadata 'rwkv7.wkv.head_size' is missing, needed to shape '" + name + "'");
        if (n % head_size_ != 0)
            fail("tensor '" + name + "' of " + std::to_string(n) + " values is not whole heads of " +
                 std::to_string(head_size_));
        t.shape = {n / head_size_, head_size_};
        return t;
    }

    Tensor rescale(Tensor t, int layer, const std::string& name) const {
        if (rescale_every_ <= 0) return t;
        const int64_t e = layer / rescale_every_;
        if (e > 100) fail("tensor '" + name + "': rescale exponent " + std::to_string(e) + " is implausible");
        const float factor = std::ldexp(1.0f, static_cast<int>(e));
        for (float& v : t.data) v *= factor;
        return t;
    }

    // The fused mixes: rows along the outermost dimension, one per part, each a [1,1,C] vector.
    void split(const std::string& prefix, const Tensor& t, const std::string& name) {
        const char* const* parts = v7_ ? kLerpV7 : kLerpV6;
        const int64_t want = v7_ ? 6 : 5;
        const int64_t count = t.shape.empty() ? 0 : t.shape[0];
        // RWKV-7 models without a gate (wkv_has_gate false) fuse five, dropping g, the last.
        if (!(count == want || (v7_ && count == 5)) || t.shape.size() < 2)
            fail("tensor '" + name + "' " + t.shape_string() + " should stack " + std::to_string(want) + " vectors");
        const int64_t c = t.numel() / count;
        for (int64_t i = 0; i < count; ++i) {
            Tensor part;
            part.shape = {1, 1, c};
            part.source = t.source;
            part.data.assign(t.data.begin() + i * c, t.data.begin() + (i + 1) * c);
            put(prefix + parts[i], std::move(part), name);
        }
    }

    TensorFile& f_;
    bool v7_ = false;
    int64_t head_size_ = -1;
    int64_t rescale_every_ = 0;
    std::map<std::string, Tensor> out_;
};

}  // namespace

bool gguf_has_llama_names(const TensorFile& f) {
    auto arch = f.metadata.find("general.architecture");
    if (arch == f.metadata.end() || (arch->second != "rwkv6" && arch->second != "rwkv7")) return false;
    return f.has("token_embd.weight");
}

void gguf_to_official_names(TensorFile& f) {
    auto arch = f.metadata.find("general.architecture");
    const std::string a = arch == f.metadata.end() ? "(none)" : arch->second;
    if (a == "rwkv6qwen2" || a == "arwkv7")
        throw Error(f.path + ": general.architecture '" + a +
                    "' is a hybrid on Qwen layers, with no official RWKV checkpoint layout to map to");
    if (!gguf_has_llama_names(f))
        throw Error(f.path + ": not a llama.cpp RWKV-6/RWKV-7 GGUF (general.architecture '" + a +
                    "', token_embd.weight " + (f.has("token_embd.weight") ? "present" : "absent") + ")");
    Mapper(f).run();
}

}  // namespace rwkv
