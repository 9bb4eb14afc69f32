#pragma once
// The optimiser: AdamW on fp32 master weights, weight decay applied to matrices only (as the official RWKV
// trainer does: 2-D projection weights decay; embeddings' treatment is a flag; norms, mixes, decays and biases
// never), with learning-rate warm-up then cosine or linear decay, global gradient-norm clipping, and the step
// count kept for bias correction. Its state (moments and step) is saved and restored for --resume.
#include <cstdint>
#include <string>
#include <vector>

namespace rwkv::train {

struct AdamWConfig {
    double lr = 6e-4;          // peak learning rate
    double lr_final = 6e-5;    // at the end of the decay
    double beta1 = 0.9, beta2 = 0.99, eps = 1e-8;
    double weight_decay = 0.1;
    double grad_clip = 1.0;    // max global L2 norm; <= 0 disables
    int64_t warmup_steps = 0;  // linear warm-up from 0 to lr
    int64_t total_steps = 0;   // decay ends here
    std::string schedule = "cosine";  // "cosine", "linear" or "constant"
};

// rwkv::Error naming the setting unless every one is a finite number in its range (NaN is in none).
void check_config(const AdamWConfig& cfg);

// Learning rate at optimiser step `step` (0-based).
double learning_rate(const AdamWConfig& cfg, int64_t step);

// One parameter group member: a view of the master weights and their gradient.
struct ParamRef {
    std::string name;
    float* value;
    const float* grad;
    size_t n;
    bool decay;  // weight decay applies
    double lr_scale = 1.0;  // this parameter's learning rate is lr × lr_scale (the official trainer: 2 for att.w0)
};

class AdamW {
public:
    AdamW(AdamWConfig cfg, const std::vector<ParamRef>& params);

    // Clips the gradients' global norm (scaling factor applied on the fly, gradients left unchanged), then
    // updates every parameter. Returns the global gradient norm before clipping.
    double step(const std::vector<ParamRef>& params);
    int64_t steps_done() const { return step_; }
    const AdamWConfig& config() const { return cfg_; }

    // Moments and step, for the trainer-state file. load_state checks the sizes against the parameters
    // and throws rwkv::Error naming the parameter on a mismatch.
    void save_state(std::vector<uint8_t>& out) const;
    void load_state(const uint8_t* data, size_t size);

private:
    AdamWConfig cfg_;
    std::vector<std::string> names_;
    std::vector<std::vector<float>> m_, v_;
    int64_t step_ = 0;
};

}  // namespace rwkv::train
