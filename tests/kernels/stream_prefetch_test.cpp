// The two variants of each SIMD kernel table (StreamPrefetch: the streaming kernels asking for weights ahead of
// use, or leaving it to the hardware) are different code with the same arithmetic: their results must be bit for
// bit the same. Each variant is also checked against the scalar reference by the whole suite, which ctest runs
// once more under each RWKV_PREFETCH value (CMakeLists.txt).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/dot_dispatch.h"
#include "kernels/rows8.h"
#include "kernels_test_util.h"

namespace rwkv {
namespace {

using kern::KernelTable;
using kern::table_for;

std::vector<Isa> simd_levels() {
    std::vector<Isa> out;
    for (Isa isa : {Isa::Avx2, Isa::Avx512})
        if (detected_isa() >= isa) out.push_back(isa);
    return out;
}

// Float rows of awkward lengths, and long enough that the prefetch runs far past the row's end.
TEST(StreamPrefetch, FloatDotsAreBitIdenticalEitherWay) {
    if (simd_levels().empty()) GTEST_SKIP() << "no SIMD kernels on this CPU";
    for (Isa isa : simd_levels()) {
        const KernelTable& hw = table_for(isa, StreamPrefetch::hardware);
        const KernelTable& sw = table_for(isa, StreamPrefetch::software);
        for (DType t : {DType::F32, DType::F16, DType::BF16}) {
            const int s = kern::slot_of(t);
            ASSERT_NE(hw.type[s].dot_f32, sw.type[s].dot_f32) << "the variants must be different code";
            std::vector<int64_t> lengths = test::awkward_lengths(t);
            lengths.push_back(2048);
            lengths.push_back(3001);
            for (int64_t n : lengths) {
                const test::Weights w = test::make_weights(t, 3, n, static_cast<uint32_t>(n));
                const std::vector<float> x = test::gaussian(n, 5);
                for (int64_t r = 0; r < 3; ++r) {
                    const float a = hw.type[s].dot_f32(w.row(r), x.data(), n);
                    const float b = sw.type[s].dot_f32(w.row(r), x.data(), n);
                    ASSERT_EQ(std::memcmp(&a, &b, sizeof a), 0)
                        << isa_name(isa) << " " << dtype_name(t) << " n " << n << ": " << a << " vs " << b;
                }
            }
        }
    }
}

TEST(StreamPrefetch, EightRowKernelsAreBitIdenticalEitherWay) {
    if (simd_levels().empty()) GTEST_SKIP() << "no SIMD kernels on this CPU";
    for (Isa isa : simd_levels()) {
        const KernelTable& hw = table_for(isa, StreamPrefetch::hardware);
        const KernelTable& sw = table_for(isa, StreamPrefetch::software);
        for (DType t : {DType::Q4_0, DType::Q8_0}) {
            const auto pick = [t](const KernelTable& k) {
                return t == DType::Q4_0 ? k.dot_q8_q4_0_rows8 : k.dot_q8_q8_0_rows8;
            };
            ASSERT_NE(pick(hw), pick(sw)) << "the variants must be different code";
            for (int64_t blocks : {1, 2, 3, 7, 13, 64}) {
                const int64_t rows = 17, cols = 32 * blocks;
                const test::Weights w = test::make_weights(t, rows, cols, static_cast<uint32_t>(blocks));
                std::vector<uint8_t> g(rows8_bytes(t, rows, cols));
                interleave_rows8(t, w.bytes.data(), rows, cols, g.data());
                const std::vector<float> x = test::gaussian(cols, 9, 1.5f);
                ActivationQ8 q;
                q.quantize(Q8Layout::Block32, x.data(), cols, isa, false);
                const kern::Q8View v = kern::q8_view(q);
                const size_t group_bytes = g.size() / static_cast<size_t>(rows8_groups(rows));
                for (int64_t grp = 0; grp < rows8_groups(rows); ++grp) {
                    float a[8], b[8];
                    pick(hw)(g.data() + grp * group_bytes, v, cols, a);
                    pick(sw)(g.data() + grp * group_bytes, v, cols, b);
                    ASSERT_EQ(std::memcmp(a, b, sizeof a), 0)
                        << isa_name(isa) << " " << dtype_name(t) << " group " << grp << " of [" << rows << ", " << cols
                        << "]";
                }
            }
        }
    }
}

}  // namespace
}  // namespace rwkv
