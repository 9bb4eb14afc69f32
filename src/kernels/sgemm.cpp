// sgemm: argument checks, ISA choice, the split across threads and the cache blocking around a register-tile
// kernel (sgemm_kernels.h). op(B) for a run of columns is packed once for all of K; then for each L2-sized block
// of op(A) rows, K block by K block, the block of op(A) is packed and the tile kernel sweeps it against the
// op(B) panels, one 16-column micro-panel staying in L1 while the block's rows pass over it. Packing is where
// both transposes are handled: the tile kernels only ever see panels laid out [k][row] and [k][column].
//
// Determinism: threads split the output tiles (rows of C, or columns when C has more column tiles than row
// tiles), never K. The K blocks depend on K alone, and within a block every element of C is one multiply-add
// chain in k order whatever tile or thread it falls in, so C is bit-identical for any thread count and from
// run to run.
#include "kernels/sgemm.h"

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/sgemm_kernels.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

constexpr int64_t kKBlock = 256;         // K depth of a packed block: an op(B) micro-panel (16 × 256) is 16 KB
constexpr int64_t kMBlock = 144;         // op(A) rows per packed block: 144 × 256 × 4 B = 144 KB, L2-resident
constexpr int64_t kNBlock = 2048;        // op(B) columns per packed block
constexpr int64_t kMaxPackedB = 4 << 20; // floats of op(B) packed at once (all of K × the column block): 16 MB
constexpr double kMinParallelFlops = 2e5;  // below this the pool's wake-up costs more than it saves

// The portable tile: plain loops the compiler vectorises for whatever the baseline target offers.
constexpr int kScalarMr = 4, kScalarNr = 8;

void tile_scalar(int64_t kc, const float* a, const float* b, float alpha, float beta, float* c, int64_t ldc, int m,
                 int n) {
    float acc[kScalarMr][kScalarNr] = {};
    for (int64_t k = 0; k < kc; ++k)
        for (int i = 0; i < kScalarMr; ++i)
            for (int j = 0; j < kScalarNr; ++j) acc[i][j] += a[k * kScalarMr + i] * b[k * kScalarNr + j];
    for (int i = 0; i < m; ++i) {
        float* row = c + i * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < n; ++j) row[j] = alpha * acc[i][j];
        else
            for (int j = 0; j < n; ++j) row[j] = alpha * acc[i][j] + beta * row[j];
    }
}

struct Problem {
    bool trans_a, trans_b;
    int64_t M, N, K;
    float alpha;
    const float* A;
    int64_t lda;
    const float* B;
    int64_t ldb;
    float beta;
    float* C;
    int64_t ldc;
    // Chosen by sgemm(): the tile kernel and its shape, and the K block depth (a function of K only).
    kern::SgemmTileFn tile;
    int mr, nr;
    int64_t kc;
};

// Packing writes `rows` × kc elements of an operand as panels of `width` rows side by side:
// element (r, k) goes to dst[(r / width) * width * kc + k * width + r % width]; rows past the last are zero.
// The operand comes from DRAM or L3 as often as not, in runs of kc or `rows` floats, too short for the hardware
// prefetcher to ramp up, so both layouts prefetch a few runs ahead.
constexpr int64_t kPrefetchRuns = 4;
constexpr int64_t kLine = 64 / sizeof(float);

void prefetch(const float* p) { __builtin_prefetch(p, 0, 3); }

// Element (r, k) at src[r * ld + k]: each row is a run in k.
void pack_runs_along_k(const float* src, int64_t ld, int64_t rows, int64_t kc, int width, float* dst) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* s = src + r * ld;
        float* d = dst + (r / width) * width * kc + r % width;
        const bool ahead = r + kPrefetchRuns < rows;
        for (int64_t k0 = 0; k0 < kc; k0 += kLine) {
            if (ahead) prefetch(s + kPrefetchRuns * ld + k0);
            const int64_t k1 = std::min(kc, k0 + kLine);
            for (int64_t k = k0; k < k1; ++k) d[k * width] = s[k];
        }
    }
}

// Element (r, k) at src[k * ld + r]: each k is a run of rows.
void pack_runs_along_rows(const float* src, int64_t ld, int64_t rows, int64_t kc, int width, float* dst) {
    for (int64_t k = 0; k < kc; ++k) {
        const float* s = src + k * ld;
        if (k + kPrefetchRuns < kc)
            for (int64_t r = 0; r < rows; r += kLine) prefetch(s + kPrefetchRuns * ld + r);
        for (int64_t p0 = 0; p0 < rows; p0 += width) {
            const int64_t n = std::min<int64_t>(width, rows - p0);
            float* d = dst + p0 * kc + k * width;
            for (int64_t j = 0; j < n; ++j) d[j] = s[p0 + j];
        }
    }
}

void pack(bool runs_along_k, const float* src, int64_t ld, int64_t rows, int64_t kc, int width, float* dst) {
    if (runs_along_k)
        pack_runs_along_k(src, ld, rows, kc, width, dst);
    else
        pack_runs_along_rows(src, ld, rows, kc, width, dst);
    const int64_t tail = rows % width;
    if (tail == 0) return;
    float* last = dst + (rows - tail) * kc;
    for (int64_t k = 0; k < kc; ++k)
        for (int64_t j = tail; j < width; ++j) last[k * width + j] = 0.0f;
}

// op(A)[i0 .. i0 + mc, k0 .. k0 + kc) as mr-row panels. A stored [M, K] has rows along k; Aᵀ stored [K, M] not.
void pack_a(const Problem& p, int64_t i0, int64_t mc, int64_t k0, int64_t kc, float* dst) {
    if (!p.trans_a)
        pack(true, p.A + i0 * p.lda + k0, p.lda, mc, kc, p.mr, dst);
    else
        pack(false, p.A + k0 * p.lda + i0, p.lda, mc, kc, p.mr, dst);
}

// op(B)[k0 .. k0 + kc, j0 .. j0 + nc) as nr-column panels. B stored [N, K] (transposed) has columns along k.
void pack_b(const Problem& p, int64_t j0, int64_t nc, int64_t k0, int64_t kc, float* dst) {
    if (p.trans_b)
        pack(true, p.B + j0 * p.ldb + k0, p.ldb, nc, kc, p.nr, dst);
    else
        pack(false, p.B + k0 * p.ldb + j0, p.ldb, nc, kc, p.nr, dst);
}

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// 64-byte aligned scratch, so each packed row of 16 floats sits in one cache line.
float* aligned(std::vector<float>& buf, int64_t n) {
    buf.resize(static_cast<size_t>(n) + 16);
    const auto addr = reinterpret_cast<uintptr_t>(buf.data());
    return buf.data() + (((64 - addr % 64) % 64) / sizeof(float));
}

// C[m0 .. m1, n0 .. n1) in full. op(B) is packed for all of K up front, so each L2-sized block of C rows stays
// in cache while every K block adds to it, and op(A) is read block row by block row, in k order.
void run_block(const Problem& p, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    const int64_t mc_max = kMBlock / p.mr * p.mr;
    const int64_t nc_cap = std::max<int64_t>(p.nr, kMaxPackedB / p.K / p.nr * p.nr);
    const int64_t nc_max = std::min({kNBlock, nc_cap, round_up(n1 - n0, p.nr)});
    std::vector<float> abuf, bbuf;
    float* pa = aligned(abuf, mc_max * p.kc);
    float* pb = aligned(bbuf, nc_max * p.K);
    for (int64_t jc = n0; jc < n1; jc += nc_max) {
        const int64_t nc = std::min(nc_max, n1 - jc);
        const int64_t nc_round = round_up(nc, p.nr);
        for (int64_t pc = 0; pc < p.K; pc += p.kc) pack_b(p, jc, nc, pc, std::min(p.kc, p.K - pc), pb + pc * nc_round);
        for (int64_t ic = m0; ic < m1; ic += mc_max) {
            const int64_t mc = std::min(mc_max, m1 - ic);
            for (int64_t pc = 0; pc < p.K; pc += p.kc) {
                const int64_t kc = std::min(p.kc, p.K - pc);
                const float beta = pc == 0 ? p.beta : 1.0f;  // later K blocks add to what the first wrote
                const float* pbk = pb + pc * nc_round;
                pack_a(p, ic, mc, pc, kc, pa);
                for (int64_t jr = 0; jr < nc; jr += p.nr) {
                    const int n = static_cast<int>(std::min<int64_t>(p.nr, nc - jr));
                    for (int64_t ir = 0; ir < mc; ir += p.mr) {
                        const int m = static_cast<int>(std::min<int64_t>(p.mr, mc - ir));
                        p.tile(kc, pa + ir * kc, pbk + jr * kc, p.alpha, beta, p.C + (ic + ir) * p.ldc + jc + jr,
                               p.ldc, m, n);
                    }
                }
            }
        }
    }
}

void check_args(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
                int64_t ldc) {
    if (M < 0 || N < 0 || K < 0)
        throw Error("sgemm: negative size M " + std::to_string(M) + ", N " + std::to_string(N) + ", K " +
                    std::to_string(K));
    const auto check_ld = [](const char* name, int64_t ld, int64_t row_len) {
        if (ld < row_len)
            throw Error(std::string("sgemm: ") + name + " " + std::to_string(ld) + " is less than the row length " +
                        std::to_string(row_len));
    };
    check_ld("lda", lda, trans_a ? M : K);
    check_ld("ldb", ldb, trans_b ? K : N);
    check_ld("ldc", ldc, N);
}

// C = beta · C, for a product that contributes nothing (K == 0 or alpha == 0; A and B are not read).
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
    if (beta == 1.0f) return;
    for (int64_t i = 0; i < M; ++i) {
        float* row = C + i * ldc;
        if (beta == 0.0f)
            std::fill(row, row + N, 0.0f);
        else
            for (int64_t j = 0; j < N; ++j) row[j] *= beta;
    }
}

}  // namespace

void sgemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    check_args(trans_a, trans_b, M, N, K, lda, ldb, ldc);
    for (int64_t i = 0; i < M; ++i) {
        for (int64_t j = 0; j < N; ++j) {
            double acc = 0;
            for (int64_t k = 0; k < K; ++k) {
                const float a = trans_a ? A[k * lda + i] : A[i * lda + k];
                const float b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
                acc += static_cast<double>(a) * b;
            }
            float& c = C[i * ldc + j];
            const double scaled = beta == 0.0f ? 0.0 : static_cast<double>(beta) * c;
            c = static_cast<float>(static_cast<double>(alpha) * acc + scaled);
        }
    }
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, ThreadPool& pool, Isa isa) {
    check_args(trans_a, trans_b, M, N, K, lda, ldb, ldc);
    if (M == 0 || N == 0) return;
    if (K == 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    Problem p{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, tile_scalar, kScalarMr, kScalarNr, 0};
#if defined(RWKV_KERNELS_AVX2)
    if (clamp_isa(isa) >= Isa::Avx2) {
        p.tile = kern::sgemm_tile_avx2;
        p.mr = kern::kSgemmAvx2Mr;
        p.nr = kern::kSgemmAvx2Nr;
    }
#else
    (void)isa;
#endif
    // Equal K blocks of at most kKBlock (300 = 2 × 150, not 256 + 44): no thin last block.
    const int64_t k_blocks = (K + kKBlock - 1) / kKBlock;
    p.kc = (K + k_blocks - 1) / k_blocks;

    // Split whichever side of C has more tiles; boundaries fall on tile edges so no tile is shared.
    const int64_t m_tiles = (M + p.mr - 1) / p.mr, n_tiles = (N + p.nr - 1) / p.nr;
    const bool split_m = m_tiles >= n_tiles;
    const int64_t units = split_m ? m_tiles : n_tiles;
    const auto body = [&](size_t begin, size_t end) {
        const auto b = static_cast<int64_t>(begin), e = static_cast<int64_t>(end);
        if (split_m)
            run_block(p, b * p.mr, std::min(M, e * p.mr), 0, N);
        else
            run_block(p, 0, M, b * p.nr, std::min(N, e * p.nr));
    };
    const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
    if (pool.size() == 1 || flops < kMinParallelFlops)
        body(0, static_cast<size_t>(units));
    else
        pool.parallel_for(static_cast<size_t>(units), body);
}

}  // namespace rwkv
