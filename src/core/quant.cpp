#include "core/quant.h"
#include "core/quant_k.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "core/half.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

// F32 rows are copied as they lie in the file (little-endian).
static_assert(std::endian::native == std::endian::little, "quant.cpp assumes a little-endian host");

uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t load_u32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
           static_cast<uint32_t>(p[3]) << 24;
}
void store_u16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v);
    p[1] = static_cast<uint8_t>(v >> 8);
}
void store_u32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
float load_f16(const uint8_t* p) { return f16_to_f32(load_u16(p)); }

// ggml truncates (x + offset) toward zero after adding the rounding offset; the inputs are non-negative
// in range, so this is floor. Clamping first keeps NaN/inf inputs from reaching an undefined float->int cast.
int trunc_clamped(float v, int lo, int hi) {
    if (!(v >= static_cast<float>(lo))) return lo;
    if (v >= static_cast<float>(hi)) return hi;
    return static_cast<int>(v);
}

// Scale d and its inverse from the signed value of largest magnitude, as ggml's symmetric formats do.
void symmetric_scale(const float* x, float divisor, float* d, float* id) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    *d = max / divisor;
    *id = *d != 0.0f ? 1.0f / *d : 0.0f;
}

void min_max(const float* x, float* mn, float* mx) {
    *mn = std::numeric_limits<float>::max();
    *mx = -std::numeric_limits<float>::max();
    for (int j = 0; j < 32; ++j) {
        if (x[j] < *mn) *mn = x[j];
        if (x[j] > *mx) *mx = x[j];
    }
}

void quantize_q4_0(const float* x, uint8_t* y) {
    float d, id;
    symmetric_scale(x, -8.0f, &d, &id);
    store_u16(y, f32_to_f16(d));
    for (int j = 0; j < 16; ++j) {
        const int q0 = trunc_clamped(x[j] * id + 8.5f, 0, 15);
        const int q1 = trunc_clamped(x[j + 16] * id + 8.5f, 0, 15);
        y[2 + j] = static_cast<uint8_t>(q0 | q1 << 4);
    }
}

void quantize_q4_1(const float* x, uint8_t* y) {
    float mn, mx;
    min_max(x, &mn, &mx);
    const float d = (mx - mn) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(y, f32_to_f16(d));
    store_u16(y + 2, f32_to_f16(mn));
    for (int j = 0; j < 16; ++j) {
        const int q0 = trunc_clamped((x[j] - mn) * id + 0.5f, 0, 15);
        const int q1 = trunc_clamped((x[j + 16] - mn) * id + 0.5f, 0, 15);
        y[4 + j] = static_cast<uint8_t>(q0 | q1 << 4);
    }
}

// Shared by Q5_0/Q5_1: low nibbles into qs, fifth bits into qh.
void pack5(const int* q, uint8_t* qh_out, uint8_t* qs) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | (q[j + 16] & 0x0f) << 4);
        qh |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
        qh |= static_cast<uint32_t>((q[j + 16] >> 4) & 1) << (j + 16);
    }
    store_u32(qh_out, qh);
}

void quantize_q5_0(const float* x, uint8_t* y) {
    float d, id;
    symmetric_scale(x, -16.0f, &d, &id);
    store_u16(y, f32_to_f16(d));
    int q[32];
    for (int j = 0; j < 32; ++j) q[j] = trunc_clamped(x[j] * id + 16.5f, 0, 31);
    pack5(q, y + 2, y + 6);
}

void quantize_q5_1(const float* x, uint8_t* y) {
    float mn, mx;
    min_max(x, &mn, &mx);
    const float d = (mx - mn) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(y, f32_to_f16(d));
    store_u16(y + 2, f32_to_f16(mn));
    int q[32];
    for (int j = 0; j < 32; ++j) q[j] = trunc_clamped((x[j] - mn) * id + 0.5f, 0, 31);
    pack5(q, y + 4, y + 8);
}

void quantize_q8_0(const float* x, uint8_t* y) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(y, f32_to_f16(d));
    for (int j = 0; j < 32; ++j) {
        const float v = x[j] * id;
        // roundf rounds halves away from zero, as ggml does; NaN becomes 0.
        const float r = std::isnan(v) ? 0.0f : std::round(std::fmin(127.0f, std::fmax(-127.0f, v)));
        y[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(r));
    }
}

void dequantize_q4_0(const uint8_t* b, float* y) {
    const float d = load_f16(b);
    for (int j = 0; j < 16; ++j) {
        y[j] = static_cast<float>((b[2 + j] & 0x0f) - 8) * d;
        y[j + 16] = static_cast<float>((b[2 + j] >> 4) - 8) * d;
    }
}

void dequantize_q4_1(const uint8_t* b, float* y) {
    const float d = load_f16(b), m = load_f16(b + 2);
    for (int j = 0; j < 16; ++j) {
        y[j] = static_cast<float>(b[4 + j] & 0x0f) * d + m;
        y[j + 16] = static_cast<float>(b[4 + j] >> 4) * d + m;
    }
}

void unpack5(const uint8_t* qh_in, const uint8_t* qs, int* q) {
    const uint32_t qh = load_u32(qh_in);
    for (int j = 0; j < 16; ++j) {
        q[j] = (qs[j] & 0x0f) | static_cast<int>((qh >> j) & 1) << 4;
        q[j + 16] = (qs[j] >> 4) | static_cast<int>((qh >> (j + 16)) & 1) << 4;
    }
}

void dequantize_q5_0(const uint8_t* b, float* y) {
    const float d = load_f16(b);
    int q[32];
    unpack5(b + 2, b + 6, q);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(q[j] - 16) * d;
}

void dequantize_q5_1(const uint8_t* b, float* y) {
    const float d = load_f16(b), m = load_f16(b + 2);
    int q[32];
    unpack5(b + 4, b + 8, q);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(q[j]) * d + m;
}

void dequantize_q8_0(const uint8_t* b, float* y) {
    const float d = load_f16(b);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

}  // namespace

bool dtype_is_quantized(DType t) {
    switch (t) {
        case DType::F32:
        case DType::F16:
        case DType::BF16: return false;
        default: return true;
    }
}

size_t dtype_block_bytes(DType t) {
    switch (t) {
        case DType::F32: return 4;
        case DType::F16: return 2;
        case DType::BF16: return 2;
        case DType::Q4_0: return 18;
        case DType::Q4_1: return 20;
        case DType::Q5_0: return 22;
        case DType::Q5_1: return 24;
        case DType::Q8_0: return 34;
        case DType::Q4_K: return kQ4KBlockBytes;
        case DType::Q6_K: return kQ6KBlockBytes;
    }
    throw Error("unsupported element type " + std::to_string(static_cast<int>(t)));
}

int64_t dtype_block_size(DType t) {
    switch (t) {
        case DType::Q4_K:
        case DType::Q6_K: return kSuperBlockSize;
        default: return dtype_is_quantized(t) ? kQuantBlockSize : 1;
    }
}

size_t dtype_row_bytes(DType t, int64_t n) {
    if (n < 0) throw Error(std::string("negative row length ") + std::to_string(n) + " for " + dtype_name(t));
    const size_t per = dtype_block_bytes(t);
    uint64_t units = static_cast<uint64_t>(n);
    if (dtype_is_quantized(t)) {
        const int64_t block = dtype_block_size(t);
        if (n % block != 0)
            throw Error(std::string(dtype_name(t)) + " row of " + std::to_string(n) +
                        " weights is not a multiple of the " + std::to_string(block) + "-weight block");
        units = static_cast<uint64_t>(n / block);
    }
    if (units > std::numeric_limits<size_t>::max() / per)
        throw Error(std::string(dtype_name(t)) + " row of " + std::to_string(n) + " elements is too large");
    return static_cast<size_t>(units) * per;
}

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
    dtype_row_bytes(t, n);  // validates n
    const auto* s = static_cast<const uint8_t*>(src);
    switch (t) {
        case DType::F32:
            if (n > 0) std::memcpy(dst, s, static_cast<size_t>(n) * 4);
            return;
        case DType::F16:
            for (int64_t i = 0; i < n; ++i) dst[i] = load_f16(s + 2 * i);
            return;
        case DType::BF16:
            for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load_u16(s + 2 * i));
            return;
        case DType::Q4_K: dequantize_row_q4_k(s, dst, n); return;
        case DType::Q6_K: dequantize_row_q6_k(s, dst, n); return;
        default: break;
    }
    void (*decode)(const uint8_t*, float*) = nullptr;
    switch (t) {
        case DType::Q4_0: decode = dequantize_q4_0; break;
        case DType::Q4_1: decode = dequantize_q4_1; break;
        case DType::Q5_0: decode = dequantize_q5_0; break;
        case DType::Q5_1: decode = dequantize_q5_1; break;
        case DType::Q8_0: decode = dequantize_q8_0; break;
        default: break;
    }
    const size_t bb = dtype_block_bytes(t);
    for (int64_t b = 0; b < n / kQuantBlockSize; ++b) decode(s + b * bb, dst + b * kQuantBlockSize);
}

void quantize_row(DType t, const float* src, void* dst, int64_t n) {
    dtype_row_bytes(t, n);  // validates n
    auto* d = static_cast<uint8_t*>(dst);
    switch (t) {
        case DType::F32:
            if (n > 0) std::memcpy(d, src, static_cast<size_t>(n) * 4);
            return;
        case DType::F16:
            for (int64_t i = 0; i < n; ++i) store_u16(d + 2 * i, f32_to_f16(src[i]));
            return;
        case DType::BF16:
            for (int64_t i = 0; i < n; ++i) store_u16(d + 2 * i, f32_to_bf16(src[i]));
            return;
        case DType::Q4_K: quantize_row_q4_k(src, d, n); return;
        case DType::Q6_K: quantize_row_q6_k(src, d, n); return;
        default: break;
    }
    void (*encode)(const float*, uint8_t*) = nullptr;
    switch (t) {
        case DType::Q4_0: encode = quantize_q4_0; break;
        case DType::Q4_1: encode = quantize_q4_1; break;
        case DType::Q5_0: encode = quantize_q5_0; break;
        case DType::Q5_1: encode = quantize_q5_1; break;
        case DType::Q8_0: encode = quantize_q8_0; break;
        default: break;
    }
    const size_t bb = dtype_block_bytes(t);
    for (int64_t b = 0; b < n / kQuantBlockSize; ++b) encode(src + b * kQuantBlockSize, d + b * bb);
}

}  // namespace rwkv
