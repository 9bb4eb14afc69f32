#pragma once
// Exact conversions between fp32 and the 16-bit float formats stored in checkpoints.
#include <cstdint>
#include <cstring>

namespace rwkv {

inline float bf16_to_f32(uint16_t h) {
    uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);   // round to nearest even
uint16_t f32_to_bf16(float f);  // round to nearest even

}  // namespace rwkv
