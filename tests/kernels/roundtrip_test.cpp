// quantize -> dequantize for every weight type, held to a per-element bound stated per type, plus RMS on
// Gaussian data; and the AVX2 decoder must reproduce the reference decoder bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels_test_util.h"

namespace rwkv {
namespace {

using test::kAllTypes;

// The per-element bound for one block of source values [lo, hi) (see each case for where it comes from).
// Q-formats store their scale in fp16, which moves a decoded value by up to |q| * scale * 2^-11.
double element_bound(DType t, const float* x, int64_t n, float value) {
    float amax = 0, mn = x[0], mx = x[0];
    for (int64_t i = 0; i < n; ++i) {
        amax = std::max(amax, std::fabs(x[i]));
        mn = std::min(mn, x[i]);
        mx = std::max(mx, x[i]);
    }
    const double h = 1.0 / 2048;  // fp16 relative step
    switch (t) {
        case DType::F32: return 0;
        case DType::F16: return std::fabs(value) * h + 0x1p-25;           // 11-bit mantissa; subnormal step 2^-24
        case DType::BF16: return std::fabs(value) / 256;                  // 8-bit mantissa
        case DType::Q8_0: return amax / 254.0 + amax * h;                 // half a step of amax / 127
        case DType::Q4_0: return amax / 8.0 + amax * h;                   // -amax clips to +7 steps: one step
        case DType::Q5_0: return amax / 16.0 + amax * h;                  // likewise with 16 levels a side
        case DType::Q4_1: return (mx - mn) / 30.0 + (mx - mn + std::fabs(mn)) * h;  // half of (max-min)/15
        case DType::Q5_1: return (mx - mn) / 62.0 + (mx - mn + std::fabs(mn)) * h;
        case DType::Q4_K: return (mx - std::min(mn, 0.0f)) / 15.0;        // see core/quant_k.h
        case DType::Q6_K: return amax / 48.0;
    }
    return 0;
}

// RMS error over unit Gaussian data, measured then given ~5-10% headroom.
double rms_bound(DType t) {
    switch (t) {
        case DType::F32: return 0;
        case DType::F16: return 2.3e-4;
        case DType::BF16: return 1.8e-3;
        case DType::Q8_0: return 5.8e-3;
        case DType::Q4_0: return 0.092;
        case DType::Q4_1: return 0.083;
        case DType::Q5_0: return 0.046;
        case DType::Q5_1: return 0.040;
        case DType::Q4_K: return 0.076;
        case DType::Q6_K: return 0.019;
    }
    return 0;
}

class RoundTrip : public testing::TestWithParam<DType> {};

TEST_P(RoundTrip, EveryElementWithinTheTypesBound) {
    const DType t = GetParam();
    const int64_t n = 256 * 64;
    const int64_t block = std::max<int64_t>(weight_block_size(t), 32);
    for (uint32_t seed : {1u, 2u, 3u}) {
        std::vector<float> x = test::gaussian(n, seed, seed == 3 ? 40.0f : 1.0f);
        for (int64_t i = 0; i < n; i += 97) x[i] += 2.0f;  // break symmetry so offsets/mins matter
        std::vector<uint8_t> b(weight_row_bytes(t, n));
        std::vector<float> y(static_cast<size_t>(n));
        test::encode_row(t, x.data(), b.data(), n);
        test::decode_row(t, b.data(), y.data(), n);
        for (int64_t s = 0; s < n / block; ++s) {
            const float* xs = x.data() + s * block;
            for (int64_t i = 0; i < block; ++i) {
                const double bound = element_bound(t, xs, block, xs[i]) * (1 + 1e-5) + 1e-30;
                ASSERT_LE(std::fabs(y[s * block + i] - xs[i]), bound)
                    << dtype_name(t) << " seed " << seed << " element " << s * block + i << " x " << xs[i];
            }
        }
    }
}

TEST_P(RoundTrip, GaussianRmsWithinTheTypesBound) {
    const DType t = GetParam();
    const int64_t n = 256 * 256;
    const std::vector<float> x = test::gaussian(n, 11);
    std::vector<uint8_t> b(weight_row_bytes(t, n));
    std::vector<float> y(static_cast<size_t>(n));
    test::encode_row(t, x.data(), b.data(), n);
    test::decode_row(t, b.data(), y.data(), n);
    double se = 0;
    for (int64_t i = 0; i < n; ++i) se += (y[i] - x[i]) * static_cast<double>(y[i] - x[i]);
    const double rms = std::sqrt(se / n);
    EXPECT_LE(rms, rms_bound(t)) << dtype_name(t);
    if (t != DType::F32) {
        EXPECT_GT(rms, rms_bound(t) / 2) << "bound is stale for " << dtype_name(t);
    }
}

TEST_P(RoundTrip, KernelDecodersMatchTheReferenceBitForBit) {
    const DType t = GetParam();
    const int64_t n = 256 * 33;  // at least the longest awkward length
    std::vector<float> x = test::gaussian(n, 21);
    std::vector<uint8_t> b(weight_row_bytes(t, n));
    test::encode_row(t, x.data(), b.data(), n);
    std::vector<float> ref(static_cast<size_t>(n));
    test::decode_row(t, b.data(), ref.data(), n);
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
        if (isa == Isa::Avx2 && !test::have_avx2()) continue;
        for (int64_t len : test::awkward_lengths(t)) {
            std::vector<float> y(static_cast<size_t>(len), -1.0f);
            dequantize_weights(t, b.data(), y.data(), len, isa);
            for (int64_t i = 0; i < len; ++i)
                ASSERT_EQ(y[i], ref[i]) << dtype_name(t) << " " << isa_name(isa) << " len " << len << " i " << i;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, RoundTrip, testing::ValuesIn(kAllTypes), test::type_param_name);

}  // namespace
}  // namespace rwkv
