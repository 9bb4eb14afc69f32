// Row dot products: each ISA against a double-precision product of the decoded weights, AVX2 against the
// scalar reference, and the Q8 path against its stated error bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels_test_util.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

using test::kAllTypes;
using test::kF32Rel;

std::vector<Isa> isas() {
    std::vector<Isa> v{Isa::Scalar};
    if (test::have_avx2()) v.push_back(Isa::Avx2);
    if (detected_isa() >= Isa::Avx512) v.push_back(Isa::Avx512);
    return v;
}

class Dot : public testing::TestWithParam<DType> {};

TEST_P(Dot, ExactActivationsMatchDoubleProduct) {
    const DType t = GetParam();
    for (int64_t n : test::awkward_lengths(t)) {
        const test::Weights w = test::make_weights(t, 3, n, 17);
        const std::vector<float> x = test::gaussian(n, 23);
        for (int64_t r = 0; r < 3; ++r) {
            const test::RefDot ref = test::ref_dot(w.decoded.data() + r * n, x.data(), n);
            for (Isa isa : isas()) {
                const float got = dot_row(t, w.row(r), x.data(), n, isa);
                EXPECT_NEAR(got, ref.value, kF32Rel * ref.abs_sum)
                    << dtype_name(t) << " " << isa_name(isa) << " n " << n << " row " << r;
            }
        }
    }
}

TEST_P(Dot, Avx2MatchesScalarReference) {
    const DType t = GetParam();
    if (!test::have_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
    for (int64_t n : test::awkward_lengths(t)) {
        const test::Weights w = test::make_weights(t, 4, n, 31);
        const std::vector<float> x = test::gaussian(n, 37, 3.0f);
        for (int64_t r = 0; r < 4; ++r) {
            const double scale = test::ref_dot(w.decoded.data() + r * n, x.data(), n).abs_sum;
            EXPECT_NEAR(dot_row(t, w.row(r), x.data(), n, Isa::Avx2), dot_row(t, w.row(r), x.data(), n, Isa::Scalar),
                        kF32Rel * scale)
                << dtype_name(t) << " n " << n;
            if (!dtype_is_quantized(t)) continue;
            ActivationQ8 xs, xa;
            xs.quantize(ActivationQ8::layout_for(t), x.data(), n, Isa::Scalar);
            xa.quantize(ActivationQ8::layout_for(t), x.data(), n, Isa::Avx2);
            EXPECT_NEAR(dot_row_q8(t, w.row(r), xa, Isa::Avx2), dot_row_q8(t, w.row(r), xs, Isa::Scalar),
                        kF32Rel * scale)
                << dtype_name(t) << " q8 n " << n;
        }
    }
}

// The integer kernels must compute exactly sum_i w_i * x̂_i (x̂ the rounded activations), up to fp32
// rounding; and that differs from the exact product by at most the documented Q8 bound.
TEST_P(Dot, Q8ActivationsWithinStatedBound) {
    const DType t = GetParam();
    if (!dtype_is_quantized(t)) GTEST_SKIP() << "float weights take fp32 activations";
    for (int64_t n : test::awkward_lengths(t)) {
        const test::Weights w = test::make_weights(t, 3, n, 41);
        const std::vector<float> x = test::gaussian(n, 43, 2.0f);
        for (Isa isa : isas()) {
            ActivationQ8 xq;
            xq.quantize(ActivationQ8::layout_for(t), x.data(), n, isa);
            std::vector<float> xhat(static_cast<size_t>(n));
            for (int64_t i = 0; i < n; ++i) xhat[i] = xq.value(i);
            for (int64_t r = 0; r < 3; ++r) {
                const float* wr = w.decoded.data() + r * n;
                const float got = dot_row_q8(t, w.row(r), xq, isa);
                const test::RefDot on_rounded = test::ref_dot(wr, xhat.data(), n);
                EXPECT_NEAR(got, on_rounded.value, kF32Rel * on_rounded.abs_sum)
                    << dtype_name(t) << " " << isa_name(isa) << " n " << n;
                const test::RefDot exact = test::ref_dot(wr, x.data(), n);
                EXPECT_NEAR(got, exact.value, test::q8_bound(wr, xq, n) + kF32Rel * exact.abs_sum)
                    << dtype_name(t) << " " << isa_name(isa) << " n " << n;
            }
        }
    }
}

TEST_P(Dot, RejectsPartialBlocksAndMismatchedActivations) {
    const DType t = GetParam();
    const int64_t b = weight_block_size(t);
    std::vector<uint8_t> w(4096);
    std::vector<float> x(1024, 1.0f);
    if (b > 1) {
        EXPECT_THROW(dot_row(t, w.data(), x.data(), b + 1, Isa::Scalar), Error);
    }
    EXPECT_THROW(dot_row(t, w.data(), x.data(), -1, Isa::Scalar), Error);
    EXPECT_EQ(dot_row(t, w.data(), x.data(), 0, Isa::Scalar), 0.0f);
    ActivationQ8 xq;
    if (!dtype_is_quantized(t)) {
        EXPECT_THROW(ActivationQ8::layout_for(t), Error);
        return;
    }
    const Q8Layout other = ActivationQ8::layout_for(t) == Q8Layout::Block32 ? Q8Layout::Block256 : Q8Layout::Block32;
    xq.quantize(other, x.data(), 256);
    EXPECT_THROW(dot_row_q8(t, w.data(), xq), Error);
    EXPECT_THROW(xq.quantize(ActivationQ8::layout_for(t), x.data(), b + 16), Error);
    // Quantized without the pair order the row-major q4_0 kernels read: refused for q4_0, fine elsewhere.
    xq.quantize(ActivationQ8::layout_for(t), x.data(), 256, default_isa(), false);
    if (t == DType::Q4_0)
        EXPECT_THROW(dot_row_q8(t, w.data(), xq), Error);
    else
        EXPECT_NO_THROW(dot_row_q8(t, w.data(), xq));
}

TEST(ActivationQ8Test, IdenticalOnEveryIsaAndWithinHalfAStep) {
    std::vector<float> x = test::gaussian(256 * 5, 53, 4.0f);
    x[7] = 0.0f;
    for (int i = 32; i < 64; ++i) x[i] = 0.0f;  // an all-zero block: scale 0, values 0
    for (Q8Layout layout : {Q8Layout::Block32, Q8Layout::Block256}) {
        ActivationQ8 ref;
        ref.quantize(layout, x.data(), static_cast<int64_t>(x.size()), Isa::Scalar);
        const int64_t block = layout == Q8Layout::Block32 ? 32 : 256;
        for (size_t i = 0; i < x.size(); ++i)
            ASSERT_LE(std::fabs(ref.value(i) - x[i]), 0.5 * ref.scales()[i / block] * (1 + 1e-6)) << i;
        if (layout == Q8Layout::Block256) {
            for (size_t g = 0; g < x.size() / 16; ++g) {
                int s = 0;
                for (int j = 0; j < 16; ++j) s += ref.q()[16 * g + j];
                ASSERT_EQ(ref.group_sums()[g], s) << g;
            }
        } else {
            for (size_t b = 0; b < x.size() / 32; ++b) {
                int32_t s = 0;
                for (int j = 0; j < 32; ++j) s += ref.q()[32 * b + j];
                ASSERT_EQ(ref.block_qsums()[b], s) << b;
            }
        }
        if (!test::have_avx2()) continue;
        ActivationQ8 a;
        a.quantize(layout, x.data(), static_cast<int64_t>(x.size()), Isa::Avx2);
        for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(a.q()[i], ref.q()[i]) << i;
        for (size_t b = 0; b < x.size() / block; ++b) ASSERT_EQ(a.scales()[b], ref.scales()[b]) << b;
        if (layout == Q8Layout::Block32) {
            for (size_t b = 0; b < x.size() / 32; ++b) {
                ASSERT_EQ(a.block_sums()[b], ref.block_sums()[b]) << b;
                ASSERT_EQ(a.block_qsums()[b], ref.block_qsums()[b]) << b;
            }
        } else {
            for (size_t g = 0; g < x.size() / 16; ++g) ASSERT_EQ(a.group_sums()[g], ref.group_sums()[g]) << g;
        }
    }
}

// Q8_0 files may hold -128, which the sign trick in the AVX2 kernel must treat as 128 in magnitude.
TEST(DotEdge, Q8_0WeightOfMinus128) {
    if (!test::have_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
    std::vector<float> src(64, 0.25f);
    std::vector<uint8_t> w(weight_row_bytes(DType::Q8_0, 64));
    quantize_row(DType::Q8_0, src.data(), w.data(), 64);
    w[2 + 5] = 0x80;  // element 5 := -128 * d
    const std::vector<float> x = test::gaussian(64, 3);
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
        ActivationQ8 xq;
        xq.quantize(Q8Layout::Block32, x.data(), 64, isa);
        std::vector<float> dec(64), xhat(64);
        test::decode_row(DType::Q8_0, w.data(), dec.data(), 64);
        for (int i = 0; i < 64; ++i) xhat[i] = xq.value(i);
        const test::RefDot ref = test::ref_dot(dec.data(), xhat.data(), 64);
        EXPECT_NEAR(dot_row_q8(DType::Q8_0, w.data(), xq, isa), ref.value, kF32Rel * ref.abs_sum) << isa_name(isa);
    }
}

// The pair order the q4_0 kernels read: per whole pair of blocks (a, b), a[0:16] b[0:16] a[16:32] b[16:32];
// an odd last block has no pair.
TEST(ActivationQ8Test, BlockPairsReorderEachWholePair) {
    const std::vector<float> x = test::gaussian(32 * 7, 59, 3.0f);
    ActivationQ8 xq;
    xq.quantize(Q8Layout::Block32, x.data(), static_cast<int64_t>(x.size()));
    for (int p = 0; p < 3; ++p) {
        const int8_t* a = xq.q() + 64 * p;
        const int8_t* b = a + 32;
        const int8_t* got = xq.block_pairs() + 64 * p;
        for (int j = 0; j < 16; ++j) {
            ASSERT_EQ(got[j], a[j]) << p << " " << j;
            ASSERT_EQ(got[16 + j], b[j]) << p << " " << j;
            ASSERT_EQ(got[32 + j], a[16 + j]) << p << " " << j;
            ASSERT_EQ(got[48 + j], b[16 + j]) << p << " " << j;
        }
    }
}

// The largest q4_0 products: every nibble 15 or 0 against activations of +-127. The AVX2 kernel adds two
// maddubs results in int16 (each at most 2 * 15 * 127), so these must come out exact.
TEST(DotEdge, Q4_0ExtremeNibblesAndActivations) {
    const int64_t n = 32 * 9;
    std::vector<uint8_t> w(weight_row_bytes(DType::Q4_0, n));
    for (int64_t b = 0; b < n / 32; ++b) {  // scale 1.0 (f16 0x3c00), then 16 bytes of nibbles
        uint8_t* blk = w.data() + 18 * b;
        blk[0] = 0x00;
        blk[1] = 0x3c;
        std::fill(blk + 2, blk + 18, b % 3 == 2 ? 0x00 : 0xff);
    }
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) x[i] = (i / 64) % 2 ? -1.0f : 1.0f;
    std::vector<float> dec(static_cast<size_t>(n));
    test::decode_row(DType::Q4_0, w.data(), dec.data(), n);
    for (Isa isa : isas()) {
        ActivationQ8 xq;
        xq.quantize(Q8Layout::Block32, x.data(), n, isa);
        std::vector<float> xhat(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) xhat[i] = xq.value(i);
        const test::RefDot ref = test::ref_dot(dec.data(), xhat.data(), n);
        EXPECT_NEAR(dot_row_q8(DType::Q4_0, w.data(), xq, isa), ref.value, kF32Rel * ref.abs_sum) << isa_name(isa);
    }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, Dot, testing::ValuesIn(kAllTypes), test::type_param_name);

}  // namespace
}  // namespace rwkv
