#pragma once
// Choosing the next token from logits: seeded and reproducible.
//
// Pipeline for one call of sample(), in this order:
//   1. penalties on a copy of the logits, for every token recorded by accept():
//        repetition (CTRL / llama.cpp): l > 0 ? l / r : l * r          (once per seen token)
//        presence + frequency (ChatRWKV): l -= presence + count * frequency
//      where count is the decayed occurrence count (see accept()).
//   2. temperature == 0 or top_k == 1: argmax (ties -> lowest id), no random number is drawn.
//   3. p = softmax(l / temperature)  -- temperature first, so that top_p and min_p act on the
//      distribution that is actually sampled from (as in Hugging Face's warper order).
//   4. top_k, then top_p over the top_k survivors renormalised (smallest set of most probable
//      tokens with cumulative probability >= top_p), then min_p (p >= min_p * p_max).
//   5. one draw from the survivors, renormalised: u = (mt19937_64() >> 11) * 2^-53, the token
//      is the first survivor whose running probability sum exceeds u * (sum of survivors).
//      Survivors are walked in token-id order, or in (probability desc, id asc) order once
//      top_k/top_p had to sort them; both orders are fixed, so one seed gives one sequence on
//      every standard library.
#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

namespace rwkv {

struct SamplerParams {
    float temperature = 1.0f;        // 0 means greedy
    int top_k = 0;                   // 0 disables
    float top_p = 1.0f;              // 1 disables
    float min_p = 0.0f;              // 0 disables; keeps tokens with p >= min_p * p_max
    float repetition_penalty = 1.0f; // >1 divides positive / multiplies negative logits of seen tokens
    float presence_penalty = 0.0f;   // subtracted once from every seen token (ChatRWKV alpha_presence)
    float frequency_penalty = 0.0f;  // subtracted per (decayed) occurrence (ChatRWKV alpha_frequency)
    float penalty_decay = 0.996f;    // occurrence counts are multiplied by this after each token
    uint64_t seed = 0;
};

class Sampler {
public:
    // Throws rwkv::Error naming the parameter when one is out of range.
    explicit Sampler(const SamplerParams& params);

    // Applies penalties and truncations to a copy of `logits` and draws a token.
    // Throws rwkv::Error on an empty vocabulary, a NaN or +inf logit, or when no token has a
    // finite logit; -inf logits are never chosen.
    int32_t sample(const float* logits, size_t n_vocab);
    // Records a token that entered the context (sampled or from the prompt, as the caller chooses):
    // every count is multiplied by penalty_decay, then the token's count grows by 1.
    void accept(int32_t token);
    // Forgets the recorded tokens and restarts the random sequence from params().seed.
    void reset();
    const SamplerParams& params() const { return params_; }

    // Step 1 alone, in place; ids at or beyond logits.size() are skipped. Exposed for tests and
    // for callers that want to show the penalised logits.
    void apply_penalties(std::vector<float>& logits) const;
    // Steps 1-4: the distribution sample() would draw from, renormalised, zero for dropped tokens
    // (one-hot in greedy mode). Draws nothing.
    std::vector<float> distribution(const float* logits, size_t n_vocab) const;
    // The decayed occurrence count of a token (0 if never accepted).
    float occurrence(int32_t token) const;

private:
    SamplerParams params_;
    std::mt19937_64 rng_;
    std::unordered_map<int32_t, float> occurrence_;
    // Reused between calls so that sampling allocates nothing after the first token.
    std::vector<float> work_;
    std::vector<int32_t> order_;
};

}  // namespace rwkv
