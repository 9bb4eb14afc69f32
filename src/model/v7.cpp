// RWKV-7 (Goose): the generalised delta rule with data-dependent decay, in-context learning rate a,
// value residual from layer 0, and a LoRA gate.
#include <algorithm>
#include <cmath>
#include <optional>

#include "kernels/elementwise.h"
#include "kernels/norm.h"
#include "kernels/wkv.h"
#include "model/block_model.h"
#include "model/generations.h"

namespace rwkv {
namespace {

enum Mix { R, W, K, V, A, G, kMixes };  // the order of rwkv.cpp's concatenated att.x_rwkvag

struct Lora {
    Matrix down, up;  // x·A·B as up·(down·x): down [D, C], up [C, D]
};

struct TimeMix7 {
    std::vector<float> mu[kMixes];
    std::vector<float> w0, a0, v0, k_k, k_a, r_k;
    Lora w, a, v, g;  // v is absent on layer 0
    Matrix key, value, receptance, output;
    NormWeights ln_x;
};

// RWKV-7 DeepEmbed ("rwkv7a"): the channel mix's key is scaled per token by a 32 × 32 matrix M looked up for the
// token id (its own table row plus a projection of the token's folded embedding), applied to the normalised
// input: k ⊙ (s2 · ((x · s1) · M) + s0). The table is read a row per token from where the file holds it.
struct DeepEmbed {
    Matrix table;        // s_emb.weight [V, 1024]
    Matrix from_emb;     // s_emb_x.weight [1024, C]
    Matrix s1, s2;       // x · s1 as s1ᵀ [32, C]; ss · s2 as s2ᵀ [F, 32]
    std::vector<float> s0;  // [F]
};
constexpr int64_t kDeepEmbedRank = 32;

struct ChannelMix7 {
    std::vector<float> mu_k;
    Matrix key, value;
    std::optional<DeepEmbed> deep;
};

// exp(-0.5), as the official code writes it: decay = exp(−0.606531·sigmoid(w0 + lora))
constexpr float kDecayScale = 0.606531f;

class ModelV7 final : public BlockModel {
public:
    ModelV7(ModelInfo info, const LoadOptions& options, Binder& b) : BlockModel(std::move(info), options, b) {
        const int64_t C = info_.n_embd, F = info_.ffn_dim;
        const bool official = info_.layout != "rwkvcpp";
        auto lora = [&](const std::string& p, const char* n1, const char* n2, int64_t D) {
            // official: A [C, D], B [D, C] used as x·A·B; rwkv.cpp stored both transposed.
            Lora r;
            r.down = b.small_matrix(p + "." + n1, D, C, official);
            r.up = b.small_matrix(p + "." + n2, C, D, official);
            return r;
        };
        static const char* mix_names[kMixes] = {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"};
        const bool fused_mixes = b.any_layer_has(info_.n_layer, "att.x_rwkvag");  // rwkv.cpp's, in every layer
        for (int64_t l = 0; l < info_.n_layer; ++l) {
            const std::string p = "blocks." + std::to_string(l) + ".att";
            TimeMix7 a;
            if (fused_mixes) {
                const std::vector<float> all = b.vec(p + ".x_rwkvag", kMixes * C);
                for (int i = 0; i < kMixes; ++i) a.mu[i].assign(all.begin() + i * C, all.begin() + (i + 1) * C);
            } else {
                for (int i = 0; i < kMixes; ++i) a.mu[i] = b.vec(p + "." + mix_names[i], C);
            }
            a.w0 = b.vec(p + ".w0", C);
            a.a0 = b.vec(p + ".a0", C);
            a.w = lora(p, "w1", "w2", info_.lora_dims[0]);
            a.a = lora(p, "a1", "a2", info_.lora_dims[1]);
            if (l > 0) {  // layer 0's value is v_first itself; some training scripts still save v0..v2 there
                a.v0 = b.vec(p + ".v0", C);
                a.v = lora(p, "v1", "v2", info_.lora_dims[2]);
            } else {
                for (const char* unused : {".v0", ".v1", ".v2"}) b.skip(p + unused);
            }
            a.g = lora(p, "g1", "g2", info_.lora_dims[3]);
            a.k_k = b.vec(p + ".k_k", C);
            a.k_a = b.vec(p + ".k_a", C);
            a.r_k = b.heads(p + ".r_k", info_.n_head, info_.head_size);
            a.key = b.linear(p + ".key.weight", C, C);
            a.value = b.linear(p + ".value.weight", C, C);
            a.receptance = b.linear(p + ".receptance.weight", C, C);
            a.output = b.linear(p + ".output.weight", C, C);
            a.ln_x = {b.vec(p + ".ln_x.weight", C), b.vec(p + ".ln_x.bias", C)};
            att_.push_back(std::move(a));
            const std::string f = "blocks." + std::to_string(l) + ".ffn";
            ChannelMix7 m;
            m.mu_k = b.vec(f + ".x_k", C);
            m.key = b.linear(f + ".key.weight", F, C);
            m.value = b.linear(f + ".value.weight", C, F);
            if (b.has(f + ".s_emb.weight")) {
                constexpr int64_t D = kDeepEmbedRank * kDeepEmbedRank;
                DeepEmbed d;
                d.table = b.lookup_table(f + ".s_emb.weight", info_.n_vocab, D);
                d.from_emb = b.linear(f + ".s_emb_x.weight", D, C);
                d.s1 = b.small_matrix(f + ".s1", kDeepEmbedRank, C, true);
                d.s2 = b.small_matrix(f + ".s2", F, kDeepEmbedRank, true);
                d.s0 = b.vec(f + ".s0", F);
                m.deep = std::move(d);
            }
            ffn_.push_back(std::move(m));
        }
    }

protected:
    void time_mix(int64_t l, Batch& b, const float* xx, float* out, Pass& pass) const override {
        const int64_t T = b.rows;
        const TimeMix7& a = att_[l];
        const int64_t C = this->C(), H = info_.n_head, N = info_.head_size;
        const size_t n = static_cast<size_t>(T * C);
        size_t slots = 0;
        const auto work = [&](size_t len) -> std::vector<float>& { return pass.work(slots++, len); };
        std::vector<float>&prev = work(n), &r = work(n), &w = work(n), &k = work(n), &v = work(n), &aa = work(n),
        &g = work(n), &kk = work(n), &y = work(n), &yn = work(n), &tmp = work(n);
        token_shift(b, l, &State::att_x_prev, xx, C, prev.data());
        std::vector<float>* xm[kMixes];
        for (int m = 0; m < kMixes; ++m) {
            xm[m] = &work(n);
            shift_mix(xx, prev.data(), a.mu[m].data(), 0, T, C, xm[m]->data());
        }
        // The LoRAs are up·f(down·x). All projections of the token-shifted inputs, then all LoRA up-projections,
        // each as one batch: for a single token that is two pool wake-ups instead of eleven.
        const auto mid = [&](const Lora& lo) -> std::vector<float>& {
            return work(static_cast<size_t>(T * lo.down.rows()));
        };
        std::vector<float>&w_mid = mid(a.w), &a_mid = mid(a.a), &g_mid = mid(a.g), &v_mid = l == 0 ? work(0) : mid(a.v);
        std::vector<Product> first = {{&a.receptance, xm[R]->data(), r.data()}, {&a.w.down, xm[W]->data(), w_mid.data()},
                                      {&a.key, xm[K]->data(), k.data()},         {&a.value, xm[V]->data(), v.data()},
                                      {&a.a.down, xm[A]->data(), a_mid.data()},  {&a.g.down, xm[G]->data(), g_mid.data()}};
        if (l != 0) first.push_back({&a.v.down, xm[V]->data(), v_mid.data()});
        multiply_all(first, T, pool(), &pass.products);
        for (float& z : w_mid) z = std::tanh(z);
        sigmoid_inplace(g_mid.data(), static_cast<int64_t>(g_mid.size()));
        std::vector<Product> second = {{&a.w.up, w_mid.data(), w.data()},
                                       {&a.a.up, a_mid.data(), aa.data()},
                                       {&a.g.up, g_mid.data(), g.data()}};
        if (l != 0) second.push_back({&a.v.up, v_mid.data(), tmp.data()});
        multiply_all(second, T, pool(), &pass.products);
        if (l == 0) pass.v_first = v;
        // Everything from here to the output projection is per channel or per head, so it runs per head inside
        // the recurrence's parallel loop (wkv7's before/after) rather than on one thread around it.
        const float* v_first = pass.v_first.data();
        const auto before = [&](const WkvSpan& sp, int64_t h) {
            const int64_t c0 = h * N;
            for (int64_t t = sp.row; t < sp.row + sp.T; ++t) {
                const int64_t o = t * C + c0;
                if (l != 0) {  // the value residual: v += (v_first − v) · sigmoid(v0 + lora)
                    for (int64_t j = 0; j < N; ++j) tmp[o + j] += a.v0[c0 + j];
                    sigmoid_inplace(&tmp[o], N);
                    for (int64_t j = 0; j < N; ++j) v[o + j] += (v_first[o + j] - v[o + j]) * tmp[o + j];
                }
                // decay w = exp(−0.606531·sigmoid(w0 + w)), in-context rate aa = sigmoid(a0 + aa)
                for (int64_t j = 0; j < N; ++j) {
                    w[o + j] += a.w0[c0 + j];
                    aa[o + j] += a.a0[c0 + j];
                }
                sigmoid_inplace(&w[o], N);
                for (int64_t j = 0; j < N; ++j) w[o + j] *= -kDecayScale;
                exp_inplace(&w[o], N);
                sigmoid_inplace(&aa[o], N);
                double ss = 0;
                for (int64_t j = 0; j < N; ++j) {
                    kk[o + j] = k[o + j] * a.k_k[c0 + j];
                    k[o + j] = k[o + j] * (1.0f + (aa[o + j] - 1.0f) * a.k_a[c0 + j]);
                    ss += static_cast<double>(kk[o + j]) * kk[o + j];
                }
                // F.normalize: x / max(‖x‖₂, 1e-12)
                const float norm = std::max(static_cast<float>(std::sqrt(ss)), 1e-12f);
                for (int64_t j = 0; j < N; ++j) kk[o + j] /= norm;
            }
        };
        const auto after = [&](const WkvSpan& sp, int64_t h) {
            const int64_t c0 = h * N;
            for (int64_t t = sp.row; t < sp.row + sp.T; ++t) {
                const int64_t o = t * C + c0;
                group_norm(&y[o], &yn[o], a.ln_x.weight.data() + c0, a.ln_x.bias.data() + c0, 1, N,
                           info_.groupnorm_eps);
                float bonus = 0;  // (Σ r⊙k⊙r_k) · v
                for (int64_t j = 0; j < N; ++j) bonus += r[o + j] * k[o + j] * a.r_k[c0 + j];
                for (int64_t j = 0; j < N; ++j) yn[o + j] = (yn[o + j] + bonus * v[o + j]) * g[o + j];
            }
        };
        wkv7(b.spans_of(l), H, N, r.data(), w.data(), k.data(), v.data(), kk.data(), aa.data(), y.data(), pool(), before,
             after);
        a.output.matmul(yn.data(), T, out, pool(), &pass.products);
    }

    void channel_mix(int64_t l, Batch& b, const float* xx, float* out, Pass& pass) const override {
        const ChannelMix7& f = ffn_[l];
        const int64_t C = this->C(), F = f.key.rows(), T = b.rows;
        const size_t n = static_cast<size_t>(T * C);
        std::vector<float>&prev = pass.work(0, n), &xk = pass.work(1, n), &k = pass.work(2, static_cast<size_t>(T * F));
        token_shift(b, l, &State::ffn_x_prev, xx, C, prev.data());
        shift_mix(xx, prev.data(), f.mu_k.data(), 0, T, C, xk.data());
        f.key.matmul(xk.data(), T, k.data(), pool(), &pass.products);
        relu_squared(k);
        if (f.deep) deep_embed(*f.deep, b, xx, k, pass);
        f.value.matmul(k.data(), T, out, pool(), &pass.products);
    }

    // k[T, F] ⊙= s2 · ((xx · s1) · M[token]) + s0, M[token] = (s_emb[token] + s_emb_x · E[token]) as 32 × 32.
    void deep_embed(const DeepEmbed& d, const Batch& b, const float* xx, std::vector<float>& k, Pass& pass) const {
        const int64_t C = this->C(), T = b.rows, F = static_cast<int64_t>(d.s0.size());
        constexpr int64_t Q = kDeepEmbedRank, D = Q * Q;
        std::vector<float>&e = pass.work(3, static_cast<size_t>(T * C)), &m = pass.work(4, static_cast<size_t>(T * D)),
        &xs = pass.work(5, static_cast<size_t>(T * Q)), &ss = pass.work(6, static_cast<size_t>(T * Q)),
        &scale = pass.work(7, static_cast<size_t>(T * F)), &row = pass.work(8, static_cast<size_t>(D));
        for (size_t i = 0; i < b.seqs.size(); ++i)
            for (int64_t t = 0; t < b.T(i); ++t) embed(b.seqs[i].tokens[t], &e[(b.row[i] + t) * C]);
        d.from_emb.matmul(e.data(), T, m.data(), pool(), &pass.products);
        for (size_t i = 0; i < b.seqs.size(); ++i)
            for (int64_t t = 0; t < b.T(i); ++t) {
                d.table.row_to_float(b.seqs[i].tokens[t], row.data());
                float* mr = &m[(b.row[i] + t) * D];
                for (int64_t j = 0; j < D; ++j) mr[j] += row[j];
            }
        d.s1.matmul(xx, T, xs.data(), pool(), &pass.products);
        for (int64_t r = 0; r < T; ++r) {
            const float* x1 = &xs[r * Q];
            const float* M = &m[r * D];
            float* o = &ss[r * Q];
            for (int64_t c = 0; c < Q; ++c) {
                float sum = 0;
                for (int64_t a = 0; a < Q; ++a) sum += x1[a] * M[a * Q + c];
                o[c] = sum;
            }
        }
        d.s2.matmul(ss.data(), T, scale.data(), pool(), &pass.products);
        for (int64_t r = 0; r < T; ++r)
            for (int64_t j = 0; j < F; ++j) k[static_cast<size_t>(r * F + j)] *= scale[static_cast<size_t>(r * F + j)] + d.s0[static_cast<size_t>(j)];
    }

private:
    std::vector<TimeMix7> att_;
    std::vector<ChannelMix7> ffn_;
};

}  // namespace

std::unique_ptr<Model> make_v7(ModelInfo info, const LoadOptions& options, Binder& binder) {
    return std::make_unique<ModelV7>(std::move(info), options, binder);
}

}  // namespace rwkv
