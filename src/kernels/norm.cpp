#include "kernels/norm.h"

#include <cmath>

namespace rwkv {

// Mean and variance in double: the statistics are the one place where fp32 accumulation over a
// few thousand channels visibly drifts from PyTorch's (pairwise, Welford) result.
static void normalize(const float* x, float* y, const float* weight, const float* bias, int64_t n, float eps) {
    double mean = 0;
    for (int64_t i = 0; i < n; ++i) mean += x[i];
    mean /= static_cast<double>(n);
    double var = 0;
    for (int64_t i = 0; i < n; ++i) {
        const double d = x[i] - mean;
        var += d * d;
    }
    var /= static_cast<double>(n);
    const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean);
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) * inv * weight[i] + bias[i];
}

void layer_norm(const float* x, float* y, const float* weight, const float* bias, int64_t n, float eps) {
    normalize(x, y, weight, bias, n, eps);
}

void group_norm(const float* x, float* y, const float* weight, const float* bias, int64_t groups, int64_t group_size,
                float eps) {
    for (int64_t g = 0; g < groups; ++g) {
        const int64_t o = g * group_size;
        normalize(x + o, y + o, weight + o, bias + o, group_size, eps);
    }
}

}  // namespace rwkv
