// Q4_K / Q6_K: byte layout pinned by hand-built blocks, and the reference quantizer's error bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/half.h"
#include "core/quant_k.h"
#include "kernels_test_util.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

void put_f16(uint8_t* p, float v) {
    const uint16_t h = f32_to_f16(v);
    p[0] = static_cast<uint8_t>(h);
    p[1] = static_cast<uint8_t>(h >> 8);
}

TEST(QuantK, RowBytesAndLengthChecks) {
    EXPECT_EQ(weight_row_bytes(DType::Q4_K, 512), 288u);
    EXPECT_EQ(weight_row_bytes(DType::Q6_K, 512), 420u);
    EXPECT_EQ(weight_block_size(DType::Q4_K), 256);
    EXPECT_EQ(weight_block_size(DType::Q6_K), 256);
    EXPECT_THROW(weight_row_bytes(DType::Q4_K, 255), Error);
    EXPECT_THROW(weight_row_bytes(DType::Q6_K, 32), Error);
    std::vector<float> f(512);
    std::vector<uint8_t> b(1024);
    EXPECT_THROW(dequantize_row_q4_k(b.data(), f.data(), 100), Error);
    EXPECT_THROW(quantize_row_q6_k(f.data(), b.data(), 288), Error);
    EXPECT_THROW(quantize_row_q4_k(f.data(), b.data(), -256), Error);
}

// Packed the way ggml-common.h describes it from the decoding side (bytes 0-3 scales, 4-7 mins, 8-11 the low
// nibbles of sub-blocks 4-7, their top bits in bits 6-7 of bytes 0-7), independently of quant_k.cpp.
void pack_scales_by_hand(const uint8_t* sc, const uint8_t* m, uint8_t* out) {
    for (int j = 0; j < 4; ++j) {
        out[j] = static_cast<uint8_t>(sc[j] | (sc[j + 4] >> 4) << 6);
        out[j + 4] = static_cast<uint8_t>(m[j] | (m[j + 4] >> 4) << 6);
        out[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
    }
}

TEST(QuantK, Q4KScalePackingRoundTripsAll6BitValues) {
    std::mt19937 rng(7);
    for (int trial = 0; trial < 200; ++trial) {
        uint8_t sc[8], m[8], packed[12], sc2[8], m2[8];
        for (int j = 0; j < 8; ++j) {
            sc[j] = static_cast<uint8_t>(rng() % 64);
            m[j] = static_cast<uint8_t>(rng() % 64);
        }
        pack_scales_by_hand(sc, m, packed);
        q4_k_unpack_scales(packed, sc2, m2);
        for (int j = 0; j < 8; ++j) {
            ASSERT_EQ(sc2[j], sc[j]) << j;
            ASSERT_EQ(m2[j], m[j]) << j;
        }
    }
}

TEST(QuantK, Q4KLayout) {
    uint8_t b[kQ4KBlockBytes];
    put_f16(b, 0.5f);
    put_f16(b + 2, 0.25f);
    const uint8_t sc[8] = {1, 2, 3, 63, 17, 33, 48, 5}, m[8] = {0, 63, 7, 8, 31, 32, 16, 1};
    pack_scales_by_hand(sc, m, b + 4);
    for (int i = 0; i < 128; ++i) b[16 + i] = static_cast<uint8_t>((i * 7 + 3) & 0xff);
    float y[256];
    dequantize_row_q4_k(b, y, 256);
    for (int e = 0; e < 256; ++e) {
        const int chunk = e / 64, within = e % 64, l = within % 32;
        const bool high = within >= 32;
        const int byte = b[16 + 32 * chunk + l];
        const int q = high ? byte >> 4 : byte & 15;
        const int j = 2 * chunk + (high ? 1 : 0);
        ASSERT_FLOAT_EQ(y[e], 0.5f * sc[j] * q - 0.25f * m[j]) << "element " << e;
    }
}

TEST(QuantK, Q6KLayout) {
    uint8_t b[kQ6KBlockBytes];
    for (int i = 0; i < 128; ++i) b[i] = static_cast<uint8_t>((i * 11 + 5) & 0xff);        // ql
    for (int i = 0; i < 64; ++i) b[128 + i] = static_cast<uint8_t>((i * 37 + 1) & 0xff);  // qh
    const int8_t sc[16] = {-128, 127, 1, -1, 2, 64, -64, 3, 5, 7, -9, 11, 13, -15, 17, 100};
    std::memcpy(b + 192, sc, 16);
    put_f16(b + 208, 0.125f);
    float y[256];
    dequantize_row_q6_k(b, y, 256);
    for (int e = 0; e < 256; ++e) {
        const int h = e / 128, k = (e % 128) / 32, l = e % 32;
        const int lo_byte = b[64 * h + (k % 2 == 1 ? 32 : 0) + l];
        const int lo = k < 2 ? lo_byte & 15 : lo_byte >> 4;
        const int hi = (b[128 + 32 * h + l] >> (2 * k)) & 3;
        const int q = lo | hi << 4;
        ASSERT_FLOAT_EQ(y[e], 0.125f * sc[e / 16] * (q - 32)) << "element " << e;
    }
}

// Gaussian, uniform with an offset (exercises the Q4_K min), heavy-tailed, and rare large outliers.
std::vector<float> test_data(int dist, int64_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0, 1);
    std::uniform_real_distribution<float> ud(-1, 3);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) {
        switch (dist) {
            case 0: x = nd(rng); break;
            case 1: x = ud(rng); break;
            case 2: x = nd(rng) * nd(rng) * nd(rng); break;
            default: x = rng() % 100 == 0 ? 30 * nd(rng) : nd(rng); break;
        }
    }
    return v;
}

TEST(QuantK, Q4KErrorWithinOneFifteenthOfTheRange) {
    const int64_t n = 256 * 200;
    for (int dist = 0; dist < 4; ++dist) {
        const std::vector<float> x = test_data(dist, n, 100 + dist);
        std::vector<uint8_t> b(weight_row_bytes(DType::Q4_K, n));
        std::vector<float> y(static_cast<size_t>(n));
        quantize_row_q4_k(x.data(), b.data(), n);
        dequantize_row_q4_k(b.data(), y.data(), n);
        for (int64_t s = 0; s < n / 256; ++s) {
            float mn = 0, mx = x[s * 256];
            for (int i = 0; i < 256; ++i) {
                mn = std::fmin(mn, x[s * 256 + i]);
                mx = std::fmax(mx, x[s * 256 + i]);
            }
            for (int i = 0; i < 256; ++i)
                ASSERT_LE(std::fabs(y[s * 256 + i] - x[s * 256 + i]), (mx - mn) / 15)
                    << "dist " << dist << " super-block " << s << " element " << i;
        }
    }
}

TEST(QuantK, Q6KErrorWithinAmaxOver48) {
    const int64_t n = 256 * 200;
    for (int dist = 0; dist < 4; ++dist) {
        const std::vector<float> x = test_data(dist, n, 200 + dist);
        std::vector<uint8_t> b(weight_row_bytes(DType::Q6_K, n));
        std::vector<float> y(static_cast<size_t>(n));
        quantize_row_q6_k(x.data(), b.data(), n);
        dequantize_row_q6_k(b.data(), y.data(), n);
        for (int64_t s = 0; s < n / 256; ++s) {
            float amax = 0;
            for (int i = 0; i < 256; ++i) amax = std::fmax(amax, std::fabs(x[s * 256 + i]));
            for (int i = 0; i < 256; ++i)
                ASSERT_LE(std::fabs(y[s * 256 + i] - x[s * 256 + i]), amax / 48)
                    << "dist " << dist << " super-block " << s << " element " << i;
        }
    }
}

TEST(QuantK, ZerosAndConstantsAreExact) {
    std::vector<float> x(512, 0.0f), y(512, 1.0f);
    std::vector<uint8_t> b(420);
    quantize_row_q4_k(x.data(), b.data(), 512);
    dequantize_row_q4_k(b.data(), y.data(), 512);
    for (float v : y) EXPECT_EQ(v, 0.0f);
    quantize_row_q6_k(x.data(), b.data(), 512);
    dequantize_row_q6_k(b.data(), y.data(), 512);
    for (float v : y) EXPECT_EQ(v, 0.0f);
    // A constant negative row is all min for Q4_K: exact but for dmin = 0.75 / 63 rounded to fp16.
    std::fill(x.begin(), x.end(), -0.75f);
    quantize_row_q4_k(x.data(), b.data(), 512);
    dequantize_row_q4_k(b.data(), y.data(), 512);
    for (float v : y) EXPECT_NEAR(v, -0.75f, 0.75f / 2048);
}

TEST(QuantK, NonFiniteInputGivesDefinedBlocks) {
    std::vector<float> x = test_data(0, 256, 5);
    x[3] = std::numeric_limits<float>::quiet_NaN();
    x[100] = std::numeric_limits<float>::infinity();
    std::vector<uint8_t> b(210);
    std::vector<float> y(256);
    quantize_row_q4_k(x.data(), b.data(), 256);  // must not trap (UBSan) or crash; values are meaningless
    dequantize_row_q4_k(b.data(), y.data(), 256);
    quantize_row_q6_k(x.data(), b.data(), 256);
    dequantize_row_q6_k(b.data(), y.data(), 256);
    SUCCEED();
}

}  // namespace
}  // namespace rwkv
