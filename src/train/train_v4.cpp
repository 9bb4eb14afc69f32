// RWKV-4 (the paper's model) for training: LayerNorm, token-shift mixes x·μ + x_prev·(1−μ), the WKV recurrence
// with per-channel decay and bonus, the receptance gate, and the squared-ReLU channel mix gated by sigmoid(R·xr);
// each step's backward derived by hand beside it.
#include <cmath>
#include <string>

#include "train/ops.h"
#include "train/block_train_model.h"
#include "kernels/wkv_train.h"

namespace rwkv::train {
namespace {

template <class F>
F sigmoid(F x) {
    return F(1) / (F(1) + std::exp(-x));
}

template <class F>
using Buf = std::vector<F>;

template <class F>
struct LayerCache4 {
    NormShift<F> att_in, ffn_in;
    Buf<F> xk, xv, xr, k, v, sr, wkv;
    std::vector<Buf<F>> tapes;
    Buf<F> fxk, fxr, hk, hr, kv, fr;
};

template <class F>
class TrainV4 final : public BlockTrainModel<F> {
public:
    TrainV4(const ModelShape& shape, int threads) : BlockTrainModel<F>(shape, threads) {
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

    // v4's mix x·μ + prev·(1−μ) is the shared prev + (x − prev)·μ with the roles of x and prev swapped.
    void mix(const NormShift<F>& in, const F* mu, Buf<F>& y) {
        y.resize(in.xn.size());
        mix_forward<F>(in.prev.data(), in.xn.data(), mu, R_, this->shape().n_embd, y.data());
    }
    void mix_back(const NormShift<F>& in, const F* mu, const Buf<F>& dy, Buf<F>& dx, Buf<F>& dprev,
                  F* dmu) {
        mix_backward<F>(in.prev.data(), in.xn.data(), mu, dy.data(), R_, this->shape().n_embd, dprev.data(),
                        dx.data(), dmu);
    }

    void layer_forward(int64_t l, Buf<F>& x) override {
        const ModelShape& s = this->shape();
        const int64_t C = s.n_embd, Fd = s.ffn_dim;
        const size_t n = static_cast<size_t>(R_ * C);
        LayerCache4<F>& c = caches_[static_cast<size_t>(l)];
        this->norm_shift_forward(x, blk(l, "ln1"), c.att_in);
        mix(c.att_in, val(blk(l, "att.time_mix_k")), c.xk);
        mix(c.att_in, val(blk(l, "att.time_mix_v")), c.xv);
        mix(c.att_in, val(blk(l, "att.time_mix_r")), c.xr);
        for (Buf<F>* b : {&c.k, &c.v, &c.sr, &c.wkv}) b->resize(n);
        linear_forward<F>(c.xk.data(), R_, C, val(blk(l, "att.key.weight")), C, c.k.data(), this->pool());
        linear_forward<F>(c.xv.data(), R_, C, val(blk(l, "att.value.weight")), C, c.v.data(), this->pool());
        linear_forward<F>(c.xr.data(), R_, C, val(blk(l, "att.receptance.weight")), C, c.sr.data(), this->pool());
        for (F& z : c.sr) z = sigmoid(z);
        const F* td = val(blk(l, "att.time_decay"));
        w_.resize(static_cast<size_t>(C));
        for (int64_t ch = 0; ch < C; ++ch) w_[ch] = -std::exp(td[ch]);
        c.tapes.resize(static_cast<size_t>(B_));
        for (int64_t b = 0; b < B_; ++b) {
            const int64_t o = b * T_ * C;
            wkv4_forward<F>(T_, C, w_.data(), val(blk(l, "att.time_first")), &c.k[o], &c.v[o], &c.wkv[o], c.tapes[b],
                            this->pool());
        }
        Buf<F> z(n), out(n);
        for (size_t i = 0; i < n; ++i) z[i] = c.sr[i] * c.wkv[i];
        linear_forward<F>(z.data(), R_, C, val(blk(l, "att.output.weight")), C, out.data(), this->pool());
        for (size_t i = 0; i < n; ++i) x[i] += out[i];

        this->norm_shift_forward(x, blk(l, "ln2"), c.ffn_in);
        mix(c.ffn_in, val(blk(l, "ffn.time_mix_k")), c.fxk);
        mix(c.ffn_in, val(blk(l, "ffn.time_mix_r")), c.fxr);
        c.hk.resize(static_cast<size_t>(R_ * Fd));
        c.hr.resize(c.hk.size());
        c.kv.resize(n);
        c.fr.resize(n);
        linear_forward<F>(c.fxk.data(), R_, C, val(blk(l, "ffn.key.weight")), Fd, c.hk.data(), this->pool());
        for (size_t i = 0; i < c.hk.size(); ++i) c.hr[i] = c.hk[i] > 0 ? c.hk[i] * c.hk[i] : F(0);
        linear_forward<F>(c.hr.data(), R_, Fd, val(blk(l, "ffn.value.weight")), C, c.kv.data(), this->pool());
        linear_forward<F>(c.fxr.data(), R_, C, val(blk(l, "ffn.receptance.weight")), C, c.fr.data(), this->pool());
        for (F& zz : c.fr) zz = sigmoid(zz);
        for (size_t i = 0; i < n; ++i) x[i] += c.fr[i] * c.kv[i];
    }

    void layer_backward(int64_t l, Buf<F>& dx) override {
        const ModelShape& s = this->shape();
        const int64_t C = s.n_embd, Fd = s.ffn_dim;
        const size_t n = static_cast<size_t>(R_ * C);
        LayerCache4<F>& c = caches_[static_cast<size_t>(l)];
        {
            Buf<F> dkv(n), dfr(n), dhr(static_cast<size_t>(R_ * Fd), F(0)), dfxk(n, F(0)), dfxr(n, F(0));
            for (size_t i = 0; i < n; ++i) {
                dkv[i] = dx[i] * c.fr[i];
                dfr[i] = dx[i] * c.kv[i] * c.fr[i] * (F(1) - c.fr[i]);
            }
            linear_backward<F>(c.hr.data(), dkv.data(), R_, Fd, val(blk(l, "ffn.value.weight")), C, dhr.data(),
                               grad(blk(l, "ffn.value.weight")), this->pool());
            for (size_t i = 0; i < dhr.size(); ++i) dhr[i] = c.hk[i] > 0 ? dhr[i] * F(2) * c.hk[i] : F(0);
            linear_backward<F>(c.fxk.data(), dhr.data(), R_, C, val(blk(l, "ffn.key.weight")), Fd, dfxk.data(),
                               grad(blk(l, "ffn.key.weight")), this->pool());
            linear_backward<F>(c.fxr.data(), dfr.data(), R_, C, val(blk(l, "ffn.receptance.weight")), C, dfxr.data(),
                               grad(blk(l, "ffn.receptance.weight")), this->pool());
            Buf<F> dx2(n, F(0)), dprev2(n, F(0));
            mix_back(c.ffn_in, val(blk(l, "ffn.time_mix_k")), dfxk, dx2, dprev2, grad(blk(l, "ffn.time_mix_k")));
            mix_back(c.ffn_in, val(blk(l, "ffn.time_mix_r")), dfxr, dx2, dprev2, grad(blk(l, "ffn.time_mix_r")));
            this->norm_shift_backward(blk(l, "ln2"), c.ffn_in, dx2, dprev2, dx);
        }
        Buf<F> z(n), dz(n, F(0)), dr(n), dwkv(n);
        for (size_t i = 0; i < n; ++i) z[i] = c.sr[i] * c.wkv[i];
        linear_backward<F>(z.data(), dx.data(), R_, C, val(blk(l, "att.output.weight")), C, dz.data(),
                           grad(blk(l, "att.output.weight")), this->pool());
        for (size_t i = 0; i < n; ++i) {
            dwkv[i] = dz[i] * c.sr[i];
            dr[i] = dz[i] * c.wkv[i] * c.sr[i] * (F(1) - c.sr[i]);
        }
        const F* td = val(blk(l, "att.time_decay"));
        Buf<F> w(static_cast<size_t>(C)), dw(static_cast<size_t>(C), F(0)), dk(n), dv(n);
        for (int64_t ch = 0; ch < C; ++ch) w[ch] = -std::exp(td[ch]);
        for (int64_t b = 0; b < B_; ++b) {
            const int64_t o = b * T_ * C;
            wkv4_backward<F>(T_, C, w.data(), val(blk(l, "att.time_first")), &c.k[o], &c.v[o], &dwkv[o], c.tapes[b],
                             dw.data(), grad(blk(l, "att.time_first")), &dk[o], &dv[o], this->pool());
        }
        F* dtd = grad(blk(l, "att.time_decay"));
        for (int64_t ch = 0; ch < C; ++ch) dtd[ch] += dw[ch] * w[ch];  // w = −exp(td): dw/dtd = w
        Buf<F> dxk(n, F(0)), dxv(n, F(0)), dxr(n, F(0));
        linear_backward<F>(c.xk.data(), dk.data(), R_, C, val(blk(l, "att.key.weight")), C, dxk.data(),
                           grad(blk(l, "att.key.weight")), this->pool());
        linear_backward<F>(c.xv.data(), dv.data(), R_, C, val(blk(l, "att.value.weight")), C, dxv.data(),
                           grad(blk(l, "att.value.weight")), this->pool());
        linear_backward<F>(c.xr.data(), dr.data(), R_, C, val(blk(l, "att.receptance.weight")), C, dxr.data(),
                           grad(blk(l, "att.receptance.weight")), this->pool());
        Buf<F> dx1(n, F(0)), dprev1(n, F(0));
        mix_back(c.att_in, val(blk(l, "att.time_mix_k")), dxk, dx1, dprev1, grad(blk(l, "att.time_mix_k")));
        mix_back(c.att_in, val(blk(l, "att.time_mix_v")), dxv, dx1, dprev1, grad(blk(l, "att.time_mix_v")));
        mix_back(c.att_in, val(blk(l, "att.time_mix_r")), dxr, dx1, dprev1, grad(blk(l, "att.time_mix_r")));
        this->norm_shift_backward(blk(l, "ln1"), c.att_in, dx1, dprev1, dx);
    }

    Buf<F> w_;
    std::vector<LayerCache4<F>> caches_;
};

}  // namespace

template <class F>
std::unique_ptr<TrainModel<F>> make_train_v4(const ModelShape& shape, int threads) {
    return std::make_unique<TrainV4<F>>(shape, threads);
}

template std::unique_ptr<TrainModel<float>> make_train_v4<float>(const ModelShape&, int);
template std::unique_ptr<TrainModel<double>> make_train_v4<double>(const ModelShape&, int);

}  // namespace rwkv::train
