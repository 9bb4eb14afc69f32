#include "core/quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/half.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

const DType kQuantTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0};
const DType kAllTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0,
                           DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0};

void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v);
    p[1] = static_cast<uint8_t>(v >> 8);
}

TEST(Quant, RowBytesPerType) {
    EXPECT_EQ(dtype_row_bytes(DType::F32, 64), 256u);
    EXPECT_EQ(dtype_row_bytes(DType::F16, 64), 128u);
    EXPECT_EQ(dtype_row_bytes(DType::BF16, 64), 128u);
    EXPECT_EQ(dtype_row_bytes(DType::Q4_0, 64), 36u);
    EXPECT_EQ(dtype_row_bytes(DType::Q4_1, 64), 40u);
    EXPECT_EQ(dtype_row_bytes(DType::Q5_0, 64), 44u);
    EXPECT_EQ(dtype_row_bytes(DType::Q5_1, 64), 48u);
    EXPECT_EQ(dtype_row_bytes(DType::Q8_0, 64), 68u);
    EXPECT_EQ(dtype_row_bytes(DType::F32, 33), 132u);  // float rows need no blocks
    EXPECT_EQ(dtype_row_bytes(DType::Q8_0, 0), 0u);
}

TEST(Quant, RowBytesRejectsPartialBlocksAndNegativeLengths) {
    for (DType t : kQuantTypes) {
        EXPECT_THROW(dtype_row_bytes(t, 33), Error) << dtype_name(t);
        EXPECT_THROW(dtype_row_bytes(t, 16), Error) << dtype_name(t);
    }
    EXPECT_THROW(dtype_row_bytes(DType::F32, -1), Error);
    EXPECT_THROW(dtype_row_bytes(DType::F32, std::numeric_limits<int64_t>::max()), Error);
    try {
        dtype_row_bytes(DType::Q5_1, 100);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "q5_1 row of 100 weights is not a multiple of the 32-weight block");
    }
    float out[33];
    uint8_t in[200] = {};
    EXPECT_THROW(dequantize_row(DType::Q4_0, in, out, 33), Error);
    EXPECT_THROW(quantize_row(DType::Q4_0, out, in, 33), Error);
}

// Hand-built blocks pin down the byte layout: scale first, low nibbles are elements 0..15.
TEST(Quant, Q4_0Layout) {
    uint8_t b[18];
    put16(b, 0x3c00);  // d = 1
    for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(j | (15 - j) << 4);
    float y[32];
    dequantize_row(DType::Q4_0, b, y, 32);
    for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(y[j], static_cast<float>(j - 8)) << j;
        EXPECT_EQ(y[j + 16], static_cast<float>(7 - j)) << j;
    }
}

TEST(Quant, Q4_1Layout) {
    uint8_t b[20];
    put16(b, 0x3800);      // d = 0.5
    put16(b + 2, 0xbc00);  // m = -1
    for (int j = 0; j < 16; ++j) b[4 + j] = static_cast<uint8_t>(j | 3 << 4);
    float y[32];
    dequantize_row(DType::Q4_1, b, y, 32);
    for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(y[j], 0.5f * j - 1.0f) << j;
        EXPECT_EQ(y[j + 16], 0.5f) << j;
    }
}

TEST(Quant, Q5_0Layout) {
    uint8_t b[22];
    put16(b, 0x4000);  // d = 2
    const uint32_t qh = 0x80000001u;  // fifth bit set for elements 0 and 31
    std::memcpy(b + 2, &qh, 4);
    for (int j = 0; j < 16; ++j) b[6 + j] = static_cast<uint8_t>(j | j << 4);
    float y[32];
    dequantize_row(DType::Q5_0, b, y, 32);
    EXPECT_EQ(y[0], (16 + 0 - 16) * 2.0f);
    EXPECT_EQ(y[1], (1 - 16) * 2.0f);
    EXPECT_EQ(y[15], (15 - 16) * 2.0f);
    EXPECT_EQ(y[16], (0 - 16) * 2.0f);
    EXPECT_EQ(y[31], (16 + 15 - 16) * 2.0f);
}

TEST(Quant, Q5_1Layout) {
    uint8_t b[24];
    put16(b, 0x3400);      // d = 0.25
    put16(b + 2, 0x4000);  // m = 2
    const uint32_t qh = 0x00010002u;  // fifth bit for elements 1 and 16
    std::memcpy(b + 4, &qh, 4);
    for (int j = 0; j < 16; ++j) b[8 + j] = static_cast<uint8_t>((15 - j) | j << 4);
    float y[32];
    dequantize_row(DType::Q5_1, b, y, 32);
    EXPECT_EQ(y[0], 15 * 0.25f + 2);
    EXPECT_EQ(y[1], (16 + 14) * 0.25f + 2);
    EXPECT_EQ(y[16], (16 + 0) * 0.25f + 2);
    EXPECT_EQ(y[17], 1 * 0.25f + 2);
    EXPECT_EQ(y[31], 15 * 0.25f + 2);
}

TEST(Quant, Q8_0Layout) {
    uint8_t b[34];
    put16(b, 0x3800);  // d = 0.5
    for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j * 8 - 128));
    float y[32];
    dequantize_row(DType::Q8_0, b, y, 32);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], (j * 8 - 128) * 0.5f) << j;
}

// ggml's reference quantizers on a ramp, worked out by hand.
TEST(Quant, Q4_0QuantizerMatchesGgml) {
    float x[32];
    for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);  // max magnitude -16 -> d = 2
    uint8_t b[18];
    quantize_row(DType::Q4_0, x, b, 32);
    EXPECT_EQ(b[0] | b[1] << 8, 0x4000);
    // q_j = trunc((j - 16) / 2 + 8.5) = (j + 1) / 2, clamped to 15.
    EXPECT_EQ(b[2 + 0], 0x80);   // q0 = 0, q16 = 8
    EXPECT_EQ(b[2 + 1], 0x91);   // q1 = 1, q17 = 9
    EXPECT_EQ(b[2 + 15], 0xf8);  // q15 = 8, q31 = 16 -> 15
    float y[32];
    dequantize_row(DType::Q4_0, b, y, 32);
    EXPECT_EQ(y[31], 14.0f);
    EXPECT_EQ(y[0], -16.0f);
}

TEST(Quant, Q8_0QuantizerMatchesGgml) {
    float x[32];
    for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j);
    uint8_t b[34];
    quantize_row(DType::Q8_0, x, b, 32);
    EXPECT_EQ(b[0] | b[1] << 8, f32_to_f16(31.0f / 127.0f));
    for (int j = 0; j < 32; ++j) {
        const float id = 1.0f / (31.0f / 127.0f);
        EXPECT_EQ(static_cast<int8_t>(b[2 + j]), static_cast<int8_t>(std::round(j * id))) << j;
    }
    EXPECT_EQ(static_cast<int8_t>(b[2 + 31]), 127);
    EXPECT_EQ(static_cast<int8_t>(b[2 + 1]), 4);  // 127/31 = 4.097
}

TEST(Quant, Q5_1QuantizerMatchesGgml) {
    float x[32];
    for (int j = 0; j < 32; ++j) x[j] = 1.0f + 0.5f * j;  // min 1, max 16.5, d = 0.5 exactly
    uint8_t b[24];
    quantize_row(DType::Q5_1, x, b, 32);
    EXPECT_EQ(b[0] | b[1] << 8, 0x3800);      // d
    EXPECT_EQ(b[2] | b[3] << 8, 0x3c00);      // m = 1
    uint32_t qh;
    std::memcpy(&qh, b + 4, 4);
    EXPECT_EQ(qh, 0xffff0000u);               // q_j = j: the fifth bit is set for 16..31
    EXPECT_EQ(b[8 + 3], 0x03 | (19 & 15) << 4);
    float y[32];
    dequantize_row(DType::Q5_1, b, y, 32);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], x[j]) << j;  // exactly representable on the grid
}

// Worst-case reconstruction error for one block of the reference quantizers: half a step (a full step
// where the symmetric formats clamp the most negative code), plus the fp16 rounding of d and m.
double block_bound(DType t, const float* x) {
    double amax = 0, mx = -1e300, mn = 1e300;
    for (int j = 0; j < 32; ++j) {
        amax = std::max(amax, std::fabs(static_cast<double>(x[j])));
        mx = std::max(mx, static_cast<double>(x[j]));
        mn = std::min(mn, static_cast<double>(x[j]));
    }
    const double h = 1.0 / 2048;  // fp16 relative rounding
    const double slack = 1e-6 * amax + 1e-30;
    switch (t) {
        case DType::Q4_0: return amax / 8 * (1 + 8 * h) + slack;
        case DType::Q5_0: return amax / 16 * (1 + 16 * h) + slack;
        case DType::Q8_0: return amax / 127 * (0.5 + 127 * h) + slack;
        case DType::Q4_1: return (mx - mn) / 15 * (0.5 + 15 * h) + std::fabs(mn) * h + slack;
        case DType::Q5_1: return (mx - mn) / 31 * (0.5 + 31 * h) + std::fabs(mn) * h + slack;
        default: return 0;
    }
}

std::vector<float> make_data(int kind, int64_t n, std::mt19937& rng) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> uni(0.0f, 1.0f);
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        float& x = v[static_cast<size_t>(i)];
        switch (kind) {
            case 0: x = normal(rng); break;                              // weights
            case 1: x = 100.0f * normal(rng); break;                     // large
            case 2: x = 0.01f * normal(rng); break;                      // small
            case 3: x = 3.0f + uni(rng); break;                          // positive offset (min matters)
            case 4: x = -5.0f - 2.0f * uni(rng); break;                  // all negative
            case 5: x = (i % 37 == 0) ? 50.0f : normal(rng); break;      // outliers
            case 6: x = 0.75f; break;                                    // constant
            case 7: x = 0.0f; break;                                     // zeros
        }
    }
    return v;
}

TEST(Quant, RoundTripWithinStatedBounds) {
    std::mt19937 rng(1234);
    const int64_t lengths[] = {32, 64, 96, 160, 32 * 37, 4096 + 32};
    for (DType t : kAllTypes) {
        for (int64_t n : lengths) {
            for (int kind = 0; kind < 8; ++kind) {
                const std::vector<float> x = make_data(kind, n, rng);
                std::vector<uint8_t> q(dtype_row_bytes(t, n) + 1);  // +1: callers need not align
                quantize_row(t, x.data(), q.data() + 1, n);
                std::vector<float> y(static_cast<size_t>(n));
                dequantize_row(t, q.data() + 1, y.data(), n);
                for (int64_t i = 0; i < n; ++i) {
                    const double xi = x[static_cast<size_t>(i)], yi = y[static_cast<size_t>(i)];
                    double bound;
                    switch (t) {
                        case DType::F32: bound = 0; break;
                        case DType::F16: bound = std::fabs(xi) / 2048 + 3e-8; break;
                        case DType::BF16: bound = std::fabs(xi) / 256; break;
                        default: bound = block_bound(t, x.data() + (i / 32) * 32);
                    }
                    ASSERT_LE(std::fabs(xi - yi), bound)
                        << dtype_name(t) << " n=" << n << " kind=" << kind << " i=" << i << " x=" << xi;
                }
                // Zeros come back exactly in every format, constants in all but Q8_0 (whose d = 0.75/127
                // is not an fp16 value).
                if (kind == 7 || (kind == 6 && t != DType::Q8_0)) {
                    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[static_cast<size_t>(i)], x[static_cast<size_t>(i)]);
                }
            }
        }
    }
}

TEST(Quant, HalfFormatsRoundToNearestEven) {
    const float x[] = {1.0f, 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 65504.0f, 1e-8f};
    uint8_t b[10];
    quantize_row(DType::F16, x, b, 5);
    float y[5];
    dequantize_row(DType::F16, b, y, 5);
    EXPECT_EQ(y[0], 1.0f);
    EXPECT_EQ(y[1], 1.0f);                 // tie to even
    EXPECT_EQ(y[2], 1.0f + 2.0f / 1024);   // tie to even (up)
    EXPECT_EQ(y[3], 65504.0f);
    EXPECT_EQ(y[4], 0.0f);
    quantize_row(DType::BF16, x, b, 5);
    dequantize_row(DType::BF16, b, y, 5);
    EXPECT_EQ(y[0], 1.0f);
    EXPECT_EQ(y[3], 65536.0f);
}

// fp16 subnormals (below 6.1e-5) occur in real checkpoints (reference v4-fp16 has them); values from
// Python's struct.pack('<e', x).
TEST(Quant, HalfSubnormalsRoundCorrectly) {
    const float x[] = {4.35114e-05f, -2.5718178221723065e-05f, 5.96e-8f, 3e-8f, 6.0e-5f, 1e-6f, 2e-8f};
    const uint16_t want[] = {0x02da, 0x81af, 0x0001, 0x0001, 0x03ef, 0x0011, 0x0000};
    uint8_t b[14];
    quantize_row(DType::F16, x, b, 7);
    for (int i = 0; i < 7; ++i) EXPECT_EQ(b[2 * i] | b[2 * i + 1] << 8, want[i]) << x[i];
    float y[7];
    dequantize_row(DType::F16, b, y, 7);
    EXPECT_EQ(y[2], std::ldexp(1.0f, -24));
    EXPECT_EQ(y[4], 0x3ef * std::ldexp(1.0f, -24));
}

// Garbage in must not mean undefined behaviour (the sanitizer build watches the float->int casts).
TEST(Quant, NonFiniteInputsAreDefined) {
    std::vector<float> x(64, 1.0f);
    x[3] = std::numeric_limits<float>::quiet_NaN();
    x[40] = std::numeric_limits<float>::infinity();
    x[41] = -std::numeric_limits<float>::infinity();
    for (DType t : kAllTypes) {
        std::vector<uint8_t> q(dtype_row_bytes(t, 64));
        quantize_row(t, x.data(), q.data(), 64);
        std::vector<float> y(64);
        dequantize_row(t, q.data(), y.data(), 64);
    }
    std::vector<float> nans(32, std::numeric_limits<float>::quiet_NaN());
    for (DType t : kQuantTypes) {
        std::vector<uint8_t> q(dtype_row_bytes(t, 32));
        quantize_row(t, nans.data(), q.data(), 32);
    }
    // Every byte pattern is a valid block to decode.
    std::mt19937 rng(7);
    for (DType t : kQuantTypes) {
        std::vector<uint8_t> q(dtype_row_bytes(t, 320));
        for (auto& c : q) c = static_cast<uint8_t>(rng());
        std::vector<float> y(320);
        dequantize_row(t, q.data(), y.data(), 320);
    }
}

}  // namespace
}  // namespace rwkv
