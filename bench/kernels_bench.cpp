// Kernel throughput against the machine's limits.
//   read_bandwidth   : sum a 256 MiB array (the memory-bandwidth ceiling a matvec can reach); _prefetch also
//                      prefetches 2 KB ahead like the matvec kernels
//   matvec/TYPE/N    : y = W x for an N x N matrix; bytes/s counts weight bytes. "hot" reuses one matrix (it may
//                      sit in cache); "cold" rotates through copies totalling >= 1 GiB, as generation over a
//                      real model does.
//   matvec/q4_0_rows8/... : the same for q4_0 in the eight-row layout that models load it in (kernels/rows8.h)
//   matvec/TYPE/RxC/cold : the same for the channel mix's shapes at n_embd 2048 ([8192, 2048], [2048, 8192]) and
//                      5120 (RWKV-4 14B: [20480, 5120], [5120, 20480])
//   matmul/TYPE/N    : Y = X Wᵀ with T = 512 tokens; items/s = FLOP/s (2 * N * N * T per call)
//   gemm_ref/N       : the previous fp32 Matrix::matmul (row-dot loop), the baseline the GEMM replaces
//   fma_peak         : register-only FMA loop, the per-core fp32 ceiling
//   BM_sgemm/FORM/out:O/in:I : the three fp32 products of training a linear layer [out, in] over T = 2048
//                      tokens (fwd NT: Y = X·Wᵀ; dx NN: dX += dY·W; dw TN: dW += dYᵀ·X); GFLOP/s = 2·M·N·K / time
// Each runs on 1 and 2 threads (ThreadPool). Build: cmake --build BUILD --target kernels_bench.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/quant.h"
#include "core/quant_k.h"
#include "kernels/dot.h"
#include "kernels/matrix.h"
#include "kernels/rows8.h"
#include "kernels/sgemm.h"

namespace {

using rwkv::DType;

const DType kTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0, DType::Q4_0,
                        DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q6_K};

std::vector<float> gaussian(int64_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.5f);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = nd(rng);
    return v;
}

std::vector<uint8_t> encode(DType t, int64_t rows, int64_t cols) {
    const std::vector<float> src = gaussian(rows * cols, 1);
    const size_t rb = rwkv::weight_row_bytes(t, cols);
    std::vector<uint8_t> out(rb * static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
        const float* s = src.data() + r * cols;
        uint8_t* d = out.data() + r * rb;
        if (t == DType::Q4_K)
            rwkv::quantize_row_q4_k(s, d, cols);
        else if (t == DType::Q6_K)
            rwkv::quantize_row_q6_k(s, d, cols);
        else
            rwkv::quantize_row(t, s, d, cols);
    }
    return out;
}

// `prefetch`: also request data 2 KB ahead, as the matvec kernels do; the plain loop leaves it to hardware.
void read_bandwidth(benchmark::State& state, bool prefetch) {
    const size_t n = (256u << 20) / sizeof(uint64_t);
    std::vector<uint64_t> a(n, 1);
    rwkv::ThreadPool pool(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        uint64_t parts[8] = {};
        pool.parallel_for(n / 4096, [&](size_t b, size_t e) {
            uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (size_t i = b * 4096; i < e * 4096; i += 4) {
                if (prefetch && i % 8 == 0) _mm_prefetch(reinterpret_cast<const char*>(&a[i]) + 2048, _MM_HINT_T0);
                s0 += a[i];
                s1 += a[i + 1];
                s2 += a[i + 2];
                s3 += a[i + 3];
            }
            parts[b * 8 / (n / 4096)] += s0 + s1 + s2 + s3;
        });
        benchmark::DoNotOptimize(parts);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n * sizeof(uint64_t)));
}

void matvec_bench(benchmark::State& state, DType t, int64_t rows, int64_t n, bool cold, rwkv::RowLayout layout) {
    std::vector<uint8_t> one = encode(t, rows, n);
    if (layout == rwkv::RowLayout::rows8) {
        std::vector<uint8_t> grouped(rwkv::rows8_bytes(t, rows, n));
        rwkv::interleave_rows8(t, one.data(), rows, n, grouped.data());
        one = std::move(grouped);
    }
    // Cold: enough copies that no cache level holds them; each call reads the next copy.
    const size_t copies = cold ? std::max<size_t>(2, (size_t{1} << 30) / one.size() + 1) : 1;
    std::vector<uint8_t> w(one.size() * copies);
    for (size_t c = 0; c < copies; ++c) std::memcpy(w.data() + c * one.size(), one.data(), one.size());
    const std::vector<float> x = gaussian(n, 2);
    std::vector<float> y(static_cast<size_t>(rows));
    rwkv::ThreadPool pool(static_cast<int>(state.range(0)));
    size_t c = 0;
    for (auto _ : state) {
        if (layout == rwkv::RowLayout::rows8)
            rwkv::matvec_batch({{t, w.data() + c * one.size(), rows, n, x.data(), y.data(), layout}}, pool);
        else
            rwkv::matvec(t, w.data() + c * one.size(), rows, n, x.data(), y.data(), pool);
        benchmark::DoNotOptimize(y.data());
        c = (c + 1) % copies;
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(one.size()));
}

void matmul_bench(benchmark::State& state, DType t, int64_t n) {
    const int64_t T = 512;
    const std::vector<uint8_t> w = encode(t, n, n);
    const std::vector<float> X = gaussian(T * n, 3);
    std::vector<float> Y(static_cast<size_t>(T * n));
    rwkv::ThreadPool pool(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        rwkv::matmul(t, w.data(), n, n, X.data(), T, Y.data(), pool);
        benchmark::DoNotOptimize(Y.data());
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 2 * n * n * T);
}

void gemm_ref_bench(benchmark::State& state, int64_t n) {
    const int64_t T = 512;
    const rwkv::Matrix m(n, n, gaussian(n * n, 4));
    const std::vector<float> X = gaussian(T * n, 5);
    std::vector<float> Y(static_cast<size_t>(T * n));
    rwkv::ThreadPool pool(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        m.matmul(X.data(), T, Y.data(), pool);
        benchmark::DoNotOptimize(Y.data());
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 2 * n * n * T);
}

// One training product of a linear layer [out, in] over T tokens; `form` picks which (see the top comment).
void sgemm_bench(benchmark::State& state, int form, int64_t out, int64_t in) {
    const int64_t T = 2048;
    struct Shape {
        bool ta, tb;
        int64_t M, N, K;
        float beta;
    };
    const Shape shapes[] = {{false, true, T, out, in, 0.0f}, {false, false, T, in, out, 1.0f},
                            {true, false, out, in, T, 1.0f}};
    const Shape s = shapes[form];
    const int64_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
    const std::vector<float> A = gaussian(s.M * s.K, 6), B = gaussian(s.K * s.N, 7);
    std::vector<float> C(static_cast<size_t>(s.M * s.N), 0.0f);
    rwkv::ThreadPool pool(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        rwkv::sgemm(s.ta, s.tb, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, s.beta, C.data(), s.N, pool);
        benchmark::DoNotOptimize(C.data());
    }
    state.counters["GFLOP/s"] = benchmark::Counter(
        static_cast<double>(state.iterations()) * 2e-9 * static_cast<double>(s.M * s.N * s.K),
        benchmark::Counter::kIsRate);
}

// 12 independent FMA chains (enough to cover latency x ports) on one thread; returns FLOPs done.
__attribute__((target("avx2,fma"))) float fma_chains(int64_t iters) {
    __m256 acc[12];
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
    const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
    for (int64_t k = 0; k < iters; ++k)
        for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __m256 s = acc[0];
    for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0];
}

void fma_peak(benchmark::State& state) {
    const int64_t iters = 1 << 20;
    rwkv::ThreadPool pool(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        pool.parallel_for(static_cast<size_t>(pool.size()), [&](size_t, size_t) {
            float r = fma_chains(iters);
            benchmark::DoNotOptimize(r);
        });
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * iters * 12 * 16 * pool.size());
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    benchmark::RegisterBenchmark("read_bandwidth", read_bandwidth, false)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();
    benchmark::RegisterBenchmark("read_bandwidth_prefetch", read_bandwidth, true)
        ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();
    if (rwkv::detected_isa() >= rwkv::Isa::Avx2)
        benchmark::RegisterBenchmark("fma_peak", fma_peak)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();
    const auto layout_name = [](DType t, rwkv::RowLayout layout) {
        return std::string(rwkv::dtype_name(t)) + (layout == rwkv::RowLayout::rows8 ? "_rows8" : "");
    };
    for (int64_t n : {2048, 768}) {
        for (DType t : kTypes) {
            for (rwkv::RowLayout layout : {rwkv::RowLayout::plain, rwkv::RowLayout::rows8}) {
                if (layout == rwkv::RowLayout::rows8 && !rwkv::has_rows8_layout(t)) continue;
                for (bool cold : {false, true}) {
                    const std::string name = "matvec/" + layout_name(t, layout) + "/" + std::to_string(n) +
                                             (cold ? "/cold" : "/hot");
                    benchmark::RegisterBenchmark(name.c_str(), matvec_bench, t, n, n, cold, layout)
                        ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();
                }
            }
        }
    }
    // The channel mix's shapes at n_embd 2048 and 5120: key [4C, C] and value [C, 4C], whose long input rows
    // (32 KB of fp32 at 2048; 20 KB of Q8 at 5120) crowd a core's L1.
    for (const auto& [rows, cols] : {std::pair<int64_t, int64_t>{8192, 2048}, {2048, 8192}, {20480, 5120}, {5120, 20480}}) {
        for (const auto& [t, layout] : {std::pair{DType::F16, rwkv::RowLayout::plain}, {DType::Q8_0, rwkv::RowLayout::plain},
                                        {DType::Q4_0, rwkv::RowLayout::plain}, {DType::Q4_0, rwkv::RowLayout::rows8}}) {
            const std::string name =
                "matvec/" + layout_name(t, layout) + "/" + std::to_string(rows) + "x" + std::to_string(cols) + "/cold";
            benchmark::RegisterBenchmark(name.c_str(), matvec_bench, t, rows, cols, true, layout)
                ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();
        }
    }
    for (int64_t n : {768, 2048}) {
        for (DType t : kTypes) {
            const std::string name = std::string("matmul/") + rwkv::dtype_name(t) + "/" + std::to_string(n) + "/T:512";
            benchmark::RegisterBenchmark(name.c_str(), matmul_bench, t, n)
                ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
        }
        benchmark::RegisterBenchmark(("gemm_ref/f32/" + std::to_string(n) + "/T:512").c_str(), gemm_ref_bench, n)
            ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
    }
    const char* const kSgemmForms[] = {"fwd_NT", "dx_NN", "dw_TN"};
    for (const auto& [out, in] : {std::pair<int64_t, int64_t>{384, 384}, {1536, 384}}) {
        for (int form = 0; form < 3; ++form) {
            const std::string name = std::string("BM_sgemm/") + kSgemmForms[form] + "/out:" + std::to_string(out) +
                                     "/in:" + std::to_string(in);
            benchmark::RegisterBenchmark(name.c_str(), sgemm_bench, form, out, in)
                ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
        }
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
