#include "rwkv/generate.h"

#include <chrono>
#include <optional>

#include "rwkv/error.h"
#include "rwkv/token_text.h"

namespace rwkv {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

GenerateResult generate(const Model& model, State& state, const Tokenizer& tokenizer, Sampler& sampler,
                        std::span<const int32_t> prompt, const GenerateOptions& options,
                        const std::function<bool(std::string_view)>& on_text) {
    if (options.max_tokens < 0) throw Error("max_tokens must not be negative");
    GenerateResult result;
    const int64_t V = model.info().n_vocab;
    std::vector<float> logits(static_cast<size_t>(V));

    const auto t0 = std::chrono::steady_clock::now();
    std::vector<int32_t> start;
    if (prompt.empty()) {
        // Nothing to condition on: RWKV models are trained with the end-of-text id between
        // documents, so it is the natural start of a fresh one.
        start.push_back(tokenizer.eos_id());
        prompt = start;
    }
    model.eval_sequence(state, prompt, logits.data(), false);
    for (int32_t t : prompt) sampler.accept(t);
    result.prompt_tokens = static_cast<int64_t>(prompt.size());
    result.prompt_seconds = seconds_since(t0);

    const auto t1 = std::chrono::steady_clock::now();
    TokenText text(tokenizer, options.stop);
    result.stop_reason = "length";
    auto emit = [&](std::string_view text) {
        result.text += text;
        return !on_text || on_text(text);
    };
    std::optional<GrammarMatcher> grammar;
    if (options.grammar)
        grammar.emplace(options.grammar, std::make_shared<const TokenTrie>(tokenizer), tokenizer.eos_id());
    for (int64_t i = 0; i < options.max_tokens; ++i) {
        if (grammar) grammar->mask(logits.data(), logits.size());
        const int32_t token = sampler.sample(logits.data(), logits.size());
        if ((options.stop_at_eos || grammar) && token == tokenizer.eos_id()) {
            result.stop_reason = grammar ? "grammar" : "eos";
            break;
        }
        if (grammar) grammar->accept(token);
        sampler.accept(token);
        model.eval(state, token, logits.data());
        ++result.generated_tokens;
        const std::string ready = text.push(token);
        if (!ready.empty() && !emit(ready)) {
            result.stop_reason = "callback";
            break;
        }
        if (text.stopped()) {
            result.stop_reason = "stop";
            break;
        }
        if (grammar && grammar->must_end()) {
            result.stop_reason = "grammar";
            break;
        }
    }
    if (result.stop_reason != "stop" && result.stop_reason != "callback") {
        const std::string rest = text.flush();
        if (!rest.empty()) emit(rest);
    }
    result.generate_seconds = seconds_since(t1);
    return result;
}

}  // namespace rwkv
