#pragma once
// An RWKV model of any generation (v4, v5, v6, v7) loaded from an official .pth, a .safetensors or
// an rwkv.cpp .bin, computing in fp32.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "rwkv/state.h"

namespace rwkv {

class ThreadPool;
struct ForwardPass;

// One sequence's part of a step (Model::step): its tokens, in order, advance its state.
struct SequenceStep {
    State* state = nullptr;
    std::span<const int32_t> tokens;
    // The logits after its last token [n_vocab], or with all_logits after each token [T, n_vocab]; or null.
    float* logits = nullptr;
    bool all_logits = false;
};

// The work arrays of running a model: what a step computes in, reused by every call, so that a step after the
// first allocates nothing. A Model is immutable; everything a call changes lives in its states and its Session.
class Session {
public:
    Session();
    ~Session();
    Session(Session&&) noexcept;
    Session& operator=(Session&&) noexcept;
    ForwardPass& pass() { return *pass_; }

private:
    std::unique_ptr<ForwardPass> pass_;
};

struct ModelInfo {
    int version = 0;        // 4, 5, 6, 7
    int version_minor = 0;  // v5: 0, 1 or 2; otherwise 0
    int64_t n_layer = 0, n_embd = 0, n_vocab = 0, ffn_dim = 0;
    int64_t n_head = 0, head_size = 0;  // v5-v7
    int64_t lora_dims[4] = {0, 0, 0, 0};  // v6: maa, decay; v7: w, a, v, g
    float groupnorm_eps = 0;            // v5-v7 ln_x
    std::string path, format, dtype;    // container format, most common stored dtype
    std::string layout;                 // "official" or "rwkvcpp": how tensors were transformed
    std::string variant;                // "" (the generation itself) or "deepembed" (RWKV-7 DeepEmbed, "rwkv7a")
    int64_t n_params = 0;

    std::string version_string() const;  // "4", "5.2", "6", "7"
};

struct LoadOptions {
    // 0: chosen for the model, one thread when its weights per token are too few to pay for splitting
    // each product, else one per available core (Model::default_threads).
    int threads = 1;
    // Tokens per chunk in sequence mode: bounds the activations' memory for long prompts.
    int64_t chunk_len = 128;
};

class Model {
public:
    static std::unique_ptr<Model> load(const std::string& path, const LoadOptions& options = {});
    virtual ~Model();

    const ModelInfo& info() const { return info_; }
    StateShape state_shape() const;
    // Identifies these weights: a state saved from another model is refused.
    uint64_t fingerprint() const { return fingerprint_; }
    State new_state() const;
    // Bytes of weights one generated token reads from memory, as held (stored type, or fp32 where
    // widened at load): every matrix and vector once, one embedding row. Sets the bandwidth limit.
    int64_t weight_bytes_per_token() const { return weight_bytes_per_token_; }

    // RNN mode: one token in; logits [n_vocab] out (if not null); state advanced.
    void eval(State& state, int32_t token, float* logits) const;
    // Sequence mode: all tokens at once, projections as matrix–matrix products, processed in chunks
    // of options.chunk_len. logits: [T, n_vocab] when all_logits, else [n_vocab] for the last token
    // (or null for none).
    void eval_sequence(State& state, std::span<const int32_t> tokens, float* logits, bool all_logits) const;
    // Several sequences at once, each with its own state (no two the same): all their tokens form the rows of
    // one pass, so every projection is one matrix–matrix product over all of them and the weights are read once
    // for the whole step; only the recurrences keep to their own sequence. The same logits and states as running
    // each sequence alone, to rounding. A sequence longer than options.chunk_len is taken a chunk per pass.
    void step(std::span<const SequenceStep> sequences, Session& session) const;

    void set_threads(int n);
    int threads() const;
    // Runs fn over parts of [0, n) on the model's threads (as its products do), for per-sequence work beside a
    // step, such as sampling every sequence of a batch. Not while a call on this model runs.
    void parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn) const;
    // The thread count LoadOptions::threads = 0 picks for a model reading `weight_bytes_per_token`.
    static int default_threads(int64_t weight_bytes_per_token);

protected:
    Model(ModelInfo info, const LoadOptions& options);
    // Runs the sequences' tokens (each at most chunk_len) through every layer as one pass; logits per
    // SequenceStep's contract.
    virtual void forward(std::span<const SequenceStep> sequences, ForwardPass& pass) const = 0;

    void check_tokens(std::span<const int32_t> tokens) const;
    void check_state(const State& state) const;

    ModelInfo info_;
    LoadOptions options_;
    uint64_t fingerprint_ = 0;
    int64_t weight_bytes_per_token_ = 0;
    std::unique_ptr<ThreadPool> pool_;  // reused by every call: no threads created per token
    // What eval and eval_sequence run in. Calls on one model run one at a time: they share its thread pool.
    mutable Session session_;
};

}  // namespace rwkv
