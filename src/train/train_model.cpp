#include "train/train_model.h"

#include <string>

#include "rwkv/error.h"
#include "train/ops.h"

namespace rwkv::train {

template <class F>
std::unique_ptr<TrainModel<F>> TrainModel<F>::create(const ModelShape& shape, int threads) {
    const ModelShape s = shape.resolved();
    if (s.version == 7) return make_train_v7<F>(s, threads);
    if (s.version == 4) return make_train_v4<F>(s, threads);
    throw Error("training supports RWKV-7 and RWKV-4, not version " + std::to_string(s.version));
}

template <class F>
void TrainModel<F>::check_inputs(const int32_t* inputs, int64_t n) const {
    const int64_t V = shape().n_vocab;
    for (int64_t i = 0; i < n; ++i)
        if (inputs[i] < 0 || inputs[i] >= V)
            throw Error("token " + std::to_string(inputs[i]) + " is outside the model's vocabulary [0, " +
                        std::to_string(V) + ")");
}

namespace {
// Windows [B, T + 1] into inputs (each window's first T) and next-token targets (its last T).
void split_windows(const int32_t* tokens, int64_t B, int64_t T, std::vector<int32_t>& inputs,
                   std::vector<int32_t>& targets) {
    inputs.resize(static_cast<size_t>(B * T));
    targets.resize(inputs.size());
    for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t) {
            inputs[b * T + t] = tokens[b * (T + 1) + t];
            targets[b * T + t] = tokens[b * (T + 1) + t + 1];
        }
}
}  // namespace

template <class F>
double TrainModel<F>::forward_backward(const int32_t* tokens, int64_t B, int64_t T, F grad_scale) {
    std::vector<int32_t> inputs, targets;
    split_windows(tokens, B, T, inputs, targets);
    forward(inputs.data(), B, T);
    const int64_t V = shape().n_vocab;
    std::vector<F> dlogits(logits_.size());
    const double loss = cross_entropy<F>(logits_.data(), targets.data(), B * T, V, dlogits.data(), grad_scale, l2wrap_);
    backward(dlogits.data());
    return loss;
}

template <class F>
double TrainModel<F>::loss(const int32_t* tokens, int64_t B, int64_t T) {
    std::vector<int32_t> inputs, targets;
    split_windows(tokens, B, T, inputs, targets);
    forward(inputs.data(), B, T);
    return cross_entropy<F>(logits_.data(), targets.data(), B * T, shape().n_vocab, nullptr, F(0), false);
}

template <class F>
std::vector<F> TrainModel<F>::logits(const int32_t* inputs, int64_t B, int64_t T) {
    forward(inputs, B, T);
    return logits_;
}

template <class F>
int64_t TrainModel<F>::matmul_weights_per_token() const {
    int64_t n = 0;
    for (const Param<F>& p : params_.all()) {
        // layer 0's v LoRA exists for the official trainer's sake but is never used
        const bool unused = p.name == "blocks.0.att.v1" || p.name == "blocks.0.att.v2";
        if (!unused && (p.role == TensorRole::Projection || p.role == TensorRole::Lora))
            n += static_cast<int64_t>(p.size());
    }
    return n;
}

template class TrainModel<float>;
template class TrainModel<double>;

}  // namespace rwkv::train
