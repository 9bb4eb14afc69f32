#pragma once
// The trainable parameters of a model: every tensor under its official checkpoint name and shape, with its
// fp32 (or, for gradient checks, fp64) master values and a gradient of the same size. Checkpoints are written
// from and loaded into this set, so what the official code and this engine's inference read is exactly what
// was trained.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/architecture.h"
#include "rwkv/tensor.h"

namespace rwkv::train {

template <class F>
struct Param {
    std::string name;
    std::vector<int64_t> shape;  // PyTorch order
    TensorRole role = TensorRole::Other;
    std::vector<F> value, grad;
    bool decay = false;     // AdamW weight decay applies (2-D ".weight" matrices, as the official trainer)
    double lr_scale = 1.0;  // the official trainer runs att.w0 at twice the learning rate

    size_t size() const { return value.size(); }
};

template <class F>
class ParamSet {
public:
    // The tensors of `shape` as the official trainer creates them (for v7 that includes v0/v1/v2 on layer 0,
    // unused there, so that the official code loads the checkpoint strictly), all zero.
    explicit ParamSet(const ModelShape& shape);

    const ModelShape& shape() const { return shape_; }
    std::vector<Param<F>>& all() { return params_; }
    const std::vector<Param<F>>& all() const { return params_; }
    bool has(const std::string& name) const { return index_.count(name) != 0; }
    // Throws rwkv::Error naming the tensor when absent.
    Param<F>& operator[](const std::string& name);
    const Param<F>& operator[](const std::string& name) const;

    void zero_grad();
    int64_t count() const;  // number of scalars

    // Values from a checkpoint's tensors (fp32, f16 or bf16, official layout). Every parameter must be present
    // with its shape ([1,1,C] and [C] are interchangeable, as in the official code); v7's layer-0 v0/v1/v2 may be
    // missing (released checkpoints drop them) and keep their current values. rwkv::Error names the tensor.
    void load(const TensorFile& file);
    // The parameters as checkpoint tensors (official names and shapes, fp32 values).
    std::vector<std::pair<std::string, Tensor>> to_tensors() const;

private:
    ModelShape shape_;
    std::vector<Param<F>> params_;
    std::map<std::string, size_t> index_;
};

// The model shape a checkpoint's tensors describe (generation 4 or 7, sizes from the tensor shapes).
ModelShape shape_of(const TensorFile& file);

extern template class ParamSet<float>;
extern template class ParamSet<double>;

}  // namespace rwkv::train
