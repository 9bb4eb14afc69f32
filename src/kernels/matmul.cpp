// The sequence-mode product Y[T, rows] = X[T, cols] · Wᵀ, blocked like a GEMM so that weights stored in any
// type run at fp32 FMA speed: each panel of 16 weight rows × 256 columns is decoded once into an L1-resident
// buffer (laid out [k][16], one vector load per k) and then swept by up to 256 tokens in register tiles.
// The eight-row layout (q4_0, q8_0) and plain q8_0 instead take an integer path, token by token over groups of
// eight rows (matmul_q8_groups).
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/quant.h"
#include "kernels/dot.h"
#include "kernels/dot_dispatch.h"
#include "kernels/rows8.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

using kern::kPanelRows;

constexpr int64_t kChunkCols = 256;    // panel depth: 16 KB of fp32, L1-resident; a whole number of any block
constexpr int64_t kTokenBlock = 256;   // tokens per sweep: 256 KB of X per chunk, L2-resident across panels

struct Job {
    const kern::TypeKernels* type;
    const kern::KernelTable* table;
    const uint8_t* w;
    size_t row_bytes;
    DType dtype;
    int64_t rows, cols;
    const float* X;
    float* Y;
};

// Decodes rows [r0, r0 + nr) × columns [k0, k0 + kc) into panel[k * 16 + j]; unused columns stay zero. The rows
// are decoded side by side into row_buf [nr][kChunkCols], then written out column by column so each store fills
// the panel in order: storing each decoded row straight into its column of the panel (a store every 64 bytes)
// took 8% of an f16 prompt.
void pack_panel(const Job& job, int64_t r0, int nr, int64_t k0, int64_t kc, float* row_buf, float* panel) {
    const size_t offset = weight_row_bytes(job.dtype, k0);
    for (int i = 0; i < nr; ++i)
        job.type->dequant(job.w + static_cast<size_t>(r0 + i) * job.row_bytes + offset, row_buf + i * kChunkCols, kc);
    if (nr == kPanelRows) {
        for (int64_t k = 0; k < kc; ++k)
            for (int i = 0; i < kPanelRows; ++i) panel[k * kPanelRows + i] = row_buf[i * kChunkCols + k];
        return;
    }
    for (int64_t k = 0; k < kc; ++k) {
        for (int i = 0; i < nr; ++i) panel[k * kPanelRows + i] = row_buf[i * kChunkCols + k];
        for (int i = nr; i < kPanelRows; ++i) panel[k * kPanelRows + i] = 0.0f;
    }
}

// Asks for the weights panel p will decode over columns [k0, k0 + kc), while the current panel's FMAs run. A
// panel's chunk is 16 short pieces, one per row and a row apart, which the hardware
// prefetcher does not follow: without this the decode waited on memory for a fifth of a 1.5B f16 prompt.
void prefetch_panel(const Job& job, int64_t p, int64_t k0, int64_t kc) {
    const int64_t r0 = p * kPanelRows;
    if (r0 >= job.rows) return;
    const int nr = static_cast<int>(std::min<int64_t>(kPanelRows, job.rows - r0));
    const auto lines = [](const uint8_t* from, size_t bytes) {
        for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(from + o, 0, 2);
    };
    const size_t offset = weight_row_bytes(job.dtype, k0), bytes = weight_row_bytes(job.dtype, kc);
    for (int j = 0; j < nr; ++j) lines(job.w + static_cast<size_t>(r0 + j) * job.row_bytes + offset, bytes);
}

// Tokens [t0, t1) against panels [p0, p1). Chunks of W's columns are outermost so a chunk of X stays in L2
// while every panel passes over it; Y is accumulated chunk by chunk.
void run_block(const Job& job, int64_t t0, int64_t t1, int64_t p0, int64_t p1) {
    std::vector<float> panel(static_cast<size_t>(kChunkCols * kPanelRows)), row_buf(static_cast<size_t>(kPanelRows * kChunkCols));
    for (int64_t tb = t0; tb < t1; tb += kTokenBlock) {
        const int64_t m = std::min(kTokenBlock, t1 - tb);
        for (int64_t k0 = 0; k0 < job.cols; k0 += kChunkCols) {
            const int64_t kc = std::min(kChunkCols, job.cols - k0);
            for (int64_t p = p0; p < p1; ++p) {
                const int64_t r0 = p * kPanelRows;
                const int nr = static_cast<int>(std::min<int64_t>(kPanelRows, job.rows - r0));
                pack_panel(job, r0, nr, k0, kc, row_buf.data(), panel.data());
                if (p + 1 < p1) prefetch_panel(job, p + 1, k0, kc);
                job.table->gemm_panel(panel.data(), kc, job.X + tb * job.cols + k0, job.cols, m,
                                      job.Y + tb * job.rows + r0, job.rows, nr, k0 > 0);
            }
        }
    }
}

// Tokens a thread takes through one eight-row group before the next: their Q8 activations (about 1.1 bytes a
// column each) stay in L2 while the group (0.56 or 1.06 bytes a weight) sits in L1, and the weights are read
// from memory once per this many tokens.
constexpr int64_t kGroupTokenBlock = 64;

// The eight-row layout (q4_0, q8_0), and plain q8_0 packed into it group by group: each token's activations are
// rounded to Q8 blocks and every group meets them in an integer kernel whose lanes are the group's rows. One
// vpdpbusd does 32 multiply-adds where an FMA does 8, at the cost of the activations' rounding (dot.h states
// the bound). Four tokens at a time share each block's weight loads (and q4_0's unpacking), with the same
// per-token arithmetic: that is generation's kernel, so in the eight-row layout each output equals the one-token
// product bit for bit.
void matmul_q8_groups(const kern::KernelTable& k, DType t, const uint8_t* w, RowLayout layout, int64_t rows,
                      int64_t cols, const float* X, int64_t T, float* Y, ThreadPool& pool, Isa isa) {
    std::vector<ActivationQ8> xq(static_cast<size_t>(T));
    pool.parallel_for(static_cast<size_t>(T), [&](size_t t0, size_t t1) {
        for (size_t i = t0; i < t1; ++i) xq[i].quantize(ActivationQ8::layout_for(t), X + i * cols, cols, isa);
    });
    std::vector<kern::Q8View> views(static_cast<size_t>(T));
    for (size_t i = 0; i < views.size(); ++i) views[i] = kern::q8_view(xq[i]);
    const bool packed = layout == RowLayout::plain;  // q8_0 in ggml's layout, packed here group by group
    const bool q8 = t == DType::Q8_0;
    const auto dot = q8 ? k.dot_q8_q8_0_rows8 : k.dot_q8_q4_0_rows8;
    const auto dot4 = q8 ? k.dot_q8_q8_0_rows8_x4 : k.dot_q8_q4_0_rows8_x4;
    const size_t group_bytes = rows8_bytes(t, kRowsPerGroup, cols);
    const size_t row_bytes = weight_row_bytes(t, cols);
    const int64_t groups = rows8_groups(rows);
    pool.parallel_for(static_cast<size_t>(groups), [&](size_t g0, size_t g1) {
        std::vector<uint8_t> buffer(packed ? group_bytes : 0);
        for (int64_t tb = 0; tb < T; tb += kGroupTokenBlock) {
            const int64_t te = std::min(T, tb + kGroupTokenBlock);
            for (size_t g = g0; g < g1; ++g) {
                const int64_t r0 = static_cast<int64_t>(g) * kRowsPerGroup, n = std::min(kRowsPerGroup, rows - r0);
                const uint8_t* group = w + g * group_bytes;
                if (packed) {
                    interleave_rows8(t, w + static_cast<size_t>(r0) * row_bytes, n, cols, buffer.data());
                    group = buffer.data();
                }
                int64_t i = tb;
                if (n == kRowsPerGroup)  // four tokens share each block's weights, loaded and unpacked once
                    for (; i + 4 <= te; i += 4) {
                        float* const ys[4] = {Y + i * rows + r0, Y + (i + 1) * rows + r0, Y + (i + 2) * rows + r0,
                                              Y + (i + 3) * rows + r0};
                        dot4(group, &views[static_cast<size_t>(i)], cols, ys);
                    }
                for (; i < te; ++i) {
                    float* y = Y + i * rows + r0;
                    if (n == kRowsPerGroup) {
                        dot(group, views[static_cast<size_t>(i)], cols, y);
                    } else {  // the padded last group
                        float part[kRowsPerGroup];
                        dot(group, views[static_cast<size_t>(i)], cols, part);
                        std::copy(part, part + n, y);
                    }
                }
            }
        }
    });
}

}  // namespace

bool matmul_rounds_activations(DType t, RowLayout layout) {
    return layout == RowLayout::rows8 || t == DType::Q8_0;
}

void matmul(DType t, const void* w, int64_t rows, int64_t cols, const float* X, int64_t T, float* Y,
            ThreadPool& pool, Isa isa, RowLayout layout) {
    kern::check_shape("matmul", rows, cols, T);
    if (layout == RowLayout::rows8 && !has_rows8_layout(t))
        throw Error(std::string("matmul: no eight-row layout for ") + dtype_name(t));
    const kern::KernelTable& table = kern::table_for(isa);
    const Job job{&table.type[kern::slot_of(t)], &table, static_cast<const uint8_t*>(w), weight_row_bytes(t, cols),
                  t, rows, cols, X, Y};
    if (rows == 0 || T == 0) return;
    if (cols == 0) {
        std::fill(Y, Y + rows * T, 0.0f);
        return;
    }
    if (matmul_rounds_activations(t, layout))
        return matmul_q8_groups(table, t, job.w, layout, rows, cols, X, T, Y, pool, isa);
    // Work items are (token group, panel). Panels alone usually keep every thread busy; with few rows the
    // tokens are split too, each group decoding the panels again (cheap next to its FLOPs).
    const int64_t panels = (rows + kPanelRows - 1) / kPanelRows;
    const int64_t threads = pool.size();
    int64_t groups = 1;
    if (panels < 2 * threads) groups = std::min((2 * threads + panels - 1) / panels, (T + 5) / 6);
    const int64_t items = groups * panels;
    const auto body = [&](size_t begin, size_t end) {
        // A contiguous item range covers a run of panels in each of one or more token groups.
        for (int64_t i = static_cast<int64_t>(begin); i < static_cast<int64_t>(end);) {
            const int64_t g = i / panels, p0 = i % panels;
            const int64_t p1 = std::min(panels, p0 + static_cast<int64_t>(end) - i);
            run_block(job, T * g / groups, T * (g + 1) / groups, p0, p1);
            i += p1 - p0;
        }
    };
    if (threads == 1 || items == 1)
        body(0, static_cast<size_t>(items));
    else
        pool.parallel_for(static_cast<size_t>(items), body);
}

}  // namespace rwkv
