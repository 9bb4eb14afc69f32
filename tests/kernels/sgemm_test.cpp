// sgemm against the double-precision reference: awkward sizes (no multiple of any tile, past one K block, past
// one M block), all four transpose forms, padded leading dimensions, alpha != 1, beta 0 / 1 / 0.5 with C full
// of NaN when beta is 0, both ISAs, 1 and 2 threads; bit-identity across thread counts; empty shapes.
//
// Tolerance: any fp32 summation order of K products is within K·u·Σ|a_k b_k| of the exact sum (u = 2^-24);
// scaling by alpha, adding beta·C and rounding to float add a few u of |alpha·Σ a b| + |beta·C|. We allow
// (K + 4)·u·|alpha|·Σ|a_k b_k| + 4·u·|beta·C| — tight enough that a transposed operand or a missing K block
// is off by orders of magnitude (WrongTransposeIsCaught checks that the bound is not vacuous).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/sgemm.h"
#include "kernels_test_util.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

constexpr double kU = 1.0 / (1 << 24);
constexpr float kPadSentinel = 12345.0f;  // written between rows of C; sgemm must never touch it
const int64_t kSizes[] = {1, 3, 7, 17, 31, 65, 129, 300};

// A case: sizes, forms, scalars, and the padded operands as stored.
struct Case {
    bool ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    int64_t lda, ldb, ldc;
    std::vector<float> A, B, C0;  // C0: C before the call

    std::string name() const {
        std::ostringstream s;
        s << (ta ? "T" : "N") << (tb ? "T" : "N") << " M " << M << " N " << N << " K " << K << " alpha " << alpha
          << " beta " << beta << " lda " << lda << " ldb " << ldb << " ldc " << ldc;
        return s.str();
    }
};

Case make_case(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta, uint32_t seed) {
    Case c{ta, tb, M, N, K, alpha, beta, 0, 0, 0, {}, {}, {}};
    const int64_t a_rows = ta ? K : M, a_cols = ta ? M : K;
    const int64_t b_rows = tb ? N : K, b_cols = tb ? K : N;
    // Row padding differs per operand so a mixed-up leading dimension shows.
    c.lda = a_cols + 3;
    c.ldb = b_cols + 5;
    c.ldc = N + 2;
    c.A = test::gaussian(a_rows * c.lda, seed);
    c.B = test::gaussian(b_rows * c.ldb, seed + 1);
    c.C0 = test::gaussian(M * c.ldc, seed + 2);
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < c.ldc; ++j) {
            float& x = c.C0[i * c.ldc + j];
            if (j >= N)
                x = kPadSentinel;
            else if (beta == 0.0f)
                x = std::numeric_limits<float>::quiet_NaN();
        }
    return c;
}

// Σ_k |op(A)[i,k] · op(B)[k,j]|, the scale the rounding bound is relative to.
double abs_dot(const Case& c, int64_t i, int64_t j) {
    double s = 0;
    for (int64_t k = 0; k < c.K; ++k) {
        const float a = c.ta ? c.A[k * c.lda + i] : c.A[i * c.lda + k];
        const float b = c.tb ? c.B[j * c.ldb + k] : c.B[k * c.ldb + j];
        s += std::fabs(static_cast<double>(a) * b);
    }
    return s;
}

std::vector<float> run_sgemm(const Case& c, int threads, Isa isa) {
    ThreadPool pool(threads);
    std::vector<float> C = c.C0;
    sgemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, c.A.data(), c.lda, c.B.data(), c.ldb, c.beta, C.data(), c.ldc, pool,
          isa);
    return C;
}

// The reference result and, per element, the error the bound allows (padding: 0).
struct Expected {
    std::vector<float> C;
    std::vector<double> tol;
};

Expected run_reference(const Case& c) {
    Expected e{c.C0, std::vector<double>(c.C0.size(), 0.0)};
    sgemm_reference(c.ta, c.tb, c.M, c.N, c.K, c.alpha, c.A.data(), c.lda, c.B.data(), c.ldb, c.beta, e.C.data(),
                    c.ldc);
    for (int64_t i = 0; i < c.M; ++i)
        for (int64_t j = 0; j < c.N; ++j) {
            const int64_t idx = i * c.ldc + j;
            const double beta_c = c.beta == 0.0f ? 0.0 : std::fabs(static_cast<double>(c.beta) * c.C0[idx]);
            e.tol[idx] = (c.K + 4) * kU * std::fabs(c.alpha) * abs_dot(c, i, j) + 4 * kU * beta_c + 1e-30;
        }
    return e;
}

// Every element within the bound of the reference, and the padding between rows untouched.
void expect_close(const Case& c, const std::vector<float>& got, const Expected& ref, const std::string& what) {
    for (int64_t i = 0; i < c.M; ++i) {
        for (int64_t j = 0; j < c.ldc; ++j) {
            const int64_t idx = i * c.ldc + j;
            if (j >= c.N) {
                ASSERT_EQ(got[idx], kPadSentinel) << what << " " << c.name() << " wrote padding at " << i << ", " << j;
                continue;
            }
            ASSERT_TRUE(std::isfinite(got[idx])) << what << " " << c.name() << " at " << i << ", " << j;
            ASSERT_NEAR(got[idx], ref.C[idx], ref.tol[idx]) << what << " " << c.name() << " at " << i << ", " << j;
        }
    }
}

std::vector<Isa> isas() {
    std::vector<Isa> v{Isa::Scalar};
    if (test::have_avx2()) v.push_back(Isa::Avx2);
    return v;
}

// Every M and K of the size list, with N rotating through it so all sizes appear on every axis.
TEST(Sgemm, MatchesReferenceAllFormsAwkwardSizes) {
    constexpr int kNumSizes = sizeof(kSizes) / sizeof(kSizes[0]);
    uint32_t seed = 1;
    for (int im = 0; im < kNumSizes; ++im) {
        for (int ik = 0; ik < kNumSizes; ++ik) {
            const int64_t M = kSizes[im], K = kSizes[ik], N = kSizes[(im + 3 * ik) % kNumSizes];
            for (int form = 0; form < 4; ++form) {
                for (float beta : {0.0f, 1.0f, 0.5f}) {
                    const Case c = make_case(form & 1, form & 2, M, N, K, -0.75f, beta, seed++);
                    const Expected ref = run_reference(c);
                    for (Isa isa : isas())
                        for (int threads : {1, 2})
                            expect_close(c, run_sgemm(c, threads, isa), ref,
                                         std::string(isa_name(isa)) + " threads " + std::to_string(threads));
                }
            }
        }
    }
}

// The three products of a linear layer at training-like shapes: several K blocks and M blocks.
TEST(Sgemm, LinearLayerShapes) {
    const int64_t T = 300, in = 96, out = 161;
    for (Isa isa : isas()) {
        const Case fwd = make_case(false, true, T, out, in, 1.0f, 0.0f, 11);
        expect_close(fwd, run_sgemm(fwd, 2, isa), run_reference(fwd), "forward");
        const Case dx = make_case(false, false, T, in, out, 1.0f, 1.0f, 12);
        expect_close(dx, run_sgemm(dx, 2, isa), run_reference(dx), "input grad");
        const Case dw = make_case(true, false, out, in, T, 1.0f, 1.0f, 13);
        expect_close(dw, run_sgemm(dw, 2, isa), run_reference(dw), "weight grad");
        const Case deep = make_case(true, true, 40, 50, 1100, 0.5f, 0.5f, 14);  // five K blocks
        expect_close(deep, run_sgemm(deep, 2, isa), run_reference(deep), "deep K");
    }
}

// Training resume and data-parallel runs compare bits: the thread count must not change a single one.
TEST(Sgemm, BitIdenticalAcrossThreadCounts) {
    struct Shape {
        int64_t M, N, K;
    };
    // Tall (split over rows), wide (split over columns), and one with partial tiles on both edges.
    for (const Shape s : {Shape{301, 40, 517}, Shape{5, 333, 260}, Shape{67, 67, 67}}) {
        for (int form = 0; form < 4; ++form) {
            const Case c = make_case(form & 1, form & 2, s.M, s.N, s.K, 1.25f, 0.5f, 21 + form);
            for (Isa isa : isas()) {
                const std::vector<float> one = run_sgemm(c, 1, isa);
                for (int threads : {2, 3}) {
                    const std::vector<float> many = run_sgemm(c, threads, isa);
                    EXPECT_EQ(0, std::memcmp(one.data(), many.data(), one.size() * sizeof(float)))
                        << isa_name(isa) << " threads " << threads << " " << c.name();
                }
                const std::vector<float> again = run_sgemm(c, 2, isa);
                EXPECT_EQ(0, std::memcmp(one.data(), again.data(), one.size() * sizeof(float)))
                    << isa_name(isa) << " rerun " << c.name();
            }
        }
    }
}

// The bound is meaningful: the same data read with A transposed (square, so it still runs) fails it.
TEST(Sgemm, WrongTransposeIsCaught) {
    const int64_t n = 17;
    for (Isa isa : isas()) {
        const Case c = make_case(false, false, n, n, n, 1.0f, 0.0f, 31);
        const Expected ref = run_reference(c);
        std::vector<float> got = c.C0;
        ThreadPool pool(1);
        sgemm(true, false, n, n, n, c.alpha, c.A.data(), c.lda, c.B.data(), c.ldb, c.beta, got.data(), c.ldc, pool,
              isa);
        int64_t outside = 0;
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < n; ++j) {
                const int64_t idx = i * c.ldc + j;
                if (std::fabs(got[idx] - ref.C[idx]) > ref.tol[idx]) ++outside;
            }
        EXPECT_GT(outside, n * n / 2) << isa_name(isa);
    }
}

TEST(Sgemm, EmptyShapes) {
    ThreadPool pool(2);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> A(64, 1.0f), B(64, 1.0f);
    for (Isa isa : isas()) {
        // K == 0: C = beta · C; with beta == 0 that overwrites NaN with zero.
        std::vector<float> C(12, 2.0f);
        sgemm(false, false, 3, 4, 0, 1.0f, A.data(), 1, B.data(), 4, 0.5f, C.data(), 4, pool, isa);
        for (float x : C) EXPECT_EQ(x, 1.0f);
        std::fill(C.begin(), C.end(), nan);
        sgemm(true, true, 3, 4, 0, 1.0f, nullptr, 3, nullptr, 0, 0.0f, C.data(), 4, pool, isa);
        for (float x : C) EXPECT_EQ(x, 0.0f);
        // alpha == 0 reads neither A nor B.
        std::fill(C.begin(), C.end(), 4.0f);
        sgemm(false, false, 3, 4, 5, 0.0f, nullptr, 5, nullptr, 4, 0.25f, C.data(), 4, pool, isa);
        for (float x : C) EXPECT_EQ(x, 1.0f);
        // M == 0 or N == 0: nothing is read or written.
        std::fill(C.begin(), C.end(), 7.0f);
        sgemm(false, false, 0, 4, 5, 1.0f, nullptr, 5, B.data(), 4, 0.0f, C.data(), 4, pool, isa);
        sgemm(false, false, 3, 0, 5, 1.0f, A.data(), 5, nullptr, 0, 0.0f, C.data(), 0, pool, isa);
        for (float x : C) EXPECT_EQ(x, 7.0f);
        sgemm_reference(false, false, 0, 4, 5, 1.0f, nullptr, 5, B.data(), 4, 0.0f, C.data(), 4);
        for (float x : C) EXPECT_EQ(x, 7.0f);
    }
}

TEST(Sgemm, BadArgumentsThrow) {
    ThreadPool pool(1);
    std::vector<float> A(64), B(64), C(64);
    EXPECT_THROW(sgemm(false, false, -1, 2, 2, 1.0f, A.data(), 2, B.data(), 2, 0.0f, C.data(), 2, pool), Error);
    // lda < K; ldb < K (B transposed); lda < M (A transposed); ldc < N.
    EXPECT_THROW(sgemm(false, false, 2, 2, 3, 1.0f, A.data(), 2, B.data(), 2, 0.0f, C.data(), 2, pool), Error);
    EXPECT_THROW(sgemm(false, true, 2, 4, 3, 1.0f, A.data(), 3, B.data(), 2, 0.0f, C.data(), 4, pool), Error);
    EXPECT_THROW(sgemm(true, false, 4, 2, 3, 1.0f, A.data(), 3, B.data(), 2, 0.0f, C.data(), 2, pool), Error);
    EXPECT_THROW(sgemm(false, false, 2, 4, 3, 1.0f, A.data(), 3, B.data(), 4, 0.0f, C.data(), 3, pool), Error);
    EXPECT_THROW(sgemm_reference(false, false, 2, 2, 3, 1.0f, A.data(), 2, B.data(), 2, 0.0f, C.data(), 2), Error);
}

}  // namespace
}  // namespace rwkv
