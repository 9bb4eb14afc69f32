// AdamW as torch.optim.AdamW computes it (decoupled decay, then Adam with bias correction), so a run here and a
// run of the official RWKV trainer step the same way from the same gradients. Which parameters decay is the
// caller's choice (ParamRef::decay); the official trainer decays the 2-D projection weights only.
#include "train/adamw.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <unordered_map>

#include "rwkv/error.h"

namespace rwkv::train {
namespace {

constexpr char kMagic[8] = {'R', 'W', 'K', 'V', 'A', 'D', 'A', 'M'};
constexpr uint32_t kVersion = 1;

void check_schedule(const std::string& s) {
    if (s != "cosine" && s != "linear" && s != "constant")
        throw Error("unknown learning-rate schedule '" + s + "' (expected cosine, linear or constant)");
}

// The state blob is written in the machine's byte order; every machine we build for is little-endian. The
// writer fills a buffer sized in advance, so a large model's moments are copied once.
class Writer {
public:
    explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
    void bytes(const void* data, size_t n) {
        if (n) std::memcpy(out_.data() + pos_, data, n);
        pos_ += n;
    }
    template <class T>
    void put(const T& v) {
        bytes(&v, sizeof(T));
    }

private:
    std::vector<uint8_t>& out_;
    size_t pos_ = 0;
};

// Bounds-checked reader: every read names what it was reading, so a truncated file says where it ended.
class Reader {
public:
    Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

    void bytes(void* dst, size_t n, const std::string& what) {
        if (n > size_ - pos_)
            throw Error("optimizer state truncated while reading " + what + " (" + std::to_string(size_) +
                        " bytes in all)");
        if (n) std::memcpy(dst, data_ + pos_, n);
        pos_ += n;
    }
    template <class T>
    T get(const std::string& what) {
        T v;
        bytes(&v, sizeof(T), what);
        return v;
    }
    size_t left() const { return size_ - pos_; }

private:
    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
};

// In double: a float running sum over millions of squares would drop the small ones.
// Four independent partial sums keep the adds from waiting on each other; the order is fixed, so the result is
// the same on every run.
double sum_squares(const float* g, size_t n) {
    double s[4] = {0, 0, 0, 0};
    size_t j = 0;
    for (; j + 4 <= n; j += 4)
        for (size_t k = 0; k < 4; ++k) s[k] += static_cast<double>(g[j + k]) * g[j + k];
    for (; j < n; ++j) s[0] += static_cast<double>(g[j]) * g[j];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

}  // namespace

double learning_rate(const AdamWConfig& cfg, int64_t step) {
    check_schedule(cfg.schedule);
    step = std::max<int64_t>(step, 0);
    if (step < cfg.warmup_steps)
        return cfg.lr * static_cast<double>(step) / static_cast<double>(cfg.warmup_steps);
    // No room for a decay (total_steps unset or inside the warm-up): hold the peak.
    if (cfg.schedule == "constant" || cfg.total_steps <= cfg.warmup_steps) return cfg.lr;
    if (step >= cfg.total_steps) return cfg.lr_final;
    const double progress = static_cast<double>(step - cfg.warmup_steps) /
                            static_cast<double>(cfg.total_steps - cfg.warmup_steps);
    if (cfg.schedule == "linear") return cfg.lr + (cfg.lr_final - cfg.lr) * progress;
    return cfg.lr_final + (cfg.lr - cfg.lr_final) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

void check_config(const AdamWConfig& c) {
    check_schedule(c.schedule);
    // NaN fails every comparison, so each test is written to pass only for a number in range.
    const auto require = [](double v, bool ok, const char* name, const char* range) {
        if (!ok || !std::isfinite(v)) throw Error(std::string(name) + " is " + std::to_string(v) + "; it must be " + range);
    };
    require(c.lr, c.lr >= 0, "the learning rate (lr)", "a finite number >= 0");
    require(c.lr_final, c.lr_final >= 0, "the final learning rate (lr-final)", "a finite number >= 0");
    require(c.beta1, c.beta1 >= 0 && c.beta1 < 1, "AdamW's beta1", "in [0, 1)");
    require(c.beta2, c.beta2 >= 0 && c.beta2 < 1, "AdamW's beta2", "in [0, 1)");
    require(c.eps, c.eps > 0, "AdamW's eps", "a finite number > 0");
    require(c.weight_decay, c.weight_decay >= 0, "the weight decay", "a finite number >= 0");
    require(c.grad_clip, c.grad_clip == c.grad_clip, "the gradient clip", "a finite number (<= 0: no clipping)");
    if (c.warmup_steps < 0) throw Error("the warm-up steps must not be negative");
}

AdamW::AdamW(AdamWConfig cfg, const std::vector<ParamRef>& params) : cfg_(std::move(cfg)) {
    check_config(cfg_);
    std::unordered_map<std::string, size_t> seen;
    names_.reserve(params.size());
    m_.reserve(params.size());
    v_.reserve(params.size());
    for (const ParamRef& p : params) {
        // Saved state is matched by name, so a name must identify one parameter.
        if (!seen.emplace(p.name, names_.size()).second)
            throw Error("AdamW: parameter '" + p.name + "' given twice");
        names_.push_back(p.name);
        m_.emplace_back(p.n, 0.0f);
        v_.emplace_back(p.n, 0.0f);
    }
}

double AdamW::step(const std::vector<ParamRef>& params) {
    if (params.size() != names_.size())
        throw Error("AdamW::step: " + std::to_string(params.size()) + " parameters, the optimizer was built for " +
                    std::to_string(names_.size()));
    double sumsq = 0;
    for (size_t i = 0; i < params.size(); ++i) {
        const ParamRef& p = params[i];
        if (p.name != names_[i] || p.n != m_[i].size())
            throw Error("AdamW::step: parameter " + std::to_string(i) + " is '" + p.name + "' with " +
                        std::to_string(p.n) + " elements, the optimizer has '" + names_[i] + "' with " +
                        std::to_string(m_[i].size()));
        sumsq += sum_squares(p.grad, p.n);
    }
    const double norm = std::sqrt(sumsq);
    // A non-finite gradient would turn every weight and moment into NaN for good; refuse before touching them.
    if (!std::isfinite(norm)) {
        for (const ParamRef& p : params)
            for (size_t j = 0; j < p.n; ++j)
                if (!std::isfinite(p.grad[j]))
                    throw Error("AdamW::step: non-finite gradient in '" + p.name + "' at element " +
                                std::to_string(j));
        throw Error("AdamW::step: gradient norm overflows");
    }
    // torch.nn.utils.clip_grad_norm_'s factor, applied while reading the gradient instead of rewriting it.
    const double scale = cfg_.grad_clip > 0 ? std::min(1.0, cfg_.grad_clip / (norm + 1e-6)) : 1.0;

    const double lr = learning_rate(cfg_, step_);
    ++step_;
    const double t = static_cast<double>(step_);
    const double bc1 = 1.0 - std::pow(cfg_.beta1, t);
    const double bc2_sqrt = std::sqrt(1.0 - std::pow(cfg_.beta2, t));

    // Per-element work in float like PyTorch on fp32 tensors; the scalars are formed in double first.
    const float g_scale = static_cast<float>(scale);
    const float one_b1 = static_cast<float>(1.0 - cfg_.beta1);
    const float b2 = static_cast<float>(cfg_.beta2), one_b2 = static_cast<float>(1.0 - cfg_.beta2);
    const float denom_div = static_cast<float>(bc2_sqrt);
    const float eps = static_cast<float>(cfg_.eps);

    for (size_t i = 0; i < params.size(); ++i) {
        const ParamRef& p = params[i];
        // a parameter group's learning rate is lr × its scale, as the official trainer's my_lr_scale
        const double plr = lr * p.lr_scale;
        const float step_size = static_cast<float>(plr / bc1);
        const float keep = p.decay ? static_cast<float>(1.0 - plr * cfg_.weight_decay) : 1.0f;
        float* __restrict w = p.value;
        const float* __restrict gr = p.grad;
        float* __restrict m = m_[i].data();
        float* __restrict v = v_[i].data();
        for (size_t j = 0; j < p.n; ++j) {
            const float g = gr[j] * g_scale;
            m[j] += one_b1 * (g - m[j]);  // torch's exp_avg.lerp_(grad, 1 - beta1) for beta1 > 0.5
            v[j] = b2 * v[j] + one_b2 * g * g;
            const float denom = std::sqrt(v[j]) / denom_div + eps;
            w[j] = w[j] * keep - step_size * (m[j] / denom);
        }
    }
    return norm;
}

void AdamW::save_state(std::vector<uint8_t>& out) const {
    size_t total = sizeof kMagic + sizeof kVersion + sizeof step_ + sizeof(uint64_t);
    for (size_t i = 0; i < names_.size(); ++i)
        total += sizeof(uint32_t) + names_[i].size() + sizeof(uint64_t) + 2 * m_[i].size() * sizeof(float);
    out.assign(total, 0);
    Writer w(out);
    w.bytes(kMagic, sizeof kMagic);
    w.put(kVersion);
    w.put(step_);
    w.put(static_cast<uint64_t>(names_.size()));
    for (size_t i = 0; i < names_.size(); ++i) {
        w.put(static_cast<uint32_t>(names_[i].size()));
        w.bytes(names_[i].data(), names_[i].size());
        w.put(static_cast<uint64_t>(m_[i].size()));
        w.bytes(m_[i].data(), m_[i].size() * sizeof(float));
        w.bytes(v_[i].data(), v_[i].size() * sizeof(float));
    }
}

void AdamW::load_state(const uint8_t* data, size_t size) {
    Reader r(data, size);
    char magic[sizeof kMagic];
    r.bytes(magic, sizeof magic, "the header");
    if (std::memcmp(magic, kMagic, sizeof kMagic) != 0) throw Error("not an AdamW optimizer state (bad magic)");
    const auto version = r.get<uint32_t>("the header");
    if (version != kVersion)
        throw Error("AdamW optimizer state version " + std::to_string(version) + " is not supported (expected " +
                    std::to_string(kVersion) + ")");
    const auto step = r.get<int64_t>("the header");
    if (step < 0) throw Error("AdamW optimizer state has a negative step count");
    const auto count = r.get<uint64_t>("the header");

    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < names_.size(); ++i) index.emplace(names_[i], i);

    // Read everything into fresh buffers so a bad file leaves the optimizer as it was.
    std::vector<std::vector<float>> m(names_.size()), v(names_.size());
    std::vector<bool> done(names_.size(), false);
    for (uint64_t k = 0; k < count; ++k) {
        const std::string entry = "parameter entry " + std::to_string(k);
        const auto len = r.get<uint32_t>(entry);
        if (len > r.left()) throw Error("optimizer state truncated while reading the name of " + entry);
        std::string name(len, '\0');
        r.bytes(name.data(), len, entry);
        const auto it = index.find(name);
        if (it == index.end()) throw Error("optimizer state has parameter '" + name + "', which the model lacks");
        const size_t i = it->second;
        if (done[i]) throw Error("optimizer state has parameter '" + name + "' twice");
        const auto n = r.get<uint64_t>("the size of '" + name + "'");
        if (n != m_[i].size())
            throw Error("optimizer state for '" + name + "' has " + std::to_string(n) + " elements, the model has " +
                        std::to_string(m_[i].size()));
        // Check the length before allocating, so a corrupt size cannot ask for a huge buffer.
        if (n > r.left() / (2 * sizeof(float)))
            throw Error("optimizer state truncated while reading the moments of '" + name + "'");
        m[i].resize(n);
        v[i].resize(n);
        r.bytes(m[i].data(), n * sizeof(float), "the moments of '" + name + "'");
        r.bytes(v[i].data(), n * sizeof(float), "the moments of '" + name + "'");
        done[i] = true;
    }
    for (size_t i = 0; i < names_.size(); ++i)
        if (!done[i]) throw Error("optimizer state lacks parameter '" + names_[i] + "'");
    if (r.left() != 0)
        throw Error("optimizer state has " + std::to_string(r.left()) + " unexpected bytes at the end");

    m_ = std::move(m);
    v_ = std::move(v);
    step_ = step;
}

}  // namespace rwkv::train
