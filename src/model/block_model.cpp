#include "model/block_model.h"

#include <cmath>
#include <cstring>

#include <algorithm>
#include "kernels/norm.h"
#include "model/legacy_bf16_layer_norm.h"

namespace rwkv {

static constexpr float kLayerNormEps = 1e-5f;

static NormWeights load_norm(Binder& b, const std::string& prefix, int64_t C) {
    return {b.vec(prefix + ".weight", C), b.vec(prefix + ".bias", C)};
}

BlockModel::BlockModel(ModelInfo info, const LoadOptions& options, Binder& b) : Model(std::move(info), options) {
    const int64_t C = info_.n_embd, V = info_.n_vocab;
    // The embedding is only looked up, one row per token, so it stays in its stored type and ln0
    // is applied to each row as it is read (the official loader folds it into the whole table).
    emb_ = b.lookup_table("emb.weight", V, C);
    if (b.has("blocks.0.ln0.weight") || b.has("blocks.0.ln0.bias")) {  // both, then (load_norm names the other)
        // The official v4–v6 loader folds ln0 with F.layer_norm on the stored tensors, which for
        // bf16 ran PyTorch's bf16 kernel; its v7 loader widens to fp32 first (and fp16 LayerNorm
        // was not implemented on CPU, so fp16 checkpoints fell back to fp32 too).
        legacy_bf16_ln0_ = info_.version < 7 && b.tensor("emb.weight").source == DType::BF16 &&
                           b.tensor("blocks.0.ln0.weight").source == DType::BF16;
        ln0_ = load_norm(b, "blocks.0.ln0", C);
    }
    for (int64_t l = 0; l < info_.n_layer; ++l) {
        ln1_.push_back(load_norm(b, "blocks." + std::to_string(l) + ".ln1", C));
        ln2_.push_back(load_norm(b, "blocks." + std::to_string(l) + ".ln2", C));
    }
    ln_out_ = load_norm(b, "ln_out", C);
    head_ = b.linear("head.weight", V, C);
}

void BlockModel::embed(int32_t token, float* x) const {
    const int64_t C = info_.n_embd;
    if (ln0_.weight.empty()) {
        emb_.row_to_float(token, x);
        return;
    }
    std::vector<float> row(static_cast<size_t>(C));
    emb_.row_to_float(token, row.data());
    if (legacy_bf16_ln0_)
        legacy_bf16_layer_norm(row.data(), x, ln0_.weight.data(), ln0_.bias.data(), C, kLayerNormEps);
    else
        layer_norm(row.data(), x, ln0_.weight.data(), ln0_.bias.data(), C, kLayerNormEps);
}

void BlockModel::forward(State& state, const int32_t* tokens, int64_t T, float* logits, bool all_logits) const {
    const int64_t C = info_.n_embd;
    Pass& pass = pass_;
    std::vector<float>&x = pass.x, &xx = pass.xx, &out = pass.out;
    for (std::vector<float>* v : {&x, &xx, &out}) v->resize(static_cast<size_t>(T * C));
    for (int64_t t = 0; t < T; ++t) embed(tokens[t], &x[t * C]);
    for (int64_t l = 0; l < info_.n_layer; ++l) {
        for (int64_t t = 0; t < T; ++t)
            layer_norm(&x[t * C], &xx[t * C], ln1_[l].weight.data(), ln1_[l].bias.data(), C, kLayerNormEps);
        time_mix(l, state, xx.data(), out.data(), T, pass);
        for (size_t i = 0; i < x.size(); ++i) x[i] += out[i];
        for (int64_t t = 0; t < T; ++t)
            layer_norm(&x[t * C], &xx[t * C], ln2_[l].weight.data(), ln2_[l].bias.data(), C, kLayerNormEps);
        channel_mix(l, state, xx.data(), out.data(), T, pass);
        for (size_t i = 0; i < x.size(); ++i) x[i] += out[i];
    }
    if (!logits) return;
    const int64_t first = all_logits ? 0 : T - 1;
    const int64_t rows = T - first;
    for (int64_t t = first; t < T; ++t)
        layer_norm(&x[t * C], &xx[(t - first) * C], ln_out_.weight.data(), ln_out_.bias.data(), C, kLayerNormEps);
    if (rows == 1)
        head_.matvec(xx.data(), logits, pool(), &pass.products);
    else
        head_.matmul(xx.data(), rows, logits, pool());
}

void token_shift(float* state_prev, const float* xx, int64_t T, int64_t C, float* prev) {
    std::memcpy(prev, state_prev, sizeof(float) * C);
    if (T > 1) std::memcpy(prev + C, xx, sizeof(float) * (T - 1) * C);
    std::memcpy(state_prev, xx + (T - 1) * C, sizeof(float) * C);
}

void shift_mix(const float* x, const float* prev, const float* mu, int64_t mu_stride, int64_t T, int64_t C, float* out) {
    for (int64_t t = 0; t < T; ++t) {
        const float* m = mu + t * mu_stride;
        for (int64_t c = 0; c < C; ++c) {
            const int64_t i = t * C + c;
            out[i] = x[i] + (prev[i] - x[i]) * m[c];
        }
    }
}

void ChannelMix::load(Binder& b, const std::string& p, int64_t C, int64_t F, bool v4_style_mix) {
    if (v4_style_mix) {
        // v4/v5 store the weight of the current token (x·m + prev·(1−m)); keep the fraction of prev.
        mu_k = b.vec(p + ".time_mix_k", C);
        mu_r = b.vec(p + ".time_mix_r", C);
        for (auto* mu : {&mu_k, &mu_r})
            for (float& m : *mu) m = 1.0f - m;
    } else {
        mu_k = b.vec(p + ".time_maa_k", C);
        mu_r = b.vec(p + ".time_maa_r", C);
    }
    key = b.linear(p + ".key.weight", F, C);
    receptance = b.linear(p + ".receptance.weight", C, C);
    value = b.linear(p + ".value.weight", C, F);
}

void ChannelMix::run(float* state_prev, const float* xx, float* out, int64_t T, ThreadPool& pool,
                     ForwardPass& pass) const {
    const int64_t C = key.cols(), F = key.rows();
    const size_t n = static_cast<size_t>(T * C);
    std::vector<float>&prev = pass.work(0, n), &xk = pass.work(1, n), &xr = pass.work(2, n), &r = pass.work(3, n);
    std::vector<float>& k = pass.work(4, static_cast<size_t>(T * F));
    token_shift(state_prev, xx, T, C, prev.data());
    shift_mix(xx, prev.data(), mu_k.data(), 0, T, C, xk.data());
    shift_mix(xx, prev.data(), mu_r.data(), 0, T, C, xr.data());
    multiply_all({{&key, xk.data(), k.data()}, {&receptance, xr.data(), r.data()}}, T, pool, &pass.products);
    relu_squared(k);
    value.matmul(k.data(), T, out, pool, &pass.products);
    for (size_t i = 0; i < r.size(); ++i) out[i] *= sigmoid(r[i]);
}

}  // namespace rwkv
