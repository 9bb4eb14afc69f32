#include "core/quant_k.h"

#include <cmath>
#include <cstring>
#include <string>

#include "core/half.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

void check_length(int64_t n, const char* type) {
    if (n < 0 || n % kSuperBlockSize != 0)
        throw Error(std::string(type) + " row of " + std::to_string(n) +
                    " weights is not a multiple of the 256-weight super-block");
}

float load_f16(const uint8_t* p) { return f16_to_f32(static_cast<uint16_t>(p[0] | (p[1] << 8))); }
void store_f16(uint8_t* p, float v) {
    const uint16_t h = f32_to_f16(v);
    p[0] = static_cast<uint8_t>(h);
    p[1] = static_cast<uint8_t>(h >> 8);
}

// Round to nearest (ties to even) and clamp; NaN lands on `lo`, so no input reaches an undefined cast.
int round_clamp(float v, int lo, int hi) {
    const float r = std::nearbyint(v);
    if (!(r >= static_cast<float>(lo))) return lo;
    if (r >= static_cast<float>(hi)) return hi;
    return static_cast<int>(r);
}

// ---- Q4_K ----------------------------------------------------------------------------------------------

// Fits x[i] ~ scale * L[i] - neg_min over one 32-weight sub-block, L in 0..15, min <= 0 (the format stores a
// non-negative min that is subtracted). Tries a few grid spacings around the plain (max - min) / 15 and keeps
// the weighted least-squares (scale, min) pair with the smallest weighted error; ggml's make_qkx2_quants
// does the same search.
float fit_scale_min_32(const float* x, uint8_t* L, float* neg_min) {
    constexpr int n = 32, nmax = 15;
    float mn = x[0], mx = x[0], sum_x2 = 0;
    for (int i = 0; i < n; ++i) {
        mn = std::fmin(mn, x[i]);
        mx = std::fmax(mx, x[i]);
        sum_x2 += x[i] * x[i];
    }
    if (mn > 0) mn = 0;  // the format cannot add an offset, only subtract one
    if (!(mx > mn)) {
        std::memset(L, 0, n);
        *neg_min = -mn;
        return 0.0f;
    }
    // Weight large values more: they dominate a dot product's error.
    const float av = std::sqrt(sum_x2 / n);
    float w[n], sw = 0, sx = 0;
    for (int i = 0; i < n; ++i) {
        w[i] = av + std::fabs(x[i]);
        sw += w[i];
        sx += w[i] * x[i];
    }
    auto error_of = [&](const uint8_t* l, float scale, float min) {
        float e = 0;
        for (int i = 0; i < n; ++i) {
            const float diff = scale * l[i] + min - x[i];
            e += w[i] * diff * diff;
        }
        return e;
    };
    float scale = (mx - mn) / nmax, min = mn;
    for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(round_clamp((x[i] - mn) / scale, 0, nmax));
    float best = error_of(L, scale, min);
    uint8_t trial[n];
    for (int step = 0; step <= 20; ++step) {
        const float iscale = (nmax - 1.0f + 0.1f * step) / (mx - mn);
        float sl = 0, sl2 = 0, sxl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = round_clamp(iscale * (x[i] - mn), 0, nmax);
            trial[i] = static_cast<uint8_t>(l);
            sl += w[i] * l;
            sl2 += w[i] * l * l;
            sxl += w[i] * l * x[i];
        }
        const float det = sw * sl2 - sl * sl;
        if (!(det > 0)) continue;
        float s = (sw * sxl - sx * sl) / det, m = (sl2 * sx - sl * sxl) / det;
        if (m > 0) {
            m = 0;
            s = sxl / sl2;
        }
        const float e = error_of(trial, s, m);
        if (e < best) {
            best = e;
            scale = s;
            min = m;
            std::memcpy(L, trial, n);
        }
    }
    *neg_min = -min;
    return scale;
}

void pack_q4_k_scales(const uint8_t* sc, const uint8_t* m, uint8_t* out) {
    std::memset(out, 0, 12);
    for (int j = 0; j < 8; ++j) {
        if (j < 4) {
            out[j] = sc[j];
            out[j + 4] = m[j];
        } else {  // low four bits in bytes 8..11, top two bits in the spare bits of bytes 0..7
            out[j + 4] = static_cast<uint8_t>((sc[j] & 0x0f) | (m[j] & 0x0f) << 4);
            out[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
            out[j] |= static_cast<uint8_t>((m[j] >> 4) << 6);
        }
    }
}

void quantize_block_q4_k(const float* x, uint8_t* y) {
    uint8_t L[256];
    float scales[8], mins[8], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; ++j) {
        scales[j] = fit_scale_min_32(x + 32 * j, L + 32 * j, &mins[j]);
        max_scale = std::fmax(max_scale, scales[j]);
        max_min = std::fmax(max_min, mins[j]);
    }
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; ++j) {
        ls[j] = static_cast<uint8_t>(round_clamp(inv_scale * scales[j], 0, 63));
        lm[j] = static_cast<uint8_t>(round_clamp(inv_min * mins[j], 0, 63));
    }
    store_f16(y, max_scale / 63.0f);
    store_f16(y + 2, max_min / 63.0f);
    pack_q4_k_scales(ls, lm, y + 4);
    // Re-round every weight against the scales as they will be decoded, fp16 rounding included.
    const float d = load_f16(y), dmin = load_f16(y + 2);
    for (int j = 0; j < 8; ++j) {
        const float step = d * ls[j];
        if (step == 0.0f) continue;
        const float offset = dmin * lm[j];
        for (int i = 0; i < 32; ++i)
            L[32 * j + i] = static_cast<uint8_t>(round_clamp((x[32 * j + i] + offset) / step, 0, 15));
    }
    uint8_t* qs = y + 16;
    for (int c = 0; c < 4; ++c)
        for (int l = 0; l < 32; ++l) qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | L[64 * c + 32 + l] << 4);
}

void dequantize_block_q4_k(const uint8_t* b, float* y) {
    const float d = load_f16(b), dmin = load_f16(b + 2);
    uint8_t sc[8], m[8];
    q4_k_unpack_scales(b + 4, sc, m);
    const uint8_t* qs = b + 16;
    for (int c = 0; c < 4; ++c) {
        const float d0 = d * sc[2 * c], m0 = dmin * m[2 * c];
        const float d1 = d * sc[2 * c + 1], m1 = dmin * m[2 * c + 1];
        for (int l = 0; l < 32; ++l) {
            y[64 * c + l] = d0 * static_cast<float>(qs[32 * c + l] & 0x0f) - m0;
            y[64 * c + 32 + l] = d1 * static_cast<float>(qs[32 * c + l] >> 4) - m1;
        }
    }
}

// ---- Q6_K ----------------------------------------------------------------------------------------------

// Fits x[i] ~ scale * L[i] over one 16-weight sub-block, L in -32..31. The signed scale maps the value of
// largest magnitude onto -32, the level with no positive twin; nearby grid spacings are tried and the
// x^2-weighted least-squares scale kept (ggml's make_qx_quants, rmse_type 1).
float fit_scale_16(const float* x) {
    constexpr int n = 16;
    float amax = 0, max = 0;
    for (int i = 0; i < n; ++i) {
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            max = x[i];
        }
    }
    if (!(amax >= 1e-15f)) return 0.0f;
    float best_scale = -max / 32.0f, best = -1;
    for (int step = -9; step <= 9; ++step) {
        const float iscale = -(32.0f + 0.1f * step) / max;
        float sxl = 0, sl2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = round_clamp(iscale * x[i], -32, 31);
            const float w = x[i] * x[i];
            sxl += w * x[i] * l;
            sl2 += w * l * l;
        }
        // sxl^2 / sl2 is the error reduction of the least-squares scale sxl / sl2; larger is better.
        if (sl2 > 0 && sxl * sxl / sl2 > best) {
            best = sxl * sxl / sl2;
            best_scale = sxl / sl2;
        }
    }
    return best_scale;
}

void quantize_block_q6_k(const float* x, uint8_t* y) {
    float scales[16], max_scale = 0;
    for (int g = 0; g < 16; ++g) {
        scales[g] = fit_scale_16(x + 16 * g);
        if (std::fabs(scales[g]) > std::fabs(max_scale)) max_scale = scales[g];
    }
    uint8_t* ql = y;
    uint8_t* qh = y + 128;
    auto* sc = reinterpret_cast<int8_t*>(y + 192);
    std::memset(y, 0, kQ6KBlockBytes);
    if (!(std::fabs(max_scale) >= 1e-15f)) {
        // All-zero block: q = 32 decodes to 0 whatever the scales; keep ggml's all-zero bytes.
        return;
    }
    // The largest sub-block scale maps onto -128 so its sign trick survives; the rest share the grid.
    const float iscale = -128.0f / max_scale;
    store_f16(y + 208, 1.0f / iscale);
    for (int g = 0; g < 16; ++g) sc[g] = static_cast<int8_t>(round_clamp(iscale * scales[g], -128, 127));
    const float d = load_f16(y + 208);
    uint8_t L[256];
    for (int g = 0; g < 16; ++g) {
        const float step = d * sc[g];
        for (int i = 0; i < 16; ++i)
            L[16 * g + i] = static_cast<uint8_t>(step == 0.0f ? 32 : round_clamp(x[16 * g + i] / step, -32, 31) + 32);
    }
    for (int h = 0; h < 2; ++h) {
        const uint8_t* l = L + 128 * h;
        for (int i = 0; i < 32; ++i) {
            ql[64 * h + i] = static_cast<uint8_t>((l[i] & 0x0f) | (l[i + 64] & 0x0f) << 4);
            ql[64 * h + 32 + i] = static_cast<uint8_t>((l[i + 32] & 0x0f) | (l[i + 96] & 0x0f) << 4);
            qh[32 * h + i] = static_cast<uint8_t>(l[i] >> 4 | (l[i + 32] >> 4) << 2 | (l[i + 64] >> 4) << 4 |
                                                  (l[i + 96] >> 4) << 6);
        }
    }
}

void dequantize_block_q6_k(const uint8_t* b, float* y) {
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = load_f16(b + 208);
    for (int h = 0; h < 2; ++h) {
        for (int i = 0; i < 32; ++i) {
            const int lo0 = ql[64 * h + i], lo1 = ql[64 * h + 32 + i], hi = qh[32 * h + i];
            const int q[4] = {(lo0 & 0x0f) | (hi & 3) << 4, (lo1 & 0x0f) | (hi >> 2 & 3) << 4,
                              (lo0 >> 4) | (hi >> 4 & 3) << 4, (lo1 >> 4) | (hi >> 6 & 3) << 4};
            for (int k = 0; k < 4; ++k) {
                const int e = 128 * h + 32 * k + i;
                y[e] = d * static_cast<float>(sc[e / 16]) * static_cast<float>(q[k] - 32);
            }
        }
    }
}

}  // namespace

void q4_k_unpack_scales(const uint8_t* packed, uint8_t scale[8], uint8_t min[8]) {
    for (int j = 0; j < 8; ++j) {
        if (j < 4) {
            scale[j] = packed[j] & 63;
            min[j] = packed[j + 4] & 63;
        } else {
            scale[j] = static_cast<uint8_t>((packed[j + 4] & 0x0f) | (packed[j - 4] >> 6) << 4);
            min[j] = static_cast<uint8_t>((packed[j + 4] >> 4) | (packed[j] >> 6) << 4);
        }
    }
}

void dequantize_row_q4_k(const void* src, float* dst, int64_t n) {
    check_length(n, "q4_k");
    const auto* s = static_cast<const uint8_t*>(src);
    for (int64_t b = 0; b < n / kSuperBlockSize; ++b) dequantize_block_q4_k(s + b * kQ4KBlockBytes, dst + b * 256);
}

void dequantize_row_q6_k(const void* src, float* dst, int64_t n) {
    check_length(n, "q6_k");
    const auto* s = static_cast<const uint8_t*>(src);
    for (int64_t b = 0; b < n / kSuperBlockSize; ++b) dequantize_block_q6_k(s + b * kQ6KBlockBytes, dst + b * 256);
}

void quantize_row_q4_k(const float* src, void* dst, int64_t n) {
    check_length(n, "q4_k");
    auto* d = static_cast<uint8_t*>(dst);
    for (int64_t b = 0; b < n / kSuperBlockSize; ++b) quantize_block_q4_k(src + b * 256, d + b * kQ4KBlockBytes);
}

void quantize_row_q6_k(const float* src, void* dst, int64_t n) {
    check_length(n, "q6_k");
    auto* d = static_cast<uint8_t*>(dst);
    for (int64_t b = 0; b < n / kSuperBlockSize; ++b) quantize_block_q6_k(src + b * 256, d + b * kQ6KBlockBytes);
}

}  // namespace rwkv
