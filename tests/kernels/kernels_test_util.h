#pragma once
// Shared by the kernel tests: weight types, random data, encoding through the reference quantizers, and
// plain double-precision products to compare against.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/quant.h"
#include "core/quant_k.h"
#include "kernels/dot.h"
#include "rwkv/tensor.h"

namespace rwkv::test {

inline const DType kAllTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                                  DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q4_K, DType::Q6_K};

inline std::string type_param_name(const testing::TestParamInfo<DType>& info) { return dtype_name(info.param); }

inline bool have_avx2() { return detected_isa() >= Isa::Avx2; }

inline std::vector<float> gaussian(int64_t n, uint32_t seed, float sigma = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, sigma);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = nd(rng);
    return v;
}

// Row lengths that exercise one block, a few blocks and (for float types) lengths no vector width divides;
// 8205 fp32 activations fill L1, which the float dots prefetch differently for.
inline std::vector<int64_t> awkward_lengths(DType t) {
    const int64_t b = weight_block_size(t);
    if (b == 1) return {1, 7, 13, 37, 100, 300, 8205};
    // 1, 3, 6, 7, 9 and 13 blocks: every path of kernels that take blocks in groups of 4 and 8, with tails of 0-3.
    return {b, 3 * b, 6 * b, 7 * b, 9 * b, 13 * b};
}

inline void encode_row(DType t, const float* src, void* dst, int64_t n) {
    if (t == DType::Q4_K)
        quantize_row_q4_k(src, dst, n);
    else if (t == DType::Q6_K)
        quantize_row_q6_k(src, dst, n);
    else
        quantize_row(t, src, dst, n);
}

// The reference decoding (core/quant), independent of the kernel tables.
inline void decode_row(DType t, const void* src, float* dst, int64_t n) {
    if (t == DType::Q4_K)
        dequantize_row_q4_k(src, dst, n);
    else if (t == DType::Q6_K)
        dequantize_row_q6_k(src, dst, n);
    else
        dequantize_row(t, src, dst, n);
}

// A [rows, cols] matrix in stored form plus its exact decoded values.
struct Weights {
    DType type;
    int64_t rows, cols;
    size_t row_bytes;
    std::vector<uint8_t> bytes;
    std::vector<float> decoded;
    const uint8_t* row(int64_t r) const { return bytes.data() + r * row_bytes; }
};

inline Weights make_weights(DType t, int64_t rows, int64_t cols, uint32_t seed) {
    Weights w{t, rows, cols, weight_row_bytes(t, cols), {}, {}};
    const std::vector<float> src = gaussian(rows * cols, seed, 0.5f);
    w.bytes.resize(w.row_bytes * static_cast<size_t>(rows));
    w.decoded.resize(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r) {
        encode_row(t, src.data() + r * cols, w.bytes.data() + r * w.row_bytes, cols);
        decode_row(t, w.bytes.data() + r * w.row_bytes, w.decoded.data() + r * cols, cols);
    }
    return w;
}

// sum_i a[i] * b[i] in double, and sum_i |a[i] * b[i]| (the scale every fp32 rounding bound is relative to).
struct RefDot {
    double value = 0, abs_sum = 0;
};

inline RefDot ref_dot(const float* a, const float* b, int64_t n) {
    RefDot r;
    for (int64_t i = 0; i < n; ++i) {
        r.value += static_cast<double>(a[i]) * b[i];
        r.abs_sum += std::fabs(static_cast<double>(a[i]) * b[i]);
    }
    return r;
}

// fp32 accumulation in any order stays within this fraction of sum |a_i b_i| for the lengths tested here
// (a worst-case bound is n * 2^-24; 2e-5 allows n up to ~300 blocks of partial sums with margin).
inline constexpr double kF32Rel = 2e-5;

// The error rounding x to Q8 adds to sum_i w_i x_i: each x_i moves by at most half its block's step.
inline double q8_bound(const float* w, const ActivationQ8& xq, int64_t n) {
    const int64_t block = xq.layout() == Q8Layout::Block32 ? 32 : 256;
    double bound = 0;
    for (int64_t i = 0; i < n; ++i) bound += std::fabs(w[i]) * 0.5 * xq.scales()[i / block];
    return bound * (1 + 1e-6);
}

}  // namespace rwkv::test
