// RWKV-5 (Eagle): multi-head matrix-valued state, GroupNorm ln_x, and from 5.1 a SiLU gate.
// 5.0/5.1 have one decay and bonus per head; 5.2 one per channel.
#include <algorithm>
#include <cmath>

#include "kernels/norm.h"
#include "kernels/wkv.h"
#include "model/block_model.h"
#include "model/generations.h"

namespace rwkv {
namespace {

struct TimeMix5 {
    std::vector<float> mu_k, mu_v, mu_r, mu_g;  // fractions of the previous token
    std::vector<float> w, u;                    // per channel: decay exp(−exp(time_decay)), bonus
    Matrix key, value, receptance, gate, output;
    NormWeights ln_x;
};

// A per-head [H] or per-channel [H, N] parameter, given back per channel.
std::vector<float> per_channel(Binder& b, const std::string& name, int64_t H, int64_t N) {
    if (b.has(name) && b.tensor(name).numel() == H * N) return b.heads(name, H, N);
    std::vector<float> head = b.heads(name, H, 1);
    std::vector<float> out(static_cast<size_t>(H * N));
    for (int64_t i = 0; i < H * N; ++i) out[i] = head[i / N];
    return out;
}

std::vector<float> mix_fraction(Binder& b, const std::string& name, int64_t C) {
    std::vector<float> mu = b.vec(name, C);
    for (float& m : mu) m = 1.0f - m;
    return mu;
}

class ModelV5 final : public BlockModel {
public:
    ModelV5(ModelInfo info, const LoadOptions& options, Binder& b) : BlockModel(std::move(info), options, b) {
        const int64_t C = info_.n_embd, H = info_.n_head, N = info_.head_size;
        const bool rwkvcpp = info_.layout == "rwkvcpp";
        const bool bonus_faaaa = b.any_layer_has(info_.n_layer, "att.time_faaaa");  // else time_first, in every layer
        for (int64_t l = 0; l < info_.n_layer; ++l) {
            const std::string p = "blocks." + std::to_string(l) + ".att";
            TimeMix5 a;
            a.mu_k = mix_fraction(b, p + ".time_mix_k", C);
            a.mu_v = mix_fraction(b, p + ".time_mix_v", C);
            a.mu_r = mix_fraction(b, p + ".time_mix_r", C);
            a.w = per_channel(b, p + ".time_decay", H, N);
            // rwkv.cpp's converter already stored exp(−exp(time_decay)) and exp(time_first).
            if (!rwkvcpp)
                for (float& w : a.w) w = std::exp(-std::exp(w));
            if (bonus_faaaa) {
                a.u = per_channel(b, p + ".time_faaaa", H, N);
            } else {
                a.u = per_channel(b, p + ".time_first", H, N);
                if (!rwkvcpp)
                    for (float& u : a.u) u = std::exp(u);
            }
            a.key = b.linear(p + ".key.weight", C, C);
            a.value = b.linear(p + ".value.weight", C, C);
            a.receptance = b.linear(p + ".receptance.weight", C, C);
            a.output = b.linear(p + ".output.weight", C, C);
            if (info_.version_minor >= 1) {  // 5.1 and 5.2 are gated (detect_model)
                a.mu_g = mix_fraction(b, p + ".time_mix_g", C);
                a.gate = b.linear(p + ".gate.weight", C, C);
            }
            a.ln_x = {b.vec(p + ".ln_x.weight", C), b.vec(p + ".ln_x.bias", C)};
            att_.push_back(std::move(a));
            ChannelMix f;
            f.load(b, "blocks." + std::to_string(l) + ".ffn", C, info_.ffn_dim, true);
            ffn_.push_back(std::move(f));
        }
    }

protected:
    void time_mix(int64_t l, Batch& b, const float* xx, float* out, Pass& pass) const override {
        const int64_t T = b.rows;
        const TimeMix5& a = att_[l];
        const int64_t C = this->C(), H = info_.n_head, N = info_.head_size;
        const size_t n = static_cast<size_t>(T * C);
        std::vector<float> prev(n), xk(n), xv(n), xr(n), xg, k(n), v(n), r(n), g, y(n), yn(n);
        token_shift(b, l, &State::att_x_prev, xx, C, prev.data());
        shift_mix(xx, prev.data(), a.mu_k.data(), 0, T, C, xk.data());
        shift_mix(xx, prev.data(), a.mu_v.data(), 0, T, C, xv.data());
        shift_mix(xx, prev.data(), a.mu_r.data(), 0, T, C, xr.data());
        // The projections as one parallel loop when generating (kernels/matrix.h: multiply_all).
        std::vector<Product> products = {
            {&a.key, xk.data(), k.data()}, {&a.value, xv.data(), v.data()}, {&a.receptance, xr.data(), r.data()}};
        if (!a.gate.empty()) {
            xg.resize(n);
            g.resize(n);
            shift_mix(xx, prev.data(), a.mu_g.data(), 0, T, C, xg.data());
            products.push_back({&a.gate, xg.data(), g.data()});
        }
        multiply_all(products, T, pool(), &pass.products);
        wkv5(b.spans_of(l), H, N, r.data(), k.data(), v.data(), a.w.data(), 0, a.u.data(), y.data(), pool());
        for (int64_t t = 0; t < T; ++t)
            group_norm(&y[t * C], &yn[t * C], a.ln_x.weight.data(), a.ln_x.bias.data(), H, N, info_.groupnorm_eps);
        if (!a.gate.empty())
            for (size_t i = 0; i < n; ++i) yn[i] *= g[i] * sigmoid(g[i]);
        a.output.matmul(yn.data(), T, out, pool(), &pass.products);
    }

    void channel_mix(int64_t l, Batch& b, const float* xx, float* out, Pass& pass) const override {
        ffn_[l].run(b, l, xx, out, pool(), pass);
    }

private:
    std::vector<TimeMix5> att_;
    std::vector<ChannelMix> ffn_;
};

}  // namespace

std::unique_ptr<Model> make_v5(ModelInfo info, const LoadOptions& options, Binder& binder) {
    return std::make_unique<ModelV5>(std::move(info), options, binder);
}

}  // namespace rwkv
