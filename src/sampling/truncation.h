#pragma once
// The stateless numeric steps of rwkv::Sampler, shared by sample() and distribution().
// Internal to src/sampling.
//
// Probabilities are carried as unnormalised weights w = exp((l - l_max) / T), so the most
// likely token has weight exactly 1 and equal logits give exactly equal weights: the top_p and
// min_p boundaries (">=") then behave exactly on hand-made distributions, and no division is
// needed before the draw.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "rwkv/sampler.h"

namespace rwkv::sampling {

// Throws rwkv::Error on a NaN or +inf entry, or when no entry is finite.
void check_logits(const std::vector<float>& logits);

// Index of the largest logit; ties go to the lowest index.
int32_t argmax(const std::vector<float>& logits);

// In place: logits -> weights exp((l - l_max) / temperature), temperature > 0.
void to_weights(std::vector<float>& values, float temperature);

// Fills `kept` with the ids that survive top_k, top_p and min_p, in the order the draw walks
// them, and returns the sum of their weights.
double truncate(const std::vector<float>& weights, const SamplerParams& params,
                std::vector<int32_t>& kept);

// The first id in `kept` whose running weight sum exceeds u * total, u in [0, 1).
int32_t pick(const std::vector<float>& weights, const std::vector<int32_t>& kept, double total,
             double u);

}  // namespace rwkv::sampling
