#pragma once
// Helpers shared by the sampling tests.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "rwkv/sampler.h"

namespace rwkv::test {

// Logits whose softmax is `probs` (up to float rounding of the logarithm).
inline std::vector<float> logits_of(const std::vector<double>& probs) {
    std::vector<float> out;
    for (double p : probs) out.push_back(p > 0 ? static_cast<float>(std::log(p)) : -INFINITY);
    return out;
}

// Reference softmax(logits / t) in double, written independently of the sampler.
inline std::vector<double> softmax(const std::vector<float>& logits, double t) {
    double max = -INFINITY;
    for (float l : logits) max = std::max(max, static_cast<double>(l));
    std::vector<double> p;
    double sum = 0;
    for (float l : logits) {
        p.push_back(std::exp((l - max) / t));
        sum += p.back();
    }
    for (double& x : p) x /= sum;
    return p;
}

// Ids with a non-zero probability in a distribution() result.
inline std::vector<int32_t> support(const std::vector<float>& probs) {
    std::vector<int32_t> ids;
    for (size_t i = 0; i < probs.size(); ++i)
        if (probs[i] > 0.0f) ids.push_back(static_cast<int32_t>(i));
    return ids;
}

inline std::vector<float> distribution(const SamplerParams& params, const std::vector<float>& logits) {
    return Sampler(params).distribution(logits.data(), logits.size());
}

}  // namespace rwkv::test
