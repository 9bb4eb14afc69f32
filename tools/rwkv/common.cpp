#include <random>
#include <sstream>

#include "commands.h"
#include "core/thread_pool.h"
#include "rwkv/error.h"

namespace rwkv::cli {

void ModelOptions::add_to(CLI::App& cmd, bool with_tokenizer) {
    cmd.add_option("-m,--model", model, "model file: .pth, .safetensors, .gguf or rwkv.cpp .bin")->required();
    if (with_tokenizer)
        cmd.add_option("--tokenizer", tokenizer,
                       "tokenizer: World vocab .txt, tokenizer.json, or 'bytes' (default: found beside the model)");
    cmd.add_option("-t,--threads", threads, "threads (default: chosen for the model: one for a small one, else all cores)")
        ->check(thread_count());
}

CLI::Validator thread_count() {
    return CLI::Validator(
        [](const std::string& text) -> std::string {
            int n = 0;
            if (!CLI::detail::lexical_cast(text, n)) return "'" + text + "' is not a thread count";
            const int most = ThreadPool::max_threads();
            if (n < 1) return "the thread count must be at least 1, not " + text;
            if (n > most)
                return "at most " + std::to_string(most) + " threads, not " + text + " (this process may use " +
                       std::to_string(ThreadPool::available_cores()) + " cores)";
            return {};
        },
        "1.." + std::to_string(ThreadPool::max_threads()), "THREADS");
}

std::unique_ptr<Model> ModelOptions::load() const {
    LoadOptions o;
    o.threads = threads;  // 0: the model chooses
    return Model::load(model, o);
}

std::unique_ptr<Tokenizer> ModelOptions::load_tokenizer() const { return find_tokenizer(model, tokenizer); }

std::unique_ptr<Tokenizer> ModelOptions::load_tokenizer(const Model& loaded) const {
    std::unique_ptr<Tokenizer> tok = load_tokenizer();
    check_covers(*tok, loaded.info().n_vocab);
    return tok;
}

void SamplingOptions::add_to(CLI::App& cmd) {
    SamplerParams& p = params;
    p.temperature = 1.0f;
    p.top_p = 0.85f;
    cmd.add_option("--temp,--temperature", p.temperature, "temperature (0: greedy)")->capture_default_str();
    cmd.add_option("--top-p", p.top_p, "nucleus sampling threshold (1: off)")->capture_default_str();
    cmd.add_option("--top-k", p.top_k, "keep the k most likely tokens (0: off)")->capture_default_str();
    cmd.add_option("--min-p", p.min_p, "drop tokens below min-p times the top probability (0: off)")
        ->capture_default_str();
    cmd.add_option("--repeat-penalty", p.repetition_penalty, "repetition penalty (1: off)")->capture_default_str();
    cmd.add_option("--presence-penalty", p.presence_penalty, "ChatRWKV alpha_presence")->capture_default_str();
    cmd.add_option("--frequency-penalty", p.frequency_penalty, "ChatRWKV alpha_frequency")->capture_default_str();
    cmd.add_option("--penalty-decay", p.penalty_decay, "decay of the occurrence counts per token")
        ->capture_default_str();
    cmd.add_option_function<uint64_t>(
        "--seed", [this](const uint64_t& s) { params.seed = s, seed_given = true; }, "random seed (default: random)");
}

SamplerParams SamplingOptions::resolve() const {
    SamplerParams p = params;
    if (!seed_given) p.seed = std::random_device{}();
    return p;
}

std::vector<int32_t> parse_token_list(const std::string& text) {
    std::vector<int32_t> ids;
    std::string item;
    std::string cleaned = text;
    for (char& c : cleaned)
        if (c == ',' || c == '[' || c == ']' || c == '\n' || c == '\t') c = ' ';
    std::istringstream in(cleaned);
    while (in >> item) {
        size_t used = 0;
        long long v = 0;
        try {
            v = std::stoll(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != item.size() || v < INT32_MIN || v > INT32_MAX)
            throw Error("'" + item + "' is not a token id");
        ids.push_back(static_cast<int32_t>(v));
    }
    return ids;
}

}  // namespace rwkv::cli
