// AVX2 + FMA + F16C kernels. This file alone is built with -mavx2 -mfma -mf16c, and everything here has
// internal linkage (see dot_kernels.h for why). It is reached only through avx2_kernels(), which the
// dispatcher calls after checking the CPU. Built with -ffp-contract=off as well, so decoding a weight gives
// the same float as the scalar reference; the sums use explicit FMAs.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/dot_kernels.h"
#include "kernels/dot_simd_avx2.h"

namespace rwkv::kern {
namespace {

// ---- small helpers (the rest, shared with dot_avx512.cpp, in dot_simd_avx2.h) ----

// Pairwise unsigned x signed byte products summed to 8 int32 lanes. No int16 saturation can occur: every
// caller keeps the unsigned side <= 128 and the signed side in -127..127 (2 * 128 * 127 < 32767).
__m256i mul_sum_us8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// The same for two signed vectors: move a's sign onto b so a can be used unsigned.
__m256i mul_sum_i8(__m256i a, __m256i b) { return mul_sum_us8(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a)); }

// Bit j of the little-endian 32-bit word at qh -> 0x10 in byte j (the fifth bit of the 5-bit formats).
__m256i fifth_bits(const uint8_t* qh) {
    uint32_t bits;
    std::memcpy(&bits, qh, 4);
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(static_cast<int>(bits)),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
    // Each byte keeps all bits but "its own"; all-ones afterwards means that bit was set.
    const __m256i probe = _mm256_or_si256(spread, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_and_si256(_mm256_cmpeq_epi8(probe, _mm256_set1_epi64x(-1)), _mm256_set1_epi8(0x10));
}

// The 32 (signed or < 128) values of a block as bytes, in element order.
__m256i q4_0_bytes(const uint8_t* b) { return _mm256_sub_epi8(nibbles32(b + 2), _mm256_set1_epi8(8)); }
__m256i q4_1_bytes(const uint8_t* b) { return nibbles32(b + 4); }
__m256i q5_0_bytes(const uint8_t* b) {
    return _mm256_sub_epi8(_mm256_or_si256(nibbles32(b + 6), fifth_bits(b + 2)), _mm256_set1_epi8(16));
}
__m256i q5_1_bytes(const uint8_t* b) { return _mm256_or_si256(nibbles32(b + 8), fifth_bits(b + 4)); }
__m256i q8_0_bytes(const uint8_t* b) { return load256(b + 2); }

void unpack_q4_k_scales(const uint8_t* p, uint8_t* sc, uint8_t* m) {
    for (int j = 0; j < 4; ++j) {
        sc[j] = p[j] & 63;
        m[j] = p[j + 4] & 63;
        sc[j + 4] = static_cast<uint8_t>((p[j + 8] & 0x0f) | (p[j] >> 6) << 4);
        m[j + 4] = static_cast<uint8_t>((p[j + 8] >> 4) | (p[j + 4] >> 6) << 4);
    }
}

// The four 32-value groups of one Q6_K half (128 weights) as unsigned bytes 0..63, element order.
void q6_k_half(const uint8_t* block, int h, __m256i q[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i ql0 = load256(block + 64 * h), ql1 = load256(block + 64 * h + 32);
    const __m256i qh = load256(block + 128 + 32 * h);
    // Shifts are 16-bit wide; the masks keep every bit inside its own byte.
    q[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4),
                           _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x03)), 4));
    q[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                           _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0c)), 2));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                           _mm256_and_si256(qh, _mm256_set1_epi8(0x30)));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                           _mm256_srli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(static_cast<char>(0xc0))), 2));
}

// ---- decoding to fp32 ----

// out[0..7] = bytes * scale (+ offset), in the scalar reference's operation order.
template <bool kOffset>
void store8(__m128i bytes8, __m256 scale, __m256 offset, float* out) {
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes8)), scale);
    if constexpr (kOffset) v = _mm256_add_ps(v, offset);
    _mm256_storeu_ps(out, v);
}

template <bool kOffset>
void store16(__m128i bytes16, float scale, float offset, float* out) {
    const __m256 s = _mm256_set1_ps(scale), o = _mm256_set1_ps(offset);
    store8<kOffset>(bytes16, s, o, out);
    store8<kOffset>(_mm_srli_si128(bytes16, 8), s, o, out + 8);
}

template <bool kOffset>
void store32(__m256i bytes, float scale, float offset, float* out) {
    store16<kOffset>(_mm256_castsi256_si128(bytes), scale, offset, out);
    store16<kOffset>(_mm256_extracti128_si256(bytes, 1), scale, offset, out + 16);
}

__m256 load8_f32(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
__m256 load8_f16(const uint8_t* p) { return _mm256_cvtph_ps(load128(p)); }
__m256 load8_bf16(const uint8_t* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
}
float load1_f32(const uint8_t* p) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
}
float load1_bf16(const uint8_t* p) {
    const uint32_t bits = static_cast<uint32_t>(p[0] | p[1] << 8) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

template <int kBytes, __m256 (*Load8)(const uint8_t*), float (*Load1)(const uint8_t*)>
void dequant_float(const void* w, float* out, int64_t n) {
    const auto* p = static_cast<const uint8_t*>(w);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, Load8(p + kBytes * i));
    for (; i < n; ++i) out[i] = Load1(p + kBytes * i);
}

template <int kBlockBytes, __m256i (*Bytes)(const uint8_t*), bool kOffset>
void dequant_legacy(const void* w, float* out, int64_t n) {
    const auto* b = static_cast<const uint8_t*>(w);
    for (int64_t i = 0; i < n / 32; ++i, b += kBlockBytes)
        store32<kOffset>(Bytes(b), f16(b), kOffset ? f16(b + 2) : 0.0f, out + 32 * i);
}

void dequant_q4_k(const void* w, float* out, int64_t n) {
    const auto* b = static_cast<const uint8_t*>(w);
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int64_t i = 0; i < n / 256; ++i, b += 144, out += 256) {
        const float d = f16(b), dmin = f16(b + 2);
        uint8_t sc[8], m[8];
        unpack_q4_k_scales(b + 4, sc, m);
        for (int c = 0; c < 4; ++c) {
            const __m256i q = load256(b + 16 + 32 * c);
            // x + (-m) == x - m exactly, so this matches the reference's d * sc * q - dmin * m.
            store32<true>(_mm256_and_si256(q, m4), d * sc[2 * c], -(dmin * m[2 * c]), out + 64 * c);
            store32<true>(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), d * sc[2 * c + 1], -(dmin * m[2 * c + 1]),
                          out + 64 * c + 32);
        }
    }
}

void dequant_q6_k(const void* w, float* out, int64_t n) {
    const auto* b = static_cast<const uint8_t*>(w);
    for (int64_t i = 0; i < n / 256; ++i, b += 210, out += 256) {
        const float d = f16(b + 208);
        const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
        for (int h = 0; h < 2; ++h) {
            __m256i q[4];
            q6_k_half(b, h, q);
            for (int k = 0; k < 4; ++k) {
                const __m256i s = _mm256_sub_epi8(q[k], _mm256_set1_epi8(32));
                const int g = 8 * h + 2 * k;  // 16-weight group of the first half of this vector
                float* o = out + 128 * h + 32 * k;
                store16<false>(_mm256_castsi256_si128(s), d * static_cast<float>(sc[g]), 0.0f, o);
                store16<false>(_mm256_extracti128_si256(s, 1), d * static_cast<float>(sc[g + 1]), 0.0f, o + 16);
            }
        }
    }
}

// ---- dot products with fp32 activations ----

// Activations of at least this many bytes fill a core's L1 (32 KB on the CPUs this targets) by themselves.
constexpr int64_t kL1Bytes = 32 * 1024;
// How far ahead those long rows ask for weights, into L2.
constexpr int64_t kFarPrefetchBytes = 16 * 1024;

// Which software prefetch a float dot's loop issues (see dot_float).
enum class Ahead { none, near, far };

template <int kBytes, __m256 (*Load8)(const uint8_t*), float (*Load1)(const uint8_t*), Ahead kAhead>
float dot_float_loop(const uint8_t* p, const float* x, int64_t n) {
    // Four chains hide the FMA latency; one would cap a core near a quarter of its throughput.
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        // A step holds 64 (f16, bf16) or 128 (f32) bytes of weights: far asks for the first line of each, near
        // for every line.
        if constexpr (kAhead == Ahead::far)
            _mm_prefetch(reinterpret_cast<const char*>(p + kBytes * i + kFarPrefetchBytes), _MM_HINT_T1);
        if constexpr (kAhead == Ahead::near) stream_prefetch<32 * kBytes, 64>(p + kBytes * i);
        a0 = _mm256_fmadd_ps(Load8(p + kBytes * i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(Load8(p + kBytes * (i + 8)), _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(Load8(p + kBytes * (i + 16)), _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(Load8(p + kBytes * (i + 24)), _mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(Load8(p + kBytes * i), _mm256_loadu_ps(x + i), a0);
    float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; ++i) s += Load1(p + kBytes * i) * x[i];
    return s;
}

template <int kBytes, __m256 (*Load8)(const uint8_t*), float (*Load1)(const uint8_t*), bool kPrefetch>
float dot_float(const void* w, const float* x, int64_t n) {
    const auto* p = static_cast<const uint8_t*>(w);
    // Rows whose activations fit in L1 beside the streaming weights get a software prefetch only where the CPU
    // wants it (kPrefetch, StreamPrefetch::software): these few instructions per byte leave Zen 4's hardware
    // prefetcher enough slack, and there prefetching 2 KB ahead cost f16 a fifth of its rate (2048x2048 cold,
    // 2 threads: 22-24 GB/s with it, 28-30 without, the read probe at 29-31 GB/s). Once x alone fills L1
    // (8192 fp32, the channel mix's value matrix at n_embd 2048), x is re-read from L2 on every row and the
    // hardware prefetcher falls behind: one thread streamed such f16 rows at 12 GB/s against 27 at 2048
    // columns; asking for the weights 16 KB ahead into L2 gives 21-22.
    if (n * static_cast<int64_t>(sizeof(float)) >= kL1Bytes)
        return dot_float_loop<kBytes, Load8, Load1, Ahead::far>(p, x, n);
    return dot_float_loop<kBytes, Load8, Load1, kPrefetch ? Ahead::near : Ahead::none>(p, x, n);
}

// Quantized weights with fp32 activations: decode 256 weights into L1, then the fp32 dot.
template <void (*Dequant)(const void*, float*, int64_t), int kBytesPer256>
float dot_decoded(const void* w, const float* x, int64_t n) {
    alignas(32) float buf[256];
    const auto* b = static_cast<const uint8_t*>(w);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    for (int64_t i = 0; i < n; i += 256, b += kBytesPer256) {
        const int64_t len = n - i < 256 ? n - i : 256;  // a whole number of 32-blocks
        Dequant(b, buf, len);
        for (int64_t j = 0; j < len; j += 16) {
            a0 = _mm256_fmadd_ps(_mm256_load_ps(buf + j), _mm256_loadu_ps(x + i + j), a0);
            a1 = _mm256_fmadd_ps(_mm256_load_ps(buf + j + 8), _mm256_loadu_ps(x + i + j + 8), a1);
        }
    }
    return hsum(_mm256_add_ps(a0, a1));
}

// ---- integer dot products against Q8 activations ----

// Runs fn(i, acc, extra) over nb blocks on two accumulators, so consecutive blocks' FMAs overlap.
template <class Fn>
float sum_blocks(int64_t nb, Fn fn) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    float extra = 0;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        fn(i, acc0, extra);
        fn(i + 1, acc1, extra);
    }
    if (i < nb) fn(i, acc0, extra);
    return hsum(_mm256_add_ps(acc0, acc1)) + extra;
}

template <int kBlockBytes, __m256i (*Bytes)(const uint8_t*), bool kSigned, bool kOffset>
float dot_q8_legacy(const void* w, const Q8View& x, int64_t n) {
    const auto* base = static_cast<const uint8_t*>(w);
    return sum_blocks(n / 32, [&](int64_t i, __m256& acc, float& extra) {
        const uint8_t* b = base + kBlockBytes * i;
        prefetch(b);
        const __m256i xq = load256(x.q + 32 * i);
        const __m256i s = kSigned ? mul_sum_i8(Bytes(b), xq) : mul_sum_us8(Bytes(b), xq);
        const __m128 dw = _mm_mul_ss(_mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b))), _mm_load_ss(x.d + i));
        acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(dw), _mm256_cvtepi32_ps(s), acc);
        if constexpr (kOffset) extra += f16(b + 2) * x.sum[i];
    });
}

// Four blocks at a time, for the two formats generation is most often run in. Per block the integer work is
// the same as above; what four blocks share is the float side: their 8-lane sums are folded into one vector
// (lane j: block j % 4), their four f16 scales converted together, and one convert and one FMA serve all four.
// That roughly halves the multiply-port work per block, which is what bound the one-block loop (q4_0 ran at
// ~11 GB/s per core hot, below the memory's rate for two cores).
//   q4_0: two blocks per vector (add_q4_0_group_of_4). The nibbles stay unsigned (q + 8), so maddubs needs
//         no sign trick; 8 * sum(x_q) comes off in the integer sums (x carries sum(x_q) per block). The two
//         maddubs results of a pair add in int16 without overflow: each is at most 2 * 15 * 127.
//   q8_0: signed weights, the sign trick as above.
template <int kBlockBytes, bool kNibbles>
float dot_q8_by4(const void* w, const Q8View& x, int64_t n) {
    const auto* base = static_cast<const uint8_t*>(w);
    const int64_t nb = n / 32;
    const auto group = [&](int64_t i, __m256& acc) {
        if constexpr (kNibbles) {
            add_q4_0_group_of_4(base, x, i, acc, [](__m256i lo, __m256i x_lo, __m256i hi, __m256i x_hi) {
                const __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(lo, x_lo), _mm256_maddubs_epi16(hi, x_hi));
                return _mm256_madd_epi16(s, _mm256_set1_epi16(1));
            });
        } else {
            add_group_of_4<kBlockBytes, -1>(base, x, i, acc, [](const uint8_t* b, __m256i xq) {
                return mul_sum_i8(load256(b + 2), xq);
            });
        }
    };
    int64_t i = 0;
    float sum = by_groups_of_4(nb, group, &i);
    if (i < nb) {
        const int64_t done = 32 * i;
        sum += dot_q8_legacy<kBlockBytes, kNibbles ? q4_0_bytes : q8_0_bytes, true, false>(
            base + kBlockBytes * i, {x.q + done, x.d + i, x.sum + i, x.qsum + i, x.bsum, nullptr}, n - done);
    }
    return sum;
}

float dot_q8_q4_k(const void* w, const Q8View& x, int64_t n) {
    const auto* base = static_cast<const uint8_t*>(w);
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    return sum_blocks(n / 256, [&](int64_t i, __m256& acc, float& extra) {
        const uint8_t* b = base + 144 * i;
        for (int line = 0; line < 144; line += 64) prefetch(b + line);
        const int8_t* xq = x.q + 256 * i;
        uint8_t sc[8], m[8];
        unpack_q4_k_scales(b + 4, sc, m);
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; ++c) {
            const __m256i q = load256(b + 16 + 32 * c);
            const __m256i lo = _mm256_maddubs_epi16(_mm256_and_si256(q, m4), load256(xq + 64 * c));
            const __m256i hi = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                                                    load256(xq + 64 * c + 32));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(lo, _mm256_set1_epi16(sc[2 * c])));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(hi, _mm256_set1_epi16(sc[2 * c + 1])));
        }
        // The mins meet the activations only through their per-32 sums, which the Q8 blocks carry.
        const int16_t* bs = x.bsum + 16 * i;
        int32_t imin = 0;
        for (int j = 0; j < 8; ++j) imin += m[j] * (bs[2 * j] + bs[2 * j + 1]);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(x.d[i] * f16(b)), _mm256_cvtepi32_ps(sumi), acc);
        extra -= x.d[i] * f16(b + 2) * static_cast<float>(imin);
    });
}

float dot_q8_q6_k(const void* w, const Q8View& x, int64_t n) {
    const auto* base = static_cast<const uint8_t*>(w);
    return sum_blocks(n / 256, [&](int64_t i, __m256& acc, float& extra) {
        const uint8_t* b = base + 210 * i;
        for (int line = 0; line < 210; line += 64) prefetch(b + line);
        const int8_t* xq = x.q + 256 * i;
        const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            __m256i q[4];
            q6_k_half(b, h, q);
            for (int k = 0; k < 4; ++k) {
                // q stays unsigned (0..63) for maddubs; the -32 offset is applied below via the group sums.
                const __m256i p = _mm256_maddubs_epi16(q[k], load256(xq + 128 * h + 32 * k));
                const int g = 8 * h + 2 * k;
                const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[g + 1]), _mm_set1_epi16(sc[g]));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s));
            }
        }
        const int16_t* bs = x.bsum + 16 * i;
        int32_t offset = 0;
        for (int g = 0; g < 16; ++g) offset += sc[g] * bs[g];
        const float d = x.d[i] * f16(b + 208);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        extra -= d * static_cast<float>(32 * offset);
    });
}

// ---- activation rounding (bit-identical to the scalar reference for finite input) ----

float abs_max(const float* x, int64_t n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int64_t j = 0; j < n; j += 8) m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), m);
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 32 values * inv, clamped to +-127, rounded to nearest-even, stored as int8 in order.
void round32(const float* x, float inv, int8_t* q) {
    const __m256 vinv = _mm256_set1_ps(inv), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    __m256i v[4];
    for (int k = 0; k < 4; ++k) {
        const __m256 s = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vinv), lo), hi);
        v[k] = _mm256_cvtps_epi32(_mm256_round_ps(s, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    // The packs interleave 128-bit lanes; the permute puts the 4-value groups back in order.
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q),
                        _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

void quantize_q8_32(const float* x, int64_t n, int8_t* q, float* d, float* sum, int32_t* qsum) {
    for (int64_t i = 0; i < n / 32; ++i) {
        d[i] = abs_max(x + 32 * i, 32) / 127.0f;
        round32(x + 32 * i, d[i] != 0.0f ? 1.0f / d[i] : 0.0f, q + 32 * i);
        int32_t s = 0;
        for (int j = 0; j < 32; ++j) s += q[32 * i + j];
        sum[i] = d[i] * static_cast<float>(s);
        qsum[i] = s;
    }
}

void quantize_q8_256(const float* x, int64_t n, int8_t* q, float* d, int16_t* bsum) {
    for (int64_t i = 0; i < n / 256; ++i) {
        d[i] = abs_max(x + 256 * i, 256) / 127.0f;
        const float inv = d[i] != 0.0f ? 1.0f / d[i] : 0.0f;
        for (int c = 0; c < 8; ++c) round32(x + 256 * i + 32 * c, inv, q + 256 * i + 32 * c);
        for (int g = 0; g < 16; ++g) {
            int s = 0;
            for (int j = 0; j < 16; ++j) s += q[256 * i + 16 * g + j];
            bsum[16 * i + g] = static_cast<int16_t>(s);
        }
    }
}

// ---- GEMM micro-kernel: M tokens x 16 weight rows, 2M accumulators held in registers over all of kc ----

template <int M>
void micro_kernel(const float* panel, int64_t kc, const float* a, int64_t lda, float* c, int64_t ldc, int nr,
                  bool accumulate) {
    __m256 c0[M], c1[M];
    const float* ar[M];
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
        c0[i] = _mm256_setzero_ps();
        c1[i] = _mm256_setzero_ps();
        ar[i] = a + i * lda;
    }
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; ++k) {
        const __m256 b0 = _mm256_loadu_ps(panel + kPanelRows * k);
        const __m256 b1 = _mm256_loadu_ps(panel + kPanelRows * k + 8);
#pragma GCC unroll 8
        for (int i = 0; i < M; ++i) {
            const __m256 av = _mm256_broadcast_ss(ar[i] + k);
            c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
        }
    }
    if (nr == kPanelRows) {
#pragma GCC unroll 8
        for (int i = 0; i < M; ++i) {
            float* ci = c + i * ldc;
            if (accumulate) {
                c0[i] = _mm256_add_ps(c0[i], _mm256_loadu_ps(ci));
                c1[i] = _mm256_add_ps(c1[i], _mm256_loadu_ps(ci + 8));
            }
            _mm256_storeu_ps(ci, c0[i]);
            _mm256_storeu_ps(ci + 8, c1[i]);
        }
        return;
    }
    // A partial panel (the last rows of W): masked so nothing past row nr is read or written.
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), lane);
    const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8), lane);
    // Fully unrolled like every loop over c0/c1: one runtime index would force them into memory.
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
        float* ci = c + i * ldc;
        if (accumulate) {
            c0[i] = _mm256_add_ps(c0[i], _mm256_maskload_ps(ci, m0));
            c1[i] = _mm256_add_ps(c1[i], _mm256_maskload_ps(ci + 8, m1));
        }
        _mm256_maskstore_ps(ci, m0, c0[i]);
        _mm256_maskstore_ps(ci + 8, m1, c1[i]);
    }
}

void gemm_panel(const float* panel, int64_t kc, const float* a, int64_t lda, int64_t m, float* c, int64_t ldc,
                int nr, bool accumulate) {
    constexpr int kTile = 6;  // 12 accumulators + 2 panel vectors + 1 broadcast = 15 of the 16 ymm registers
    int64_t i = 0;
    for (; i + kTile <= m; i += kTile) micro_kernel<kTile>(panel, kc, a + i * lda, lda, c + i * ldc, ldc, nr, accumulate);
    switch (m - i) {
        case 5: micro_kernel<5>(panel, kc, a + i * lda, lda, c + i * ldc, ldc, nr, accumulate); break;
        case 4: micro_kernel<4>(panel, kc, a + i * lda, lda, c + i * ldc, ldc, nr, accumulate); break;
        case 3: micro_kernel<3>(panel, kc, a + i * lda, lda, c + i * ldc, ldc, nr, accumulate); break;
        case 2: micro_kernel<2>(panel, kc, a + i * lda, lda, c + i * ldc, ldc, nr, accumulate); break;
        case 1: micro_kernel<1>(panel, kc, a + i * lda, lda, c + i * ldc, ldc, nr, accumulate); break;
        default: break;
    }
}

// Lambdas, not functions: a function passed as the kernels' QuadDot would be called through a pointer, not
// inlined (generation ran at two thirds of its speed so).
constexpr auto q4_0_quad_dot = [](__m256i acc, __m256i u, __m256i s) {
    return _mm256_add_epi32(acc, mul_sum_us8(u, s));
};

template <bool kPrefetch>
void dot_q8_q4_0_rows8(const void* group, const Q8View& x, int64_t n, float* y) {
    q4_0_rows8<kPrefetch>(static_cast<const uint8_t*>(group), x, n, y, q4_0_quad_dot);
}

// Two tokens at a time: four would not fit AVX2's 16 registers.
void dot_q8_q4_0_rows8_x4(const void* group, const Q8View* xs, int64_t n, float* const* ys) {
    q4_0_rows8_tokens<2>(static_cast<const uint8_t*>(group), xs, n, ys, q4_0_quad_dot);
    q4_0_rows8_tokens<2>(static_cast<const uint8_t*>(group), xs + 2, n, ys + 2, q4_0_quad_dot);
}

constexpr auto same = [](__m256i w) { return w; };
constexpr auto q8_0_quad_dot = [](__m256i acc, __m256i w, __m256i s) {
    return _mm256_add_epi32(acc, mul_sum_i8(w, s));
};

template <bool kPrefetch>
void dot_q8_q8_0_rows8(const void* group, const Q8View& x, int64_t n, float* y) {
    q8_0_rows8<kPrefetch, 0>(static_cast<const uint8_t*>(group), x, n, y, q8_0_quad_dot);
}

void dot_q8_q8_0_rows8_x4(const void* group, const Q8View* xs, int64_t n, float* const* ys) {
    q8_0_rows8_tokens<2, 0>(static_cast<const uint8_t*>(group), xs, n, ys, same, q8_0_quad_dot);
    q8_0_rows8_tokens<2, 0>(static_cast<const uint8_t*>(group), xs + 2, n, ys + 2, same, q8_0_quad_dot);
}

// ---- the table ----

using DequantFn = void (*)(const void*, float*, int64_t);
constexpr DequantFn kDequantF32 = dequant_float<4, load8_f32, load1_f32>;
constexpr DequantFn kDequantF16 = dequant_float<2, load8_f16, f16>;
constexpr DequantFn kDequantBF16 = dequant_float<2, load8_bf16, load1_bf16>;
constexpr DequantFn kDequantQ4_0 = dequant_legacy<18, q4_0_bytes, false>;
constexpr DequantFn kDequantQ4_1 = dequant_legacy<20, q4_1_bytes, true>;
constexpr DequantFn kDequantQ5_0 = dequant_legacy<22, q5_0_bytes, false>;
constexpr DequantFn kDequantQ5_1 = dequant_legacy<24, q5_1_bytes, true>;
constexpr DequantFn kDequantQ8_0 = dequant_legacy<34, q8_0_bytes, false>;

// The same kernels but for the streaming ones, which take kPrefetch (see StreamPrefetch).
template <bool kPrefetch>
constexpr KernelTable kAvx2 = {
    {
        {dot_float<4, load8_f32, load1_f32, kPrefetch>, nullptr, kDequantF32},
        {dot_float<2, load8_f16, f16, kPrefetch>, nullptr, kDequantF16},
        {dot_float<2, load8_bf16, load1_bf16, kPrefetch>, nullptr, kDequantBF16},
        {dot_decoded<kDequantQ4_0, 18 * 8>, dot_q8_by4<18, true>, kDequantQ4_0},
        {dot_decoded<kDequantQ4_1, 20 * 8>, dot_q8_legacy<20, q4_1_bytes, false, true>, kDequantQ4_1},
        {dot_decoded<kDequantQ5_0, 22 * 8>, dot_q8_legacy<22, q5_0_bytes, true, false>, kDequantQ5_0},
        {dot_decoded<kDequantQ5_1, 24 * 8>, dot_q8_legacy<24, q5_1_bytes, false, true>, kDequantQ5_1},
        {dot_decoded<kDequantQ8_0, 34 * 8>, dot_q8_by4<34, false>, kDequantQ8_0},
        {dot_decoded<dequant_q4_k, 144>, dot_q8_q4_k, dequant_q4_k},
        {dot_decoded<dequant_q6_k, 210>, dot_q8_q6_k, dequant_q6_k},
    },
    quantize_q8_32,
    quantize_q8_256,
    gemm_panel,
    dot_q8_q4_0_rows8<kPrefetch>,
    dot_q8_q4_0_rows8_x4,
    dot_q8_q8_0_rows8<kPrefetch>,
    dot_q8_q8_0_rows8_x4,
};

}  // namespace

const KernelTable& avx2_kernels(StreamPrefetch prefetch) {
    return prefetch == StreamPrefetch::software ? kAvx2<true> : kAvx2<false>;
}

}  // namespace rwkv::kern
