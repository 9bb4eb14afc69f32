// The WKV recurrences with AVX2/FMA, built with -mavx2 -mfma and entered only on a CPU that has them (wkv.cpp
// dispatches).
//   v7, one head: the two reductions per state row (s·(−kk) and s·r) are what keep the plain loop scalar:
//       without reassociation the compiler cannot vectorise them, so here they run in 8-lane partial sums.
//   v4, 8 channels: four exp() per channel and token are what the plain loop spends its time on (libm's
//       scalar expf); here exp8 (exp_avx2.h), with the state held in registers across the tokens.
#include <immintrin.h>

#include <cstdint>

#include "kernels/exp_avx2.h"
#include "kernels/wkv_head.h"

namespace rwkv::kern {

namespace {

float hsum(__m256 v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

}  // namespace

void wkv4_channels_avx2(int64_t T, int64_t C, int64_t n, const float* w, const float* u, const float* k,
                        const float* v, float* aa, float* bb, float* pp, float* y) {
    const int64_t nv = n - n % 8;
    for (int64_t c = 0; c < nv; c += 8) {
        __m256 a = _mm256_loadu_ps(aa + c), b = _mm256_loadu_ps(bb + c), p = _mm256_loadu_ps(pp + c);
        const __m256 wc = _mm256_loadu_ps(w + c), uc = _mm256_loadu_ps(u + c);
        for (int64_t t = 0; t < T; ++t) {
            const __m256 kt = _mm256_loadu_ps(k + t * C + c), vt = _mm256_loadu_ps(v + t * C + c);
            // The reference's order of operations, products and sums unfused; only exp differs.
            const __m256 ww = _mm256_add_ps(uc, kt);
            __m256 q = _mm256_max_ps(p, ww);
            __m256 e1 = exp8(_mm256_sub_ps(p, q)), e2 = exp8(_mm256_sub_ps(ww, q));
            const __m256 num = _mm256_add_ps(_mm256_mul_ps(e1, a), _mm256_mul_ps(e2, vt));
            _mm256_storeu_ps(y + t * C + c, _mm256_div_ps(num, _mm256_add_ps(_mm256_mul_ps(e1, b), e2)));
            const __m256 wd = _mm256_add_ps(wc, p);
            q = _mm256_max_ps(wd, kt);
            e1 = exp8(_mm256_sub_ps(wd, q));
            e2 = exp8(_mm256_sub_ps(kt, q));
            a = _mm256_add_ps(_mm256_mul_ps(e1, a), _mm256_mul_ps(e2, vt));
            b = _mm256_add_ps(_mm256_mul_ps(e1, b), e2);
            p = q;
        }
        _mm256_storeu_ps(aa + c, a);
        _mm256_storeu_ps(bb + c, b);
        _mm256_storeu_ps(pp + c, p);
    }
    if (nv < n)
        wkv4_channels_scalar(T, C, n - nv, w + nv, u + nv, k + nv, v + nv, aa + nv, bb + nv, pp + nv, y + nv);
}

void wkv5_head_avx2(int64_t T, int64_t C, int64_t N, const float* r, const float* k, const float* v,
                    const float* w, int64_t w_row_stride, const float* u, float* s, float* y) {
    // Vectorised over the value index j, where the reference's inner loop has no reduction: the same
    // operations per element, unfused, so every path gives the reference's bits.
    const int64_t nv = N - N % 8;
    for (int64_t t = 0; t < T; ++t) {
        const int64_t o = t * C;
        const float* wt = w + t * w_row_stride;
        float* yh = y + o;
        for (int64_t j = 0; j < N; ++j) yh[j] = 0;
        for (int64_t i = 0; i < N; ++i) {
            const float ri = r[o + i], ki = k[o + i], ui = u[i], wi = wt[i];
            const __m256 rv = _mm256_set1_ps(ri), kv = _mm256_set1_ps(ki), uv = _mm256_set1_ps(ui),
                         wv = _mm256_set1_ps(wi);
            float* si = s + i * N;
            int64_t j = 0;
            for (; j < nv; j += 8) {
                const __m256 av = _mm256_mul_ps(kv, _mm256_loadu_ps(v + o + j));
                const __m256 sj = _mm256_loadu_ps(si + j);
                const __m256 add = _mm256_mul_ps(rv, _mm256_add_ps(_mm256_mul_ps(uv, av), sj));
                _mm256_storeu_ps(yh + j, _mm256_add_ps(_mm256_loadu_ps(yh + j), add));
                _mm256_storeu_ps(si + j, _mm256_add_ps(av, _mm256_mul_ps(wv, sj)));
            }
            for (; j < N; ++j) {
                const float av = ki * v[o + j];
                yh[j] += ri * (ui * av + si[j]);
                si[j] = av + wi * si[j];
            }
        }
    }
}

void wkv7_head_avx2(int64_t T, int64_t C, int64_t N, const float* r, const float* w, const float* k, const float* v,
                    const float* kk, const float* a, float* s, float* y) {
    const int64_t nv = N - N % 8;
    for (int64_t t = 0; t < T; ++t) {
        const int64_t o = t * C;
        for (int64_t i = 0; i < N; ++i) {
            float* si = s + i * N;
            __m256 acc = _mm256_setzero_ps();
            int64_t j = 0;
            for (; j < nv; j += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(si + j), _mm256_loadu_ps(kk + o + j), acc);
            float sa = -hsum(acc);
            for (; j < N; ++j) sa -= si[j] * kk[o + j];
            const float vi = v[o + i];
            const __m256 sav = _mm256_set1_ps(sa), viv = _mm256_set1_ps(vi);
            __m256 yacc = _mm256_setzero_ps();
            for (j = 0; j < nv; j += 8) {
                const __m256 b = _mm256_mul_ps(_mm256_loadu_ps(kk + o + j), _mm256_loadu_ps(a + o + j));
                __m256 sj = _mm256_mul_ps(_mm256_loadu_ps(si + j), _mm256_loadu_ps(w + o + j));
                sj = _mm256_fmadd_ps(sav, b, sj);
                sj = _mm256_fmadd_ps(viv, _mm256_loadu_ps(k + o + j), sj);
                _mm256_storeu_ps(si + j, sj);
                yacc = _mm256_fmadd_ps(sj, _mm256_loadu_ps(r + o + j), yacc);
            }
            float yi = hsum(yacc);
            for (; j < N; ++j) {
                si[j] = si[j] * w[o + j] + sa * kk[o + j] * a[o + j] + vi * k[o + j];
                yi += si[j] * r[o + j];
            }
            y[o + i] = yi;
        }
    }
}

}  // namespace rwkv::kern
