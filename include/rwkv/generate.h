#pragma once
// The generation loop shared by the command line and (later) the server: read a prompt in sequence
// mode, then sample, stream and feed back one token at a time.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rwkv/grammar.h"
#include "rwkv/model.h"
#include "rwkv/sampler.h"
#include "rwkv/tokenizer.h"

namespace rwkv {

struct GenerateOptions {
    int64_t max_tokens = 128;
    std::vector<std::string> stop;  // stop sequences: generation ends before the first one
    bool stop_at_eos = true;        // end at the tokenizer's end-of-text id
    // When set, the reply is held to it (rwkv/grammar.h) and ends, reason "grammar", once it is complete.
    std::shared_ptr<const Grammar> grammar;
};

struct GenerateResult {
    int64_t prompt_tokens = 0, generated_tokens = 0;
    double prompt_seconds = 0, generate_seconds = 0;
    std::string stop_reason;  // "length", "stop", "eos", "grammar", "callback"
    std::string text;         // everything streamed
};

// Feeds `prompt` into `state` (an empty prompt continues from the state as it is, starting from the
// end-of-text token when the state is fresh), then generates. Every sampled token is fed to the
// model, so afterwards `state` has read the whole reply. on_text receives complete UTF-8 text as it
// becomes safe to show; returning false stops generation.
GenerateResult generate(const Model& model, State& state, const Tokenizer& tokenizer, Sampler& sampler,
                        std::span<const int32_t> prompt, const GenerateOptions& options,
                        const std::function<bool(std::string_view)>& on_text);

}  // namespace rwkv
