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

std::span<const WkvSpan> Batch::spans_of(int64_t layer) {
    spans.resize(seqs.size());
    for (size_t i = 0; i < seqs.size(); ++i) spans[i] = {row[i], T(i), seqs[i].state->att(layer)};
    return spans;
}

void BlockModel::forward(std::span<const SequenceStep> seqs, ForwardPass& pass) const {
    const int64_t C = info_.n_embd, V = info_.n_vocab;
    Batch& b = pass.batch;
    b.seqs = seqs;
    b.row.resize(seqs.size());
    b.rows = 0;
    for (size_t i = 0; i < seqs.size(); ++i) {
        b.row[i] = b.rows;
        b.rows += b.T(i);
    }
    const int64_t R = b.rows;
    std::vector<float>&x = pass.x, &xx = pass.xx, &out = pass.out;
    for (std::vector<float>* v : {&x, &xx, &out}) v->resize(static_cast<size_t>(R * C));
    for (size_t i = 0; i < seqs.size(); ++i)
        for (int64_t t = 0; t < b.T(i); ++t) embed(seqs[i].tokens[t], &x[(b.row[i] + t) * C]);
    for (int64_t l = 0; l < info_.n_layer; ++l) {
        for (int64_t r = 0; r < R; ++r)
            layer_norm(&x[r * C], &xx[r * C], ln1_[l].weight.data(), ln1_[l].bias.data(), C, kLayerNormEps);
        time_mix(l, b, xx.data(), out.data(), pass);
        for (size_t i = 0; i < x.size(); ++i) x[i] += out[i];
        for (int64_t r = 0; r < R; ++r)
            layer_norm(&x[r * C], &xx[r * C], ln2_[l].weight.data(), ln2_[l].bias.data(), C, kLayerNormEps);
        channel_mix(l, b, xx.data(), out.data(), pass);
        for (size_t i = 0; i < x.size(); ++i) x[i] += out[i];
    }
    // The head for the rows whose logits were asked for, normalised into xx in order: written straight into
    // the caller's buffer when they all go to one (one sequence), else through `out` and copied.
    int64_t rows = 0;
    const SequenceStep* only = nullptr;
    size_t asking = 0;
    for (size_t i = 0; i < seqs.size(); ++i) {
        if (!seqs[i].logits || b.T(i) == 0) continue;
        const int64_t first = seqs[i].all_logits ? 0 : b.T(i) - 1;
        for (int64_t t = first; t < b.T(i); ++t, ++rows)
            layer_norm(&x[(b.row[i] + t) * C], &xx[rows * C], ln_out_.weight.data(), ln_out_.bias.data(), C,
                       kLayerNormEps);
        only = &seqs[i];
        ++asking;
    }
    if (rows == 0) return;
    float* dest = asking == 1 ? only->logits : (pass.logits.resize(static_cast<size_t>(rows * V)), pass.logits.data());
    if (rows == 1)
        head_.matvec(xx.data(), dest, pool(), &pass.products);
    else
        head_.matmul(xx.data(), rows, dest, pool());
    if (asking == 1) return;
    const float* from = dest;
    for (size_t i = 0; i < seqs.size(); ++i) {
        if (!seqs[i].logits || b.T(i) == 0) continue;
        const int64_t n = seqs[i].all_logits ? b.T(i) : 1;
        std::copy(from, from + n * V, seqs[i].logits);
        from += n * V;
    }
}

void token_shift(const Batch& b, int64_t layer, float* (State::*which)(int64_t), const float* xx, int64_t C,
                 float* prev) {
    for (size_t i = 0; i < b.seqs.size(); ++i) {
        const int64_t T = b.T(i), o = b.row[i] * C;
        if (T == 0) continue;
        float* state_prev = (b.seqs[i].state->*which)(layer);
        std::memcpy(prev + o, state_prev, sizeof(float) * C);
        if (T > 1) std::memcpy(prev + o + C, xx + o, sizeof(float) * (T - 1) * C);
        std::memcpy(state_prev, xx + o + (T - 1) * C, sizeof(float) * C);
    }
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

void ChannelMix::run(const Batch& b, int64_t layer, const float* xx, float* out, ThreadPool& pool,
                     ForwardPass& pass) const {
    const int64_t C = key.cols(), F = key.rows(), T = b.rows;
    const size_t n = static_cast<size_t>(T * C);
    std::vector<float>&prev = pass.work(0, n), &xk = pass.work(1, n), &xr = pass.work(2, n), &r = pass.work(3, n);
    std::vector<float>& k = pass.work(4, static_cast<size_t>(T * F));
    token_shift(b, layer, &State::ffn_x_prev, xx, C, prev.data());
    shift_mix(xx, prev.data(), mu_k.data(), 0, T, C, xk.data());
    shift_mix(xx, prev.data(), mu_r.data(), 0, T, C, xr.data());
    multiply_all({{&key, xk.data(), k.data()}, {&receptance, xr.data(), r.data()}}, T, pool, &pass.products);
    relu_squared(k);
    value.matmul(k.data(), T, out, pool, &pass.products);
    for (size_t i = 0; i < r.size(); ++i) out[i] *= sigmoid(r[i]);
}

}  // namespace rwkv
