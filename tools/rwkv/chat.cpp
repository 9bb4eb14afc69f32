// rwkv chat: the RWKV World / G1 chat format (rwkv/chat_format.h). The state is kept between turns, so each
// turn reads only the new message instead of the whole history.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "commands.h"
#include "rwkv/chat_format.h"
#include "rwkv/generate.h"

namespace rwkv::cli {

namespace {
struct ChatArgs {
    ModelOptions model;
    SamplingOptions sampling;
    GenerateOptions gen;
    std::string system, state_in;
};
}  // namespace

Runner add_chat(CLI::App& cmd) {
    auto a = std::make_shared<ChatArgs>();
    a->model.add_to(cmd);
    a->sampling.add_to(cmd);
    a->sampling.params.presence_penalty = 0.4f;   // ChatRWKV's chat defaults
    a->sampling.params.frequency_penalty = 0.4f;
    a->gen.max_tokens = 500;
    cmd.add_option("-n,--n-predict", a->gen.max_tokens, "most tokens per reply")->capture_default_str();
    cmd.add_option("--system", a->system, "text read before the first turn (e.g. a persona)");
    cmd.add_option("--state-in", a->state_in, "start from a saved or state-tuned state (/reset returns to it)");
    return [a] {
        auto model = a->model.load();
        auto tokenizer = a->model.load_tokenizer(*model);
        Sampler sampler(a->sampling.resolve());
        const State initial = a->state_in.empty() ? model->new_state() : State::load(a->state_in, *model);
        State state = initial;
        a->gen.stop = chat_stops();
        const bool interactive = isatty(STDIN_FILENO);
        if (!a->system.empty()) {
            const std::vector<int32_t> ids = tokenizer->encode("System: " + chat_clean(a->system) + "\n\n");
            model->eval_sequence(state, ids, nullptr, false);
        }
        if (interactive) std::fputs("Type a message; /reset starts over, /quit or Ctrl-D ends.\n", stderr);
        std::string line;
        for (;;) {
            if (interactive) std::fputs("User: ", stderr);
            if (!std::getline(std::cin, line)) break;
            if (line == "/quit") break;
            if (line == "/reset") {
                state = initial;
                sampler.reset();
                std::fputs("(state reset)\n", stderr);
                continue;
            }
            if (chat_clean(line).empty()) continue;
            const std::vector<int32_t> ids = tokenizer->encode(chat_prompt({{"user", line}}, ThinkMode::Plain));
            std::fputs("Assistant:", stdout);
            std::fflush(stdout);
            generate(*model, state, *tokenizer, sampler, ids, a->gen, [](std::string_view s) {
                std::fwrite(s.data(), 1, s.size(), stdout);
                std::fflush(stdout);
                return true;
            });
            std::fputs("\n\n", stdout);
            std::fflush(stdout);
        }
        return 0;
    };
}

}  // namespace rwkv::cli
