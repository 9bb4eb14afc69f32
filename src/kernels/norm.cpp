#include "kernels/norm.h"

#include <cmath>

namespace rwkv {

// Mean and variance in double: the statistics are the one place where fp32 accumulation over a
// few thousand channels visibly drifts from PyTorch's (pairwise, Welford) result.
// sum of f(x[i]) in double, in four interleaved partial sums: one running sum is a chain of dependent adds
// (4 cycles each), which made the norms a visible serial step between a small model's parallel products.
template <class F>
static double sum4(const float* x, int64_t n, F f) {
    double s[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; ++j) s[j] += f(x[i + j]);
    for (; i < n; ++i) s[0] += f(x[i]);
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static void normalize(const float* x, float* y, const float* weight, const float* bias, int64_t n, float eps) {
    const double mean = sum4(x, n, [](float v) { return static_cast<double>(v); }) / static_cast<double>(n);
    const double var = sum4(x, n, [mean](float v) {
                           const double d = v - mean;
                           return d * d;
                       }) /
                       static_cast<double>(n);
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
