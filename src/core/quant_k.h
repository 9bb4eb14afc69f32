#pragma once
// ggml's k-quant super-block formats Q4_K and Q6_K: 256 weights a block, byte-compatible with GGUF files.
//
//   Q4_K (144 bytes)  d (fp16), dmin (fp16), scales[12], qs[128]
//     8 sub-blocks of 32; sub-block j has a 6-bit scale sc_j and a 6-bit min m_j packed into `scales`:
//       j < 4:  sc_j = scales[j] & 63,                          m_j = scales[j + 4] & 63
//       j >= 4: sc_j = (scales[j + 4] & 15) | (scales[j - 4] >> 6) << 4,
//               m_j  = (scales[j + 4] >> 4) | (scales[j] >> 6) << 4
//     w = d * sc_j * q - dmin * m_j, q in 0..15. Byte l of qs[32c .. 32c + 31] holds element 64c + l in its
//     low nibble and element 64c + 32 + l in its high one.
//
//   Q6_K (210 bytes)  ql[128], qh[64], scales[16] (int8), d (fp16)
//     16 sub-blocks of 16, w = d * scales[i / 16] * (q - 32), q in 0..63. Each half h (128 weights) uses
//     ql[64h .. 64h + 63] and qh[32h .. 32h + 31]; for l < 32 the four weights 128h + l + 32k (k = 0..3) take
//     their low nibble from ql[64h + l] (k = 0: low, k = 2: high) or ql[64h + 32 + l] (k = 1: low, k = 3: high)
//     and their top two bits from qh[32h + l] >> 2k.
#include <cstddef>
#include <cstdint>

namespace rwkv {

inline constexpr int64_t kSuperBlockSize = 256;
inline constexpr size_t kQ4KBlockBytes = 144;
inline constexpr size_t kQ6KBlockBytes = 210;

// n must be a multiple of 256 (rwkv::Error otherwise). Buffers need no alignment.
void dequantize_row_q4_k(const void* src, float* dst, int64_t n);
void dequantize_row_q6_k(const void* src, float* dst, int64_t n);

// Reference quantizers in ggml's manner (per-sub-block scale search, then the scales themselves quantized
// to 6/8 bits and the weights re-rounded against those). Not bit-identical to ggml's output, but any ggml
// reader decodes them. Measured error on Gaussian data: RMS 0.072 sigma (Q4_K), 0.018 sigma (Q6_K). Worst case
// per super-block, over Gaussian, uniform and heavy-tailed data (tests/kernels hold every weight to it):
//   Q4_K |w - x| <= (max - min(min, 0)) / 15 (seen: / 19),   Q6_K |w - x| <= amax / 48 (seen: / 62).
void quantize_row_q4_k(const float* src, void* dst, int64_t n);
void quantize_row_q6_k(const float* src, void* dst, int64_t n);

// The 6-bit scale and min of each of the 8 sub-blocks of a Q4_K block, from its 12 packed bytes.
void q4_k_unpack_scales(const uint8_t* packed, uint8_t scale[8], uint8_t min[8]);

}  // namespace rwkv
