#include "model/legacy_bf16_layer_norm.h"

#include <cmath>
#include <vector>

#include "core/half.h"

namespace rwkv {

namespace {

constexpr int kLanes = 16;  // Vectorized<BFloat16> width on AVX2
constexpr int kChunk = 16;  // vectors per Welford chunk in RowwiseMoments

// Every bf16 operation widens to fp32, computes, and rounds back.
float B(float v) { return bf16_to_f32(f32_to_bf16(v)); }

struct Moments {
    int64_t m0 = 0;
    float m1[kLanes] = {}, m2[kLanes] = {};
};

int ceil_log2(int64_t x) {
    int d = 0;
    while ((int64_t{1} << d) < x) ++d;
    return d;
}

// Chan's parallel merge of (m0_add, m1_add, m2_add) into (m0, m1, m2), lane by lane, in bf16.
void add_vec(int64_t m0_add, const float* m1a, const float* m2a, Moments& m) {
    const int64_t nn = m.m0 + m0_add;
    const float c = nn == 0 ? 0.0f : B(B(static_cast<float>(m0_add)) / B(static_cast<float>(nn)));
    const float cm0 = B(static_cast<float>(m.m0));
    for (int l = 0; l < kLanes; ++l) {
        const float d = B(m1a[l] - m.m1[l]);
        m.m1[l] = B(m.m1[l] + B(c * d));
        m.m2[l] = B(m.m2[l] + B(m2a[l] + B(B(B(d * d) * c) * cm0)));
    }
    m.m0 = nn;
}

void add_scalar(int64_t m0_add, float m1a, float m2a, int64_t& m0, float& m1, float& m2) {
    const int64_t nn = m0 + m0_add;
    const float c = nn == 0 ? 0.0f : B(B(static_cast<float>(m0_add)) / B(static_cast<float>(nn)));
    const float d = B(m1a - m1);
    m1 = B(m1 + B(c * d));
    m2 = B(m2 + B(m2a + B(B(B(d * d) * c) * B(static_cast<float>(m0)))));
    m0 = nn;
}

// Returns mean and biased variance.
void rowwise_moments(const float* x, int64_t N, float& mean, float& var) {
    const int64_t n = N / kLanes;
    const int64_t m = (n + kChunk - 1) / kChunk;
    const int depth = ceil_log2(m);
    std::vector<Moments> stack(static_cast<size_t>(std::max(depth, 1)));
    float c[kChunk];
    for (int j = 0; j < kChunk; ++j) c[j] = B(1.0f / static_cast<float>(j + 1));
    for (int64_t i = 0; i < m; ++i) {
        const float* base = x + i * kChunk * kLanes;
        const int64_t m0 = std::min<int64_t>(kChunk, n - i * kChunk);
        float v1[kLanes] = {}, v2[kLanes] = {};
        for (int64_t j = 0; j < m0; ++j)
            for (int l = 0; l < kLanes; ++l) {
                const float xv = base[j * kLanes + l];
                const float d = B(xv - v1[l]);
                v1[l] = B(v1[l] + B(d * c[j]));
                v2[l] = B(v2[l] + B(d * B(xv - v1[l])));
            }
        add_vec(m0, v1, v2, stack[0]);
        int64_t mask = i + 1;
        for (int j = 1; j < depth && (mask & 1) == 0; ++j, mask >>= 1) {
            add_vec(stack[j - 1].m0, stack[j - 1].m1, stack[j - 1].m2, stack[j]);
            stack[j - 1] = Moments{};
        }
    }
    for (int i = 1; i < depth; ++i) add_vec(stack[i].m0, stack[i].m1, stack[i].m2, stack[0]);
    int64_t M0 = 0;
    float M1 = 0, M2 = 0;
    for (int64_t i = n * kLanes; i < N; ++i) {  // scalar tail when N is not a multiple of 16
        const float d = B(x[i] - M1);
        ++M0;
        M1 = B(M1 + B(d / B(static_cast<float>(M0))));
        M2 = B(M2 + B(d * B(x[i] - M1)));
    }
    for (int l = 0; l < kLanes; ++l) add_scalar(n, stack[0].m1[l], stack[0].m2[l], M0, M1, M2);
    mean = M1;
    var = B(M2 / B(static_cast<float>(N)));
}

}  // namespace

void legacy_bf16_layer_norm(const float* x, float* y, const float* weight, const float* bias, int64_t n, float eps) {
    float mean, var;
    rowwise_moments(x, n, mean, var);
    const float rstd = B(1.0f / B(std::sqrt(B(var + B(eps)))));
    const float shift = B(-rstd * mean);
    for (int64_t i = 0; i < n; ++i) y[i] = B((x[i] * rstd + shift) * weight[i] + bias[i]);
}

}  // namespace rwkv
