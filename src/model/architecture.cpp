#include "model/architecture.h"

#include <cmath>

#include "core/quant.h"
#include "rwkv/error.h"

namespace rwkv {

namespace {

// The LoRA ranks of the released RWKV-7 models: max(32, round(k · C^p / 32) · 32).
int64_t lora_rule(double k, double p, int64_t C) {
    const int64_t r = static_cast<int64_t>(std::llround(k * std::pow(static_cast<double>(C), p) / 32.0)) * 32;
    return std::max<int64_t>(32, r);
}

void need(bool ok, const std::string& what) {
    if (!ok) throw Error("model shape: " + what);
}

}  // namespace

int64_t TensorSpec::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

ModelShape ModelShape::resolved() const {
    ModelShape s = *this;
    need(s.version >= 4 && s.version <= 7, "version must be 4, 5, 6 or 7");
    need(s.n_layer >= 1 && s.n_layer <= 1024, "layers must be in [1, 1024]");
    need(s.n_embd >= 32 && s.n_embd % 32 == 0 && s.n_embd <= 65536, "n_embd must be a multiple of 32 in [32, 65536]");
    need(s.n_vocab >= 1 && s.n_vocab <= (1 << 24), "vocab must be in [1, 16777216]");
    const int64_t C = s.n_embd;
    if (s.ffn_dim == 0) s.ffn_dim = (s.version == 5 || s.version == 6) ? (C * 7 / 2) / 32 * 32 : 4 * C;
    need(s.ffn_dim >= 32 && s.ffn_dim % 32 == 0, "ffn dim must be a positive multiple of 32");
    if (s.version >= 5) need(s.head_size >= 1 && C % s.head_size == 0, "head size must divide n_embd");
    if (s.version == 6) {
        if (!s.lora_dims[0]) s.lora_dims[0] = 32;
        if (!s.lora_dims[1]) s.lora_dims[1] = 64;
    }
    if (s.version == 7) {
        const int64_t rule[4] = {lora_rule(1.8, 0.5, C), lora_rule(1.8, 0.5, C), lora_rule(1.3, 0.5, C),
                                 lora_rule(0.6, 0.8, C)};
        for (int i = 0; i < 4; ++i)
            if (!s.lora_dims[i]) s.lora_dims[i] = rule[i];
    }
    return s;
}

std::vector<TensorSpec> model_tensors(const ModelShape& in) {
    const ModelShape s = in.resolved();
    const int64_t C = s.n_embd, V = s.n_vocab, F = s.ffn_dim, N = s.head_size, H = s.version >= 5 ? C / N : 0;
    using R = TensorRole;
    std::vector<TensorSpec> t;
    auto add = [&](std::string name, std::vector<int64_t> shape, R role) { t.push_back({std::move(name), std::move(shape), role}); };
    add("emb.weight", {V, C}, R::Embedding);
    for (int64_t l = 0; l < s.n_layer; ++l) {
        const std::string b = "blocks." + std::to_string(l) + ".";
        if (l == 0) {
            add(b + "ln0.weight", {C}, R::NormWeight);
            add(b + "ln0.bias", {C}, R::NormBias);
        }
        add(b + "ln1.weight", {C}, R::NormWeight);
        add(b + "ln1.bias", {C}, R::NormBias);
        add(b + "ln2.weight", {C}, R::NormWeight);
        add(b + "ln2.bias", {C}, R::NormBias);
        const std::string a = b + "att.", f = b + "ffn.";
        if (s.version == 4 || s.version == 5) {
            for (const char* m : {"k", "v", "r"}) add(a + "time_mix_" + m, {1, 1, C}, R::Mix);
            if (s.version == 5) add(a + "time_mix_g", {1, 1, C}, R::Mix);
            if (s.version == 4) {
                add(a + "time_decay", {C}, R::Decay);
                add(a + "time_first", {C}, R::Bonus);
            } else {
                add(a + "time_decay", {H, N}, R::Decay);
                add(a + "time_faaaa", {H, N}, R::Bonus);
            }
        } else if (s.version == 6) {
            for (const char* m : {"x", "w", "k", "v", "r", "g"}) add(a + "time_maa_" + m, {1, 1, C}, R::Mix);
            add(a + "time_maa_w1", {C, 5 * s.lora_dims[0]}, R::Lora);
            add(a + "time_maa_w2", {5, s.lora_dims[0], C}, R::Lora);
            add(a + "time_decay", {1, 1, C}, R::Decay);
            add(a + "time_decay_w1", {C, s.lora_dims[1]}, R::Lora);
            add(a + "time_decay_w2", {s.lora_dims[1], C}, R::Lora);
            add(a + "time_faaaa", {H, N}, R::Bonus);
        } else {
            for (const char* m : {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"}) add(a + m, {1, 1, C}, R::Mix);
            add(a + "w0", {1, 1, C}, R::Decay);
            add(a + "w1", {C, s.lora_dims[0]}, R::Lora);
            add(a + "w2", {s.lora_dims[0], C}, R::Lora);
            add(a + "a0", {1, 1, C}, R::Other);
            add(a + "a1", {C, s.lora_dims[1]}, R::Lora);
            add(a + "a2", {s.lora_dims[1], C}, R::Lora);
            if (l > 0) {
                add(a + "v0", {1, 1, C}, R::Other);
                add(a + "v1", {C, s.lora_dims[2]}, R::Lora);
                add(a + "v2", {s.lora_dims[2], C}, R::Lora);
            }
            add(a + "g1", {C, s.lora_dims[3]}, R::Lora);
            add(a + "g2", {s.lora_dims[3], C}, R::Lora);
            add(a + "k_k", {1, 1, C}, R::Other);
            add(a + "k_a", {1, 1, C}, R::Other);
            add(a + "r_k", {H, N}, R::Bonus);
        }
        add(a + "receptance.weight", {C, C}, R::Projection);
        add(a + "key.weight", {C, C}, R::Projection);
        add(a + "value.weight", {C, C}, R::Projection);
        if (s.version == 5 || s.version == 6) add(a + "gate.weight", {C, C}, R::Projection);
        add(a + "output.weight", {C, C}, R::Projection);
        if (s.version >= 5) {
            add(a + "ln_x.weight", {C}, R::NormWeight);
            add(a + "ln_x.bias", {C}, R::NormBias);
        }
        if (s.version == 7) {
            add(f + "x_k", {1, 1, C}, R::Mix);
        } else if (s.version == 6) {
            add(f + "time_maa_k", {1, 1, C}, R::Mix);
            add(f + "time_maa_r", {1, 1, C}, R::Mix);
        } else {
            add(f + "time_mix_k", {1, 1, C}, R::Mix);
            add(f + "time_mix_r", {1, 1, C}, R::Mix);
        }
        add(f + "key.weight", {F, C}, R::Projection);
        if (s.version != 7) add(f + "receptance.weight", {C, C}, R::Projection);
        add(f + "value.weight", {C, F}, R::Projection);
    }
    add("ln_out.weight", {C}, R::NormWeight);
    add("ln_out.bias", {C}, R::NormBias);
    add("head.weight", {V, C}, R::Projection);
    return t;
}

DType storage_type(const TensorSpec& spec, DType requested) {
    const bool float_type = requested == DType::F32 || requested == DType::F16 || requested == DType::BF16;
    const int64_t cols = spec.shape.empty() ? 1 : spec.shape.back();
    auto fits = [&](DType t) {
        try {
            dtype_row_bytes(t, cols);
            return true;
        } catch (const Error&) {
            return false;
        }
    };
    switch (spec.role) {
        case TensorRole::Projection:
            if (fits(requested)) return requested;
            return fits(DType::Q8_0) && !float_type ? DType::Q8_0 : DType::F16;
        case TensorRole::Embedding: return float_type ? requested : DType::F16;
        // Released v6/v7 checkpoints hold their LoRAs in bf16 and compute with them widened, so bf16 loses
        // nothing a real model has and halves what these matrices cost per token.
        case TensorRole::Lora: return requested == DType::F32 ? DType::F32 : DType::BF16;
        default: return DType::F32;
    }
}

void random_rows(const TensorSpec& spec, const ModelShape& shape, uint64_t seed, int64_t row_begin, int64_t rows,
                 float* out) {
    const int64_t cols = spec.shape.empty() ? 1 : spec.shape.back();
    // splitmix64 over (tensor name, element index): any row can be produced on its own, so large
    // models are generated and written a tensor slice at a time.
    uint64_t name_hash = seed ^ 0x9e3779b97f4a7c15ull;
    for (char ch : spec.name) name_hash = (name_hash ^ static_cast<unsigned char>(ch)) * 0x100000001b3ull;
    auto uniform = [&](uint64_t i) {  // in [-1, 1)
        uint64_t z = name_hash + (i + 1) * 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        return static_cast<float>(static_cast<double>(z >> 11) * 0x1.0p-52 - 1.0);
    };
    const float in_scale = 1.0f / std::sqrt(static_cast<float>(cols));  // keeps W·x of order 1
    const uint64_t first = static_cast<uint64_t>(row_begin * cols);
    const int64_t n = rows * cols;
    for (int64_t i = 0; i < n; ++i) {
        const float u = uniform(first + static_cast<uint64_t>(i));
        float v = 0;
        switch (spec.role) {
            case TensorRole::Projection: v = u * in_scale * 1.7f; break;  // unit variance rows
            case TensorRole::Embedding: v = u; break;
            case TensorRole::Lora: v = u * in_scale; break;
            case TensorRole::NormWeight: v = 1.0f + 0.1f * u; break;
            case TensorRole::NormBias: v = 0.1f * u; break;
            case TensorRole::Mix: v = 0.5f + 0.45f * u; break;
            case TensorRole::Decay: v = shape.version == 7 ? -1.0f + u : -3.0f + 2.0f * u; break;
            case TensorRole::Bonus: v = 0.5f * u; break;
            case TensorRole::Other: v = 0.5f * u; break;
        }
        out[i] = v;
    }
}

}  // namespace rwkv
