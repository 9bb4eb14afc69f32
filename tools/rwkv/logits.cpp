// rwkv logits: the logits after each token, float32 LE [T, vocab], in RNN or sequence mode.
#include <cstdio>

#include "commands.h"
#include "core/file_util.h"
#include "rwkv/error.h"

namespace rwkv::cli {

namespace {
struct LogitsArgs {
    ModelOptions model;
    std::string tokens, text, mode = "rnn", out, state_in;
};
}  // namespace

Runner add_logits(CLI::App& cmd) {
    auto a = std::make_shared<LogitsArgs>();
    a->model.add_to(cmd);
    auto* tok = cmd.add_option("--tokens", a->tokens, "token ids, e.g. 1,2,3");
    cmd.add_option("--text", a->text, "text to tokenize instead of --tokens")->excludes(tok);
    cmd.add_option("--mode", a->mode, "rnn: one token at a time; seq: all at once")
        ->check(CLI::IsMember({"rnn", "seq"}))
        ->capture_default_str();
    cmd.add_option("-o,--output", a->out, "output file (float32 LE, [T, vocab])")->required();
    cmd.add_option("--state-in", a->state_in, "start from a saved or state-tuned state");
    return [a] {
        auto model = a->model.load();
        const std::vector<int32_t> ids =
            a->text.empty() ? parse_token_list(a->tokens) : a->model.load_tokenizer()->encode(a->text);
        if (ids.empty()) throw Error("no tokens given (use --tokens 1,2,3 or --text)");
        const int64_t V = model->info().n_vocab;
        std::vector<float> logits(ids.size() * static_cast<size_t>(V));
        State state = a->state_in.empty() ? model->new_state() : State::load(a->state_in, *model);
        if (a->mode == "seq") {
            model->eval_sequence(state, ids, logits.data(), true);
        } else {
            for (size_t t = 0; t < ids.size(); ++t) model->eval(state, ids[t], logits.data() + t * V);
        }
        write_file_atomic(a->out, logits.data(), logits.size() * sizeof(float));
        std::fprintf(stderr, "wrote %zu x %lld logits to %s\n", ids.size(), static_cast<long long>(V), a->out.c_str());
        return 0;
    };
}

}  // namespace rwkv::cli
