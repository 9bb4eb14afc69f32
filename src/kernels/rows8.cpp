#include "kernels/rows8.h"

#include <cstring>
#include <string>

#include "core/half.h"
#include "core/quant.h"
#include "rwkv/error.h"

namespace rwkv {

namespace {

// Bytes of one block of one row: an f16 scale, then 16 nibble bytes (q4_0) or 32 weight bytes (q8_0).
size_t block_bytes(DType t) { return dtype_row_bytes(t, kQuantBlockSize); }

void check(DType t, int64_t cols) {
    if (!has_rows8_layout(t)) throw Error(std::string("no eight-row layout for ") + dtype_name(t));
    if (cols < 0 || cols % kQuantBlockSize != 0)
        throw Error("eight-row layout: " + std::to_string(cols) + " columns is not a whole number of blocks");
}

// Where row i's byte k of a block (0..17 for q4_0, 0..33 for q8_0) lies within a group block.
size_t offset_in_group_block(int64_t i, int k) {
    if (k < 2) return static_cast<size_t>(2 * i + k);
    const int j = k - 2;  // weight byte 0..15 or 0..31
    return 16 + static_cast<size_t>(32 * (j / 4) + 4 * i + j % 4);
}

}  // namespace

bool has_rows8_layout(DType t) { return t == DType::Q4_0 || t == DType::Q8_0; }

int64_t rows8_groups(int64_t rows) { return (rows + kRowsPerGroup - 1) / kRowsPerGroup; }

size_t rows8_bytes(DType t, int64_t rows, int64_t cols) {
    check(t, cols);
    return static_cast<size_t>(rows8_groups(rows)) * kRowsPerGroup * dtype_row_bytes(t, cols);
}

void interleave_rows8(DType t, const void* src, int64_t rows, int64_t cols, uint8_t* dst) {
    check(t, cols);
    const int64_t blocks = cols / kQuantBlockSize;
    const size_t row_bytes = dtype_row_bytes(t, cols), bb = block_bytes(t), group_block = kRowsPerGroup * bb;
    const int chunks = static_cast<int>((bb - 2) / 4);
    const auto* in = static_cast<const uint8_t*>(src);
    for (int64_t g = 0; g < rows8_groups(rows); ++g)
        for (int64_t b = 0; b < blocks; ++b) {
            uint8_t* out = dst + static_cast<size_t>(g * blocks + b) * group_block;
            std::memset(out, 0, group_block);  // padding rows: zero scale, so they add nothing
            for (int64_t i = 0; i < kRowsPerGroup && g * kRowsPerGroup + i < rows; ++i) {
                const uint8_t* block =
                    in + static_cast<size_t>(g * kRowsPerGroup + i) * row_bytes + static_cast<size_t>(b) * bb;
                // The layout of offset_in_group_block, four bytes at a time: load time is this loop's.
                std::memcpy(out + 2 * i, block, 2);
                for (int c = 0; c < chunks; ++c) std::memcpy(out + 16 + 32 * c + 4 * i, block + 2 + 4 * c, 4);
            }
        }
}

void gather_row8(DType t, const uint8_t* groups, int64_t cols, int64_t r, int64_t block0, int64_t n_blocks,
                 uint8_t* out) {
    check(t, cols);
    const int64_t blocks = cols / kQuantBlockSize;
    if (r < 0 || block0 < 0 || n_blocks < 0 || block0 + n_blocks > blocks)
        throw Error("eight-row layout: row " + std::to_string(r) + " blocks [" + std::to_string(block0) + ", " +
                    std::to_string(block0 + n_blocks) + ") outside a row of " + std::to_string(blocks));
    const int64_t g = r / kRowsPerGroup, i = r % kRowsPerGroup;
    const size_t bb = block_bytes(t);
    for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* in = groups + static_cast<size_t>(g * blocks + block0 + b) * kRowsPerGroup * bb;
        for (int k = 0; k < static_cast<int>(bb); ++k)
            out[static_cast<size_t>(b) * bb + static_cast<size_t>(k)] = in[offset_in_group_block(i, k)];
    }
}

}  // namespace rwkv
