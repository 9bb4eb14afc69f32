#pragma once
// What every RWKV generation shares: embedding (with ln0 folded in), the pre-norm residual block
// structure, token shift, the output norm and head. A generation supplies its time mix and channel
// mix; both see T tokens at once so projections are matrix–matrix products.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <span>
#include <vector>

#include "kernels/matrix.h"
#include "kernels/wkv.h"
#include "model/binder.h"
#include "rwkv/model.h"

namespace rwkv {

struct NormWeights {
    std::vector<float> weight, bias;
};

// The rows of one forward(): sequence i's tokens are rows [row[i], row[i] + T_i) of every activation, in order.
struct Batch {
    std::span<const SequenceStep> seqs;
    std::vector<int64_t> row;
    int64_t rows = 0;
    std::vector<WkvSpan> spans;  // for spans_of()

    int64_t T(size_t i) const { return static_cast<int64_t>(seqs[i].tokens.size()); }
    // Each sequence's rows with its state's layer-l recurrence state (State::att), for the WKV kernels.
    std::span<const WkvSpan> spans_of(int64_t layer);
};

// What one forward() works in: its rows, values one layer hands to later layers (v7's value residual), the
// residual stream, and temporaries. A Session holds one for every call, so after the first a token step neither
// allocates nor zeroes.
struct ForwardPass {
    Batch batch;
    std::vector<float> v_first;
    std::vector<float> x, xx, out;  // the residual stream, its normalised copy, a block's output
    MatvecScratch products;          // the one-token products' quantized inputs
    std::vector<float> logits;       // the head's output when it goes to several sequences
    // Work array `slot` holding n floats, reused by every layer and call: the layers ask for the same sizes.
    // Its contents are whatever was last left there (write before reading); a time mix and a channel mix
    // may both count slots from 0. A deque, so earlier slots stay put.
    std::vector<float>& work(size_t slot, size_t n) {
        while (scratch.size() <= slot) scratch.emplace_back();
        scratch[slot].resize(n);
        return scratch[slot];
    }
    std::deque<std::vector<float>> scratch;
};

class BlockModel : public Model {
protected:
    BlockModel(ModelInfo info, const LoadOptions& options, Binder& binder);

    void forward(std::span<const SequenceStep> sequences, ForwardPass& pass) const override;

    using Pass = ForwardPass;
    // out[R, C] = the block's attention output for the normalised inputs xx[R, C] of the batch's rows; every
    // sequence's state advanced.
    virtual void time_mix(int64_t layer, Batch& b, const float* xx, float* out, Pass& pass) const = 0;
    virtual void channel_mix(int64_t layer, Batch& b, const float* xx, float* out, Pass& pass) const = 0;

    ThreadPool& pool() const { return *pool_; }
    int64_t C() const { return info_.n_embd; }
    // x[C] = ln0(emb[token]): the input of layer 0 (and DeepEmbed's folded embedding row).
    void embed(int32_t token, float* x) const;

private:
    Matrix emb_;      // [V, C] in its stored type
    NormWeights ln0_;  // empty when the file has no ln0
    bool legacy_bf16_ln0_ = false;
    std::vector<NormWeights> ln1_, ln2_;
    NormWeights ln_out_;
    Matrix head_;
};

// prev[R, C]: for each row the previous token's normalised input — a sequence's first row from its state's
// vector `which` of the layer (State::att_x_prev or ffn_x_prev), the others from the row before; each state then
// keeps its sequence's last row for the next call.
void token_shift(const Batch& b, int64_t layer, float* (State::*which)(int64_t), const float* xx, int64_t C,
                 float* prev);

// out = x + (prev − x) ⊙ mu, row by row (mu broadcast over tokens, or per token with mu_stride C).
void shift_mix(const float* x, const float* prev, const float* mu, int64_t mu_stride, int64_t T, int64_t C, float* out);

// The squared-ReLU channel mix of v4–v6: sigmoid(R·xr) ⊙ (V · relu(K·xk)²). v7 has no receptance.
struct ChannelMix {
    std::vector<float> mu_k, mu_r;  // token-shift fractions
    Matrix key, value, receptance;

    void load(Binder& b, const std::string& prefix, int64_t C, int64_t F, bool v4_style_mix);
    void run(const Batch& b, int64_t layer, const float* xx, float* out, ThreadPool& pool, ForwardPass& pass) const;
};

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// relu(x)² in place. The sign bit clears negatives with integer ops: GCC turns any float compare or max here
// into a branch, and the signs of K·x are random enough that it mispredicted on about half of the elements
// (2% of generation time on a 0.1B model). This form vectorises.
inline void relu_squared(std::vector<float>& v) {
    for (float& z : v) {
        int32_t bits;
        std::memcpy(&bits, &z, 4);
        bits &= ~(bits >> 31);  // all ones where negative
        float r;
        std::memcpy(&r, &bits, 4);
        z = r * r;
    }
}

}  // namespace rwkv
