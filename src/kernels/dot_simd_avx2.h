#pragma once
// Helpers of the integer-dot kernels, for the files built with -mavx2 (dot_avx2.cpp) or above (dot_avx512.cpp)
// only. Everything is static: each such file gets its own copy, so the linker never merges one into code
// that runs on a CPU without those instructions (see dot_kernels.h).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/dot_kernels.h"

namespace rwkv::kern {

static inline float f16(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Matvec streams weights once; the hardware prefetcher alone leaves the quantized kernels with many ALU ops
// per byte (q4_0, the 5-bit and k-quant types; not q8_0, see add_group_of_4) waiting on DRAM. Fetching this
// far ahead (measured best of 0.5-4 KB) lets them reach the plain read bandwidth. Prefetches past the end of
// a matrix are harmless hints.
inline constexpr int kPrefetchBytes = 2048;
static inline void prefetch(const uint8_t* p) {
    _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
}

// How far ahead the kernels with a software-prefetch variant (StreamPrefetch::software: the eight-row kernels,
// the float dots) ask for weights. On the Emerald Rapids VM that wants it, 2-6 KB ahead were alike for those
// kernels and 1 KB fell short; 1.5B f16 generation ran faster at 4 KB than at 2 (6.7-6.9 against 6.1-6.6 tok/s).
inline constexpr int kStreamPrefetchBytes = 4096;

// Asks for the `kBytes` bytes at p + kStreamPrefetchBytes, one request per `kStep` bytes (a step under a
// cache line covers a run of any alignment).
template <int kBytes, int kStep>
static inline void stream_prefetch(const uint8_t* p) {
    for (int o = 0; o < kBytes; o += kStep)
        _mm_prefetch(reinterpret_cast<const char*>(p) + kStreamPrefetchBytes + o, _MM_HINT_T0);
}

static inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
static inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

// 16 packed bytes -> 32 values 0..15: byte j's low nibble is element j, its high nibble element j + 16.
// A broadcast load and a blend keep this off port 5 (an insert would compete with the dot's shuffles there).
static inline __m256i nibbles32(const uint8_t* qs) {
    const __m256i t = _mm256_broadcastsi128_si256(load128(qs));
    return _mm256_and_si256(_mm256_blend_epi32(t, _mm256_srli_epi16(t, 4), 0xf0), _mm256_set1_epi8(0x0f));
}

// Four blocks' 8-lane int32 sums folded into one vector: lane j holds a partial sum of block j % 4, each block
// in two lanes (one per 128-bit half).
static inline __m256i fold4(__m256i m0, __m256i m1, __m256i m2, __m256i m3) {
    const __m256i a = _mm256_add_epi32(_mm256_unpacklo_epi32(m0, m1), _mm256_unpackhi_epi32(m0, m1));
    const __m256i c = _mm256_add_epi32(_mm256_unpacklo_epi32(m2, m3), _mm256_unpackhi_epi32(m2, m3));
    return _mm256_add_epi32(_mm256_unpacklo_epi64(a, c), _mm256_unpackhi_epi64(a, c));
}

// The f16 scales at the start of four consecutive blocks, as 4 floats.
template <int kBlockBytes>
static inline __m128 four_f16(const uint8_t* b) {
    uint64_t h = 0;
    for (int k = 0; k < 4; ++k) {
        uint16_t v;
        std::memcpy(&v, b + k * kBlockBytes, 2);
        h |= static_cast<uint64_t>(v) << (16 * k);
    }
    return _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<long long>(h)));
}

// Adds blocks i..i+3 of a row of 32-weight blocks (f16 scale first) to acc. block_sum(block, x_q) gives a
// block's 8-lane int32 products with its 32 activations; with kOffsetShift >= 0 the weights were made unsigned
// by an offset of 2^(kOffsetShift+1), which comes off as sum(x_q) << kOffsetShift in each of the two lanes per
// block that fold4 leaves. The four f16 scales times x's scales, one convert and one FMA.
// Only q8_0 takes this path, and it has no software prefetch: with its few instructions per byte the hardware
// prefetcher keeps up, and the prefetches cost it. Generation alternating the two builds (paired fraction at the
// ~60 GB/s state, 0.1B / 1.5B): weights on huge pages 0.60 -> 0.67 / 0.71 -> 0.80, on 4 KiB pages 0.58 -> 0.61 /
// 0.76 -> 0.83; at ~35 GB/s unchanged.
template <int kBlockBytes, int kOffsetShift, class BlockSum>
static inline void add_group_of_4(const uint8_t* base, const Q8View& x, int64_t i, __m256& acc, BlockSum block_sum) {
    const uint8_t* b = base + kBlockBytes * i;
    __m256i m[4];
    for (int k = 0; k < 4; ++k) m[k] = block_sum(b + kBlockBytes * k, load256(x.q + 32 * (i + k)));
    __m256i sums = fold4(m[0], m[1], m[2], m[3]);
    if constexpr (kOffsetShift >= 0) {
        const __m256i qs = _mm256_broadcastsi128_si256(load128(x.qsum + i));
        sums = _mm256_sub_epi32(sums, _mm256_slli_epi32(qs, kOffsetShift));
    }
    const __m128 s = _mm_mul_ps(four_f16<kBlockBytes>(b), _mm_loadu_ps(x.d + i));
    acc = _mm256_fmadd_ps(_mm256_set_m128(s, s), _mm256_cvtepi32_ps(sums), acc);
}

// q4_0 blocks i..i+3 added to acc, two blocks per vector: the 16 packed bytes of blocks i and i+1 side by side
// give both blocks' low nibbles with one AND and their high nibbles with one shift and AND, and x.pairs holds
// the activations in that order. pair_dot(lo, x_lo, hi, x_hi) returns 8 int32 lanes, lanes 0-3 summing
// products of the first block, 4-7 of the second. Against one block per vector (add_group_of_4) this drops
// the per-block nibble blend and most of the fold, a third of the vector instructions per block; q4_0's
// integer work, not memory, is what bounds it when the bandwidth is high.
template <class PairDot>
static inline void add_q4_0_group_of_4(const uint8_t* base, const Q8View& x, int64_t i, __m256& acc,
                                       PairDot pair_dot) {
    constexpr int kBlockBytes = 18;
    const uint8_t* b = base + kBlockBytes * i;
    for (int line = 0; line < 4 * kBlockBytes; line += 64) prefetch(b + line);
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256i m[2];
    for (int k = 0; k < 2; ++k) {
        const uint8_t* qs = b + 2 * k * kBlockBytes + 2;
        const int8_t* xp = x.pairs + 32 * i + 64 * k;
        const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(load128(qs)), load128(qs + kBlockBytes), 1);
        m[k] = pair_dot(_mm256_and_si256(v, m4), load256(xp), _mm256_and_si256(_mm256_srli_epi16(v, 4), m4),
                        load256(xp + 32));
    }
    // Per 128-bit half the lanes now hold blocks 0, 2, 0, 2 (low half) and 1, 3, 1, 3 (high half).
    const __m256i order = _mm256_setr_epi32(0, 2, 0, 2, 1, 3, 1, 3);
    __m256i sums = _mm256_add_epi32(_mm256_unpacklo_epi32(m[0], m[1]), _mm256_unpackhi_epi32(m[0], m[1]));
    // The stored nibbles are q + 8: 8 * sum(x_q) per block comes off, half in each of its two lanes.
    const __m256i qs = _mm256_permutevar8x32_epi32(_mm256_castsi128_si256(load128(x.qsum + i)), order);
    sums = _mm256_sub_epi32(sums, _mm256_slli_epi32(qs, 2));
    const __m128 s = _mm_mul_ps(four_f16<kBlockBytes>(b), _mm_loadu_ps(x.d + i));
    acc = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(_mm256_castps128_ps256(s), order), _mm256_cvtepi32_ps(sums), acc);
}

// The eight-row kernels' frame, for M tokens at once: block(b, acc) over a row's nb blocks on two accumulators
// per token (alternate blocks, so their FMAs overlap), block updating acc[0..M); ys[m] gets token m's eight
// results.
template <int M, class Block>
static inline void rows8_tokens_blocks(int64_t nb, Block block, float* const* ys) {
    __m256 acc0[M], acc1[M];
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m) acc0[m] = acc1[m] = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        block(b, acc0);
        block(b + 1, acc1);
    }
    if (b < nb) block(b, acc0);
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m) _mm256_storeu_ps(ys[m], _mm256_add_ps(acc0[m], acc1[m]));
}

// The same for one token (generation): block(b, acc) updates the one accumulator acc.
template <class Block>
static inline void rows8_blocks(int64_t nb, Block block, float* y) {
    rows8_tokens_blocks<1>(nb, [&](int64_t b, __m256* acc) { block(b, acc[0]); }, &y);
}

// acc + the eight rows' f16 scales (at the block's start p) times x's scale dx times their integer sums.
static inline __m256 rows8_scaled(const uint8_t* p, float dx, __m256i sums, __m256 acc) {
    const __m256 scales = _mm256_mul_ps(_mm256_cvtph_ps(load128(p)), _mm256_set1_ps(dx));
    return _mm256_fmadd_ps(scales, _mm256_cvtepi32_ps(sums), acc);
}

// One group of eight q4_0 rows in the eight-row layout (kernels/rows8.h) against x, n columns: y[i] = row i · x.
// Each 32-bit lane is one row. Chunk c's low nibbles meet x[4c..4c+3] and its high nibbles x[16+4c..16+4c+3],
// broadcast to every lane; quad_dot(acc, u, s) adds to each int32 lane the dot of its four unsigned bytes of u
// with its four signed bytes of s. The stored nibbles are q + 8, so 8 * sum(x_q) per block comes off, and one
// FMA applies the eight rows' scales. Two accumulators take alternate blocks so their FMAs overlap. The group
// is one contiguous stream: with kPrefetch it is asked for ahead (StreamPrefetch::software), else left to the
// hardware prefetcher, which on Zen 4 keeps up (there a prefetch 1 or 2 KB ahead cost 2 threads 4-6 GB/s at
// the ~55 GB/s state).
template <bool kPrefetch, class QuadDot>
static inline void q4_0_rows8(const uint8_t* group, const Q8View& x, int64_t n, float* y, QuadDot quad_dot) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const auto block = [&](int64_t b, __m256& acc) {
        const uint8_t* p = group + 144 * b;
        if constexpr (kPrefetch) stream_prefetch<144, 48>(p);
        const int8_t* xq = x.q + 32 * b;
        __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
        for (int c = 0; c < 4; ++c) {
            const __m256i v = load256(p + 16 + 32 * c);
            int32_t xl, xh;
            std::memcpy(&xl, xq + 4 * c, 4);
            std::memcpy(&xh, xq + 16 + 4 * c, 4);
            lo = quad_dot(lo, _mm256_and_si256(v, m4), _mm256_set1_epi32(xl));
            hi = quad_dot(hi, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4), _mm256_set1_epi32(xh));
        }
        acc = rows8_scaled(p, x.d[b], _mm256_sub_epi32(_mm256_add_epi32(lo, hi), _mm256_set1_epi32(x.qsum[b] * 8)), acc);
    };
    rows8_blocks(n / 32, block, y);
}

// q8_0 rows in the eight-row layout (kernels/rows8.h, 272 bytes a block): per 32-weight block the eight
// rows' f16 scales, then eight 32-byte chunks, chunk c holding weights 4c..4c+3 of row i in int32 lane i. The
// same scheme as q4_0_rows8: quad_dot(acc, w, s) adds to each lane the dot of its four weight bytes with four
// activation bytes; kOffset * sum(x_q) comes off per block (VNNI makes the weights unsigned with +128).
template <bool kPrefetch, int kOffset, class QuadDot>
static inline void q8_0_rows8(const uint8_t* group, const Q8View& x, int64_t n, float* y, QuadDot quad_dot) {
    const auto block = [&](int64_t b, __m256& acc) {
        const uint8_t* p = group + 272 * b;
        if constexpr (kPrefetch) stream_prefetch<272, 64>(p);
        const int8_t* xq = x.q + 32 * b;
        __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
        for (int c = 0; c < 8; c += 2) {
            int32_t x0, x1;
            std::memcpy(&x0, xq + 4 * c, 4);
            std::memcpy(&x1, xq + 4 * c + 4, 4);
            s0 = quad_dot(s0, load256(p + 16 + 32 * c), _mm256_set1_epi32(x0));
            s1 = quad_dot(s1, load256(p + 48 + 32 * c), _mm256_set1_epi32(x1));
        }
        __m256i sums = _mm256_add_epi32(s0, s1);
        if constexpr (kOffset != 0) sums = _mm256_sub_epi32(sums, _mm256_set1_epi32(x.qsum[b] * kOffset));
        acc = rows8_scaled(p, x.d[b], sums, acc);
    };
    rows8_blocks(n / 32, block, y);
}

// q4_0_rows8 for M activation vectors at once (sequence mode; M = 4, or 2 on AVX2's 16 registers): each block's
// nibbles are unpacked once for all M, and per token the arithmetic is q4_0_rows8's in the same order, so the
// outputs are bit-identical to generation's.
template <int M, class QuadDot>
static inline void q4_0_rows8_tokens(const uint8_t* group, const Q8View* xs, int64_t n, float* const* ys,
                                     QuadDot quad_dot) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const auto block = [&](int64_t b, __m256* acc) {
        const uint8_t* p = group + 144 * b;
        __m256i lo[4], hi[4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
            const __m256i v = load256(p + 16 + 32 * c);
            lo[c] = _mm256_and_si256(v, m4);
            hi[c] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        }
        const __m256 w_scales = _mm256_cvtph_ps(load128(p));
#pragma GCC unroll 4
        for (int m = 0; m < M; ++m) {
            const int8_t* xq = xs[m].q + 32 * b;
            __m256i l = _mm256_setzero_si256(), h = _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int c = 0; c < 4; ++c) {
                int32_t xl, xh;
                std::memcpy(&xl, xq + 4 * c, 4);
                std::memcpy(&xh, xq + 16 + 4 * c, 4);
                l = quad_dot(l, lo[c], _mm256_set1_epi32(xl));
                h = quad_dot(h, hi[c], _mm256_set1_epi32(xh));
            }
            const __m256i sums = _mm256_sub_epi32(_mm256_add_epi32(l, h), _mm256_set1_epi32(xs[m].qsum[b] * 8));
            const __m256 scales = _mm256_mul_ps(w_scales, _mm256_set1_ps(xs[m].d[b]));
            acc[m] = _mm256_fmadd_ps(scales, _mm256_cvtepi32_ps(sums), acc[m]);
        }
    };
    rows8_tokens_blocks<M>(n / 32, block, ys);
}

// q8_0_rows8 for M activation vectors at once: each block's eight chunks are loaded once for all M and passed
// through transform (VNNI: +128, the weights made unsigned); per token the arithmetic is q8_0_rows8's.
template <int M, int kOffset, class Transform, class QuadDot>
static inline void q8_0_rows8_tokens(const uint8_t* group, const Q8View* xs, int64_t n, float* const* ys,
                                     Transform transform, QuadDot quad_dot) {
    const auto block = [&](int64_t b, __m256* acc) {
        const uint8_t* p = group + 272 * b;
        __m256i w[8];
#pragma GCC unroll 8
        for (int c = 0; c < 8; ++c) w[c] = transform(load256(p + 16 + 32 * c));
#pragma GCC unroll 4
        for (int m = 0; m < M; ++m) {
            const int8_t* xq = xs[m].q + 32 * b;
            __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int c = 0; c < 8; c += 2) {
                int32_t x0, x1;
                std::memcpy(&x0, xq + 4 * c, 4);
                std::memcpy(&x1, xq + 4 * c + 4, 4);
                s0 = quad_dot(s0, w[c], _mm256_set1_epi32(x0));
                s1 = quad_dot(s1, w[c + 1], _mm256_set1_epi32(x1));
            }
            __m256i sums = _mm256_add_epi32(s0, s1);
            if constexpr (kOffset != 0) sums = _mm256_sub_epi32(sums, _mm256_set1_epi32(xs[m].qsum[b] * kOffset));
            acc[m] = rows8_scaled(p, xs[m].d[b], sums, acc[m]);
        }
    };
    rows8_tokens_blocks<M>(n / 32, block, ys);
}

// Runs group(i, acc) over blocks 0, 4, 8, ... while four remain, on two accumulators so consecutive groups'
// FMAs overlap. Returns their sum; *done is the number of blocks covered (the caller takes the last 0-3).
template <class Group>
static inline float by_groups_of_4(int64_t nb, Group group, int64_t* done) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= nb; i += 8) {
        group(i, acc0);
        group(i + 4, acc1);
    }
    if (i + 4 <= nb) {
        group(i, acc0);
        i += 4;
    }
    *done = i;
    return hsum(_mm256_add_ps(acc0, acc1));
}

}  // namespace rwkv::kern
