// dot.h's row and matrix-vector entry points: argument checks, table choice, and the split across threads.
#include <algorithm>
#include <cstring>
#include <string>

#include "core/quant.h"
#include "core/quant_k.h"
#include "kernels/dot.h"
#include "kernels/dot_dispatch.h"
#include "kernels/row_split.h"
#include "kernels/rows8.h"
#include "rwkv/error.h"

namespace rwkv {
namespace kern {

const KernelTable& table_for(Isa isa, StreamPrefetch prefetch) {
#if defined(RWKV_KERNELS_AVX2)
    const Isa level = clamp_isa(isa);
#if defined(RWKV_KERNELS_AVX512)
    if (level >= Isa::Avx512) return avx512_kernels(prefetch);
#endif
    if (level >= Isa::Avx2) return avx2_kernels(prefetch);
#else
    (void)isa;
    (void)prefetch;
#endif
    return scalar_kernels();
}

const KernelTable& table_for(Isa isa) { return table_for(isa, default_stream_prefetch()); }

int slot_of(DType t) {
    const int s = static_cast<int>(t);
    if (s < 0 || s >= kNumTypes) throw Error("unknown weight type " + std::to_string(s));
    return s;
}

void check_shape(const char* what, int64_t rows, int64_t cols, int64_t T) {
    if (rows < 0 || cols < 0 || T < 0)
        throw Error(std::string(what) + ": negative shape [" + std::to_string(rows) + ", " + std::to_string(cols) +
                    "], T " + std::to_string(T));
}

Q8View q8_view(const ActivationQ8& x) {
    return {x.q(), x.scales(), x.block_sums(), x.block_qsums(), x.group_sums(), x.block_pairs()};
}

}  // namespace kern

namespace {

// Below this many weight bytes a matvec runs on the caller: waking the pool costs more than the rows.
constexpr size_t kMinParallelBytes = 96 * 1024;

void check_layout(DType t, const ActivationQ8& x, int64_t n) {
    if (ActivationQ8::layout_for(t) != x.layout())
        throw Error(std::string("activations quantized for the wrong block layout for ") + dtype_name(t));
    if (x.size() != n)
        throw Error("activations hold " + std::to_string(x.size()) + " values, the weights " + std::to_string(n));
    if (t == DType::Q4_0 && !x.has_pairs())
        throw Error("q4_0 rows need the activations quantized with their pair order (ActivationQ8::quantize)");
}

// Weight bytes per chunk of rows handed out to the threads: a few pages, so a thread streams each chunk
// as one run while the last chunks even out the threads' finishing times.
constexpr size_t kChunkBytes = 8 * 1024;

// Calls fn(r0, r1) on row ranges that cover [0, rows) once, spread over the pool.
template <class RangeFn>
void for_rows(int64_t rows, size_t row_bytes, ThreadPool& pool, RangeFn fn) {
    if (pool.size() == 1 || static_cast<size_t>(rows) * row_bytes < kMinParallelBytes) {
        fn(int64_t{0}, rows);
        return;
    }
    const RowChunks chunks(&row_bytes, &rows, 1, kChunkBytes);
    for_each_chunk(chunks, pool, [&](size_t, int64_t r0, int64_t r1) { fn(r0, r1); });
}

}  // namespace

int64_t weight_block_size(DType t) {
    switch (t) {
        case DType::F32:
        case DType::F16:
        case DType::BF16: return 1;
        case DType::Q4_0:
        case DType::Q4_1:
        case DType::Q5_0:
        case DType::Q5_1:
        case DType::Q8_0: return kQuantBlockSize;
        case DType::Q4_K:
        case DType::Q6_K: return kSuperBlockSize;
    }
    throw Error("unknown weight type " + std::to_string(static_cast<int>(t)));
}

size_t weight_row_bytes(DType t, int64_t n) {
    if (t != DType::Q4_K && t != DType::Q6_K) return dtype_row_bytes(t, n);
    // core/quant may not know the k-quants yet; their sizes are fixed by ggml.
    if (n < 0 || n % kSuperBlockSize != 0)
        throw Error(std::string(dtype_name(t)) + " row of " + std::to_string(n) +
                    " weights is not a multiple of the 256-weight super-block");
    return static_cast<size_t>(n / kSuperBlockSize) * (t == DType::Q4_K ? kQ4KBlockBytes : kQ6KBlockBytes);
}

void dequantize_weights(DType t, const void* src, float* dst, int64_t n, Isa isa) {
    weight_row_bytes(t, n);
    if (n > 0) kern::table_for(isa).type[kern::slot_of(t)].dequant(src, dst, n);
}

Q8Layout ActivationQ8::layout_for(DType t) {
    switch (weight_block_size(t)) {
        case kQuantBlockSize: return Q8Layout::Block32;
        case kSuperBlockSize: return Q8Layout::Block256;
        default: throw Error(std::string(dtype_name(t)) + " weights take fp32 activations, not Q8");
    }
}

void ActivationQ8::quantize(Q8Layout layout, const float* x, int64_t n, Isa isa, bool pairs) {
    const int64_t block = layout == Q8Layout::Block32 ? kQuantBlockSize : kSuperBlockSize;
    if (n < 0 || n % block != 0)
        throw Error("cannot quantize " + std::to_string(n) + " activations into " + std::to_string(block) +
                    "-value blocks");
    layout_ = layout;
    n_ = n;
    q_.resize(static_cast<size_t>(n));
    d_.resize(static_cast<size_t>(n / block));
    const kern::KernelTable& k = kern::table_for(isa);
    if (layout == Q8Layout::Block32) {
        sum_.resize(d_.size());
        qsum_.resize(d_.size());
        bsum_.clear();
        k.quantize_q8_32(x, n, q_.data(), d_.data(), sum_.data(), qsum_.data());
        // n bytes moved once per activation vector, against rows x n/2 weight bytes that reuse them.
        const int64_t pair_bytes = pairs ? n / 64 * 64 : 0;
        pairs_.resize(static_cast<size_t>(pair_bytes));
        for (int64_t p = 0; p < pair_bytes; p += 64) {
            const int8_t* a = q_.data() + p;
            int8_t* o = pairs_.data() + p;
            std::memcpy(o, a, 16);
            std::memcpy(o + 16, a + 32, 16);
            std::memcpy(o + 32, a + 16, 16);
            std::memcpy(o + 48, a + 48, 16);
        }
    } else {
        bsum_.resize(static_cast<size_t>(n / 16));
        sum_.clear();
        qsum_.clear();
        pairs_.clear();
        k.quantize_q8_256(x, n, q_.data(), d_.data(), bsum_.data());
    }
}

float ActivationQ8::value(int64_t i) const {
    const int64_t block = layout_ == Q8Layout::Block32 ? kQuantBlockSize : kSuperBlockSize;
    return d_[static_cast<size_t>(i / block)] * static_cast<float>(q_[static_cast<size_t>(i)]);
}

float dot_row(DType t, const void* w_row, const float* x, int64_t n, Isa isa) {
    weight_row_bytes(t, n);
    if (n == 0) return 0.0f;
    return kern::table_for(isa).type[kern::slot_of(t)].dot_f32(w_row, x, n);
}

float dot_row_q8(DType t, const void* w_row, const ActivationQ8& x, Isa isa) {
    check_layout(t, x, x.size());
    if (x.size() == 0) return 0.0f;
    return kern::table_for(isa).type[kern::slot_of(t)].dot_q8(w_row, kern::q8_view(x), x.size());
}

void matvec(DType t, const void* w, int64_t rows, int64_t cols, const float* x, float* y, ThreadPool& pool, Isa isa,
            ActivationMode mode) {
    kern::check_shape("matvec", rows, cols);
    if (dtype_is_quantized(t) && mode == ActivationMode::Q8) {
        ActivationQ8 xq;
        xq.quantize(ActivationQ8::layout_for(t), x, cols, isa);
        matvec(t, w, rows, cols, xq, y, pool, isa);
        return;
    }
    const size_t rb = weight_row_bytes(t, cols);
    const auto dot = kern::table_for(isa).type[kern::slot_of(t)].dot_f32;
    const auto* base = static_cast<const uint8_t*>(w);
    for_rows(rows, rb, pool, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) y[r] = cols == 0 ? 0.0f : dot(base + r * rb, x, cols);
    });
}

void matvec_batch(const std::vector<MatvecJob>& jobs, ThreadPool& pool, Isa isa, MatvecScratch* scratch) {
    const kern::KernelTable& k = kern::table_for(isa);
    std::vector<ActivationQ8> own;
    std::vector<ActivationQ8>& xq = scratch != nullptr ? scratch->inputs : own;
    if (xq.size() < jobs.size()) xq.resize(jobs.size());
    // The unit a thread takes is a row, or a group of eight rows in the eight-row layout.
    std::vector<size_t> unit_bytes(jobs.size());
    std::vector<int64_t> units(jobs.size());
    size_t total = 0;
    for (size_t j = 0; j < jobs.size(); ++j) {
        const MatvecJob& job = jobs[j];
        kern::check_shape("matvec", job.rows, job.cols);
        const size_t rb = weight_row_bytes(job.type, job.cols);
        const bool grouped = job.layout == RowLayout::rows8;
        if (grouped && !has_rows8_layout(job.type))
            throw Error(std::string("matvec: no eight-row layout for ") + dtype_name(job.type));
        unit_bytes[j] = grouped ? rb * kRowsPerGroup : rb;
        units[j] = grouped ? rows8_groups(job.rows) : job.rows;
        if (job.cols == 0) std::fill(job.y, job.y + job.rows, 0.0f);  // no bytes, so no thread would take it
        // The pair order only for the kernels that read it (row-major q4_0).
        const bool pairs = job.type == DType::Q4_0 && !grouped;
        if (dtype_is_quantized(job.type))
            xq[j].quantize(ActivationQ8::layout_for(job.type), job.x, job.cols, isa, pairs);
        total += unit_bytes[j] * static_cast<size_t>(units[j]);
    }
    // Units [u0, u1) of job j.
    const auto run = [&](size_t j, int64_t u0, int64_t u1) {
        const MatvecJob& job = jobs[j];
        const auto* base = static_cast<const uint8_t*>(job.w);
        const size_t ub = unit_bytes[j];
        if (job.cols == 0) {
            return;
        } else if (job.layout == RowLayout::rows8) {
            const kern::Q8View v = kern::q8_view(xq[j]);
            const auto dot = job.type == DType::Q8_0 ? k.dot_q8_q8_0_rows8 : k.dot_q8_q4_0_rows8;
            for (int64_t g = u0; g < u1; ++g) {
                const int64_t r0 = g * kRowsPerGroup;
                if (r0 + kRowsPerGroup <= job.rows) {
                    dot(base + static_cast<size_t>(g) * ub, v, job.cols, job.y + r0);
                } else {  // the padded last group
                    float y[kRowsPerGroup];
                    dot(base + static_cast<size_t>(g) * ub, v, job.cols, y);
                    std::copy(y, y + (job.rows - r0), job.y + r0);
                }
            }
        } else if (dtype_is_quantized(job.type)) {
            const auto dot = k.type[kern::slot_of(job.type)].dot_q8;
            const kern::Q8View v = kern::q8_view(xq[j]);
            for (int64_t r = u0; r < u1; ++r) job.y[r] = dot(base + r * ub, v, job.cols);
        } else {
            const auto dot = k.type[kern::slot_of(job.type)].dot_f32;
            for (int64_t r = u0; r < u1; ++r) job.y[r] = dot(base + r * ub, job.x, job.cols);
        }
    };
    if (pool.size() == 1 || total < kMinParallelBytes) {
        for (size_t j = 0; j < jobs.size(); ++j) run(j, 0, units[j]);
        return;
    }
    const RowChunks chunks(unit_bytes.data(), units.data(), jobs.size(), kChunkBytes);
    for_each_chunk(chunks, pool, [&](size_t j, int64_t u0, int64_t u1) { run(j, u0, u1); });
}

void matvec(DType t, const void* w, int64_t rows, int64_t cols, const ActivationQ8& x, float* y, ThreadPool& pool,
            Isa isa) {
    kern::check_shape("matvec", rows, cols);
    check_layout(t, x, cols);
    const size_t rb = weight_row_bytes(t, cols);
    const auto dot = kern::table_for(isa).type[kern::slot_of(t)].dot_q8;
    const kern::Q8View v = kern::q8_view(x);
    const auto* base = static_cast<const uint8_t*>(w);
    for_rows(rows, rb, pool, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) y[r] = cols == 0 ? 0.0f : dot(base + r * rb, v, cols);
    });
}

}  // namespace rwkv
