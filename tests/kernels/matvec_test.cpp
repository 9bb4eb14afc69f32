// matvec: every type, ISA, activation mode and thread count against a double-precision product of the
// decoded weights; and the forced-scalar result against the AVX2 one.
#include <gtest/gtest.h>

#include <vector>

#include "kernels_test_util.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

using test::kAllTypes;
using test::kF32Rel;

class Matvec : public testing::TestWithParam<DType> {};

TEST_P(Matvec, MatchesDoubleReferenceOnEveryPath) {
    const DType t = GetParam();
    const int64_t b = weight_block_size(t);
    ThreadPool pools[] = {ThreadPool(1), ThreadPool(2), ThreadPool(3)};
    // Row counts no tile divides (nor the four-row kernels); row bytes large enough (with 203 rows) that the
    // pool is really used, and 13 blocks so the four-block loops run with a tail.
    for (int64_t rows : {1, 5, 13, 203}) {
        for (int64_t cols : {b == 1 ? int64_t{37} : b, b == 1 ? int64_t{300} : 3 * b, b == 1 ? int64_t{515} : 13 * b}) {
            const test::Weights w = test::make_weights(t, rows, cols, static_cast<uint32_t>(rows * 1000 + cols));
            const std::vector<float> x = test::gaussian(cols, 7, 1.5f);
            for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
                ActivationQ8 xq;
                const bool q8 = dtype_is_quantized(t);
                if (q8) xq.quantize(ActivationQ8::layout_for(t), x.data(), cols, isa);
                for (ThreadPool& pool : pools) {
                    std::vector<float> y_f32(rows, -1.0f), y_q8(rows, -1.0f);
                    matvec(t, w.bytes.data(), rows, cols, x.data(), y_f32.data(), pool, isa, ActivationMode::F32);
                    matvec(t, w.bytes.data(), rows, cols, x.data(), y_q8.data(), pool, isa, ActivationMode::Q8);
                    for (int64_t r = 0; r < rows; ++r) {
                        const float* wr = w.decoded.data() + r * cols;
                        const test::RefDot ref = test::ref_dot(wr, x.data(), cols);
                        const double q8_tol = q8 ? test::q8_bound(wr, xq, cols) : 0.0;
                        ASSERT_NEAR(y_f32[r], ref.value, kF32Rel * ref.abs_sum)
                            << dtype_name(t) << " " << isa_name(isa) << " threads " << pool.size() << " [" << rows
                            << ", " << cols << "] row " << r;
                        ASSERT_NEAR(y_q8[r], ref.value, q8_tol + kF32Rel * ref.abs_sum)
                            << dtype_name(t) << " q8 " << isa_name(isa) << " threads " << pool.size() << " row " << r;
                    }
                }
            }
        }
    }
}

TEST_P(Matvec, ForcedScalarAgreesWithAvx2AndThreadsChangeNothing) {
    const DType t = GetParam();
    if (!test::have_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
    const int64_t b = weight_block_size(t);
    const int64_t rows = 301, cols = b == 1 ? 515 : 4 * std::max<int64_t>(b, 64);
    const test::Weights w = test::make_weights(t, rows, cols, 99);
    const std::vector<float> x = test::gaussian(cols, 98);
    ThreadPool one(1), three(3);
    std::vector<float> s(rows), a1(rows), a3(rows);
    matvec(t, w.bytes.data(), rows, cols, x.data(), s.data(), one, Isa::Scalar);
    matvec(t, w.bytes.data(), rows, cols, x.data(), a1.data(), one, Isa::Avx2);
    matvec(t, w.bytes.data(), rows, cols, x.data(), a3.data(), three, Isa::Avx2);
    for (int64_t r = 0; r < rows; ++r) {
        const double scale = test::ref_dot(w.decoded.data() + r * cols, x.data(), cols).abs_sum;
        ASSERT_NEAR(a1[r], s[r], kF32Rel * scale) << dtype_name(t) << " row " << r;
        ASSERT_EQ(a3[r], a1[r]) << "a row's result must not depend on the thread count, row " << r;
    }
}

TEST_P(Matvec, SharedActivationsOverloadMatchesAndChecksLayout) {
    const DType t = GetParam();
    const int64_t b = weight_block_size(t);
    const int64_t rows = 9, cols = b == 1 ? 64 : 2 * b;
    const test::Weights w = test::make_weights(t, rows, cols, 5);
    const std::vector<float> x = test::gaussian(cols, 6);
    ThreadPool pool(2);
    if (!dtype_is_quantized(t)) {
        ActivationQ8 xq;
        xq.quantize(Q8Layout::Block32, x.data(), cols);
        std::vector<float> y(rows);
        EXPECT_THROW(matvec(t, w.bytes.data(), rows, cols, xq, y.data(), pool), Error);
        return;
    }
    ActivationQ8 xq;
    xq.quantize(ActivationQ8::layout_for(t), x.data(), cols);
    std::vector<float> y1(rows), y2(rows);
    matvec(t, w.bytes.data(), rows, cols, x.data(), y1.data(), pool);
    matvec(t, w.bytes.data(), rows, cols, xq, y2.data(), pool);
    for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(y1[r], y2[r]);
    EXPECT_THROW(matvec(t, w.bytes.data(), rows, cols + b, xq, y2.data(), pool), Error);  // length mismatch
    EXPECT_THROW(matvec(t, w.bytes.data(), -1, cols, x.data(), y1.data(), pool), Error);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, Matvec, testing::ValuesIn(kAllTypes), test::type_param_name);

// A batch of products of every type, sizes no split divides, an empty-row product and a zero-column one, must
// give exactly what each product gives alone, for any thread count (the split moves rows between threads,
// never changes how a row is computed).
TEST(MatvecBatch, EqualsEachProductAloneForAnyThreadCount) {
    struct Case {
        DType t;
        int64_t rows, cols;
    };
    std::vector<Case> cases;
    uint32_t seed = 1;
    for (DType t : kAllTypes) {
        const int64_t b = weight_block_size(t);
        cases.push_back({t, 7 + 13 * static_cast<int64_t>(cases.size() % 5), b == 1 ? 77 : 3 * b});
    }
    cases.push_back({DType::Q8_0, 1531, 96});  // 156 KB: the batch is past the size at which it is split
    cases.push_back({DType::BF16, 0, 64});
    cases.push_back({DType::F16, 5, 0});
    std::vector<test::Weights> w;
    std::vector<std::vector<float>> x;
    for (const Case& c : cases) {
        w.push_back(test::make_weights(c.t, c.rows, c.cols, seed++));
        x.push_back(test::gaussian(c.cols, seed++));
    }
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
        for (int threads : {1, 2, 3}) {
            ThreadPool pool(threads), one(1);
            std::vector<std::vector<float>> alone(cases.size()), batched(cases.size());
            std::vector<MatvecJob> jobs;
            for (size_t i = 0; i < cases.size(); ++i) {
                const Case& c = cases[i];
                alone[i].assign(static_cast<size_t>(c.rows), -1.0f);
                batched[i].assign(static_cast<size_t>(c.rows), -2.0f);
                matvec(c.t, w[i].bytes.data(), c.rows, c.cols, x[i].data(), alone[i].data(), one, isa);
                jobs.push_back({c.t, w[i].bytes.data(), c.rows, c.cols, x[i].data(), batched[i].data()});
            }
            matvec_batch(jobs, pool, isa);
            for (size_t i = 0; i < cases.size(); ++i)
                for (int64_t r = 0; r < cases[i].rows; ++r)
                    ASSERT_EQ(batched[i][static_cast<size_t>(r)], alone[i][static_cast<size_t>(r)])
                        << dtype_name(cases[i].t) << " job " << i << " row " << r << " threads " << threads << " "
                        << isa_name(isa);
        }
    }
}

}  // namespace
}  // namespace rwkv
