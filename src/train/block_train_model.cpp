#include "train/block_train_model.h"

#include "train/ops.h"

namespace rwkv::train {

namespace {
constexpr double kLayerNormEps = 1e-5;
}

template <class F>
void BlockTrainModel<F>::norm_shift_forward(const std::vector<F>& x, const std::string& ln, NormShift& c) {
    const int64_t C = this->shape().n_embd;
    c.x = x;
    c.mean.resize(static_cast<size_t>(R_));
    c.rstd.resize(static_cast<size_t>(R_));
    c.xn.resize(x.size());
    c.prev.resize(x.size());
    layer_norm_forward<F>(x.data(), R_, C, val(ln + ".weight"), val(ln + ".bias"), F(kLayerNormEps), c.xn.data(),
                          c.mean.data(), c.rstd.data());
    token_shift<F>(c.xn.data(), B_, T_, C, c.prev.data());
}

template <class F>
void BlockTrainModel<F>::norm_shift_backward(const std::string& ln, const NormShift& c, std::vector<F>& dxn,
                                             std::vector<F>& dprev, std::vector<F>& dx) {
    const int64_t C = this->shape().n_embd;
    token_shift_backward<F>(dprev.data(), B_, T_, C, dxn.data());
    layer_norm_backward<F>(c.x.data(), dxn.data(), R_, C, val(ln + ".weight"), c.mean.data(), c.rstd.data(),
                           dx.data(), grad(ln + ".weight"), grad(ln + ".bias"));
}

template <class F>
void BlockTrainModel<F>::forward(const int32_t* inputs, int64_t B, int64_t T) {
    this->check_inputs(inputs, B * T);
    const ModelShape& s = this->shape();
    B_ = B;
    T_ = T;
    R_ = B * T;
    const int64_t C = s.n_embd, V = s.n_vocab;
    const size_t n = static_cast<size_t>(R_ * C);
    tokens_.assign(inputs, inputs + R_);
    std::vector<F> rows(n);
    const F* emb = val("emb.weight");
    for (int64_t i = 0; i < R_; ++i) std::copy(emb + inputs[i] * C, emb + (inputs[i] + 1) * C, &rows[i * C]);
    norm_shift_forward(rows, "blocks.0.ln0", stem_);
    std::vector<F> x = stem_.xn;
    for (int64_t l = 0; l < s.n_layer; ++l) layer_forward(l, x);
    x_final_ = x;
    xo_.resize(n);
    lno_mean_.resize(static_cast<size_t>(R_));
    lno_rstd_.resize(static_cast<size_t>(R_));
    layer_norm_forward<F>(x.data(), R_, C, val("ln_out.weight"), val("ln_out.bias"), F(kLayerNormEps), xo_.data(),
                          lno_mean_.data(), lno_rstd_.data());
    this->logits_.resize(static_cast<size_t>(R_ * V));
    linear_forward<F>(xo_.data(), R_, C, val("head.weight"), V, this->logits_.data(), this->pool());
}

template <class F>
void BlockTrainModel<F>::backward(const F* dlogits) {
    const ModelShape& s = this->shape();
    const int64_t C = s.n_embd, V = s.n_vocab;
    const size_t n = static_cast<size_t>(R_ * C);
    std::vector<F> dxo(n, F(0)), dx(n, F(0));
    linear_backward<F>(xo_.data(), dlogits, R_, C, val("head.weight"), V, dxo.data(), grad("head.weight"),
                       this->pool());
    layer_norm_backward<F>(x_final_.data(), dxo.data(), R_, C, val("ln_out.weight"), lno_mean_.data(),
                           lno_rstd_.data(), dx.data(), grad("ln_out.weight"), grad("ln_out.bias"));
    begin_backward();
    for (int64_t l = s.n_layer - 1; l >= 0; --l) layer_backward(l, dx);
    std::vector<F> de(n, F(0)), no_shift(n, F(0));  // ln0's output is not token-shifted
    norm_shift_backward("blocks.0.ln0", stem_, dx, no_shift, de);
    F* demb = grad("emb.weight");
    for (int64_t i = 0; i < R_; ++i)
        for (int64_t ch = 0; ch < C; ++ch) demb[tokens_[i] * C + ch] += de[i * C + ch];
}

template class BlockTrainModel<float>;
template class BlockTrainModel<double>;

}  // namespace rwkv::train
