#include "rwkv/sampler.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "rwkv/error.h"
#include "sampling/truncation.h"

namespace rwkv {
namespace {

// `ok` is written so that NaN fails it, because every comparison with NaN is false.
void require(bool ok, const char* name, float value, const char* rule) {
    if (ok) return;
    std::ostringstream msg;
    msg << "sampler: " << name << " must be " << rule << " (got " << value << ")";
    throw Error(msg.str());
}

void validate(const SamplerParams& p) {
    require(p.temperature >= 0.0f && std::isfinite(p.temperature), "temperature", p.temperature,
            "finite and >= 0");
    require(p.top_k >= 0, "top_k", static_cast<float>(p.top_k), ">= 0");
    require(p.top_p > 0.0f && p.top_p <= 1.0f, "top_p", p.top_p, "in (0, 1]");
    require(p.min_p >= 0.0f && p.min_p < 1.0f, "min_p", p.min_p, "in [0, 1)");
    require(p.repetition_penalty > 0.0f && std::isfinite(p.repetition_penalty),
            "repetition_penalty", p.repetition_penalty, "finite and > 0");
    require(std::isfinite(p.presence_penalty), "presence_penalty", p.presence_penalty, "finite");
    require(std::isfinite(p.frequency_penalty), "frequency_penalty", p.frequency_penalty, "finite");
    require(p.penalty_decay >= 0.0f && p.penalty_decay <= 1.0f, "penalty_decay", p.penalty_decay,
            "in [0, 1]");
}

bool is_greedy(const SamplerParams& p) { return p.temperature == 0.0f || p.top_k == 1; }

void copy_logits(const float* logits, size_t n_vocab, std::vector<float>& out) {
    if (logits == nullptr || n_vocab == 0) throw Error("sampler: empty vocabulary (no logits)");
    if (n_vocab > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
        throw Error("sampler: vocabulary of " + std::to_string(n_vocab) + " tokens exceeds int32 ids");
    out.assign(logits, logits + n_vocab);
}

}  // namespace

Sampler::Sampler(const SamplerParams& params) : params_(params), rng_(params.seed) {
    validate(params_);
}

void Sampler::apply_penalties(std::vector<float>& logits) const {
    const float rep = params_.repetition_penalty;
    for (const auto& [token, count] : occurrence_) {
        if (static_cast<size_t>(token) >= logits.size()) continue;
        float& l = logits[static_cast<size_t>(token)];
        // Dividing a negative logit would raise it, i.e. reward repetition; CTRL multiplies it.
        if (rep != 1.0f) l = l > 0.0f ? l / rep : l * rep;
        l -= params_.presence_penalty + count * params_.frequency_penalty;
    }
}

int32_t Sampler::sample(const float* logits, size_t n_vocab) {
    copy_logits(logits, n_vocab, work_);
    apply_penalties(work_);
    sampling::check_logits(work_);
    if (is_greedy(params_)) return sampling::argmax(work_);

    sampling::to_weights(work_, params_.temperature);
    const double total = sampling::truncate(work_, params_, order_);
    // The top 53 bits make a double in [0, 1) with every value equally likely; the conversion is
    // ours rather than std::uniform_real_distribution's so that it is the same everywhere.
    const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    return sampling::pick(work_, order_, total, u);
}

std::vector<float> Sampler::distribution(const float* logits, size_t n_vocab) const {
    std::vector<float> values;
    copy_logits(logits, n_vocab, values);
    apply_penalties(values);
    sampling::check_logits(values);
    std::vector<float> probs(values.size(), 0.0f);
    if (is_greedy(params_)) {
        probs[static_cast<size_t>(sampling::argmax(values))] = 1.0f;
        return probs;
    }
    sampling::to_weights(values, params_.temperature);
    std::vector<int32_t> kept;
    const double total = sampling::truncate(values, params_, kept);
    for (int32_t id : kept) probs[static_cast<size_t>(id)] = static_cast<float>(values[id] / total);
    return probs;
}

void Sampler::accept(int32_t token) {
    if (token < 0) throw Error("sampler: accept() got negative token id " + std::to_string(token));
    // ChatRWKV: decay every count first, then count the new token, so the newest occurrence
    // always weighs exactly 1.
    for (auto& entry : occurrence_) entry.second *= params_.penalty_decay;
    occurrence_[token] += 1.0f;
}

float Sampler::occurrence(int32_t token) const {
    const auto it = occurrence_.find(token);
    return it == occurrence_.end() ? 0.0f : it->second;
}

void Sampler::reset() {
    occurrence_.clear();
    rng_.seed(params_.seed);
}

}  // namespace rwkv
