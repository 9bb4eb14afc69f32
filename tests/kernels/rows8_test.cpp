// The eight-row layout of q4_0 and q8_0 (kernels/rows8.h): the layout gives back every stored byte, its matvec
// kernel on each ISA agrees with the row-at-a-time product (bit for bit on the scalar path, which sums in the same
// order), and sequence mode and the Matrix class read it as they read the stored rows. Row counts cover a padded last group
// and groups split across threads; column counts cover odd block counts (the kernel takes blocks in pairs).
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "core/quant.h"
#include "kernels/matrix.h"
#include "kernels/rows8.h"
#include "kernels_test_util.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

using test::kF32Rel;

constexpr DType kQ4 = DType::Q4_0;
constexpr DType kTypes[] = {DType::Q4_0, DType::Q8_0};

std::vector<uint8_t> interleaved(const test::Weights& w) {
    std::vector<uint8_t> g(rows8_bytes(w.type, w.rows, w.cols), 0xAB);
    interleave_rows8(w.type, w.bytes.data(), w.rows, w.cols, g.data());
    return g;
}

TEST(Rows8, GatherGivesBackEveryStoredByteAndPadsWithZeros) {
    for (DType t : kTypes)
    for (int64_t rows : {1, 7, 8, 9, 17, 24}) {
        for (int64_t blocks : {1, 2, 3, 7, 13}) {
            const int64_t cols = 32 * blocks;
            const test::Weights w = test::make_weights(t, rows, cols, static_cast<uint32_t>(rows * 100 + blocks));
            const std::vector<uint8_t> g = interleaved(w);
            ASSERT_EQ(g.size(), static_cast<size_t>(rows8_groups(rows) * 8) * w.row_bytes);
            std::vector<uint8_t> row(w.row_bytes);
            for (int64_t r = 0; r < rows8_groups(rows) * 8; ++r) {
                gather_row8(t, g.data(), cols, r, 0, blocks, row.data());
                if (r < rows) {
                    ASSERT_TRUE(std::equal(row.begin(), row.end(), w.row(r))) << "row " << r << " of " << rows;
                } else {
                    ASSERT_TRUE(std::all_of(row.begin(), row.end(), [](uint8_t b) { return b == 0; }))
                        << "padding row " << r;
                }
            }
            // A span of blocks, as sequence mode gathers a 256-column chunk.
            if (blocks >= 3) {
                const size_t block = w.row_bytes / static_cast<size_t>(blocks);
                std::vector<uint8_t> span(2 * block);
                gather_row8(t, g.data(), cols, rows - 1, 1, 2, span.data());
                ASSERT_TRUE(std::equal(span.begin(), span.end(), w.row(rows - 1) + block)) << dtype_name(t);
            }
        }
    }
}

TEST(Rows8, RejectsOtherTypesAndOutOfRangeSpans) {
    EXPECT_TRUE(has_rows8_layout(kQ4));
    EXPECT_TRUE(has_rows8_layout(DType::Q8_0));
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q4_K}) {
        EXPECT_FALSE(has_rows8_layout(t)) << dtype_name(t);
        EXPECT_THROW(rows8_bytes(t, 8, 256), Error) << dtype_name(t);
    }
    EXPECT_THROW(rows8_bytes(kQ4, 8, 33), Error);
    std::vector<uint8_t> g(rows8_bytes(kQ4, 8, 64)), out(3 * 18);
    EXPECT_THROW(gather_row8(kQ4, g.data(), 64, 0, 1, 2, out.data()), Error);
    EXPECT_THROW(gather_row8(kQ4, g.data(), 64, -1, 0, 1, out.data()), Error);
    ThreadPool pool(1);
    std::vector<float> x(64), y(8);
    EXPECT_THROW(matvec_batch({{DType::Q4_1, g.data(), 8, 64, x.data(), y.data(), RowLayout::rows8}}, pool), Error);
}

TEST(Rows8, MatvecAgreesWithTheRowAtATimeProductOnEveryIsaAndThreadCount) {
    ThreadPool pools[] = {ThreadPool(1), ThreadPool(2), ThreadPool(3)};
    // 203 rows x 13 blocks is past the size at which the product is split across threads.
    for (DType t : kTypes)
    for (int64_t rows : {1, 7, 8, 9, 203}) {
        for (int64_t blocks : {1, 2, 3, 7, 13}) {
            const int64_t cols = 32 * blocks;
            const test::Weights w = test::make_weights(t, rows, cols, static_cast<uint32_t>(rows * 31 + blocks));
            const std::vector<uint8_t> g = interleaved(w);
            const std::vector<float> x = test::gaussian(cols, 3, 1.5f);
            for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
                std::vector<float> plain(static_cast<size_t>(rows));
                matvec(t, w.bytes.data(), rows, cols, x.data(), plain.data(), pools[0], isa);
                for (ThreadPool& pool : pools) {
                    std::vector<float> grouped(static_cast<size_t>(rows) + 8, -3.0f);  // past the end must stay
                    matvec_batch({{t, g.data(), rows, cols, x.data(), grouped.data(), RowLayout::rows8}}, pool, isa);
                    for (int64_t r = 0; r < rows; ++r) {
                        const double scale = test::ref_dot(w.decoded.data() + r * cols, x.data(), cols).abs_sum;
                        if (clamp_isa(isa) == Isa::Scalar)
                            ASSERT_EQ(grouped[r], plain[r])
                                << dtype_name(t) << " row " << r << " [" << rows << ", " << cols << "]";
                        else
                            ASSERT_NEAR(grouped[r], plain[r], kF32Rel * scale)
                                << dtype_name(t) << " " << isa_name(isa) << " threads " << pool.size() << " row " << r
                                << " [" << rows << ", " << cols << "]";
                    }
                    for (size_t r = static_cast<size_t>(rows); r < grouped.size(); ++r)
                        ASSERT_EQ(grouped[r], -3.0f) << "the padded group wrote past the matrix";
                }
            }
        }
    }
}

// Each type at its extremes against activations of +-127 in every lane. q4_0: nibbles 0 and 15 (the AVX2 pairs
// of products must not saturate, and the offset of 8 must come off exactly); q8_0: -128 (which the AVX2 sign trick
// must take as 128 in magnitude, and VNNI's +128 maps to 0) and 127. The integer sums must come out exact: q4_0
// bit for bit on every ISA; q8_0's rows8 kernels add the blocks' float sums in another order than its row-major
// ones, so within rounding there (a wrong integer sum would be off by a whole block), bit for bit on the scalar path.
TEST(Rows8, ExtremeWeightsAndActivations) {
    for (DType t : kTypes) {
        const int64_t rows = 8, cols = 64, blocks = cols / 32;  // q4_0 is bit for bit for whole pairs of blocks
        test::Weights w = test::make_weights(t, rows, cols, 11);
        const size_t block = w.row_bytes / blocks;
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t b = 0; b < blocks; ++b)
                for (size_t j = 2; j < block; ++j)
                    w.bytes[r * w.row_bytes + block * b + j] =
                        t == kQ4 ? (r % 2 ? 0xFF : 0x00) : ((r + j) % 2 ? 0x80 : 0x7F);
        std::vector<float> x(cols);
        for (int64_t i = 0; i < cols; ++i) x[i] = i % 3 ? 1.0f : -1.0f;
        const std::vector<uint8_t> g = interleaved(w);
        ThreadPool pool(1);
        std::vector<float> row(cols);
        for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
            std::vector<float> plain(rows), grouped(rows);
            matvec(t, w.bytes.data(), rows, cols, x.data(), plain.data(), pool, Isa::Scalar);
            matvec_batch({{t, g.data(), rows, cols, x.data(), grouped.data(), RowLayout::rows8}}, pool, isa);
            for (int64_t r = 0; r < rows; ++r) {
                if (t == kQ4 || clamp_isa(isa) == Isa::Scalar) {
                    ASSERT_EQ(grouped[r], plain[r]) << dtype_name(t) << " " << isa_name(isa) << " row " << r;
                    continue;
                }
                dequantize_row(t, w.row(r), row.data(), cols);
                const double scale = test::ref_dot(row.data(), x.data(), cols).abs_sum;
                ASSERT_NEAR(grouped[r], plain[r], kF32Rel * scale) << isa_name(isa) << " row " << r;
            }
        }
    }
}

// Sequence mode over the eight-row layout runs generation's integer kernel token by token, so every output must
// equal the one-token product bit for bit, on each ISA and thread count, for padded last groups, odd block
// counts, and more tokens than one block of them (kRows8TokenBlock, 64).
TEST(Rows8, SequenceModeEqualsTheOneTokenProductOnEveryIsa) {
    for (DType type : kTypes)
    for (const int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        for (const int64_t rows : {1, 7, 9, 23, 40})
            for (const int64_t blocks : {1, 3, 11}) {
                const int64_t cols = 32 * blocks, T = rows == 23 ? 70 : 3;
                const test::Weights w = test::make_weights(type, rows, cols, 31 + rows + blocks);
                const std::vector<uint8_t> g = interleaved(w);
                const std::vector<float> X = test::gaussian(T * cols, 32);
                for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
                    std::vector<float> seq(T * rows, -1.0f), one(rows);
                    std::vector<float> plain(T * rows, -2.0f);
                    matmul(type, g.data(), rows, cols, X.data(), T, seq.data(), pool, isa, RowLayout::rows8);
                    // q8_0's ggml layout takes the same integer path, packing groups as it goes.
                    if (type == DType::Q8_0) {
                        matmul(type, w.bytes.data(), rows, cols, X.data(), T, plain.data(), pool, isa);
                        ASSERT_EQ(plain, seq) << isa_name(isa) << " threads " << threads << " rows " << rows;
                    }
                    for (int64_t t = 0; t < T; ++t) {
                        matvec_batch({{type, g.data(), rows, cols, X.data() + t * cols, one.data(), RowLayout::rows8}},
                                     pool, isa);
                        for (int64_t r = 0; r < rows; ++r)
                            ASSERT_EQ(seq[t * rows + r], one[r]) << dtype_name(type) << " " << isa_name(isa)
                                                                  << " threads " << threads << " rows "
                                                                  << rows << " blocks " << blocks << " token " << t
                                                                  << " row " << r;
                    }
                }
            }
    }
}

TEST(Rows8, MatrixClassReadsTheLayoutInEveryPath) {
    HugeArena arena;
    // Only q4_0 and q8_0 have the layout; another type comes back as it was.
    const test::Weights w1 = test::make_weights(DType::Q4_1, 8, 64, 22);
    EXPECT_EQ(Matrix(8, 64, DType::Q4_1, w1.bytes.data(), nullptr).with_rows8(arena).layout(), RowLayout::plain);
    for (DType type : kTypes) {
        SCOPED_TRACE(dtype_name(type));
        const int64_t rows = 37, cols = 32 * 9, T = 5;
        const test::Weights w = test::make_weights(type, rows, cols, 21);
        const Matrix plain(rows, cols, type, w.bytes.data(), nullptr);
        const Matrix grouped = plain.with_rows8(arena);
        ASSERT_EQ(grouped.layout(), RowLayout::rows8);
        ASSERT_NE(grouped.data(), plain.data());
        EXPECT_EQ(grouped.bytes(), plain.bytes());

        std::vector<float> a(cols), b(cols);
        for (int64_t r = 0; r < rows; ++r) {
            plain.row_to_float(r, a.data());
            grouped.row_to_float(r, b.data());
            ASSERT_EQ(a, b) << "row " << r;
        }
        ThreadPool pool(2);
        const std::vector<float> X = test::gaussian(T * cols, 23);
        // Sequence mode: the plain layout's product (q4_0: the exact-activation GEMM) and the groups' integer path
        // agree within the activations' rounding.
        std::vector<float> ya(T * rows), yb(T * rows);
        plain.matmul(X.data(), T, ya.data(), pool);
        grouped.matmul(X.data(), T, yb.data(), pool);
        for (int64_t t = 0; t < T; ++t)
            for (int64_t r = 0; r < rows; ++r) {
                ActivationQ8 xq;
                xq.quantize(Q8Layout::Block32, X.data() + t * cols, cols);
                const float* row = w.decoded.data() + r * cols;
                const double bound = test::q8_bound(row, xq, cols) +
                                     2 * kF32Rel * test::ref_dot(row, X.data() + t * cols, cols).abs_sum;
                ASSERT_NEAR(yb[t * rows + r], ya[t * rows + r], bound) << "token " << t << " row " << r;
            }
        std::vector<float> va(rows), vb(rows);
        plain.matvec(X.data(), va.data(), pool);
        grouped.matvec(X.data(), vb.data(), pool);
        for (int64_t r = 0; r < rows; ++r) {
            const double scale = test::ref_dot(w.decoded.data() + r * cols, X.data(), cols).abs_sum;
            ASSERT_NEAR(vb[r], va[r], kF32Rel * scale) << "row " << r;
        }
    }
}

// with_rows8 hands back the stored rows piece by piece as it copies them (the loader drops their file pages), so
// the pieces must cover the stored bytes once, in order, and a large matrix must come in more than one.
TEST(Rows8, CopyReportsEachStoredPieceOnceInOrder) {
    const int64_t rows = 8 * 4000 + 3, cols = 32 * 9;  // 9.8 MB of q8_0: more than one 4 MiB piece
    const test::Weights w = test::make_weights(DType::Q8_0, rows, cols, 5);
    const Matrix plain(rows, cols, DType::Q8_0, w.bytes.data(), nullptr);
    HugeArena arena;
    std::vector<std::pair<const uint8_t*, size_t>> pieces;
    const Matrix grouped = plain.with_rows8(arena, [&](const uint8_t* p, size_t n) { pieces.emplace_back(p, n); });
    ASSERT_GE(pieces.size(), 2u);
    const uint8_t* next = w.bytes.data();
    for (const auto& [p, n] : pieces) {
        ASSERT_EQ(p, next);
        ASSERT_GT(n, 0u);
        next += n;
    }
    EXPECT_EQ(next, w.bytes.data() + w.bytes.size());
    std::vector<float> a(cols), b(cols);
    for (int64_t r : {int64_t{0}, rows / 2, rows - 1}) {
        plain.row_to_float(r, a.data());
        grouped.row_to_float(r, b.data());
        ASSERT_EQ(a, b) << "row " << r;
    }
}

}  // namespace
}  // namespace rwkv
