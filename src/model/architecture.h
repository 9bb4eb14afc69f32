#pragma once
// The tensors of an RWKV model of a given generation and size, with the names, shapes and meaning
// of the official checkpoints (../shared/testdata/reference/README.md). `rwkv init` builds
// random-weight models of published shapes from this; training will initialise from it too.
#include <cstdint>
#include <string>
#include <vector>

#include "rwkv/tensor.h"

namespace rwkv {

struct ModelShape {
    int version = 7;  // 4, 5 (5.2), 6, 7
    int64_t n_layer = 12, n_embd = 768, n_vocab = 65536;
    int64_t head_size = 64;  // v5-v7
    int64_t ffn_dim = 0;     // 0: the generation's default (4C for v4/v7, 3.5C rounded down to 32 for v5/v6)
    // v6: maa, decay; v7: w, a, v, g. 0: the released models' rule for n_embd.
    int64_t lora_dims[4] = {0, 0, 0, 0};

    // Fills the defaults in and checks the sizes (throws rwkv::Error naming the field).
    ModelShape resolved() const;
};

// What a tensor is for: decides its random initial values and the precision it is stored in.
enum class TensorRole {
    Projection,  // a large [out, in] matrix read once per token: quantized in converted files
    Embedding,   // looked up one row per token
    Lora,        // small low-rank matrices (v6, v7)
    NormWeight,
    NormBias,
    Mix,          // token-shift fractions in [0, 1]
    Decay,        // raw time_decay / w0
    Bonus,        // time_first / time_faaaa / r_k
    Other,        // small vectors: a0, v0, k_k, k_a
};

struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;  // PyTorch order
    TensorRole role;

    int64_t numel() const;
};

// Every tensor of the model, in the order the official checkpoints list them.
std::vector<TensorSpec> model_tensors(const ModelShape& shape);

// The stored type of a tensor when a model is converted to `requested`: projections take the
// requested type (falling back to q8_0, then f16, when their rows are not a whole number of
// blocks); the embedding takes it only when it is a float type, else f16 (its rows enter the
// model unprojected, so its error is not averaged away); everything else — norms, mixes, decays,
// bonuses and the small LoRA matrices, about 1% of the weights — stays f32.
DType storage_type(const TensorSpec& spec, DType requested);

// Deterministic random values for rows [row_begin, row_begin + rows) of `spec` (row = the last
// axis), plausible for the tensor's role, so that a random model runs without NaNs.
void random_rows(const TensorSpec& spec, const ModelShape& shape, uint64_t seed, int64_t row_begin, int64_t rows,
                 float* out);

}  // namespace rwkv
