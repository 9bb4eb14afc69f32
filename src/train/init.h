#pragma once
// Initial weights as the official RWKV trainers make them (RWKV-LM: RWKV-v7/train_temp and RWKV-v4neo, the module
// constructors plus generate_init_weight). The rules, per tensor:
//   emb.weight           uniform(±1e-4) — "small init embedding", made usable by blocks.0.ln0
//   head.weight          orthogonal, gain 0.5·sqrt(V/C) when V > C, else 0.5
//   att.output, ffn.value (and v4's ffn.receptance)   zero: every block starts as the identity
//   att.key              orthogonal, gain 0.1; every other projection orthogonal, gain 1
//   LayerNorm weight 1, bias 0; v7 ln_x.weight ((1+layer)/L)^0.7
//   v7 (with r0 = l/(L−1), r1 = 1 − l/L, d_i = i/C):
//     x_r, x_g = 1 − d^(0.2·r1); x_w, x_a = 1 − d^(0.9·r1); x_k, x_v = 1 − d^(0.7·r1); ffn.x_k = 1 − d^(r1^4)
//     w0 = −6 + 6·(i/(C−1))^(1 + r0^0.3) + 0.5 + 2.5·zigzag; a0 = −0.19 + 0.3·zigzag + 0.4·linear;
//     v0 = 0.73 − 0.4·linear; k_k = 0.71 − 0.1·linear; k_a = 1.02; r_k = −0.04
//     (linear_i = i/(C−1) − 0.5; zigzag_i = z·|z| with z = ((i mod N) − (N−1)/2)/((N−1)/2))
//     LoRA down matrices (w1, a1, v1, g1) zero; up matrices (w2, a2, v2, g2) orthogonal, gain 0.1
//   v4: time_decay = −5 + 8·(i/(C−1))^(0.7 + 1.3·r0); time_first = ln 0.3 + 0.5·((i+1) mod 3 − 1);
//     time_mix_k = d^r1; time_mix_v = d^r1 + 0.3·r0; time_mix_r = d^(0.5·r1); ffn.time_mix_k/r = d^r1
// Orthogonal matrices are PyTorch's recipe (QR of a Gaussian matrix, signs fixed by R's diagonal) on our own
// seeded generator, so a seed reproduces a model exactly here, though not PyTorch's numbers.
#include <cstdint>

#include "train/params.h"

namespace rwkv::train {

template <class F>
void init_params(ParamSet<F>& params, uint64_t seed);

}  // namespace rwkv::train
