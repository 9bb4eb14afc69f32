// RWKV-4, the paper's model: per-channel WKV with decay w and bonus u.
#include <algorithm>
#include <cmath>

#include "kernels/wkv.h"
#include "model/block_model.h"
#include "model/generations.h"

namespace rwkv {
namespace {

struct TimeMix4 {
    std::vector<float> mu_k, mu_v, mu_r;  // fractions of the previous token
    std::vector<float> w, u;              // w = −exp(time_decay), u = time_first
    Matrix key, value, receptance, output;
};

class ModelV4 final : public BlockModel {
public:
    ModelV4(ModelInfo info, const LoadOptions& options, Binder& b) : BlockModel(std::move(info), options, b) {
        const int64_t C = info_.n_embd;
        const bool rwkvcpp = info_.layout == "rwkvcpp";
        for (int64_t l = 0; l < info_.n_layer; ++l) {
            const std::string p = "blocks." + std::to_string(l);
            TimeMix4 a;
            a.mu_k = b.vec(p + ".att.time_mix_k", C);
            a.mu_v = b.vec(p + ".att.time_mix_v", C);
            a.mu_r = b.vec(p + ".att.time_mix_r", C);
            for (auto* mu : {&a.mu_k, &a.mu_v, &a.mu_r})
                for (float& m : *mu) m = 1.0f - m;
            a.w = b.vec(p + ".att.time_decay", C);
            // rwkv.cpp's converter already stored −exp(time_decay).
            if (!rwkvcpp)
                for (float& w : a.w) w = -std::exp(w);
            a.u = b.vec(p + ".att.time_first", C);
            a.key = b.linear(p + ".att.key.weight", C, C);
            a.value = b.linear(p + ".att.value.weight", C, C);
            a.receptance = b.linear(p + ".att.receptance.weight", C, C);
            a.output = b.linear(p + ".att.output.weight", C, C);
            att_.push_back(std::move(a));
            ChannelMix f;
            f.load(b, p + ".ffn", C, info_.ffn_dim, true);
            ffn_.push_back(std::move(f));
        }
    }

protected:
    void time_mix(int64_t l, Batch& b, const float* xx, float* out, Pass& pass) const override {
        const int64_t T = b.rows;
        const TimeMix4& a = att_[l];
        const int64_t C = this->C();
        const size_t n = static_cast<size_t>(T * C);
        std::vector<float> prev(n), xk(n), xv(n), xr(n), k(n), v(n), r(n), y(n);
        token_shift(b, l, &State::att_x_prev, xx, C, prev.data());
        shift_mix(xx, prev.data(), a.mu_k.data(), 0, T, C, xk.data());
        shift_mix(xx, prev.data(), a.mu_v.data(), 0, T, C, xv.data());
        shift_mix(xx, prev.data(), a.mu_r.data(), 0, T, C, xr.data());
        // One parallel loop for the three when generating (kernels/matrix.h: multiply_all).
        multiply_all({{&a.key, xk.data(), k.data()}, {&a.value, xv.data(), v.data()}, {&a.receptance, xr.data(), r.data()}},
                     T, pool(), &pass.products);
        wkv4(b.spans_of(l), C, a.w.data(), a.u.data(), k.data(), v.data(), y.data(), pool());
        for (size_t i = 0; i < n; ++i) y[i] *= sigmoid(r[i]);
        a.output.matmul(y.data(), T, out, pool(), &pass.products);
    }

    void channel_mix(int64_t l, Batch& b, const float* xx, float* out, Pass& pass) const override {
        ffn_[l].run(b, l, xx, out, pool(), pass);
    }

private:
    std::vector<TimeMix4> att_;
    std::vector<ChannelMix> ffn_;
};

}  // namespace

std::unique_ptr<Model> make_v4(ModelInfo info, const LoadOptions& options, Binder& binder) {
    return std::make_unique<ModelV4>(std::move(info), options, binder);
}

}  // namespace rwkv
