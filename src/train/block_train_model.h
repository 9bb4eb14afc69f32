#pragma once
// What every generation's training model shares: the stem (embedding lookup, blocks.0.ln0), the tail (ln_out,
// head) and the pre-norm + token shift at the start of each sub-block, with their backward passes. A generation
// supplies its layer's forward and backward.
#include <string>
#include <vector>

#include "train/train_model.h"

namespace rwkv::train {

// A sub-block's input: xn = LayerNorm(x) and prev = xn shifted one token within each sequence.
template <class F>
struct NormShift {
    std::vector<F> x, mean, rstd, xn, prev;
};

template <class F>
class BlockTrainModel : public TrainModel<F> {
protected:
    BlockTrainModel(const ModelShape& shape, int threads) : TrainModel<F>(shape, threads) {}

    // x [B·T, C]: the residual stream, updated in place.
    virtual void layer_forward(int64_t l, std::vector<F>& x) = 0;
    // dx: on entry the gradient of the layer's output, on exit that of its input.
    virtual void layer_backward(int64_t l, std::vector<F>& dx) = 0;
    // Called once before the layers' backward passes (for state shared across layers).
    virtual void begin_backward() {}

    F* val(const std::string& n) { return this->params_[n].value.data(); }
    F* grad(const std::string& n) { return this->params_[n].grad.data(); }
    static std::string blk(int64_t l, const char* n) { return "blocks." + std::to_string(l) + "." + n; }

    using NormShift = train::NormShift<F>;
    void norm_shift_forward(const std::vector<F>& x, const std::string& ln, NormShift& c);
    // From the gradients of xn and prev (dprev is consumed), adds the gradient of x to dx.
    void norm_shift_backward(const std::string& ln, const NormShift& c, std::vector<F>& dxn, std::vector<F>& dprev,
                             std::vector<F>& dx);

    int64_t B_ = 0, T_ = 0, R_ = 0;  // sequences, tokens per sequence, rows = B·T

private:
    void forward(const int32_t* inputs, int64_t B, int64_t T) override;
    void backward(const F* dlogits) override;

    std::vector<int32_t> tokens_;
    NormShift stem_;  // emb rows → ln0 (its prev unused)
    std::vector<F> x_final_, xo_, lno_mean_, lno_rstd_;
};

extern template class BlockTrainModel<float>;
extern template class BlockTrainModel<double>;

}  // namespace rwkv::train
