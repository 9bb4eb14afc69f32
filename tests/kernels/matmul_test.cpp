// matmul: awkward row counts (partial 16-row panels), token counts (partial 6-token tiles, > 256-token
// blocks), column counts spanning several 256-column chunks, 1-3 threads, every ISA; each element against a
// double-precision product of the decoded weights (plus the Q8 rounding's bound where matmul rounds X: q8_0,
// whose rows it packs eight at a time, with padded last groups here at 1, 7 and 37 rows).
#include <gtest/gtest.h>

#include <vector>

#include "kernels/matrix.h"
#include "kernels_test_util.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

using test::kAllTypes;
using test::kF32Rel;

void check_matmul(DType t, int64_t rows, int64_t cols, int64_t T, uint32_t seed) {
    const test::Weights w = test::make_weights(t, rows, cols, seed);
    const std::vector<float> X = test::gaussian(T * cols, seed + 1);
    std::vector<test::RefDot> ref(static_cast<size_t>(T * rows));
    for (int64_t tok = 0; tok < T; ++tok)
        for (int64_t r = 0; r < rows; ++r)
            ref[tok * rows + r] = test::ref_dot(w.decoded.data() + r * cols, X.data() + tok * cols, cols);
    // Where matmul rounds X to Q8 blocks (q8_0), each output may also move by that rounding's bound.
    std::vector<double> rounding(static_cast<size_t>(T * rows), 0.0);
    if (matmul_rounds_activations(t))
        for (int64_t tok = 0; tok < T; ++tok) {
            ActivationQ8 xq;
            xq.quantize(ActivationQ8::layout_for(t), X.data() + tok * cols, cols);
            for (int64_t r = 0; r < rows; ++r)
                rounding[tok * rows + r] = test::q8_bound(w.decoded.data() + r * cols, xq, cols);
        }
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
        for (int threads : {1, 2, 3}) {
            ThreadPool pool(threads);
            std::vector<float> Y(static_cast<size_t>(T * rows), -7.0f);
            matmul(t, w.bytes.data(), rows, cols, X.data(), T, Y.data(), pool, isa);
            for (int64_t i = 0; i < T * rows; ++i)
                ASSERT_NEAR(Y[i], ref[i].value, kF32Rel * ref[i].abs_sum + rounding[i] + 1e-30)
                    << dtype_name(t) << " " << isa_name(isa) << " threads " << threads << " [" << rows << ", "
                    << cols << "] T " << T << " token " << i / rows << " row " << i % rows;
        }
    }
}

class Matmul : public testing::TestWithParam<DType> {};

TEST_P(Matmul, MatchesDoubleReference) {
    const DType t = GetParam();
    const int64_t b = weight_block_size(t);
    // One block; and past one 256-column chunk (two chunks, the second partial where blocks allow).
    const int64_t short_cols = b == 1 ? 13 : b, long_cols = b == 1 ? 300 : (b == 32 ? 288 : 512);
    for (int64_t T : {1, 3, 17, 130}) {
        for (int64_t rows : {1, 7, 37}) {
            check_matmul(t, rows, short_cols, T, static_cast<uint32_t>(T * 100 + rows));
            check_matmul(t, rows, long_cols, T, static_cast<uint32_t>(T * 100 + rows + 7));
        }
    }
}

TEST_P(Matmul, ManyTokensAcrossTokenBlocks) {
    const DType t = GetParam();
    const int64_t b = weight_block_size(t);
    check_matmul(t, 20, b == 1 ? 40 : b, 300, 77);
}

// Row i of the sequence-mode product is the matvec of token i with exact activations, to fp32 rounding.
TEST_P(Matmul, AgreesWithMatvecPerToken) {
    const DType t = GetParam();
    const int64_t b = weight_block_size(t);
    const int64_t rows = 33, cols = b == 1 ? 96 : 2 * std::max<int64_t>(b, 128), T = 5;
    const test::Weights w = test::make_weights(t, rows, cols, 3);
    const std::vector<float> X = test::gaussian(T * cols, 4);
    ThreadPool pool(2);
    std::vector<float> Y(static_cast<size_t>(T * rows)), y(static_cast<size_t>(rows));
    matmul(t, w.bytes.data(), rows, cols, X.data(), T, Y.data(), pool);
    for (int64_t tok = 0; tok < T; ++tok) {
        // Exact activations, or the same Q8 rounding where matmul rounds them.
        matvec(t, w.bytes.data(), rows, cols, X.data() + tok * cols, y.data(), pool, default_isa(),
               matmul_rounds_activations(t) ? ActivationMode::Q8 : ActivationMode::F32);
        for (int64_t r = 0; r < rows; ++r) {
            const double scale = test::ref_dot(w.decoded.data() + r * cols, X.data() + tok * cols, cols).abs_sum;
            ASSERT_NEAR(Y[tok * rows + r], y[r], 2 * kF32Rel * scale) << dtype_name(t) << " token " << tok;
        }
    }
}

TEST(MatmulEdge, EmptyShapesAndErrors) {
    ThreadPool pool(2);
    std::vector<float> X(64, 1.0f), Y(16, 5.0f);
    std::vector<uint8_t> w(1024);
    matmul(DType::F32, w.data(), 4, 0, X.data(), 4, Y.data(), pool);  // no columns: all zeros
    for (int i = 0; i < 16; ++i) EXPECT_EQ(Y[i], 0.0f);
    matmul(DType::F32, w.data(), 0, 8, X.data(), 4, Y.data(), pool);  // nothing to do
    matmul(DType::F32, w.data(), 4, 8, X.data(), 0, Y.data(), pool);
    EXPECT_THROW(matmul(DType::Q8_0, w.data(), 4, 33, X.data(), 1, Y.data(), pool), Error);
    EXPECT_THROW(matmul(DType::F32, w.data(), 4, 8, X.data(), -1, Y.data(), pool), Error);
    EXPECT_THROW(matmul(static_cast<DType>(200), w.data(), 4, 8, X.data(), 1, Y.data(), pool), Error);
}

// The existing fp32 Matrix path and the new kernels compute the same product.
TEST(MatmulEdge, AgreesWithMatrixClass) {
    const int64_t rows = 19, cols = 70, T = 9;
    const std::vector<float> wf = test::gaussian(rows * cols, 8);
    const std::vector<float> X = test::gaussian(T * cols, 9);
    ThreadPool pool(3);
    Matrix m(rows, cols, wf);
    std::vector<float> a(static_cast<size_t>(T * rows)), b(a.size());
    m.matmul(X.data(), T, a.data(), pool);
    matmul(DType::F32, wf.data(), rows, cols, X.data(), T, b.data(), pool);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-4f) << i;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, Matmul, testing::ValuesIn(kAllTypes), test::type_param_name);

}  // namespace
}  // namespace rwkv
