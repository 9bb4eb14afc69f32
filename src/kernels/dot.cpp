// The scalar reference kernels: plain C++ that any CPU runs, written for obviousness. Every faster table is
// tested against this one. Weights are decoded by core/quant (the definition of each file format).
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "core/quant.h"
#include "core/quant_k.h"
#include "kernels/dot_kernels.h"

namespace rwkv::kern {
namespace {

float load_f16(const uint8_t* p) { return f16_to_f32(static_cast<uint16_t>(p[0] | (p[1] << 8))); }

template <DType T>
void dequant(const void* w, float* out, int64_t n) {
    if constexpr (T == DType::Q4_K) {
        dequantize_row_q4_k(w, out, n);
    } else if constexpr (T == DType::Q6_K) {
        dequantize_row_q6_k(w, out, n);
    } else {
        dequantize_row(T, w, out, n);
    }
}

float dot_plain(const float* a, const float* b, int64_t n) {
    // Four partial sums: order-independent enough for the tests, and no slower than needed.
    float s[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; ++k) s[k] += a[i + k] * b[i + k];
    for (; i < n; ++i) s[0] += a[i] * b[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

// Exact activations: decode 256 weights at a time into a stack buffer, then a plain dot.
template <DType T>
float dot_f32(const void* w, const float* x, int64_t n) {
    constexpr int64_t chunk = 256;  // a whole number of blocks of every type
    const auto* bytes = static_cast<const uint8_t*>(w);
    const size_t chunk_bytes = T == DType::Q4_K   ? kQ4KBlockBytes
                               : T == DType::Q6_K ? kQ6KBlockBytes
                               : dtype_is_quantized(T) ? dtype_block_bytes(T) * (chunk / kQuantBlockSize)
                                                       : dtype_block_bytes(T) * chunk;
    float buf[chunk];
    float sum = 0;
    for (int64_t i = 0; i < n; i += chunk) {
        const int64_t len = n - i < chunk ? n - i : chunk;
        dequant<T>(bytes, buf, len);
        sum += dot_plain(buf, x + i, len);
        bytes += chunk_bytes;
    }
    return sum;
}

// ---- integer dots against Q8 activations: exact int32 sums per block, then one float multiply-add ----

// The 5-bit formats: low nibbles in qs, fifth bits in the 32-bit qh word.
void unpack_q5(const uint8_t* qh_bytes, const uint8_t* qs, int* q) {
    uint32_t qh;
    std::memcpy(&qh, qh_bytes, 4);
    for (int j = 0; j < 16; ++j) {
        q[j] = (qs[j] & 0x0f) | static_cast<int>((qh >> j) & 1) << 4;
        q[j + 16] = (qs[j] >> 4) | static_cast<int>((qh >> (j + 16)) & 1) << 4;
    }
}

void unpack_q4(const uint8_t* qs, int* q) {
    for (int j = 0; j < 16; ++j) {
        q[j] = qs[j] & 0x0f;
        q[j + 16] = qs[j] >> 4;
    }
}

int32_t isum32(const int* q, const int8_t* x, int offset) {
    int32_t s = 0;
    for (int j = 0; j < 32; ++j) s += (q[j] - offset) * x[j];
    return s;
}

template <DType T>
float dot_q8_legacy(const void* w, const Q8View& x, int64_t n) {
    const auto* b = static_cast<const uint8_t*>(w);
    const size_t bb = dtype_block_bytes(T);
    float sum = 0;
    for (int64_t i = 0; i < n / 32; ++i, b += bb) {
        const int8_t* xq = x.q + 32 * i;
        const float d = load_f16(b) * x.d[i];
        int q[32];
        if constexpr (T == DType::Q8_0) {
            for (int j = 0; j < 32; ++j) q[j] = static_cast<int8_t>(b[2 + j]);
            sum += d * static_cast<float>(isum32(q, xq, 0));
        } else if constexpr (T == DType::Q4_0) {
            unpack_q4(b + 2, q);
            sum += d * static_cast<float>(isum32(q, xq, 8));
        } else if constexpr (T == DType::Q4_1) {
            unpack_q4(b + 4, q);
            sum += d * static_cast<float>(isum32(q, xq, 0)) + load_f16(b + 2) * x.sum[i];
        } else if constexpr (T == DType::Q5_0) {
            unpack_q5(b + 2, b + 6, q);
            sum += d * static_cast<float>(isum32(q, xq, 16));
        } else {
            static_assert(T == DType::Q5_1);
            unpack_q5(b + 4, b + 8, q);
            sum += d * static_cast<float>(isum32(q, xq, 0)) + load_f16(b + 2) * x.sum[i];
        }
    }
    return sum;
}

float dot_q8_q4_k(const void* w, const Q8View& x, int64_t n) {
    const auto* b = static_cast<const uint8_t*>(w);
    float sum = 0;
    for (int64_t i = 0; i < n / 256; ++i, b += kQ4KBlockBytes) {
        uint8_t sc[8], m[8];
        q4_k_unpack_scales(b + 4, sc, m);
        const int8_t* xq = x.q + 256 * i;
        const int16_t* bs = x.bsum + 16 * i;
        const uint8_t* qs = b + 16;
        int32_t isum = 0, imin = 0;
        for (int c = 0; c < 4; ++c) {
            int32_t lo = 0, hi = 0;
            for (int l = 0; l < 32; ++l) {
                lo += (qs[32 * c + l] & 0x0f) * xq[64 * c + l];
                hi += (qs[32 * c + l] >> 4) * xq[64 * c + 32 + l];
            }
            isum += sc[2 * c] * lo + sc[2 * c + 1] * hi;
        }
        for (int j = 0; j < 8; ++j) imin += m[j] * (bs[2 * j] + bs[2 * j + 1]);
        sum += x.d[i] * (load_f16(b) * static_cast<float>(isum) - load_f16(b + 2) * static_cast<float>(imin));
    }
    return sum;
}

float dot_q8_q6_k(const void* w, const Q8View& x, int64_t n) {
    const auto* b = static_cast<const uint8_t*>(w);
    float sum = 0;
    for (int64_t i = 0; i < n / 256; ++i, b += kQ6KBlockBytes) {
        const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
        const int8_t* xq = x.q + 256 * i;
        int32_t group[16] = {};
        for (int h = 0; h < 2; ++h) {
            for (int l = 0; l < 32; ++l) {
                const int lo0 = b[64 * h + l], lo1 = b[64 * h + 32 + l], hi = b[128 + 32 * h + l];
                const int q[4] = {(lo0 & 0x0f) | (hi & 3) << 4, (lo1 & 0x0f) | (hi >> 2 & 3) << 4,
                                  (lo0 >> 4) | (hi >> 4 & 3) << 4, (lo1 >> 4) | (hi >> 6 & 3) << 4};
                for (int k = 0; k < 4; ++k) {
                    const int e = 128 * h + 32 * k + l;
                    group[e / 16] += (q[k] - 32) * xq[e];
                }
            }
        }
        int32_t isum = 0;
        for (int g = 0; g < 16; ++g) isum += sc[g] * group[g];
        sum += x.d[i] * load_f16(b + 208) * static_cast<float>(isum);
    }
    return sum;
}

// ---- activation rounding: the definition every ISA must reproduce bit for bit ----

int8_t round_q8(float v) {
    const float r = std::nearbyint(v);  // ties to even, as _mm256_round_ps does
    if (!(r >= -127.0f)) return r > 0 ? 127 : (std::isnan(r) ? 0 : -127);
    return static_cast<int8_t>(r > 127.0f ? 127.0f : r);
}

float block_scale(const float* x, int64_t n, float* inv) {
    float amax = 0;
    for (int64_t j = 0; j < n; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    *inv = d != 0.0f ? 1.0f / d : 0.0f;
    return d;
}

void quantize_q8_32(const float* x, int64_t n, int8_t* q, float* d, float* sum, int32_t* qsum) {
    for (int64_t i = 0; i < n / 32; ++i) {
        float inv;
        d[i] = block_scale(x + 32 * i, 32, &inv);
        int32_t s = 0;
        for (int j = 0; j < 32; ++j) {
            q[32 * i + j] = round_q8(x[32 * i + j] * inv);
            s += q[32 * i + j];
        }
        sum[i] = d[i] * static_cast<float>(s);
        qsum[i] = s;
    }
}

void quantize_q8_256(const float* x, int64_t n, int8_t* q, float* d, int16_t* bsum) {
    for (int64_t i = 0; i < n / 256; ++i) {
        float inv;
        d[i] = block_scale(x + 256 * i, 256, &inv);
        for (int g = 0; g < 16; ++g) {
            int s = 0;
            for (int j = 0; j < 16; ++j) {
                const int64_t e = 256 * i + 16 * g + j;
                q[e] = round_q8(x[e] * inv);
                s += q[e];
            }
            bsum[16 * i + g] = static_cast<int16_t>(s);
        }
    }
}

void gemm_panel(const float* panel, int64_t kc, const float* a, int64_t lda, int64_t m, float* c, int64_t ldc,
                int nr, bool accumulate) {
    for (int64_t i = 0; i < m; ++i) {
        for (int j = 0; j < nr; ++j) {
            float s = accumulate ? c[i * ldc + j] : 0.0f;
            for (int64_t k = 0; k < kc; ++k) s += a[i * lda + k] * panel[k * kPanelRows + j];
            c[i * ldc + j] = s;
        }
    }
}

// Eight rows side by side (kernels/rows8.h; matmul.cpp's q8_0 packing): per block the rows' f16 scales, then
// weight(block, i, j), row i's j-th weight as an integer. The integer sums are exact, so each row comes out as
// the row-at-a-time dot_q8_legacy computes it.
template <int kGroupBlockBytes, class Weight>
void dot_rows8(const uint8_t* g, const Q8View& x, int64_t n, float* y, Weight weight) {
    for (int i = 0; i < 8; ++i) y[i] = 0.0f;
    for (int64_t b = 0; b < n / 32; ++b, g += kGroupBlockBytes) {
        const int8_t* xq = x.q + 32 * b;
        for (int i = 0; i < 8; ++i) {
            int32_t sum = 0;
            for (int j = 0; j < 32; ++j) sum += weight(g, i, j) * static_cast<int32_t>(xq[j]);
            y[i] += load_f16(g + 2 * i) * x.d[b] * static_cast<float>(sum);
        }
    }
}

// q4_0: byte 4c + m of row i at 16 + 32c + 4i + m holds weights 4c + m (low nibble) and 16 + 4c + m (high).
void dot_q8_q4_0_rows8(const void* group, const Q8View& x, int64_t n, float* y) {
    dot_rows8<144>(static_cast<const uint8_t*>(group), x, n, y, [](const uint8_t* g, int i, int j) {
        const uint8_t byte = g[16 + 32 * ((j % 16) / 4) + 4 * i + j % 4];
        return (j < 16 ? byte & 0x0f : byte >> 4) - 8;
    });
}

void dot_q8_q4_0_rows8_x4(const void* group, const Q8View* xs, int64_t n, float* const* ys) {
    for (int m = 0; m < 4; ++m) dot_q8_q4_0_rows8(group, xs[m], n, ys[m]);
}

// q8_0: weight 4c + m of row i at 16 + 32c + 4i + m.
void dot_q8_q8_0_rows8(const void* group, const Q8View& x, int64_t n, float* y) {
    dot_rows8<272>(static_cast<const uint8_t*>(group), x, n, y, [](const uint8_t* g, int i, int j) {
        return static_cast<int32_t>(static_cast<int8_t>(g[16 + 32 * (j / 4) + 4 * i + j % 4]));
    });
}

void dot_q8_q8_0_rows8_x4(const void* group, const Q8View* xs, int64_t n, float* const* ys) {
    for (int m = 0; m < 4; ++m) dot_q8_q8_0_rows8(group, xs[m], n, ys[m]);
}

template <DType T>
constexpr TypeKernels float_type() {
    return {dot_f32<T>, nullptr, dequant<T>};
}

constexpr KernelTable kScalar = {
    {
        float_type<DType::F32>(),
        float_type<DType::F16>(),
        float_type<DType::BF16>(),
        {dot_f32<DType::Q4_0>, dot_q8_legacy<DType::Q4_0>, dequant<DType::Q4_0>},
        {dot_f32<DType::Q4_1>, dot_q8_legacy<DType::Q4_1>, dequant<DType::Q4_1>},
        {dot_f32<DType::Q5_0>, dot_q8_legacy<DType::Q5_0>, dequant<DType::Q5_0>},
        {dot_f32<DType::Q5_1>, dot_q8_legacy<DType::Q5_1>, dequant<DType::Q5_1>},
        {dot_f32<DType::Q8_0>, dot_q8_legacy<DType::Q8_0>, dequant<DType::Q8_0>},
        {dot_f32<DType::Q4_K>, dot_q8_q4_k, dequant<DType::Q4_K>},
        {dot_f32<DType::Q6_K>, dot_q8_q6_k, dequant<DType::Q6_K>},
    },
    quantize_q8_32,
    quantize_q8_256,
    gemm_panel,
    dot_q8_q4_0_rows8,
    dot_q8_q4_0_rows8_x4,
    dot_q8_q8_0_rows8,
    dot_q8_q8_0_rows8_x4,
};

}  // namespace

const KernelTable& scalar_kernels() { return kScalar; }

}  // namespace rwkv::kern
