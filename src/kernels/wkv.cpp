#include "kernels/wkv.h"

#include "kernels/wkv_head.h"

#include <algorithm>
#include <cmath>
#include <span>

namespace rwkv {

void wkv4_reference(int64_t T, int64_t C, const float* w, const float* u, const float* k, const float* v, float* aa,
                    float* bb, float* pp, float* y) {
    kern::wkv4_channels_scalar(T, C, C, w, u, k, v, aa, bb, pp, y);
}

namespace kern {

void wkv4_channels_scalar(int64_t T, int64_t C, int64_t n, const float* w, const float* u, const float* k,
                          const float* v, float* aa, float* bb, float* pp, float* y) {
    for (int64_t t = 0; t < T; ++t) {
        const float* kt = k + t * C;
        const float* vt = v + t * C;
        float* yt = y + t * C;
        for (int64_t c = 0; c < n; ++c) {
            // Output: the bonus u applies to the current token only.
            const float ww = u[c] + kt[c];
            float p = std::max(pp[c], ww);
            float e1 = std::exp(pp[c] - p);
            float e2 = std::exp(ww - p);
            yt[c] = (e1 * aa[c] + e2 * vt[c]) / (e1 * bb[c] + e2);
            // State: decay the past by w, add the current token.
            const float wd = w[c] + pp[c];
            p = std::max(wd, kt[c]);
            e1 = std::exp(wd - p);
            e2 = std::exp(kt[c] - p);
            aa[c] = e1 * aa[c] + e2 * vt[c];
            bb[c] = e1 * bb[c] + e2;
            pp[c] = p;
        }
    }
}

}  // namespace kern

void wkv5_reference(int64_t T, int64_t H, int64_t N, const float* r, const float* k, const float* v, const float* w,
                    int64_t w_row_stride, const float* u, float* s, float* y) {
    const int64_t C = H * N;
    for (int64_t t = 0; t < T; ++t) {
        const float* wt = w + t * w_row_stride;
        for (int64_t h = 0; h < H; ++h) {
            const int64_t o = t * C + h * N;
            float* sh = s + h * N * N;
            float* yh = y + o;
            for (int64_t j = 0; j < N; ++j) yh[j] = 0;
            for (int64_t i = 0; i < N; ++i) {
                const float ri = r[o + i], ki = k[o + i], ui = u[h * N + i], wi = wt[h * N + i];
                float* si = sh + i * N;
                for (int64_t j = 0; j < N; ++j) {
                    const float a = ki * v[o + j];
                    yh[j] += ri * (ui * a + si[j]);
                    si[j] = a + wi * si[j];
                }
            }
        }
    }
}

void wkv7_reference(int64_t T, int64_t H, int64_t N, const float* r, const float* w, const float* k, const float* v,
                    const float* kk, const float* a, float* s, float* y) {
    const int64_t C = H * N;
    for (int64_t h = 0; h < H; ++h)
        kern::wkv7_head_scalar(T, C, N, r + h * N, w + h * N, k + h * N, v + h * N, kk + h * N, a + h * N,
                               s + h * N * N, y + h * N);
}

namespace kern {

void wkv7_head_scalar(int64_t T, int64_t C, int64_t N, const float* r, const float* w, const float* k,
                      const float* v, const float* kk, const float* a, float* s, float* y) {
    for (int64_t t = 0; t < T; ++t) {
        const int64_t o = t * C;
        for (int64_t i = 0; i < N; ++i) {
            float* si = s + i * N;
            float sa = 0;
            for (int64_t j = 0; j < N; ++j) sa -= si[j] * kk[o + j];
            const float vi = v[o + i];
            float yi = 0;
            for (int64_t j = 0; j < N; ++j) {
                si[j] = si[j] * w[o + j] + sa * kk[o + j] * a[o + j] + vi * k[o + j];
                yi += si[j] * r[o + j];
            }
            y[o + i] = yi;
        }
    }
}

}  // namespace kern

namespace {

// Below this many state updates (T·H·N² multiply-adds) the heads run on the caller: one token of a small
// model is less work than handing heads to other threads and waiting for them.
constexpr int64_t kMinParallelUpdates = 32768;

// Heads are independent, and so are sequences: each (span, head) pair is a unit of work, and the thread that
// takes one walks that span's time axis for that head.
template <class HeadFn>
void for_heads(std::span<const WkvSpan> spans, int64_t H, int64_t N, ThreadPool& pool, HeadFn fn) {
    int64_t rows = 0;
    for (const WkvSpan& sp : spans) rows += sp.T;
    const size_t units = spans.size() * static_cast<size_t>(H);
    const auto run = [&](size_t begin, size_t end) {
        for (size_t u = begin; u < end; ++u) fn(u / static_cast<size_t>(H), static_cast<int64_t>(u % static_cast<size_t>(H)));
    };
    if (pool.size() == 1 || units == 1 || rows * H * N * N < kMinParallelUpdates) return run(0, units);
    pool.parallel_for(units, run);
}

}  // namespace

namespace kern {

void wkv5_head_scalar(int64_t T, int64_t C, int64_t N, const float* r, const float* k, const float* v,
                      const float* w, int64_t w_row_stride, const float* u, float* s, float* y) {
    // One head is a one-head call of the reference with the head's offsets and the full row strides.
    for (int64_t t = 0; t < T; ++t) {
        const int64_t o = t * C;
        const float* wt = w + t * w_row_stride;
        float* yh = y + o;
        for (int64_t j = 0; j < N; ++j) yh[j] = 0;
        for (int64_t i = 0; i < N; ++i) {
            const float ri = r[o + i], ki = k[o + i], ui = u[i], wi = wt[i];
            float* si = s + i * N;
            for (int64_t j = 0; j < N; ++j) {
                const float av = ki * v[o + j];
                yh[j] += ri * (ui * av + si[j]);
                si[j] = av + wi * si[j];
            }
        }
    }
}

}  // namespace kern

void wkv5(std::span<const WkvSpan> spans, int64_t H, int64_t N, const float* r, const float* k, const float* v,
          const float* w, int64_t w_row_stride, const float* u, float* y, ThreadPool& pool, Isa isa) {
    const int64_t C = H * N;
#ifdef RWKV_KERNELS_AVX2
    const auto head = clamp_isa(isa) >= Isa::Avx2 ? kern::wkv5_head_avx2 : kern::wkv5_head_scalar;
#else
    (void)isa;
    const auto head = kern::wkv5_head_scalar;
#endif
    for_heads(spans, H, N, pool, [&](size_t i, int64_t h) {
        const WkvSpan& sp = spans[i];
        const int64_t o = sp.row * C + h * N;
        head(sp.T, C, N, r + o, k + o, v + o, w + sp.row * w_row_stride + h * N, w_row_stride, u + h * N,
             sp.s + h * N * N, y + o);
    });
}

void wkv5(int64_t T, int64_t H, int64_t N, const float* r, const float* k, const float* v, const float* w,
          int64_t w_row_stride, const float* u, float* s, float* y, ThreadPool& pool, Isa isa) {
    const WkvSpan one{0, T, s};
    wkv5({&one, 1}, H, N, r, k, v, w, w_row_stride, u, y, pool, isa);
}

void wkv4(std::span<const WkvSpan> spans, int64_t C, const float* w, const float* u, const float* k, const float* v,
          float* y, ThreadPool& pool, Isa isa) {
#ifdef RWKV_KERNELS_AVX2
    const auto part = clamp_isa(isa) >= Isa::Avx2 ? kern::wkv4_channels_avx2 : kern::wkv4_channels_scalar;
#else
    (void)isa;
    const auto part = kern::wkv4_channels_scalar;
#endif
    // Channels are independent. Split in runs of 8 (whole vectors) per span and only when there is enough work
    // (tokens × C updates) to pay for waking the pool: one token of a small model is not.
    const int64_t groups = (C + 7) / 8;
    int64_t rows = 0;
    for (const WkvSpan& sp : spans) rows += sp.T;
    const auto run = [&](size_t begin, size_t end) {
        for (size_t u0 = begin; u0 < end;) {
            const size_t i = u0 / static_cast<size_t>(groups);
            const int64_t g0 = static_cast<int64_t>(u0 % static_cast<size_t>(groups));
            const int64_t g1 = std::min(groups, g0 + static_cast<int64_t>(end - u0));
            const WkvSpan& sp = spans[i];
            const int64_t c0 = 8 * g0, n = std::min(C, 8 * g1) - c0, o = sp.row * C + c0;
            float* s = sp.s;  // aa, bb and pp, C each
            part(sp.T, C, n, w + c0, u + c0, k + o, v + o, s + c0, s + C + c0, s + 2 * C + c0, y + o);
            u0 += static_cast<size_t>(g1 - g0);
        }
    };
    const size_t units = spans.size() * static_cast<size_t>(groups);
    if (pool.size() == 1 || rows * C < 8192) return run(0, units);
    pool.parallel_for(units, run);
}

void wkv4(int64_t T, int64_t C, const float* w, const float* u, const float* k, const float* v, float* s, float* y,
          ThreadPool& pool, Isa isa) {
    const WkvSpan one{0, T, s};
    wkv4({&one, 1}, C, w, u, k, v, y, pool, isa);
}

void wkv7(int64_t T, int64_t H, int64_t N, const float* r, const float* w, const float* k, const float* v,
          const float* kk, const float* a, float* s, float* y, ThreadPool& pool, Isa isa) {
    const WkvSpan one{0, T, s};
    wkv7({&one, 1}, H, N, r, w, k, v, kk, a, y, pool, {}, {}, isa);
}

void wkv7(std::span<const WkvSpan> spans, int64_t H, int64_t N, const float* r, const float* w, const float* k,
          const float* v, const float* kk, const float* a, float* y, ThreadPool& pool, const HeadWork& before,
          const HeadWork& after, Isa isa) {
    const int64_t C = H * N;
#ifdef RWKV_KERNELS_AVX2
    const auto head = clamp_isa(isa) >= Isa::Avx2 ? kern::wkv7_head_avx2 : kern::wkv7_head_scalar;
#else
    (void)isa;
    const auto head = kern::wkv7_head_scalar;
#endif
    for_heads(spans, H, N, pool, [&](size_t i, int64_t h) {
        const WkvSpan& sp = spans[i];
        if (before) before(sp, h);
        const int64_t o = sp.row * C + h * N;
        head(sp.T, C, N, r + o, w + o, k + o, v + o, kk + o, a + o, sp.s + h * N * N, y + o);
        if (after) after(sp, h);
    });
}

}  // namespace rwkv
