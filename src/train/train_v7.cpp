// RWKV-7 (Goose) for training: the official trainer's forward (RWKV-v7/train_temp: token shift and mixes, the
// w/a/v/g LoRAs, the normalised removal key kk, the generalised delta rule, GroupNorm, the r·k·r_k bonus,
// squared-ReLU channel mix) with every step's backward derived by hand beside it.
#include <cmath>
#include <string>

#include "train/ops.h"
#include "train/block_train_model.h"
#include "kernels/wkv_train.h"

namespace rwkv::train {
namespace {

constexpr double kDecayScale = 0.606531;   // e^{-1/2}: decay = exp(−e^{-1/2}·sigmoid(w0 + LoRA))
constexpr double kGroupNormEps = 64e-5;
constexpr int64_t kStateEvery = 16;        // WKV state checkpoints: memory H·N²·T/16 per sequence

template <class F>
F sigmoid(F x) {
    return F(1) / (F(1) + std::exp(-x));
}

template <class F>
using Buf = std::vector<F>;

// What the backward pass of one layer needs from its forward pass.
template <class F>
struct LayerCache {
    NormShift<F> att_in, ffn_in;
    Buf<F> xm[6];  // r, w, k, v, a, g mixes
    Buf<F> r, k, v_raw, v, hw, wdec, sgw, ha, ag, hv, vg, hg, g;
    Buf<F> kk, kk_norm, k2, a_in, b_in, y, gn_mean, gn_rstd, yb, bonus;
    std::vector<Buf<F>> tapes;  // per sequence
    Buf<F> xkf, hk, hr;
};

enum { kR, kW, kK, kV, kA, kG };

template <class F>
class TrainV7 final : public BlockTrainModel<F> {
public:
    TrainV7(const ModelShape& shape, int threads) : BlockTrainModel<F>(shape, threads) {
        caches_.resize(static_cast<size_t>(shape.n_layer));
    }

private:
    using Base = BlockTrainModel<F>;
    using Base::B_;
    using Base::blk;
    using Base::grad;
    using Base::R_;
    using Base::T_;
    using Base::val;
    static std::string att(int64_t l, const char* n) { return "blocks." + std::to_string(l) + ".att." + n; }

    // x·A for a LoRA matrix A [in, out] stored as the official code uses it (not transposed).
    void lora_mul(const F* x, int64_t in, const F* A, int64_t out, F* y) {
        gemm<F>(false, false, R_, out, in, x, in, A, out, F(0), y, out, this->pool());
    }
    // For y = x·A: dx (+)= dy·Aᵀ (beta 0 or 1), dA += xᵀ·dy.
    void lora_back(const F* x, int64_t in, const F* A, int64_t out, const F* dy, F* dx, F dx_beta, F* dA) {
        gemm<F>(false, true, R_, in, out, dy, out, A, out, dx_beta, dx, in, this->pool());
        gemm<F>(true, false, in, out, R_, x, in, dy, out, F(1), dA, out, this->pool());
    }

    void layer_forward(int64_t l, Buf<F>& x) override {
        const ModelShape& s = this->shape();
        const int64_t C = s.n_embd, N = s.head_size, H = C / N, Fd = s.ffn_dim;
        const int64_t Dw = s.lora_dims[0], Da = s.lora_dims[1], Dv = s.lora_dims[2], Dg = s.lora_dims[3];
        const size_t n = static_cast<size_t>(R_ * C);
        LayerCache<F>& c = caches_[static_cast<size_t>(l)];
        this->norm_shift_forward(x, blk(l, "ln1"), c.att_in);
        const Buf<F>& x1 = c.att_in.xn;
        static const char* mixes[6] = {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"};
        for (int m = 0; m < 6; ++m) {
            c.xm[m].resize(n);
            mix_forward<F>(x1.data(), c.att_in.prev.data(), val(att(l, mixes[m])), R_, C, c.xm[m].data());
        }
        for (Buf<F>* b : {&c.r, &c.k, &c.v_raw, &c.v, &c.wdec, &c.sgw, &c.ag, &c.g, &c.kk, &c.k2, &c.a_in, &c.b_in,
                          &c.y, &c.yb})
            b->resize(n);
        linear_forward<F>(c.xm[kR].data(), R_, C, val(att(l, "receptance.weight")), C, c.r.data(), this->pool());
        linear_forward<F>(c.xm[kK].data(), R_, C, val(att(l, "key.weight")), C, c.k.data(), this->pool());
        linear_forward<F>(c.xm[kV].data(), R_, C, val(att(l, "value.weight")), C, c.v_raw.data(), this->pool());
        Buf<F> tmp(n);
        // decay
        c.hw.resize(static_cast<size_t>(R_ * Dw));
        lora_mul(c.xm[kW].data(), C, val(att(l, "w1")), Dw, c.hw.data());
        for (F& z : c.hw) z = std::tanh(z);
        lora_mul(c.hw.data(), Dw, val(att(l, "w2")), C, tmp.data());
        const F* w0 = val(att(l, "w0"));
        for (int64_t i = 0; i < R_ * C; ++i) {
            const F sg = sigmoid(w0[i % C] + tmp[i]);
            c.sgw[i] = sg;
            c.wdec[i] = std::exp(F(-kDecayScale) * sg);
        }
        // in-context learning rate
        c.ha.resize(static_cast<size_t>(R_ * Da));
        lora_mul(c.xm[kA].data(), C, val(att(l, "a1")), Da, c.ha.data());
        lora_mul(c.ha.data(), Da, val(att(l, "a2")), C, tmp.data());
        const F* a0 = val(att(l, "a0"));
        for (int64_t i = 0; i < R_ * C; ++i) c.ag[i] = sigmoid(a0[i % C] + tmp[i]);
        // value residual
        if (l == 0) {
            c.v = c.v_raw;
            v_first_ = c.v;
        } else {
            c.hv.resize(static_cast<size_t>(R_ * Dv));
            c.vg.resize(n);
            lora_mul(c.xm[kV].data(), C, val(att(l, "v1")), Dv, c.hv.data());
            lora_mul(c.hv.data(), Dv, val(att(l, "v2")), C, tmp.data());
            const F* v0 = val(att(l, "v0"));
            for (int64_t i = 0; i < R_ * C; ++i) {
                c.vg[i] = sigmoid(v0[i % C] + tmp[i]);
                c.v[i] = c.v_raw[i] + (v_first_[i] - c.v_raw[i]) * c.vg[i];
            }
        }
        // gate
        c.hg.resize(static_cast<size_t>(R_ * Dg));
        lora_mul(c.xm[kG].data(), C, val(att(l, "g1")), Dg, c.hg.data());
        for (F& z : c.hg) z = sigmoid(z);
        lora_mul(c.hg.data(), Dg, val(att(l, "g2")), C, c.g.data());
        // removal key kk = normalize(k⊙k_k) per head; replacement key k2 = k⊙(1 + (a−1)⊙k_a)
        const F* k_k = val(att(l, "k_k"));
        const F* k_a = val(att(l, "k_a"));
        c.kk_norm.resize(static_cast<size_t>(R_ * H));
        for (int64_t r = 0; r < R_; ++r)
            for (int64_t h = 0; h < H; ++h) {
                const int64_t o = r * C + h * N;
                double ss = 0;
                for (int64_t j = 0; j < N; ++j) {
                    const F q = c.k[o + j] * k_k[h * N + j];
                    c.kk[o + j] = q;
                    ss += static_cast<double>(q) * q;
                }
                const F nrm = std::max(static_cast<F>(std::sqrt(ss)), F(1e-12));
                c.kk_norm[r * H + h] = nrm;
                for (int64_t j = 0; j < N; ++j) c.kk[o + j] /= nrm;
            }
        for (int64_t i = 0; i < R_ * C; ++i) {
            const int64_t ch = i % C;
            c.k2[i] = c.k[i] * (F(1) + (c.ag[i] - F(1)) * k_a[ch]);
            c.a_in[i] = -c.kk[i];
            c.b_in[i] = c.kk[i] * c.ag[i];
        }
        c.tapes.resize(static_cast<size_t>(B_));
        for (int64_t b = 0; b < B_; ++b) {
            const int64_t o = b * T_ * C;
            wkv7_forward<F>(T_, H, N, &c.r[o], &c.wdec[o], &c.k2[o], &c.v[o], &c.a_in[o], &c.b_in[o], &c.y[o],
                            c.tapes[b], kStateEvery, this->pool());
        }
        c.gn_mean.resize(static_cast<size_t>(R_ * H));
        c.gn_rstd.resize(static_cast<size_t>(R_ * H));
        group_norm_forward<F>(c.y.data(), R_, C, H, val(att(l, "ln_x.weight")), val(att(l, "ln_x.bias")),
                              F(kGroupNormEps), c.yb.data(), c.gn_mean.data(), c.gn_rstd.data());
        const F* r_k = val(att(l, "r_k"));
        c.bonus.resize(static_cast<size_t>(R_ * H));
        for (int64_t r = 0; r < R_; ++r)
            for (int64_t h = 0; h < H; ++h) {
                const int64_t o = r * C + h * N;
                F sum = 0;
                for (int64_t j = 0; j < N; ++j) sum += c.r[o + j] * c.k2[o + j] * r_k[h * N + j];
                c.bonus[r * H + h] = sum;
                for (int64_t j = 0; j < N; ++j) c.yb[o + j] += sum * c.v[o + j];
            }
        for (int64_t i = 0; i < R_ * C; ++i) tmp[i] = c.yb[i] * c.g[i];
        Buf<F> out(n);
        linear_forward<F>(tmp.data(), R_, C, val(att(l, "output.weight")), C, out.data(), this->pool());
        for (size_t i = 0; i < n; ++i) x[i] += out[i];

        // channel mix
        this->norm_shift_forward(x, blk(l, "ln2"), c.ffn_in);
        c.xkf.resize(n);
        mix_forward<F>(c.ffn_in.xn.data(), c.ffn_in.prev.data(), val(blk(l, "ffn.x_k")), R_, C, c.xkf.data());
        c.hk.resize(static_cast<size_t>(R_ * Fd));
        c.hr.resize(c.hk.size());
        linear_forward<F>(c.xkf.data(), R_, C, val(blk(l, "ffn.key.weight")), Fd, c.hk.data(), this->pool());
        for (size_t i = 0; i < c.hk.size(); ++i) c.hr[i] = c.hk[i] > 0 ? c.hk[i] * c.hk[i] : F(0);
        linear_forward<F>(c.hr.data(), R_, Fd, val(blk(l, "ffn.value.weight")), C, out.data(), this->pool());
        for (size_t i = 0; i < n; ++i) x[i] += out[i];
    }

    void begin_backward() override { dv_first_.assign(static_cast<size_t>(R_ * this->shape().n_embd), F(0)); }

    void layer_backward(int64_t l, Buf<F>& dx) override {
        const ModelShape& s = this->shape();
        const int64_t C = s.n_embd, N = s.head_size, H = C / N, Fd = s.ffn_dim;
        const int64_t Dw = s.lora_dims[0], Da = s.lora_dims[1], Dv = s.lora_dims[2], Dg = s.lora_dims[3];
        const size_t n = static_cast<size_t>(R_ * C);
        LayerCache<F>& c = caches_[static_cast<size_t>(l)];

        // channel mix
        {
            Buf<F> dhr(static_cast<size_t>(R_ * Fd), F(0)), dxkf(n, F(0)), dx2(n, F(0)), dprev2(n, F(0));
            linear_backward<F>(c.hr.data(), dx.data(), R_, Fd, val(blk(l, "ffn.value.weight")), C, dhr.data(),
                               grad(blk(l, "ffn.value.weight")), this->pool());
            for (size_t i = 0; i < dhr.size(); ++i) dhr[i] = c.hk[i] > 0 ? dhr[i] * F(2) * c.hk[i] : F(0);
            linear_backward<F>(c.xkf.data(), dhr.data(), R_, C, val(blk(l, "ffn.key.weight")), Fd, dxkf.data(),
                               grad(blk(l, "ffn.key.weight")), this->pool());
            mix_backward<F>(c.ffn_in.xn.data(), c.ffn_in.prev.data(), val(blk(l, "ffn.x_k")), dxkf.data(), R_, C,
                            dx2.data(), dprev2.data(), grad(blk(l, "ffn.x_k")));
            this->norm_shift_backward(blk(l, "ln2"), c.ffn_in, dx2, dprev2, dx);
        }

        // time mix: output projection, gate
        Buf<F> z(n), dz(n, F(0)), dyb(n), dg(n);
        for (size_t i = 0; i < n; ++i) z[i] = c.yb[i] * c.g[i];
        linear_backward<F>(z.data(), dx.data(), R_, C, val(att(l, "output.weight")), C, dz.data(),
                           grad(att(l, "output.weight")), this->pool());
        for (size_t i = 0; i < n; ++i) {
            dyb[i] = dz[i] * c.g[i];
            dg[i] = dz[i] * c.yb[i];
        }
        Buf<F> dxm[6];
        for (Buf<F>& b : dxm) b.assign(n, F(0));
        {
            Buf<F> dhg(static_cast<size_t>(R_ * Dg));
            lora_back(c.hg.data(), Dg, val(att(l, "g2")), C, dg.data(), dhg.data(), F(0), grad(att(l, "g2")));
            for (size_t i = 0; i < dhg.size(); ++i) dhg[i] *= c.hg[i] * (F(1) - c.hg[i]);
            lora_back(c.xm[kG].data(), C, val(att(l, "g1")), Dg, dhg.data(), dxm[kG].data(), F(1), grad(att(l, "g1")));
        }
        // bonus (Σ r⊙k2⊙r_k)·v, kept aside until the WKV backward has written its gradients
        Buf<F> dr_b(n), dk2_b(n), dv_b(n);
        const F* r_k = val(att(l, "r_k"));
        F* dr_k = grad(att(l, "r_k"));
        for (int64_t r = 0; r < R_; ++r)
            for (int64_t h = 0; h < H; ++h) {
                const int64_t o = r * C + h * N;
                F ds = 0;
                for (int64_t j = 0; j < N; ++j) ds += dyb[o + j] * c.v[o + j];
                const F sum = c.bonus[r * H + h];
                for (int64_t j = 0; j < N; ++j) {
                    dv_b[o + j] = sum * dyb[o + j];
                    dr_b[o + j] = ds * c.k2[o + j] * r_k[h * N + j];
                    dk2_b[o + j] = ds * c.r[o + j] * r_k[h * N + j];
                    dr_k[h * N + j] += ds * c.r[o + j] * c.k2[o + j];
                }
            }
        Buf<F> dy(n, F(0));
        group_norm_backward<F>(c.y.data(), dyb.data(), R_, C, H, val(att(l, "ln_x.weight")), c.gn_mean.data(),
                               c.gn_rstd.data(), dy.data(), grad(att(l, "ln_x.weight")), grad(att(l, "ln_x.bias")));
        Buf<F> dr(n), dw(n), dk2(n), dv(n), da_in(n), db_in(n);
        for (int64_t b = 0; b < B_; ++b) {
            const int64_t o = b * T_ * C;
            wkv7_backward<F>(T_, H, N, &c.r[o], &c.wdec[o], &c.k2[o], &c.v[o], &c.a_in[o], &c.b_in[o], &dy[o],
                             c.tapes[b], kStateEvery, &dr[o], &dw[o], &dk2[o], &dv[o], &da_in[o], &db_in[o],
                             this->pool());
        }
        for (size_t i = 0; i < n; ++i) {
            dr[i] += dr_b[i];
            dk2[i] += dk2_b[i];
            dv[i] += dv_b[i];
        }
        // keys: k2 = k⊙(1 + (a−1)⊙k_a); a_in = −kk; b_in = kk⊙a; kk = normalize(k⊙k_k)
        const F* k_k = val(att(l, "k_k"));
        const F* k_a = val(att(l, "k_a"));
        F* dk_k = grad(att(l, "k_k"));
        F* dk_a = grad(att(l, "k_a"));
        Buf<F> dk(n), dag(n), dkk(n);
        for (size_t i = 0; i < n; ++i) {
            const int64_t ch = static_cast<int64_t>(i) % C;
            dkk[i] = -da_in[i] + db_in[i] * c.ag[i];
            dag[i] = db_in[i] * c.kk[i] + dk2[i] * c.k[i] * k_a[ch];
            dk[i] = dk2[i] * (F(1) + (c.ag[i] - F(1)) * k_a[ch]);
            dk_a[ch] += dk2[i] * c.k[i] * (c.ag[i] - F(1));
        }
        for (int64_t r = 0; r < R_; ++r)
            for (int64_t h = 0; h < H; ++h) {
                const int64_t o = r * C + h * N;
                const F nrm = c.kk_norm[r * H + h];
                // below the clamp the norm is a constant 1e-12 and the map is linear
                F dot = 0;
                if (nrm > F(1e-12))
                    for (int64_t j = 0; j < N; ++j) dot += dkk[o + j] * c.kk[o + j];
                for (int64_t j = 0; j < N; ++j) {
                    const F dq = (dkk[o + j] - c.kk[o + j] * dot) / nrm;
                    dk[o + j] += dq * k_k[h * N + j];
                    dk_k[h * N + j] += dq * c.k[o + j];
                }
            }
        // decay LoRA: w = exp(−c·sigmoid(w0 + tanh(xw·w1)·w2))
        {
            F* dw0 = grad(att(l, "w0"));
            for (size_t i = 0; i < n; ++i) {
                dw[i] *= c.wdec[i] * F(-kDecayScale) * c.sgw[i] * (F(1) - c.sgw[i]);
                dw0[static_cast<int64_t>(i) % C] += dw[i];
            }
            Buf<F> dhw(static_cast<size_t>(R_ * Dw));
            lora_back(c.hw.data(), Dw, val(att(l, "w2")), C, dw.data(), dhw.data(), F(0), grad(att(l, "w2")));
            for (size_t i = 0; i < dhw.size(); ++i) dhw[i] *= F(1) - c.hw[i] * c.hw[i];
            lora_back(c.xm[kW].data(), C, val(att(l, "w1")), Dw, dhw.data(), dxm[kW].data(), F(1), grad(att(l, "w1")));
        }
        // in-context learning rate: a = sigmoid(a0 + xa·a1·a2)
        {
            F* da0 = grad(att(l, "a0"));
            for (size_t i = 0; i < n; ++i) {
                dag[i] *= c.ag[i] * (F(1) - c.ag[i]);
                da0[static_cast<int64_t>(i) % C] += dag[i];
            }
            Buf<F> dha(static_cast<size_t>(R_ * Da));
            lora_back(c.ha.data(), Da, val(att(l, "a2")), C, dag.data(), dha.data(), F(0), grad(att(l, "a2")));
            lora_back(c.xm[kA].data(), C, val(att(l, "a1")), Da, dha.data(), dxm[kA].data(), F(1), grad(att(l, "a1")));
        }
        // value residual: v = v_raw + (v_first − v_raw)⊙sigmoid(v0 + xv·v1·v2); layer 0's v is v_first
        Buf<F> dv_raw(n);
        if (l == 0) {
            for (size_t i = 0; i < n; ++i) dv_raw[i] = dv[i] + dv_first_[i];
        } else {
            F* dv0 = grad(att(l, "v0"));
            Buf<F> dvl(n);
            for (size_t i = 0; i < n; ++i) {
                dv_raw[i] = dv[i] * (F(1) - c.vg[i]);
                dv_first_[i] += dv[i] * c.vg[i];
                dvl[i] = dv[i] * (v_first_[i] - c.v_raw[i]) * c.vg[i] * (F(1) - c.vg[i]);
                dv0[static_cast<int64_t>(i) % C] += dvl[i];
            }
            Buf<F> dhv(static_cast<size_t>(R_ * Dv));
            lora_back(c.hv.data(), Dv, val(att(l, "v2")), C, dvl.data(), dhv.data(), F(0), grad(att(l, "v2")));
            lora_back(c.xm[kV].data(), C, val(att(l, "v1")), Dv, dhv.data(), dxm[kV].data(), F(1), grad(att(l, "v1")));
        }
        linear_backward<F>(c.xm[kR].data(), dr.data(), R_, C, val(att(l, "receptance.weight")), C, dxm[kR].data(),
                           grad(att(l, "receptance.weight")), this->pool());
        linear_backward<F>(c.xm[kK].data(), dk.data(), R_, C, val(att(l, "key.weight")), C, dxm[kK].data(),
                           grad(att(l, "key.weight")), this->pool());
        linear_backward<F>(c.xm[kV].data(), dv_raw.data(), R_, C, val(att(l, "value.weight")), C, dxm[kV].data(),
                           grad(att(l, "value.weight")), this->pool());
        // mixes, token shift, ln1
        static const char* mixes[6] = {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"};
        Buf<F> dx1(n, F(0)), dprev1(n, F(0));
        for (int m = 0; m < 6; ++m)
            mix_backward<F>(c.att_in.xn.data(), c.att_in.prev.data(), val(att(l, mixes[m])), dxm[m].data(), R_, C,
                            dx1.data(), dprev1.data(), grad(att(l, mixes[m])));
        this->norm_shift_backward(blk(l, "ln1"), c.att_in, dx1, dprev1, dx);
    }

    Buf<F> v_first_, dv_first_;
    std::vector<LayerCache<F>> caches_;
};

}  // namespace

template <class F>
std::unique_ptr<TrainModel<F>> make_train_v7(const ModelShape& shape, int threads) {
    return std::make_unique<TrainV7<F>>(shape, threads);
}

template std::unique_ptr<TrainModel<float>> make_train_v7<float>(const ModelShape&, int);
template std::unique_ptr<TrainModel<double>> make_train_v7<double>(const ModelShape&, int);

}  // namespace rwkv::train
