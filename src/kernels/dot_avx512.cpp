// The integer dots of q4_0 and q8_0 with AVX-512 VNNI (vpdpbusd on 256-bit vectors, AVX512VL), on top of
// the AVX2 table for everything else. This file alone is built with the AVX-512 flags and is reached only
// through avx512_kernels(), which the dispatcher calls after checking the CPU (see dot_kernels.h).
//
// vpdpbusd multiplies unsigned by signed bytes and sums each four into an int32 lane in one instruction,
// where AVX2 needs maddubs + madd, and for q8_0 two sign instructions more. The weights are made unsigned
// by an offset instead (q4_0's nibbles are q + 8 already; q8_0 bytes get +128 by flipping the top bit, so
// -128 needs no special case), and offset · sum(x_q) comes off the integer sums, x carrying sum(x_q) per
// block. The rest is the AVX2 kernel's: q8_0 folds four blocks into one vector for one convert and one FMA,
// q4_0 takes two blocks per vector against the paired activations (add_q4_0_group_of_4).
#include <immintrin.h>

#include <cstdint>

#include "kernels/dot_kernels.h"
#include "kernels/dot_simd_avx2.h"

namespace rwkv::kern {
namespace {

// The 32 weights of a block as unsigned bytes (stored value + offset), in element order.
template <bool kNibbles>
__m256i unsigned_bytes(const uint8_t* b) {
    if constexpr (kNibbles) return nibbles32(b + 2);
    return _mm256_xor_si256(load256(b + 2), _mm256_set1_epi8(static_cast<char>(0x80)));
}

template <int kBlockBytes, bool kNibbles>
float dot_q8_vnni(const void* w, const Q8View& x, int64_t n) {
    // Offset per block is 8 (q4_0) or 128 (q8_0) times sum(x_q); each block spans two lanes after fold4.
    constexpr int kHalfOffsetShift = kNibbles ? 2 : 6;
    const auto* base = static_cast<const uint8_t*>(w);
    const int64_t nb = n / 32;
    const auto group = [&](int64_t i, __m256& acc) {
        if constexpr (kNibbles) {
            add_q4_0_group_of_4(base, x, i, acc, [](__m256i lo, __m256i x_lo, __m256i hi, __m256i x_hi) {
                return _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), lo, x_lo), hi, x_hi);
            });
        } else {
            add_group_of_4<kBlockBytes, kHalfOffsetShift>(base, x, i, acc, [](const uint8_t* b, __m256i xq) {
                return _mm256_dpbusd_epi32(_mm256_setzero_si256(), unsigned_bytes<kNibbles>(b), xq);
            });
        }
    };
    int64_t i = 0;
    float sum = by_groups_of_4(nb, group, &i);
    for (; i < nb; ++i) {  // at most three blocks
        const uint8_t* b = base + kBlockBytes * i;
        const __m256i m =
            _mm256_dpbusd_epi32(_mm256_setzero_si256(), unsigned_bytes<kNibbles>(b), load256(x.q + 32 * i));
        __m128i h = _mm_add_epi32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
        const int32_t isum = _mm_cvtsi128_si32(h) - (x.qsum[i] << (kHalfOffsetShift + 1));
        sum += f16(b) * x.d[i] * static_cast<float>(isum);
    }
    return sum;
}

// Lambdas, so the kernels inline them (see dot_avx2.cpp).
constexpr auto vnni_dot = [](__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); };
constexpr auto plus_128 = [](__m256i w) { return _mm256_xor_si256(w, _mm256_set1_epi8(static_cast<char>(0x80))); };

template <bool kPrefetch>
void dot_q8_q4_0_rows8_vnni(const void* group, const Q8View& x, int64_t n, float* y) {
    q4_0_rows8<kPrefetch>(static_cast<const uint8_t*>(group), x, n, y, vnni_dot);
}

void dot_q8_q4_0_rows8_x4_vnni(const void* group, const Q8View* xs, int64_t n, float* const* ys) {
    q4_0_rows8_tokens<4>(static_cast<const uint8_t*>(group), xs, n, ys, vnni_dot);
}

template <bool kPrefetch>
void dot_q8_q8_0_rows8_vnni(const void* group, const Q8View& x, int64_t n, float* y) {
    q8_0_rows8<kPrefetch, 128>(static_cast<const uint8_t*>(group), x, n, y,
                    [](__m256i acc, __m256i w, __m256i s) { return vnni_dot(acc, plus_128(w), s); });
}

void dot_q8_q8_0_rows8_x4_vnni(const void* group, const Q8View* xs, int64_t n, float* const* ys) {
    q8_0_rows8_tokens<4, 128>(static_cast<const uint8_t*>(group), xs, n, ys, plus_128, vnni_dot);
}

template <bool kPrefetch>
KernelTable make_table() {
    KernelTable t = avx2_kernels(kPrefetch ? StreamPrefetch::software : StreamPrefetch::hardware);
    t.type[kQ4_0].dot_q8 = dot_q8_vnni<18, true>;
    t.type[kQ8_0].dot_q8 = dot_q8_vnni<34, false>;
    t.dot_q8_q4_0_rows8 = dot_q8_q4_0_rows8_vnni<kPrefetch>;
    t.dot_q8_q4_0_rows8_x4 = dot_q8_q4_0_rows8_x4_vnni;
    t.dot_q8_q8_0_rows8 = dot_q8_q8_0_rows8_vnni<kPrefetch>;
    t.dot_q8_q8_0_rows8_x4 = dot_q8_q8_0_rows8_x4_vnni;
    return t;
}

}  // namespace

const KernelTable& avx512_kernels(StreamPrefetch prefetch) {
    static const KernelTable hardware = make_table<false>(), software = make_table<true>();
    return prefetch == StreamPrefetch::software ? software : hardware;
}

}  // namespace rwkv::kern
