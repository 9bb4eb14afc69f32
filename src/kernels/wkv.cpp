#include "kernels/wkv.h"

#include <algorithm>
#include <cmath>

namespace rwkv {

void wkv4(int64_t T, int64_t C, const float* w, const float* u, const float* k, const float* v, float* aa, float* bb,
          float* pp, float* y) {
    for (int64_t t = 0; t < T; ++t) {
        const float* kt = k + t * C;
        const float* vt = v + t * C;
        float* yt = y + t * C;
        for (int64_t c = 0; c < C; ++c) {
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

void wkv5(int64_t T, int64_t H, int64_t N, const float* r, const float* k, const float* v, const float* w,
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

void wkv7(int64_t T, int64_t H, int64_t N, const float* r, const float* w, const float* k, const float* v,
          const float* kk, const float* a, float* s, float* y) {
    const int64_t C = H * N;
    for (int64_t t = 0; t < T; ++t) {
        for (int64_t h = 0; h < H; ++h) {
            const int64_t o = t * C + h * N;
            float* sh = s + h * N * N;
            for (int64_t i = 0; i < N; ++i) {
                float* si = sh + i * N;
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
}

}  // namespace rwkv
