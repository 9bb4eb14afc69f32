#pragma once
// Element encodings of stored weights: plain floats, ggml's legacy 32-weight block formats below, and its
// 256-weight k-quants Q4_K and Q6_K (layouts in core/quant_k.h).
// Layouts (little-endian, fp16 scales), as ggml and therefore rwkv.cpp and GGUF files store them:
//   Q4_0  d, qs[16]          w = (q - 8) * d     q in 0..15
//   Q4_1  d, m, qs[16]       w = q * d + m       q in 0..15
//   Q5_0  d, qh[4], qs[16]   w = (q - 16) * d    q in 0..31, bit 4 of element j is bit j of qh
//   Q5_1  d, m, qh[4], qs[16] w = q * d + m      q in 0..31
//   Q8_0  d, qs[32] (int8)   w = q * d
// In the 4/5-bit formats byte j of qs holds element j in its low nibble and element j + 16 in its high one.
#include <cstddef>
#include <cstdint>

#include "rwkv/tensor.h"

namespace rwkv {

inline constexpr int64_t kQuantBlockSize = 32;  // weights per block in every quantized type here

bool dtype_is_quantized(DType t);

// Weights per block: 1 for F32/F16/BF16, 32 for the legacy blocks, 256 for the k-quants (core/quant_k.h).
int64_t dtype_block_size(DType t);

// Bytes one block (dtype_block_size(t) weights) occupies; bytes per element for F32/F16/BF16.
size_t dtype_block_bytes(DType t);

// Bytes a row of n elements occupies. Throws rwkv::Error when n is negative, when a quantized row is not
// a whole number of blocks, or when the byte count would overflow.
size_t dtype_row_bytes(DType t, int64_t n);

// Decodes n elements (n as accepted by dtype_row_bytes) from `src` into fp32. `src` needs no alignment.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

// Encodes n fp32 values into `dst` (dtype_row_bytes(t, n) bytes, no alignment needed). Quantized types
// round to nearest exactly as ggml's reference quantizers do, so files written here match ggml's own;
// F16/BF16 round to nearest even. Non-finite inputs give defined (but meaningless) blocks.
void quantize_row(DType t, const float* src, void* dst, int64_t n);

}  // namespace rwkv
