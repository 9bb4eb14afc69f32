#pragma once
// q4_0 and q8_0 matrices re-laid eight rows at a time, for generation (and for prompts, which then need no
// packing of their own).
//
// In ggml's layout each row is a run of 18-byte blocks (an f16 scale, 16 bytes of nibbles), and a matrix-vector
// product handles one row at a time: per block it gathers the scale, re-reads the activations, and folds its
// lanes down to one number. Generation's q4_0 kernel was bound by that work, not by memory (one thread read
// 24.5 GB/s from cache where the memory gives ~30). Laid out as groups of eight rows, block b of a group holds
// the eight rows' scales side by side, then their nibbles so that one 32-byte load carries four bytes of each
// row: every SIMD lane is one row, each broadcast activation serves all eight, the scales convert in one
// instruction, and nothing is folded until the row ends. The group is still one contiguous stream. (Hot, one
// thread: 24.8 -> 42.1 GB/s. q8_0 laid out the same way read 74 GB/s against 45; it first generated no faster,
// but that copy sat on 4 KiB pages; on huge pages (core/huge_arena.h) it generates 4-5 % faster:
// bench/README.md.)
//
//   block b of group g, at (g * blocks + b) * 144 bytes (q4_0) or * 272 (q8_0):
//     bytes   0..15   the eight rows' f16 scales, row i at 2i
//     then four (q4_0) or eight (q8_0) chunks of 32 bytes; chunk c byte 4i + j is row i's weight byte 4c + j
//     (q4_0: low nibble element 4c + j, high nibble element 16 + 4c + j; q8_0: element 4c + j)
//
// A matrix whose row count is not a multiple of eight ends with a group padded by rows of zero scales.
#include <cstddef>
#include <cstdint>

#include "rwkv/tensor.h"

namespace rwkv {

inline constexpr int64_t kRowsPerGroup = 8;

// Whether `t` has the eight-row layout and kernels (q4_0 and q8_0).
bool has_rows8_layout(DType t);

// Groups of a matrix with `rows` rows, and the bytes of its eight-row form.
int64_t rows8_groups(int64_t rows);
size_t rows8_bytes(DType t, int64_t rows, int64_t cols);

// Writes the eight-row form of W [rows, cols] (ggml layout at `src`) to dst (rows8_bytes bytes).
void interleave_rows8(DType t, const void* src, int64_t rows, int64_t cols, uint8_t* dst);

// The ggml bytes of row r's blocks [block0, block0 + n_blocks) out of the eight-row form `groups` of a matrix of
// `cols` columns: what sequence mode and single-row reads decode.
void gather_row8(DType t, const uint8_t* groups, int64_t cols, int64_t r, int64_t block0, int64_t n_blocks,
                 uint8_t* out);

}  // namespace rwkv
