// rwkv generate: stream a continuation of a prompt; tokens/s on stderr at the end.
#include <cstdio>

#include "commands.h"
#include "core/file_util.h"
#include "rwkv/generate.h"

namespace rwkv::cli {

namespace {
std::string schema_text(const std::string& path) {
    const std::vector<uint8_t> bytes = read_file_bytes(path, size_t{1} << 20);
    return std::string(bytes.begin(), bytes.end());
}

struct GenerateArgs {
    ModelOptions model;
    SamplingOptions sampling;
    std::string prompt;
    GenerateOptions gen;
    std::string state_in, state_out;
    std::string json_schema;
    bool json = false;
};
}  // namespace

Runner add_generate(CLI::App& cmd) {
    auto a = std::make_shared<GenerateArgs>();
    a->model.add_to(cmd);
    a->sampling.add_to(cmd);
    cmd.add_option("-p,--prompt", a->prompt, "prompt text");
    cmd.add_option("-n,--n-predict", a->gen.max_tokens, "tokens to generate")->capture_default_str();
    cmd.add_option("--stop", a->gen.stop, "stop sequence (repeatable)");
    cmd.add_flag("!--ignore-eos", a->gen.stop_at_eos, "keep generating after end-of-text");
    cmd.add_option("--state-in", a->state_in, "start from a saved or state-tuned state (blocks.N.att.time_state)");
    cmd.add_option("--state-out", a->state_out, "save the final state");
    cmd.add_option("--json-schema", a->json_schema, "hold the reply to a JSON schema (a file, or the schema itself)");
    cmd.add_flag("--json", a->json, "hold the reply to a JSON object");
    return [a] {
        if (!a->json_schema.empty())
            a->gen.grammar = json_schema_grammar(a->json_schema.front() == '{' ? a->json_schema : schema_text(a->json_schema));
        else if (a->json)
            a->gen.grammar = json_object_grammar();
        auto model = a->model.load();
        auto tokenizer = a->model.load_tokenizer(*model);
        State state = a->state_in.empty() ? model->new_state() : State::load(a->state_in, *model);
        Sampler sampler(a->sampling.resolve());
        const std::vector<int32_t> prompt = tokenizer->encode(a->prompt);
        std::fputs(a->prompt.c_str(), stdout);
        std::fflush(stdout);
        const GenerateResult r = generate(*model, state, *tokenizer, sampler, prompt, a->gen, [](std::string_view s) {
            std::fwrite(s.data(), 1, s.size(), stdout);
            std::fflush(stdout);
            return true;
        });
        std::fputc('\n', stdout);
        std::fflush(stdout);
        if (!a->state_out.empty()) state.save(a->state_out);
        std::fprintf(stderr, "prompt: %lld tokens in %.3f s (%.1f tokens/s); generated: %lld tokens in %.3f s (%.2f tokens/s); stop: %s; threads: %d\n",
                     static_cast<long long>(r.prompt_tokens), r.prompt_seconds,
                     r.prompt_seconds > 0 ? r.prompt_tokens / r.prompt_seconds : 0.0,
                     static_cast<long long>(r.generated_tokens), r.generate_seconds,
                     r.generate_seconds > 0 ? r.generated_tokens / r.generate_seconds : 0.0, r.stop_reason.c_str(),
                     model->threads());
        return 0;
    };
}

}  // namespace rwkv::cli
