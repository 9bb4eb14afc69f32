#pragma once
// A model being trained: its parameters, and the sequence-mode forward pass over a batch of B sequences of T
// tokens that keeps what the hand-derived backward pass needs. RWKV-7 and RWKV-4 (the paper's model).
#include <cstdint>
#include <memory>
#include <vector>

#include "core/thread_pool.h"
#include "train/params.h"

namespace rwkv::train {

template <class F>
class TrainModel {
public:
    // A model of `shape` (version 4 or 7) with all parameters zero: initialise or load them next.
    static std::unique_ptr<TrainModel> create(const ModelShape& shape, int threads);
    virtual ~TrainModel() = default;

    ParamSet<F>& params() { return params_; }
    const ParamSet<F>& params() const { return params_; }
    const ModelShape& shape() const { return params_.shape(); }
    ThreadPool& pool() { return pool_; }
    // Whether the official trainer's L2Wrap term is added to the head's gradient (on by default; gradient checks
    // turn it off because it is not the gradient of the loss).
    void set_l2wrap(bool on) { l2wrap_ = on; }

    // tokens [B, T + 1] row-major: inputs are each row's first T, targets its last T. Returns the mean loss and
    // adds grad_scale × its gradient to the parameters' gradients.
    double forward_backward(const int32_t* tokens, int64_t B, int64_t T, F grad_scale);
    // The mean loss alone (no gradients kept).
    double loss(const int32_t* tokens, int64_t B, int64_t T);
    // Logits [B·T, vocab] for inputs [B, T] (row-major), from the zero state.
    std::vector<F> logits(const int32_t* inputs, int64_t B, int64_t T);

    // Multiply–adds per token of the projections (weights touched per token) — for FLOP accounting.
    int64_t matmul_weights_per_token() const;

protected:
    TrainModel(const ModelShape& shape, int threads) : params_(shape), pool_(threads) {}
    // Runs inputs [B, T] into logits_ [B·T, V], keeping the activations a following backward() needs.
    virtual void forward(const int32_t* inputs, int64_t B, int64_t T) = 0;
    // From dlogits [B·T, V], adds to every parameter's gradient (the last forward() kept its activations).
    virtual void backward(const F* dlogits) = 0;

    void check_inputs(const int32_t* inputs, int64_t n) const;

    ParamSet<F> params_;
    ThreadPool pool_;
    std::vector<F> logits_;
    bool l2wrap_ = true;
};

template <class F>
std::unique_ptr<TrainModel<F>> make_train_v7(const ModelShape& shape, int threads);
template <class F>
std::unique_ptr<TrainModel<F>> make_train_v4(const ModelShape& shape, int threads);

extern template class TrainModel<float>;
extern template class TrainModel<double>;

}  // namespace rwkv::train
