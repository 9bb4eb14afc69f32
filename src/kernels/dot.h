#pragma once
// Products against weights kept in their stored type (f32, f16, bf16, ggml blocks): a weight row is decoded
// on the fly, never expanded in memory, so generation reads each weight byte once per token.
//
// Two paths for quantized weights, as ggml/llama.cpp/rwkv.cpp have them:
//   * exact activations: x stays fp32 and each block is decoded to fp32 and multiplied in registers;
//   * Q8 activations (matvec's default): x is first rounded to 8-bit blocks (ActivationQ8) and each weight block
//     meets it in an integer dot product. This adds at most half a Q8 step per element of x:
//       |error| <= sum_i |w_i| * amax(x over i's block) / 254     (32-blocks; 256-blocks for Q4_K/Q6_K)
//     i.e. about 0.2-0.4% of sqrt(sum w_i^2 x_i^2 * n)-scale results on Gaussian data (see tests/kernels).
// matmul uses exact activations (weights decoded to fp32 in a cache-resident panel), so its results differ
// from the Q8 matvec by the bound above (pass ActivationMode::F32 to matvec for agreement to rounding); except
// for q8_0 and for q4_0 in the eight-row layout (matmul_rounds_activations), where it rounds X to Q8 too and
// runs integer kernels eight rows at a time (in the eight-row layout the output then equals the one-token
// product bit for bit).
//
// Every function takes an Isa (default: default_isa()); a level above the CPU's is lowered, never trusted.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "rwkv/tensor.h"

namespace rwkv {

// Weights per block: 1 for F32/F16/BF16, 32 for the legacy ggml blocks, 256 for Q4_K/Q6_K.
int64_t weight_block_size(DType t);

// Bytes a row of n weights occupies. Throws rwkv::Error for a negative n, a partial block or an unknown type.
size_t weight_row_bytes(DType t, int64_t n);

// Decodes n weights (a whole number of blocks) to fp32, with the kernels of `isa`.
void dequantize_weights(DType t, const void* src, float* dst, int64_t n, Isa isa = default_isa());

// How a quantized activation vector is blocked: 32 values (Q4_0..Q8_0 weights) or 256 (Q4_K, Q6_K).
enum class Q8Layout : uint8_t { Block32, Block256 };

// x rounded once to int8 blocks, reused by every row of a matvec (and by several matrices that share x).
// Block32: one fp32 scale per 32 values plus scale * sum(q) for the offset formats (ggml's q8_0/q8_1).
// Block256: one fp32 scale per 256 values plus sum(q) per 16 (ggml's q8_K). Scale = amax / 127 and values
// round to nearest-even, identically on every ISA, so the integer sums never depend on the path taken.
class ActivationQ8 {
public:
    // The layout a weight type's integer kernel reads; throws rwkv::Error for F32/F16/BF16.
    static Q8Layout layout_for(DType t);

    // n must be a whole number of blocks of `layout`. Reuses its buffers across calls. With pairs false,
    // block_pairs() is left empty: the eight-row kernels do not read it, and in generation the weight stream
    // has evicted these buffers since the last product, so each line written here is likely a miss.
    void quantize(Q8Layout layout, const float* x, int64_t n, Isa isa = default_isa(), bool pairs = true);

    Q8Layout layout() const { return layout_; }
    int64_t size() const { return n_; }
    float value(int64_t i) const;  // the rounded x[i], for tests and error estimates

    const int8_t* q() const { return q_.data(); }
    const float* scales() const { return d_.data(); }
    const float* block_sums() const { return sum_.data(); }   // Block32: scale * sum(q) per block
    const int32_t* block_qsums() const { return qsum_.data(); }  // Block32: sum(q) per block
    const int16_t* group_sums() const { return bsum_.data(); }  // Block256: sum(q) per 16 values
    // Block32: q again, reordered per whole pair of blocks (a, b) as a[0:16] b[0:16] a[16:32] b[16:32], so
    // the low nibbles of two 4-bit blocks loaded side by side meet their activations without a shuffle (an
    // odd last block is left out). Only the AVX2/AVX-512 row-major q4_0 kernels read it. Empty where
    // quantize() was told to skip it.
    const int8_t* block_pairs() const { return pairs_.data(); }
    bool has_pairs() const { return static_cast<int64_t>(pairs_.size()) == n_ / 64 * 64; }

private:
    Q8Layout layout_ = Q8Layout::Block32;
    int64_t n_ = 0;
    std::vector<int8_t> q_, pairs_;
    std::vector<float> d_, sum_;
    std::vector<int32_t> qsum_;
    std::vector<int16_t> bsum_;
};

// sum_i w[i] * x[i] over one row of n weights, x fp32 (exact activations).
float dot_row(DType t, const void* w_row, const float* x, int64_t n, Isa isa = default_isa());

// The same against Q8 activations; quantized types only, x.size() is the row length.
float dot_row_q8(DType t, const void* w_row, const ActivationQ8& x, Isa isa = default_isa());

enum class ActivationMode : uint8_t { Q8, F32 };

// y[rows] = W x, W row-major [rows, cols] in stored form. Q8 mode applies to quantized types only (float
// weights always use fp32 x). Rows are split across the pool.
void matvec(DType t, const void* w, int64_t rows, int64_t cols, const float* x, float* y, ThreadPool& pool,
            Isa isa = default_isa(), ActivationMode mode = ActivationMode::Q8);

// y = W x with x already quantized (layout must match t); lets matrices that share an input quantize it once.
void matvec(DType t, const void* w, int64_t rows, int64_t cols, const ActivationQ8& x, float* y, ThreadPool& pool,
            Isa isa = default_isa());

// How a matrix's rows lie in memory: one after another as stored, or (q4_0, q8_0) in groups of eight rows
// (kernels/rows8.h), which generation's kernel reads faster.
enum class RowLayout : uint8_t { plain, rows8 };

// One product of a batch: y[rows] = W x, W [rows, cols] in stored type `type`, laid out as `layout` says.
struct MatvecJob {
    DType type;
    const void* w;
    int64_t rows, cols;
    const float* x;
    float* y;
    RowLayout layout = RowLayout::plain;
};

// What a caller keeps across matvec_batch calls so that a token's products allocate nothing: the quantized
// inputs, one per job, whose buffers are reused.
struct MatvecScratch {
    std::vector<ActivationQ8> inputs;
};

// Independent matrix-vector products run as one parallel loop: the rows of all of them are split by bytes
// across the pool, so a dozen small products (LoRA matrices, r/k/v) share one wake-up and one wait instead
// of each paying for its own, and none is too small to split. Same results as matvec() on each, Q8 mode.
void matvec_batch(const std::vector<MatvecJob>& jobs, ThreadPool& pool, Isa isa = default_isa(),
                  MatvecScratch* scratch = nullptr);

// Y[T, rows] = X[T, cols] · Wᵀ, fp32 activations, blocked like a GEMM: a panel of 16 weight rows × 256 columns
// is decoded once into a cache-resident buffer and reused by up to 256 tokens. Where matmul_rounds_activations:
// Q8 activations and an integer kernel, token by token over each group of eight rows (see the note above).
void matmul(DType t, const void* w, int64_t rows, int64_t cols, const float* X, int64_t T, float* Y,
            ThreadPool& pool, Isa isa = default_isa(), RowLayout layout = RowLayout::plain);

// Whether matmul rounds X to Q8 blocks for weights of type t in `layout`: q8_0, and q4_0 in the eight-row layout.
bool matmul_rounds_activations(DType t, RowLayout layout = RowLayout::plain);

}  // namespace rwkv
