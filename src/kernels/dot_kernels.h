#pragma once
// Internal to the kernels: one immutable table of function pointers per instruction-set level, indexed by
// weight type. dot_avx2.cpp (built with -mavx2) includes this, so it holds only declarations and plain data:
// an inline function or template instantiated there could be merged by the linker with the portable copy
// and then run AVX2 code on a CPU without it.
#include <cstddef>
#include <cstdint>

#include "kernels/cpu_features.h"

namespace rwkv::kern {

inline constexpr int kNumTypes = 10;   // DType values F32 .. Q6_K
inline constexpr int kPanelRows = 16;  // weight rows a packed GEMM panel holds side by side

// Slot of each DType in a table (the enum's own values, spelt out so this header needs no other header).
enum Slot : int { kF32, kF16, kBF16, kQ4_0, kQ4_1, kQ5_0, kQ5_1, kQ8_0, kQ4_K, kQ6_K };

// A quantized activation vector as the integer kernels read it (see ActivationQ8).
struct Q8View {
    const int8_t* q;
    const float* d;       // per block
    const float* sum;     // Block32: d * sum(q) per block
    const int32_t* qsum;  // Block32: sum(q) per block
    const int16_t* bsum;  // Block256: sum(q) per 16 values
    const int8_t* pairs;  // Block32: q of each whole pair of blocks reordered for 4-bit weights (see ActivationQ8)
};

struct TypeKernels {
    float (*dot_f32)(const void* w, const float* x, int64_t n);       // n: whole blocks
    float (*dot_q8)(const void* w, const Q8View& x, int64_t n);       // null for float types
    void (*dequant)(const void* w, float* out, int64_t n);            // n: whole blocks
};

struct KernelTable {
    TypeKernels type[kNumTypes];
    // Activation rounding; must give bit-identical results on every table (see ActivationQ8).
    void (*quantize_q8_32)(const float* x, int64_t n, int8_t* q, float* d, float* sum, int32_t* qsum);
    void (*quantize_q8_256)(const float* x, int64_t n, int8_t* q, float* d, int16_t* bsum);
    // C[i, j] (+)= sum_k A[i, k] * panel[k * kPanelRows + j] for i < m, j < nr (nr <= kPanelRows);
    // A row-major with stride lda, C with stride ldc. Overwrites C unless `accumulate`.
    void (*gemm_panel)(const float* panel, int64_t kc, const float* a, int64_t lda, int64_t m, float* c,
                       int64_t ldc, int nr, bool accumulate);
    // q4_0 in the eight-row layout (kernels/rows8.h): y[i] = row i of the group at `group` · x, n columns.
    void (*dot_q8_q4_0_rows8)(const void* group, const Q8View& x, int64_t n, float* y);
    // The same for four activation vectors at once (ys[m] = the group · xs[m]), bit-identical to four calls.
    void (*dot_q8_q4_0_rows8_x4)(const void* group, const Q8View* xs, int64_t n, float* const* ys);
    // q8_0 in the eight-row layout (kernels/rows8.h, 272 bytes a block): the same.
    void (*dot_q8_q8_0_rows8)(const void* group, const Q8View& x, int64_t n, float* y);
    void (*dot_q8_q8_0_rows8_x4)(const void* group, const Q8View* xs, int64_t n, float* const* ys);  // likewise
};

// The SIMD tables come in two variants that differ only in the streaming kernels' software prefetch
// (StreamPrefetch); their results are bit-identical.
const KernelTable& scalar_kernels();
const KernelTable& avx2_kernels(StreamPrefetch prefetch);    // only call when the CPU has AVX2, FMA and F16C
const KernelTable& avx512_kernels(StreamPrefetch prefetch);  // only call when detected_isa() is Isa::Avx512

}  // namespace rwkv::kern
