#include "kernels/cpu_features.h"

#include <gtest/gtest.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <cstdlib>

#include "rwkv/error.h"

namespace rwkv {
namespace {

TEST(CpuFeatures, ParsesTheEnvironmentValue) {
    EXPECT_EQ(parse_isa(nullptr, Isa::Avx2), Isa::Avx2);
    EXPECT_EQ(parse_isa("", Isa::Scalar), Isa::Scalar);
    EXPECT_EQ(parse_isa("scalar", Isa::Avx2), Isa::Scalar);
    EXPECT_EQ(parse_isa("SCALAR", Isa::Avx2), Isa::Scalar);
    EXPECT_EQ(parse_isa("avx2", Isa::Scalar), Isa::Avx2);
    EXPECT_EQ(parse_isa("AVX512", Isa::Scalar), Isa::Avx512);
    EXPECT_THROW(parse_isa("sse9", Isa::Avx2), Error);
    EXPECT_THROW(parse_isa("scalar ", Isa::Avx2), Error);
}

TEST(CpuFeatures, ClampNeverExceedsTheCpu) {
    EXPECT_EQ(clamp_isa(Isa::Scalar), Isa::Scalar);
    EXPECT_EQ(clamp_isa(Isa::Avx2), std::min(Isa::Avx2, detected_isa()));
    EXPECT_EQ(clamp_isa(Isa::Avx512), detected_isa());
    EXPECT_STREQ(isa_name(Isa::Scalar), "scalar");
    EXPECT_STREQ(isa_name(Isa::Avx2), "avx2");
    EXPECT_STREQ(isa_name(Isa::Avx512), "avx512");
}

TEST(CpuFeatures, DetectionAgreesWithTheCompilerBuiltins) {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    const bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;  // clang 14 has no "f16c" builtin
    const bool all = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
    const bool avx512 = all && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    EXPECT_EQ(detected_isa() >= Isa::Avx2, all);
    EXPECT_EQ(detected_isa() == Isa::Avx512, avx512);
#else
    EXPECT_EQ(detected_isa(), Isa::Scalar);
#endif
}

// ctest runs this binary a second time with RWKV_ISA=scalar (see CMakeLists.txt), so both branches are taken.
TEST(CpuFeatures, DefaultHonoursRwkvIsa) {
    const char* env = std::getenv("RWKV_ISA");
    EXPECT_EQ(default_isa(), clamp_isa(parse_isa(env, Isa::Avx512))) << (env ? env : "(unset)");
}

TEST(CpuFeatures, ParsesTheStreamPrefetchValue) {
    EXPECT_EQ(parse_stream_prefetch(nullptr, StreamPrefetch::software), StreamPrefetch::software);
    EXPECT_EQ(parse_stream_prefetch("", StreamPrefetch::hardware), StreamPrefetch::hardware);
    EXPECT_EQ(parse_stream_prefetch("hardware", StreamPrefetch::software), StreamPrefetch::hardware);
    EXPECT_EQ(parse_stream_prefetch("Software", StreamPrefetch::hardware), StreamPrefetch::software);
    EXPECT_THROW(parse_stream_prefetch("on", StreamPrefetch::hardware), Error);
    EXPECT_THROW(parse_stream_prefetch("software ", StreamPrefetch::hardware), Error);
    EXPECT_STREQ(stream_prefetch_name(StreamPrefetch::hardware), "hardware");
    EXPECT_STREQ(stream_prefetch_name(StreamPrefetch::software), "software");
}

TEST(CpuFeatures, StreamPrefetchFollowsTheVendor) {
#if defined(__x86_64__)
    EXPECT_EQ(detected_stream_prefetch() == StreamPrefetch::software, __builtin_cpu_is("intel") != 0);
#else
    EXPECT_EQ(detected_stream_prefetch(), StreamPrefetch::hardware);
#endif
}

// ctest runs this binary again under RWKV_PREFETCH=software and =hardware.
TEST(CpuFeatures, DefaultHonoursRwkvPrefetch) {
    const char* env = std::getenv("RWKV_PREFETCH");
    EXPECT_EQ(default_stream_prefetch(), parse_stream_prefetch(env, detected_stream_prefetch()))
        << (env ? env : "(unset)");
}

}  // namespace
}  // namespace rwkv
