// RWKV-6 (Finch): data-dependent token shift (the maa LoRA) and data-dependent decay.
#include <algorithm>
#include <cmath>

#include "kernels/elementwise.h"
#include "kernels/norm.h"
#include "kernels/wkv.h"
#include "model/block_model.h"
#include "model/generations.h"

namespace rwkv {
namespace {

constexpr int kMixes = 5;  // w, k, v, r, g — the order of time_maa_w2's first axis

struct TimeMix6 {
    std::vector<float> maa_x, maa[kMixes];
    Matrix maa_w1;             // [5·D, C]
    Matrix maa_w2[kMixes];     // [C, D] each
    std::vector<float> decay;  // time_decay [C]
    Matrix decay_w1, decay_w2; // [D2, C], [C, D2]
    std::vector<float> u;      // time_faaaa [C]
    Matrix key, value, receptance, gate, output;
    NormWeights ln_x;
};

class ModelV6 final : public BlockModel {
public:
    ModelV6(ModelInfo info, const LoadOptions& options, Binder& b) : BlockModel(std::move(info), options, b) {
        const int64_t C = info_.n_embd, D = info_.lora_dims[0], D2 = info_.lora_dims[1];
        // rwkv.cpp's converter stored the LoRA matrices already transposed to [out, in].
        const bool official = info_.layout != "rwkvcpp";
        static const char* names[kMixes] = {"w", "k", "v", "r", "g"};
        for (int64_t l = 0; l < info_.n_layer; ++l) {
            const std::string p = "blocks." + std::to_string(l) + ".att";
            TimeMix6 a;
            a.maa_x = b.vec(p + ".time_maa_x", C);
            for (int i = 0; i < kMixes; ++i) a.maa[i] = b.vec(p + ".time_maa_" + names[i], C);
            a.maa_w1 = b.small_matrix(p + ".time_maa_w1", kMixes * D, C, official);
            const std::string w2name = p + ".time_maa_w2";
            const std::vector<float> w2 = b.vec(w2name, kMixes * D * C);
            if (b.tensor(w2name).shape.size() != 3) b.fail(w2name, "must have 3 dimensions");
            for (int i = 0; i < kMixes; ++i) {
                // official: w2[i] is [D, C]; rwkv.cpp: [C, D]
                std::vector<float> m(static_cast<size_t>(C * D));
                const float* src = w2.data() + i * D * C;
                for (int64_t c = 0; c < C; ++c)
                    for (int64_t d = 0; d < D; ++d) m[c * D + d] = official ? src[d * C + c] : src[c * D + d];
                a.maa_w2[i] = Matrix(C, D, std::move(m));
            }
            a.decay = b.vec(p + ".time_decay", C);
            a.decay_w1 = b.small_matrix(p + ".time_decay_w1", D2, C, official);
            a.decay_w2 = b.small_matrix(p + ".time_decay_w2", C, D2, official);
            a.u = b.heads(p + ".time_faaaa", info_.n_head, info_.head_size);
            a.key = b.linear(p + ".key.weight", C, C);
            a.value = b.linear(p + ".value.weight", C, C);
            a.receptance = b.linear(p + ".receptance.weight", C, C);
            a.gate = b.linear(p + ".gate.weight", C, C);
            a.output = b.linear(p + ".output.weight", C, C);
            a.ln_x = {b.vec(p + ".ln_x.weight", C), b.vec(p + ".ln_x.bias", C)};
            att_.push_back(std::move(a));
            ChannelMix f;
            f.load(b, "blocks." + std::to_string(l) + ".ffn", C, info_.ffn_dim, false);
            ffn_.push_back(std::move(f));
        }
    }

protected:
    void time_mix(int64_t l, Batch& b, const float* xx, float* out, Pass& pass) const override {
        const int64_t T = b.rows;
        const TimeMix6& a = att_[l];
        const int64_t C = this->C(), H = info_.n_head, N = info_.head_size;
        const int64_t D = info_.lora_dims[0], D2 = info_.lora_dims[1];
        const size_t n = static_cast<size_t>(T * C);
        std::vector<float> prev(n), xm(n), k(n), v(n), r(n), g(n), w(n), y(n), yn(n);
        std::vector<float> lora(static_cast<size_t>(T * kMixes * D)), decay_mid(static_cast<size_t>(T * D2));
        token_shift(b, l, &State::att_x_prev, xx, C, prev.data());
        shift_mix(xx, prev.data(), a.maa_x.data(), 0, T, C, xm.data());
        a.maa_w1.matmul(xm.data(), T, lora.data(), pool(), &pass.products);
        for (float& z : lora) z = std::tanh(z);
        // Each mix's LoRA up-projection, then each mix's projection, as one parallel loop apiece when generating
        // (kernels/matrix.h: multiply_all): two pool wake-ups where there were ten.
        std::vector<float> part[kMixes], mu[kMixes], xs[kMixes];
        std::vector<Product> ups;
        for (int i = 0; i < kMixes; ++i) {
            part[i].resize(static_cast<size_t>(T * D));
            mu[i].resize(n);
            xs[i].resize(n);
            for (int64_t t = 0; t < T; ++t)
                std::copy_n(&lora[(t * kMixes + i) * D], D, &part[i][t * D]);
            ups.push_back({&a.maa_w2[i], part[i].data(), mu[i].data()});
        }
        multiply_all(ups, T, pool(), &pass.products);
        for (int i = 0; i < kMixes; ++i) {
            for (int64_t t = 0; t < T; ++t)
                for (int64_t c = 0; c < C; ++c) mu[i][t * C + c] += a.maa[i][c];
            shift_mix(xx, prev.data(), mu[i].data(), C, T, C, xs[i].data());
        }
        // Mix 0 is the decay's: w = exp(−exp(time_decay + tanh(xw·w1)·w2)).
        multiply_all({{&a.decay_w1, xs[0].data(), decay_mid.data()},
                      {&a.key, xs[1].data(), k.data()},
                      {&a.value, xs[2].data(), v.data()},
                      {&a.receptance, xs[3].data(), r.data()},
                      {&a.gate, xs[4].data(), g.data()}},
                     T, pool(), &pass.products);
        for (float& z : decay_mid) z = std::tanh(z);
        a.decay_w2.matmul(decay_mid.data(), T, w.data(), pool(), &pass.products);
        for (int64_t t = 0; t < T; ++t)
            for (int64_t c = 0; c < C; ++c) w[t * C + c] += a.decay[c];
        exp_inplace(w.data(), T * C);  // vectorised (kernels/elementwise.h)
        for (int64_t j = 0; j < T * C; ++j) w[j] = -w[j];
        exp_inplace(w.data(), T * C);
        wkv5(b.spans_of(l), H, N, r.data(), k.data(), v.data(), w.data(), C, a.u.data(), y.data(), pool());
        for (int64_t t = 0; t < T; ++t)
            group_norm(&y[t * C], &yn[t * C], a.ln_x.weight.data(), a.ln_x.bias.data(), H, N, info_.groupnorm_eps);
        for (size_t i = 0; i < n; ++i) yn[i] *= g[i] * sigmoid(g[i]);
        a.output.matmul(yn.data(), T, out, pool(), &pass.products);
    }

    void channel_mix(int64_t l, Batch& b, const float* xx, float* out, Pass& pass) const override {
        ffn_[l].run(b, l, xx, out, pool(), pass);
    }

private:
    std::vector<TimeMix6> att_;
    std::vector<ChannelMix> ffn_;
};

}  // namespace

std::unique_ptr<Model> make_v6(ModelInfo info, const LoadOptions& options, Binder& binder) {
    return std::make_unique<ModelV6>(std::move(info), options, binder);
}

}  // namespace rwkv
