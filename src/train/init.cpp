#include "train/init.h"

#include <cmath>
#include <random>
#include <string>

#include "rwkv/error.h"

namespace rwkv::train {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// A [rows, cols] matrix with orthonormal rows (rows <= cols) or columns (rows > cols), times gain: modified
// Gram–Schmidt on the longer side's vectors is QR with R's diagonal made positive, as torch.nn.init.orthogonal_.
template <class F>
void orthogonal(F* out, int64_t rows, int64_t cols, double gain, std::mt19937_64& rng) {
    const bool tall = rows > cols;
    const int64_t n = tall ? cols : rows;  // vectors to orthonormalise
    const int64_t m = tall ? rows : cols;  // their length
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<double> q(static_cast<size_t>(n * m));
    for (double& x : q) x = normal(rng);
    for (int64_t i = 0; i < n; ++i) {
        double* qi = &q[i * m];
        for (int64_t j = 0; j < i; ++j) {
            const double* qj = &q[j * m];
            double d = 0;
            for (int64_t t = 0; t < m; ++t) d += qi[t] * qj[t];
            for (int64_t t = 0; t < m; ++t) qi[t] -= d * qj[t];
        }
        double nrm = 0;
        for (int64_t t = 0; t < m; ++t) nrm += qi[t] * qi[t];
        nrm = std::sqrt(nrm);
        for (int64_t t = 0; t < m; ++t) qi[t] /= nrm;
    }
    for (int64_t i = 0; i < n; ++i)
        for (int64_t t = 0; t < m; ++t) {
            const double v = q[i * m + t] * gain;
            if (tall)
                out[t * cols + i] = static_cast<F>(v);
            else
                out[i * cols + t] = static_cast<F>(v);
        }
}

int layer_of(const std::string& name) {
    return name.rfind("blocks.", 0) == 0 ? std::stoi(name.substr(7)) : -1;
}

}  // namespace

template <class F>
void init_params(ParamSet<F>& params, uint64_t seed) {
    const ModelShape& s = params.shape();
    const int64_t C = s.n_embd, V = s.n_vocab, L = s.n_layer, N = s.version == 7 ? s.head_size : 1;
    std::mt19937_64 rng(seed);
    for (Param<F>& p : params.all()) {
        const std::string& n = p.name;
        const int l = layer_of(n);
        const double r0 = L > 1 ? static_cast<double>(l) / static_cast<double>(L - 1) : 0.0;
        const double r1 = 1.0 - static_cast<double>(l) / static_cast<double>(L);
        auto per_channel = [&](auto f) {
            for (int64_t i = 0; i < static_cast<int64_t>(p.size()); ++i) p.value[i] = static_cast<F>(f(i));
        };
        auto d = [&](int64_t i) { return static_cast<double>(i) / static_cast<double>(C); };
        auto linear = [&](int64_t i) { return static_cast<double>(i) / static_cast<double>(C - 1) - 0.5; };
        auto zigzag = [&](int64_t i) {
            const double h = (static_cast<double>(N) - 1) / 2;
            const double z = N > 1 ? (static_cast<double>(i % N) - h) / h : 0.0;
            return z * std::abs(z);
        };
        const int64_t rows = p.shape.size() == 2 ? p.shape[0] : 1, cols = p.shape.back();
        if (n == "emb.weight") {
            std::uniform_real_distribution<double> u(-1e-4, 1e-4);
            for (F& x : p.value) x = static_cast<F>(u(rng));
        } else if (n == "head.weight") {
            orthogonal(p.value.data(), V, C, V > C ? 0.5 * std::sqrt(static_cast<double>(V) / C) : 0.5, rng);
        } else if (contains(n, "ln_x.weight")) {
            per_channel([&](int64_t) { return std::pow((1.0 + l) / static_cast<double>(L), 0.7); });
        } else if (p.role == TensorRole::NormWeight) {
            per_channel([](int64_t) { return 1.0; });
        } else if (p.role == TensorRole::NormBias) {
            per_channel([](int64_t) { return 0.0; });
        } else if (p.role == TensorRole::Projection) {
            double gain = 1.0;
            if (contains(n, ".att.output.") || contains(n, ".ffn.value.") || contains(n, ".ffn.receptance.")) gain = 0;
            if (contains(n, ".att.key.")) gain = 0.1;
            if (gain == 0)
                per_channel([](int64_t) { return 0.0; });
            else
                orthogonal(p.value.data(), rows, cols, gain, rng);
        } else if (s.version == 7) {
            if (ends_with(n, "att.x_r") || ends_with(n, "att.x_g"))
                per_channel([&](int64_t i) { return 1.0 - std::pow(d(i), 0.2 * r1); });
            else if (ends_with(n, "att.x_w") || ends_with(n, "att.x_a"))
                per_channel([&](int64_t i) { return 1.0 - std::pow(d(i), 0.9 * r1); });
            else if (ends_with(n, "att.x_k") || ends_with(n, "att.x_v"))
                per_channel([&](int64_t i) { return 1.0 - std::pow(d(i), 0.7 * r1); });
            else if (ends_with(n, "ffn.x_k"))
                per_channel([&](int64_t i) { return 1.0 - std::pow(d(i), std::pow(r1, 4)); });
            else if (ends_with(n, "att.w0"))
                per_channel([&](int64_t i) {
                    const double www = -6 + 6 * std::pow(static_cast<double>(i) / static_cast<double>(C - 1),
                                                         1 + std::pow(r0, 0.3));
                    return www + 0.5 + zigzag(i) * 2.5;
                });
            else if (ends_with(n, "att.a0"))
                per_channel([&](int64_t i) { return -0.19 + zigzag(i) * 0.3 + linear(i) * 0.4; });
            else if (ends_with(n, "att.v0"))
                per_channel([&](int64_t i) { return 0.73 - linear(i) * 0.4; });
            else if (ends_with(n, "att.k_k"))
                per_channel([&](int64_t i) { return 0.71 - linear(i) * 0.1; });
            else if (ends_with(n, "att.k_a"))
                per_channel([](int64_t) { return 1.02; });
            else if (ends_with(n, "att.r_k"))
                per_channel([](int64_t) { return -0.04; });
            else if (ends_with(n, "1"))  // w1, a1, v1, g1
                per_channel([](int64_t) { return 0.0; });
            else if (ends_with(n, "2"))  // w2, a2, v2, g2 [D, C]: the module's ortho_init(·, 0.1)
                orthogonal(p.value.data(), rows, cols, rows > cols ? 0.1 * std::sqrt(double(rows) / cols) : 0.1, rng);
            else
                throw Error("no initialisation rule for RWKV-7 parameter '" + n + "'");
        } else {
            if (ends_with(n, "att.time_decay"))
                per_channel([&](int64_t i) {
                    return -5 + 8 * std::pow(static_cast<double>(i) / static_cast<double>(C - 1), 0.7 + 1.3 * r0);
                });
            else if (ends_with(n, "att.time_first"))
                per_channel([&](int64_t i) { return std::log(0.3) + 0.5 * static_cast<double>((i + 1) % 3 - 1); });
            else if (ends_with(n, "att.time_mix_k") || ends_with(n, "ffn.time_mix_k") || ends_with(n, "ffn.time_mix_r"))
                per_channel([&](int64_t i) { return std::pow(d(i), r1); });
            else if (ends_with(n, "att.time_mix_v"))
                per_channel([&](int64_t i) { return std::pow(d(i), r1) + 0.3 * r0; });
            else if (ends_with(n, "att.time_mix_r"))
                per_channel([&](int64_t i) { return std::pow(d(i), 0.5 * r1); });
            else
                throw Error("no initialisation rule for RWKV-4 parameter '" + n + "'");
        }
    }
}

template void init_params<float>(ParamSet<float>&, uint64_t);
template void init_params<double>(ParamSet<double>&, uint64_t);

}  // namespace rwkv::train
